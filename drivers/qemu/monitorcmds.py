"""A running domain's monitor, screen and keyboard: qemu-monitor-command, screenshot,
send-key, domcontrol and domjobinfo (libvirt's qemu_driver.c calls of the same names).

Each call holds the domain lock and the command monitor (qmp.sock) only for its one
exchange with QEMU, like every other command; event listeners have monitors of their own
(events.py), so none of these waits for them.
"""

from __future__ import annotations

import os

from ..api import (DomainControlState, DriverError, ErrorCode, QemuMonitorCommandFlags, check_flags, writes)
from .domainbase import QemuDomainBase

MAX_KEYS = 16       # VIR_DOMAIN_SEND_KEY_MAX_KEYS


def parse_monitor_command(text: str) -> dict:
    """The QMP command object in a qemu-monitor-command's JSON text (virsh builds the JSON
    from a bare command name itself)."""
    import json
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot parse json %s: not a JSON object" % text)
    return message


class MonitorCommands(QemuDomainBase):
    @writes("virDomainQemuMonitorCommand")
    def qemu_monitor_command(self, command: str, flags: int = 0, fds: list[int] | None = None) -> str:
        import json
        check_flags(flags, QemuMonitorCommandFlags.HMP, "qemuDomainQemuMonitorCommandWithFiles")
        if flags & QemuMonitorCommandFlags.HMP:
            message = {"execute": "human-monitor-command", "arguments": {"command-line": command}}
        else:
            message = parse_monitor_command(command)
        with self.locked_active(), self.qmp() as q:
            reply = q.execute_raw(message, fds)
        if flags & QemuMonitorCommandFlags.HMP:
            if "error" in reply:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "unable to execute QEMU command "
                                  "'human-monitor-command': %s" % reply["error"].get("desc", ""))
            return str(reply.get("return", ""))
        return json.dumps(reply, separators=(",", ":"))

    @writes("virDomainScreenshot")
    def screenshot(self, screen: int, flags: int = 0) -> tuple[str, bytes]:
        """QEMU's screendump as PNG (QEMU 7.2 writes it; libvirt 9.0 asks for it), read
        back from a private file in the domain's run directory and removed."""
        check_flags(flags, 0, "qemuDomainScreenshot")
        with self.locked_active() as status:
            videos = list(status.definition.root.iterfind("devices/video"))
            if not videos:
                raise DriverError(ErrorCode.OPERATION_INVALID, "no screens to take screenshot from")
            arguments: dict[str, object] = {"format": "png"}
            if screen:
                # libvirt's numbering: the heads of the first card, then the next card's
                for video in videos:
                    model = video.find("model")
                    heads = int(model.get("heads", "1")) if model is not None else 1
                    if screen < heads:
                        alias = video.find("alias")
                        if alias is not None:
                            arguments["device"] = alias.get("name")
                        arguments["head"] = screen
                        break
                    screen -= heads
                else:
                    raise DriverError(ErrorCode.OPERATION_INVALID, "no such screen ID")
            target = os.path.join(self.paths.run_dir(self.name), "screenshot.png")
            try:
                with self.qmp() as q:
                    q.execute("screendump", dict(arguments, filename=target))
                with open(target, "rb") as f:
                    data = f.read()
            except OSError as err:
                raise DriverError(ErrorCode.SYSTEM_ERROR, "unable to read screenshot: %s" % err.strerror) from None
            finally:
                try:
                    os.unlink(target)
                except OSError:
                    pass
        return "image/png", data

    @writes("virDomainSendKey")
    def send_key(self, codeset: int, holdtime: int, keycodes_: list[int], flags: int = 0) -> None:
        from .. import keycodes         # here: its table is large and only send-key reads it
        check_flags(flags, 0, "qemuDomainSendKey")
        keys = []
        for code in keycodes_:
            qnum = keycodes.to_qnum(codeset, code)
            if qnum is None:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot translate keycode %u of %s codeset to qnum "
                                  "keycode" % (code, keycodes.CODESETS[codeset]))
            keys.append({"type": "number", "data": qnum})
        arguments: dict[str, object] = {"keys": keys}
        if holdtime:
            arguments["hold-time"] = holdtime
        with self.locked_active(), self.qmp() as q:
            q.execute("send-key", arguments)

    def get_control_info(self, flags: int = 0) -> tuple[int, int, int]:
        check_flags(flags, 0, "qemuDomainGetControlInfo")
        self.refresh()
        self._require_active()
        # Another pyvirsh acting on the domain holds its lock: libvirt's "job" state.
        lock = self.conn.domain_lock(self.name)
        if not lock.try_acquire():
            return DomainControlState.JOB, 0, 0
        lock.release()
        return DomainControlState.OK, 0, 0

    def get_job_stats(self, flags: int = 0) -> dict:
        """No daemon keeps a job's progress: a save, dump or migration runs in the pyvirsh
        process that started it, so another process sees no job (libvirt's 'None')."""
        from ..api import JobStatsFlags
        check_flags(flags, JobStatsFlags.COMPLETED | JobStatsFlags.KEEP_COMPLETED, "qemuDomainGetJobStats")
        self.refresh()
        if not flags & JobStatsFlags.COMPLETED:
            self._require_active()
        return {"type": 0}
