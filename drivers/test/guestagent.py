"""The guest agent calls libvirt's test driver answers (TestDomain's mixin), with its
canned data: two file systems ('/' and '/boot' on vda) that freeze and thaw, a fixed guest
clock, accepted password and time changes, and one IPv4 address per interface. guestinfo,
guestvcpus and qemu-agent-command stay unsupported there, as in libvirt."""

from __future__ import annotations

from ..api import (DomainInterface, DriverError, ErrorCode, FSInfo, IPAddress, SetTimeFlags,
                   UserPasswordFlags, check_flags, writes)

GUEST_TIME = 627319920          # the test driver's guest clock, in seconds
MOUNTPOINTS = ("/", "/boot")


class TestGuestAgent:
    # Provided by TestDomain.
    def _live(self): ...

    def _running(self):
        obj = self._live()
        if not obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running")
        return obj

    @staticmethod
    def _frozen(obj) -> set:
        """The mountpoints frozen in this process (libvirt keeps them in the domain's private data)."""
        if not hasattr(obj, "agent_frozen"):
            obj.agent_frozen = set()
        return obj.agent_frozen

    def _mountpoints(self, mountpoints: list[str]) -> set:
        for mountpoint in mountpoints:
            if mountpoint not in MOUNTPOINTS:
                raise DriverError(ErrorCode.OPERATION_INVALID, "mount point not found: %s" % mountpoint)
        return set(mountpoints or MOUNTPOINTS)

    @writes("virDomainFSFreeze")
    def fs_freeze(self, mountpoints: list[str], flags: int = 0) -> int:
        check_flags(flags, 0, "testDomainFSFreeze")
        obj = self._running()
        wanted = self._mountpoints(mountpoints)
        frozen = self._frozen(obj)
        count = len(wanted - frozen)
        frozen |= wanted
        return count

    @writes("virDomainFSThaw")
    def fs_thaw(self, mountpoints: list[str], flags: int = 0) -> int:
        check_flags(flags, 0, "testDomainFSThaw")
        obj = self._running()
        wanted = self._mountpoints(mountpoints)
        frozen = self._frozen(obj)
        count = len(wanted & frozen)
        frozen -= wanted
        return count

    @writes("virDomainGetFSInfo")
    def get_fs_info(self, flags: int = 0) -> list[FSInfo]:
        check_flags(flags, 0, "testDomainGetFSInfo")
        obj = self._running()
        if obj.name != "test":
            return []
        return [FSInfo("/", "vda1", "ext4", ["vda"]), FSInfo("/boot", "vda2", "ext4", ["vda"])]

    @writes("virDomainGetTime")
    def get_time(self, flags: int = 0) -> tuple[int, int]:
        check_flags(flags, 0, "testDomainGetTime")
        self._running()
        return GUEST_TIME, 0

    @writes("virDomainSetTime")
    def set_time(self, seconds: int, nseconds: int, flags: int = 0) -> None:
        check_flags(flags, SetTimeFlags.SYNC, "testDomainSetTime")
        self._running()

    @writes("virDomainSetUserPassword")
    def set_user_password(self, user: str, password: str, flags: int = 0) -> None:
        check_flags(flags, UserPasswordFlags.ENCRYPTED, "testDomainSetUserPassword")
        self._running()

    def interface_addresses(self, source: int, flags: int = 0) -> list[DomainInterface]:
        """Every source gets the same answer: interface i of a libvirt network has the network's
        first DHCP address + 20 per domain id + i + 1, any other 192.168.0.(i + 1), prefix 24."""
        check_flags(flags, 0, "testDomainInterfaceAddresses")
        obj = self._running()
        out = []
        for i, iface in enumerate(obj.definition.root.iterfind("devices/interface")):
            target = iface.find("target")
            name = target.get("dev") if target is not None else "testnet%d" % i
            mac = iface.find("mac")
            if iface.get("type") == "network":
                addr = "192.168.122.%d" % (2 + 20 * (obj.id - 1) + i + 1)
            else:
                addr = "192.168.0.%d" % (i + 1)
            out.append(DomainInterface(name, mac.get("address") if mac is not None else None,
                                       [IPAddress("ipv4", addr, 24)]))
        return out
