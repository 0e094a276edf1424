"""The QEMU driver: real QEMU processes driven over QMP, daemonless."""
