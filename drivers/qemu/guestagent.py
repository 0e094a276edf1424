"""The guest agent calls of a QEMU domain (QemuDomain's mixin), over agent.py's protocol.

No daemon watches the agent channel, so its state is read when a command needs it: QEMU's
query-chardev says whether the guest has the virtio-serial port open ('frontend-open',
what libvirt follows through VSERPORT_CHANGE events), and that is the channel's
state='connected|disconnected' in the live XML and the difference between libvirt's
"not connected" and talking to the agent.

Agent commands run under a lock of their own (one client at a time on the channel, as
libvirt's agent job), never under the domain lock: an agent that hangs in a guest must not
keep destroy or dumpxml waiting. The one exception is the freeze of a quiesced snapshot,
which the snapshot holds the domain lock around; it is recorded in the status (fsFrozen)
first, so a pyvirsh killed while the guest is frozen leaves a note the next command acts on
(thaw_recorded_freeze).
"""

from __future__ import annotations

from ..api import (AgentCommandTimeout, DomainInterface, DomainState, DriverError, ErrorCode, FSInfo,
                   GuestInfoTypes, InterfaceAddressesSource, SetTimeFlags, UserPasswordFlags,
                   check_flags, writes)
from .domainbase import QemuDomainBase
from .guestinfo import disk_by_address


def _channel_state(qmp, alias: str) -> str:
    for chardev in qmp.execute("query-chardev"):
        if chardev.get("label") == "char" + alias:
            return "connected" if chardev.get("frontend-open") else "disconnected"
    return "disconnected"


