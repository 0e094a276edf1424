"""The built-in state of test:///default, as libvirt's test driver has it."""

from __future__ import annotations

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypedDict

    class PoolFacts(TypedDict):
        name: str
        uuid: str
        type: str
        path: str
        capacity: int
        allocation: int
        available: int

# The default domain, already in libvirt's canonical form. It is parsed only
# when a command needs the document (dumpxml, domblklist, snapshots...);
# list/dominfo/domstate/domblklist use DEFAULT_DOMAIN_FACTS and never import lxml.
DEFAULT_DOMAIN_XML = """\
<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
"""

DEFAULT_DOMAIN_FACTS = {
    "name": "test",
    "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
    "os_type": "hvm",
    "memory_kib": 8388608,
    "current_memory_kib": 2097152,
    "vcpus": 2,
    "title": "",
    # domblklist's records (api.DomainDisk.to_dict) of the XML's one disk
    "disks": [{"type": "file", "device": "disk", "target": "vda", "bus": "virtio", "source": "/guest/diskimage1",
               "has_source": True, "format": None, "readonly": False, "chain": [], "pool": None}],
}

# virNodeInfo of the default node: model, memory KiB, cpus, MHz, nodes, sockets, cores, threads
DEFAULT_NODE = ("i686", 3145728, 16, 1400, 2, 2, 2, 2)

DEFAULT_POOL: PoolFacts = {
    "name": "default-pool",
    "uuid": "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566",
    "type": "dir",
    "path": "/default-pool",
    "capacity": 107374182400,
    "allocation": 0,
    "available": 107374182400,
}

# The built-in node's network, as libvirt's test driver defines it (parsed on first use).
DEFAULT_NETWORK_XML = """<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
"""
DEFAULT_NETWORK_NAME = "default"
DEFAULT_NETWORK_UUID = "dd8fe884-6c02-601e-7551-cca97df1c5df"
