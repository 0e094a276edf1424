"""Shell commands, one module per virsh help group, and the static command table.

The table lets pyvirsh list commands, print group help and complete command
names without importing a single command module; a command's module is
imported only when the command is parsed or run. tests/test_command_table.py
keeps the table in step with the modules.
"""

# Help groups in virsh's order: keyword -> title.
GROUPS = {
    "domain": "Domain Management",
    "monitor": "Domain Monitoring",
    "host": "Host and Hypervisor",
    "snapshot": "Snapshot",
    "pool": "Storage Pool",
    "volume": "Storage Volume",
    "virsh": "Virsh itself",
}

# name -> (module under pyvirsh.commands, help group, one-line help), in virsh's order.
TABLE = {
    "blockcommit": ("block", "domain", "Start a block commit operation."),
    "blockcopy": ("block", "domain", "Start a block copy operation."),
    "blockjob": ("block", "domain", "Manage active block operations"),
    "blockpull": ("block", "domain", "Populate a disk from its backing image."),
    "blockresize": ("block", "domain", "Resize block device of domain."),
    "create": ("domain", "domain", "create a domain from an XML file"),
    "define": ("domain", "domain", "define (but don't start) a domain from an XML file"),
    "destroy": ("domain", "domain", "destroy (stop) a domain"),
    "domid": ("domain", "domain", "convert a domain name or UUID to domain id"),
    "domname": ("domain", "domain", "convert a domain id or UUID to domain name"),
    "domuuid": ("domain", "domain", "convert a domain name or id to domain UUID"),
    "dumpxml": ("domain", "domain", "domain information in XML"),
    "edit": ("domain", "domain", "edit XML configuration for a domain"),
    "reboot": ("domain", "domain", "reboot a domain"),
    "resume": ("domain", "domain", "resume a domain"),
    "shutdown": ("domain", "domain", "gracefully shutdown a domain"),
    "start": ("domain", "domain", "start a (previously defined) inactive domain"),
    "suspend": ("domain", "domain", "suspend a domain"),
    "undefine": ("domain", "domain", "undefine a domain"),
    "domblkinfo": ("monitor", "monitor", "domain block device size information"),
    "domblklist": ("monitor", "monitor", "list all domain blocks"),
    "dominfo": ("monitor", "monitor", "domain information"),
    "domstate": ("monitor", "monitor", "domain state"),
    "list": ("monitor", "monitor", "list domains"),
    "hostname": ("host", "host", "print the hypervisor hostname"),
    "nodeinfo": ("host", "host", "node information"),
    "uri": ("host", "host", "print the hypervisor canonical URI"),
    "version": ("host", "host", "show version"),
    "snapshot-create": ("snapshot", "snapshot", "Create a snapshot from XML"),
    "snapshot-create-as": ("snapshot", "snapshot", "Create a snapshot from a set of args"),
    "snapshot-current": ("snapshot", "snapshot", "Get or set the current snapshot"),
    "snapshot-delete": ("snapshot", "snapshot", "Delete a domain snapshot"),
    "snapshot-dumpxml": ("snapshot", "snapshot", "Dump XML for a domain snapshot"),
    "snapshot-edit": ("snapshot", "snapshot", "edit XML for a snapshot"),
    "snapshot-info": ("snapshot", "snapshot", "snapshot information"),
    "snapshot-list": ("snapshot", "snapshot", "List snapshots for a domain"),
    "snapshot-parent": ("snapshot", "snapshot", "Get the name of the parent of a snapshot"),
    "snapshot-revert": ("snapshot", "snapshot", "Revert a domain to a snapshot"),
    "pool-info": ("storage", "pool", "storage pool information"),
    "pool-list": ("storage", "pool", "list pools"),
    "vol-create-as": ("storage", "volume", "create a volume from a set of args"),
    "vol-info": ("storage", "volume", "storage vol information"),
    "vol-list": ("storage", "volume", "list vols"),
    "cd": ("virsh", "virsh", "change the current directory"),
    "echo": ("virsh", "virsh", "echo arguments. Used for internal testing."),
    "exit": ("virsh", "virsh", "quit this interactive terminal"),
    "help": ("virsh", "virsh", "print help"),
    "pwd": ("virsh", "virsh", "print the current directory"),
    "quit": ("virsh", "virsh", "quit this interactive terminal"),
    "connect": ("virsh", "virsh", "(re)connect to hypervisor"),
    "completion": ("virsh", "virsh", "print the bash, zsh or fish completion script"),
}
