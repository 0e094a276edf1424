"""Agent replies turned into libvirt's records: guestinfo's typed parameters (field names,
order and which are optional as qemu_agent.c and qemu_driver.c give them), guest vCPU
lists, and domifaddr's interfaces."""

from __future__ import annotations

from ..api import DomainInterface, DriverError, ErrorCode, GuestInfoTypes, IPAddress

MAX_VCPU_ID = 16384     # libvirt's QEMU_GUEST_VCPU_MAX_ID

# guest-get-osinfo's member -> libvirt's field, in libvirt's order
_OS_FIELDS = (("id", "os.id"), ("name", "os.name"), ("pretty-name", "os.pretty-name"),
              ("version", "os.version"), ("version-id", "os.version-id"), ("machine", "os.machine"),
              ("variant", "os.variant"), ("variant-id", "os.variant-id"),
              ("kernel-release", "os.kernel-release"), ("kernel-version", "os.kernel-version"))


def guest_info_params(replies: dict, definition) -> list[list]:
    """replies: GuestInfoTypes bit -> the agent's return value (None: the agent lacks the command)."""
    T = GuestInfoTypes
    out: list[list] = []
    users = replies.get(T.USERS)
    if isinstance(users, list):
        out.append(["user.count", len(users)])
        for n, user in enumerate(users):
            out.append(["user.%d.name" % n, str(user.get("user", ""))])
            if user.get("domain"):
                out.append(["user.%d.domain" % n, str(user["domain"])])
            out.append(["user.%d.login-time" % n, int(float(user.get("login-time", 0)) * 1000)])
    osinfo = replies.get(T.OS)
    if isinstance(osinfo, dict):
        out += [[field, str(osinfo[key])] for key, field in _OS_FIELDS if key in osinfo]
    zone = replies.get(T.TIMEZONE)
    if isinstance(zone, dict):
        if zone.get("zone"):
            out.append(["timezone.name", str(zone["zone"])])
        out.append(["timezone.offset", int(zone.get("offset", 0))])
    host = replies.get(T.HOSTNAME)
    if isinstance(host, dict) and "host-name" in host:
        out.append(["hostname", str(host["host-name"])])
    filesystems = replies.get(T.FILESYSTEM)
    if isinstance(filesystems, list):
        out.append(["fs.count", len(filesystems)])
        for n, fs in enumerate(filesystems):
            out += [["fs.%d.name" % n, str(fs.get("name", ""))],
                    ["fs.%d.mountpoint" % n, str(fs.get("mountpoint", ""))],
                    ["fs.%d.fstype" % n, str(fs.get("type", ""))]]
            if "total-bytes" in fs:
                out.append(["fs.%d.total-bytes" % n, int(fs["total-bytes"])])
            if "used-bytes" in fs:
                out.append(["fs.%d.used-bytes" % n, int(fs["used-bytes"])])
            disks = fs.get("disk") or []
            out.append(["fs.%d.disk.count" % n, len(disks)])
            for m, disk in enumerate(disks):
                target = disk_by_address(definition, disk)
                if target:
                    out.append(["fs.%d.disk.%d.alias" % (n, m), target])
                if disk.get("serial"):
                    out.append(["fs.%d.disk.%d.serial" % (n, m), str(disk["serial"])])
                if disk.get("dev"):
                    out.append(["fs.%d.disk.%d.device" % (n, m), str(disk["dev"])])
    disks = replies.get(T.DISKS)
    if isinstance(disks, list):
        out.append(["disk.count", len(disks)])
        for n, disk in enumerate(disks):
            out += [["disk.%d.name" % n, str(disk.get("name", ""))],
                    ["disk.%d.partition" % n, bool(disk.get("partition"))]]
            deps = disk.get("dependencies") or []
            if deps:
                out.append(["disk.%d.dependency.count" % n, len(deps)])
                out += [["disk.%d.dependency.%d.name" % (n, m), str(dep)] for m, dep in enumerate(deps)]
            address = disk.get("address")
            if isinstance(address, dict):
                if address.get("serial"):
                    out.append(["disk.%d.serial" % n, str(address["serial"])])
                target = disk_by_address(definition, address)
                if target:
                    out.append(["disk.%d.alias" % n, target])
            if disk.get("alias"):
                out.append(["disk.%d.guest_alias" % n, str(disk["alias"])])
    interfaces = replies.get(T.INTERFACES)
    if isinstance(interfaces, list):
        found = agent_interfaces(interfaces)
        out.append(["if.count", len(found)])
        for n, iface in enumerate(found):
            out.append(["if.%d.name" % n, iface.name])
            if iface.hwaddr:
                out.append(["if.%d.hwaddr" % n, iface.hwaddr])
            out.append(["if.%d.addr.count" % n, len(iface.addrs)])
            for m, addr in enumerate(iface.addrs):
                out += [["if.%d.addr.%d.type" % (n, m), addr.type], ["if.%d.addr.%d.addr" % (n, m), addr.addr],
                        ["if.%d.addr.%d.prefix" % (n, m), addr.prefix]]
    return out


