"""Twin of libvirt's test driver (test:///default and test:///PATH.xml)."""