class GuestAgent(QemuDomainBase):

    # the channel ---------------------------------------------------------

    def _agent_channel(self, definition):
        """The <channel type='unix'> of org.qemu.guest_agent.0, or None."""
        from . import agent as proto
        for channel in definition.devices.iterfind("channel"):
            target = channel.find("target")
            if channel.get("type") == "unix" and target is not None and \
                    target.get("name") == proto.AGENT_CHANNEL:
                return channel
        return None

    def refresh_channel_states(self) -> None:
        """Set each virtio channel's live state from QEMU (for dumpxml); silent if QEMU does not answer."""
        status = self.status
        if status is None or self.conn.passive:
            return
        channels = [c for c in status.definition.devices.iterfind("channel")
                    if c.find("target") is not None and c.find("target").get("state") is not None]
        if not channels:
            return
        try:
            with self.qmp() as q:
                states = {c: _channel_state(q, c.find("alias").get("name") if c.find("alias") is not None
                                            else "") for c in channels}
        except DriverError:
            return
        for channel, state in states.items():
            channel.find("target").set("state", state)

    def _agent_path(self) -> str:
        """libvirt's qemuDomainAgentAvailable: the domain runs, the agent is configured and
        the guest has its port open; the socket to talk to it on."""
        status = self._require_active()
        if status.state != DomainState.RUNNING:
            raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running")
        channel = self._agent_channel(status.definition)
        if channel is None:
            raise DriverError(ErrorCode.ARGUMENT_UNSUPPORTED, "QEMU guest agent is not configured")
        alias = channel.find("alias")
        with self.qmp() as q:
            state = _channel_state(q, alias.get("name") if alias is not None else "")
        channel.find("target").set("state", state)
        if state != "connected":
            raise DriverError(ErrorCode.AGENT_UNRESPONSIVE, "QEMU guest agent is not connected")
        return channel.find("source").get("path")

    def _agent_lock(self):
        # Domain names never start with '.', so this lock is no domain's.
        return self.conn.domain_lock(".agent-" + self.name)

    def _agent_call(self, execute: str, arguments: dict | None = None,
                    seconds: int = AgentCommandTimeout.BLOCK, report_unsupported: bool = True):
        """One agent command in its own connection; None when the agent lacks it and
        report_unsupported is False (guestinfo skips what the agent cannot tell)."""
        from . import agent as proto
        path = self._agent_path()
        with self._agent_lock(), proto.AgentConnection(path) as agent:
            try:
                return agent.command(execute, arguments, seconds)
            except proto.AgentCommandError as err:
                if not report_unsupported and err.error_class in ("CommandNotFound", "CommandDisabled"):
                    return None
                raise

    def _agent_calls(self, calls: list) -> list:
        """Several commands over one connection (guestinfo); each result or None if unsupported."""
        from . import agent as proto
        path = self._agent_path()
        results = []
        with self._agent_lock(), proto.AgentConnection(path) as agent:
            for execute in calls:
                try:
                    results.append(agent.command(execute))
                except proto.AgentCommandError as err:
                    if err.error_class not in ("CommandNotFound", "CommandDisabled"):
                        raise
                    results.append(None)
        return results

    # file systems ----------------------------------------------------------

    @writes("virDomainFSFreeze")
    def fs_freeze(self, mountpoints: list[str], flags: int = 0) -> int:
        check_flags(flags, 0, "qemuDomainFSFreeze")
        self.refresh()
        if mountpoints:
            frozen = self._agent_call("guest-fsfreeze-freeze-list", {"mountpoints": list(mountpoints)})
        else:
            frozen = self._agent_call("guest-fsfreeze-freeze")
        return _int_return(frozen)

    @writes("virDomainFSThaw")
    def fs_thaw(self, mountpoints: list[str], flags: int = 0) -> int:
        check_flags(flags, 0, "qemuDomainFSThaw")
        if mountpoints:
            raise DriverError(ErrorCode.ARGUMENT_UNSUPPORTED, "specifying mountpoints is not supported")
        self.refresh()
        return _int_return(self._agent_call("guest-fsfreeze-thaw"))

    def quiesce(self) -> None:
        """Freeze every guest file system for a snapshot, noted in the status first. Domain lock held."""
        from . import agent as proto
        status = self._require_active()
        path = self._agent_path()
        status.fs_frozen = True
        self.save_status()
        try:
            with self._agent_lock(), proto.AgentConnection(path) as agent:
                agent.command("guest-fsfreeze-freeze")
        except BaseException:
            # A freeze that failed half way may have frozen some: thaw is harmless either way.
            self.thaw_recorded_freeze(quiet=True)
            raise

    def thaw_recorded_freeze(self, quiet: bool = False) -> None:
        """Thaw what quiesce froze and drop the note (a failure is reported unless quiet,
        and the note stays for the next command then). Domain lock held."""
        from . import agent as proto
        status = self.status
        if status is None or not status.fs_frozen:
            return
        try:
            path = self._agent_path()
            with self._agent_lock(), proto.AgentConnection(path) as agent:
                agent.command("guest-fsfreeze-thaw", seconds=proto.WAIT_TIME)
        except DriverError:
            if not quiet:
                raise
            return
        status.fs_frozen = False
        self.save_status()

    @writes("virDomainGetFSInfo")
    def get_fs_info(self, flags: int = 0) -> list[FSInfo]:
        check_flags(flags, 0, "qemuDomainGetFSInfo")
        self.refresh()
        reply = self._agent_call("guest-get-fsinfo")
        definition = self._require_active().definition
        return [FSInfo(fs.get("mountpoint"), fs.get("name"), fs.get("type"),
                       [t for t in (disk_by_address(definition, d) for d in fs.get("disk") or []) if t])
                for fs in _array(reply, "guest-get-fsinfo")]

    # time ------------------------------------------------------------------

    @writes("virDomainGetTime")
    def get_time(self, flags: int = 0) -> tuple[int, int]:
        check_flags(flags, 0, "qemuDomainGetTime")
        self.refresh()
        value = self._agent_call("guest-get-time")
        if not isinstance(value, int):
            raise DriverError(ErrorCode.INTERNAL_ERROR, "malformed return value")
        return value // 1000000000, value % 1000000000

    @writes("virDomainSetTime")
    def set_time(self, seconds: int, nseconds: int, flags: int = 0) -> None:
        check_flags(flags, SetTimeFlags.SYNC, "qemuDomainSetTime")
        self.refresh()
        if flags & SetTimeFlags.SYNC:
            self._agent_call("guest-set-time")
            return
        if seconds > (2**63 - 1) // 1000000000:
            raise DriverError(ErrorCode.INVALID_ARG, "Time '%d' is too big for guest agent" % seconds)
        self._agent_call("guest-set-time", {"time": seconds * 1000000000 + nseconds})

    # guestinfo, vcpus, password --------------------------------------------

    @writes("virDomainGetGuestInfo")
    def get_guest_info(self, types: int, flags: int = 0) -> list[list]:
        check_flags(flags, 0, "qemuDomainGetGuestInfo")
        T = GuestInfoTypes
        everything = T.USERS | T.OS | T.TIMEZONE | T.HOSTNAME | T.FILESYSTEM | T.DISKS | T.INTERFACES
        if types & ~everything:
            raise DriverError(ErrorCode.INVALID_ARG, "unsupported guest info types 0x%x" % (types & ~everything))
        types = types or everything
        self.refresh()
        order = [(T.USERS, "guest-get-users"), (T.OS, "guest-get-osinfo"), (T.TIMEZONE, "guest-get-timezone"),
                 (T.HOSTNAME, "guest-get-host-name"), (T.FILESYSTEM, "guest-get-fsinfo"),
                 (T.DISKS, "guest-get-disks"), (T.INTERFACES, "guest-network-get-interfaces")]
        wanted = [(bit, execute) for bit, execute in order if types & bit]
        replies = dict(zip((bit for bit, _ in wanted), self._agent_calls([e for _, e in wanted]), strict=True))
        from .guestinfo import guest_info_params
        return guest_info_params(replies, self._require_active().definition)

    @writes("virDomainGetGuestVcpus")
    def get_guest_vcpus(self, flags: int = 0) -> list[list]:
        check_flags(flags, 0, "qemuDomainGetGuestVcpus")
        self.refresh()
        from .guestinfo import format_cpulist, vcpu_entries
        cpus = vcpu_entries(self._agent_call("guest-get-vcpus"))
        return [["vcpus", format_cpulist(c["logical-id"] for c in cpus)],
                ["online", format_cpulist(c["logical-id"] for c in cpus if c["online"])],
                ["offlinable", format_cpulist(c["logical-id"] for c in cpus if c["can-offline"])]]

    @writes("virDomainSetGuestVcpus")
    def set_guest_vcpus(self, cpumap: str, state: bool, flags: int = 0) -> None:
        check_flags(flags, 0, "qemuDomainSetGuestVcpus")
        from .guestinfo import parse_cpulist, vcpu_entries
        wanted = parse_cpulist(cpumap)
        self.refresh()
        cpus = vcpu_entries(self._agent_call("guest-get-vcpus"))
        known = {c["logical-id"]: c for c in cpus}
        missing = wanted - set(known)
        if missing:
            from .guestinfo import format_cpulist
            raise DriverError(ErrorCode.INVALID_ARG, "guest is missing vCPUs '%s'" % format_cpulist(missing))
        for cpu in sorted(wanted):
            if not state and not known[cpu]["can-offline"]:
                raise DriverError(ErrorCode.INVALID_ARG, "vCPU '%d' can't be offlined" % cpu)
        change = [{"logical-id": cpu, "online": state} for cpu in sorted(wanted)
                  if known[cpu]["online"] != state]
        if change:
            done = self._agent_call("guest-set-vcpus", {"vcpus": change})
            if done != len(change):
                raise DriverError(ErrorCode.OPERATION_FAILED, "failed to set state of cpu %d via guest agent"
                                  % change[done if isinstance(done, int) and 0 <= done < len(change) else 0]
                                  ["logical-id"])

    @writes("virDomainSetUserPassword")
    def set_user_password(self, user: str, password: str, flags: int = 0) -> None:
        check_flags(flags, UserPasswordFlags.ENCRYPTED, "qemuDomainSetUserPassword")
        import base64
        self.refresh()
        self._agent_call("guest-set-user-password", {
            "crypted": bool(flags & UserPasswordFlags.ENCRYPTED), "username": user,
            "password": base64.b64encode(password.encode()).decode()})

    # interfaces --------------------------------------------------------------

    def interface_addresses(self, source: int, flags: int = 0) -> list[DomainInterface]:
        check_flags(flags, 0, "qemuDomainInterfaceAddresses")
        if source == InterfaceAddressesSource.AGENT:
            return self._agent_interfaces()
        if source not in (InterfaceAddressesSource.LEASE, InterfaceAddressesSource.ARP):
            raise DriverError(ErrorCode.ARGUMENT_UNSUPPORTED, "Unknown IP address data source %d" % source)
        self.refresh()
        root = self._require_active().definition.root
        from . import ifaddrs
        if source == InterfaceAddressesSource.LEASE:
            return ifaddrs.lease_interfaces(self.conn, root)
        return ifaddrs.arp_interfaces(root)

    @writes("virDomainInterfaceAddresses")
    def _agent_interfaces(self) -> list[DomainInterface]:
        self.refresh()
        reply = self._agent_call("guest-network-get-interfaces")
        from .guestinfo import agent_interfaces
        return agent_interfaces(reply)

    # raw commands --------------------------------------------------------------

    @writes("virDomainQemuAgentCommand")
    def qemu_agent_command(self, command: str, timeout: int, flags: int = 0) -> str:
        import json
        from . import agent as proto
        check_flags(flags, 0, "qemuDomainQemuAgentCommand")
        self.refresh()
        self._require_active()
        if timeout < proto.MIN_TIMEOUT:
            raise DriverError(ErrorCode.INVALID_ARG, "guest agent timeout '%d' is less than the minimum '%d'"
                              % (timeout, proto.MIN_TIMEOUT))
        path = self._agent_path()
        try:
            request = json.loads(command)
        except ValueError as err:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot parse json %s: %s" % (command, err)) from None
        with self._agent_lock(), proto.AgentConnection(path) as agent:
            reply = agent.request(request, timeout)
        return json.dumps(reply, separators=(",", ":"), ensure_ascii=False)


def _int_return(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "malformed return value")
    return value


def _array(value, command: str) -> list:
    if not isinstance(value, list):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "%s reply was missing return data" % command)
    return [v for v in value if isinstance(v, dict)]