def agent_interfaces(reply) -> list[DomainInterface]:
    """guest-network-get-interfaces as libvirt reads it: aliases (eth0:1) merged into their
    interface, addresses of type ipv4/ipv6 only."""
    if not isinstance(reply, list):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "qemu agent didn't return an array of interfaces")
    found: dict[str, DomainInterface] = {}
    for entry in reply:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise DriverError(ErrorCode.INTERNAL_ERROR, "qemu agent didn't provide 'name' field")
        base = name.split(":", 1)[0]
        iface = found.get(base)
        if iface is None:
            iface = found[base] = DomainInterface(base, entry.get("hardware-address"), [])
        for addr in entry.get("ip-addresses") or []:
            kind = addr.get("ip-address-type")
            if kind not in ("ipv4", "ipv6"):
                raise DriverError(ErrorCode.INTERNAL_ERROR, "unknown ip address type '%s'" % kind)
            if "ip-address" not in addr:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "qemu agent didn't provide 'ip-address' field for "
                                  "interface '%s'" % name)
            iface.addrs.append(IPAddress(kind, addr["ip-address"], int(addr.get("prefix", 0))))
    return list(found.values())


def vcpu_entries(reply) -> list[dict]:
    if not isinstance(reply, list):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "guest-get-vcpus reply was missing return data")
    out = []
    for entry in reply:
        if not isinstance(entry, dict):
            raise DriverError(ErrorCode.INTERNAL_ERROR, "array element missing in guest-get-vcpus return value")
        for key in ("logical-id", "online", "can-offline"):
            if key not in entry:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "'%s' missing in reply of guest-get-vcpus" % key)
        out.append(entry)
    return out


def format_cpulist(ids) -> str:
    """virBitmapFormat: ascending ranges, '0-3,5'."""
    values = sorted(set(ids))
    parts = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else "%d-%d" % (values[i], values[j]))
        i = j + 1
    return ",".join(parts)


def parse_cpulist(text: str) -> set[int]:
    """virBitmapParse: 'N', 'A-B' and '^N' items separated by commas."""
    cpus: set[int] = set()
    removed: set[int] = set()
    try:
        for item in text.split(","):
            item = item.strip()
            if item.startswith("^"):
                removed.add(_cpu(item[1:]))
            elif "-" in item:
                lo, hi = (_cpu(v) for v in item.split("-", 1))
                if hi < lo:
                    raise ValueError(item)
                cpus.update(range(lo, hi + 1))
            else:
                cpus.add(_cpu(item))
    except ValueError:
        raise DriverError(ErrorCode.INVALID_ARG, "Failed to parse bitmap '%s'" % text) from None
    return cpus - removed


def _cpu(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or int(text) >= MAX_VCPU_ID:
        raise ValueError(text)
    return int(text)


def disk_by_address(definition, disk: dict) -> str | None:
    """The domain's disk target at the PCI address (and drive unit) the guest reports."""
    pci = disk.get("pci-controller") or {}
    want = tuple(pci.get(k) for k in ("domain", "bus", "slot", "function"))
    bus_type = disk.get("bus-type")
    for dev in definition.devices.iterfind("disk"):
        addr = dev.find("address")
        target = dev.find("target")
        if addr is None or target is None:
            continue
        if addr.get("type") == "pci" and bus_type == "virtio":
            have = tuple(int(addr.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function"))
            if have == want:
                return target.get("dev")
        elif addr.get("type") == "drive" and bus_type in ("scsi", "sata", "ide") and \
                (int(addr.get("bus", "0")), int(addr.get("target", "0")), int(addr.get("unit", "0"))) == \
                (disk.get("bus"), disk.get("target"), disk.get("unit")) and _controller_at(definition, dev, want):
            return target.get("dev")
    return None


def _controller_at(definition, disk, want: tuple) -> bool:
    kind = {"sata": "sata", "scsi": "scsi", "ide": "ide"}.get(disk.find("target").get("bus"))
    index = disk.find("address").get("controller", "0")
    for ctrl in definition.devices.iterfind("controller"):
        addr = ctrl.find("address")
        if ctrl.get("type") == kind and ctrl.get("index") == index and addr is not None and \
                addr.get("type") == "pci":
            return tuple(int(addr.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function")) == want
    return False

