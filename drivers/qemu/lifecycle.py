"""<on_poweroff>, <on_reboot> and <on_crash> without a daemon.

QEMU runs with -no-shutdown, as under libvirt 9.0: a guest that powers off or panics leaves
QEMU stopped ("shutdown" or "guest-panicked" in query-status) instead of gone. libvirtd acts on
QEMU's event at once; pyvirsh has nobody listening, so the next pyvirsh command that looks at
the domain asks QEMU (query-status) and applies the configured action then. A guest reboot needs
nobody: QEMU resets the machine itself (on_reboot='restart'), or, for on_reboot='destroy',
treats it as a shutdown (QMP set-action reboot=shutdown at start, as libvirt does), which the
next command turns into a destroy.
"""

from __future__ import annotations

import os
import time

from .refusal import unsupported

DEFAULTS = {"on_poweroff": "destroy", "on_reboot": "restart", "on_crash": "destroy"}
ACTIONS = {"on_poweroff": ("destroy", "restart"),
           "on_reboot": ("destroy", "restart"),
           "on_crash": ("destroy", "restart", "preserve", "coredump-destroy", "coredump-restart")}
# query-status of a stopped guest -> the event it stands for; "io-error": QEMU paused the guest
# on a disk error (werror/rerror stop), which libvirtd records as paused (I/O error)
IO_ERROR = "io-error"
EVENTS = {"shutdown": "on_poweroff", "guest-panicked": "on_crash", "io-error": IO_ERROR}


def check(root) -> None:
    actions = {event: action_for(root, event) for event in ACTIONS}
    if "rename-restart" in actions.values():
        # libvirt 9.0's refusal, word for word (qemuValidateLifecycleAction): it renames nothing either
        raise unsupported("qemu driver doesn't support the 'rename-restart' action for "
                          "'on_reboot'/'on_poweroff'/'on_crash'")
    if "preserve" in (actions["on_reboot"], actions["on_poweroff"]):
        # libvirt 9.0's refusal, word for word; 'preserve' stays for on_crash (a panicked guest)
        raise unsupported("qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'")
    for event, allowed in ACTIONS.items():
        action = root.findtext(event)
        if action is not None and action not in allowed:
            raise unsupported("<%s>%s</%s> is not supported (only %s)" % (event, action, event, ", ".join(allowed)))
    if action_for(root, "on_reboot") == "destroy" and \
            any(action_for(root, e).endswith("restart") for e in ("on_poweroff", "on_crash")):
        # QEMU's reboot=shutdown makes a reset a shutdown, the restart's own reset included
        raise unsupported("<on_reboot>destroy</on_reboot> cannot be combined with a restart action: "
                          "without a daemon a guest's reboot and a restart's reset look the same")


def action_for(root, event: str) -> str:
    return (root.findtext(event) or DEFAULTS[event]).strip()


def qemu_args() -> list[str]:
    return ["-no-shutdown"]


def setup_commands(root) -> list[tuple[str, dict | None]]:
    """What libvirt sets over QMP before the guest runs, as (command, arguments)."""
    if action_for(root, "on_reboot") == "destroy":
        return [("set-action", {"reboot": "shutdown"})]
    return []


def setup(qmp, root) -> None:
    for command, arguments in setup_commands(root):
        qmp.execute(command, arguments)


def stopped_event(qmp) -> str | None:
    """'on_poweroff', 'on_crash' or IO_ERROR when QEMU stopped for that reason, else None."""
    return EVENTS.get(qmp.execute("query-status").get("status"))


def stopped_at(monitor: str) -> bool:
    """Whether the QEMU at this monitor stopped for a guest poweroff, a panic or a disk error:
    one QMP question, no status file read (list and domstate stay cheap). A busy monitor
    counts as no."""
    from ..api import DriverError
    from .qmp import QMP
    try:
        with QMP(monitor, timeout=1.0) as q:
            return stopped_event(q) is not None
    except DriverError:
        return False


def dump_core(qmp, dump_dir: str, name: str) -> str:
    """coredump-*: the guest's memory to DUMP_DIR/NAME-TIME.core, as libvirt's automatic dump."""
    os.makedirs(dump_dir, mode=0o700, exist_ok=True)
    path = os.path.join(dump_dir, "%s-%s.core" % (name, time.strftime("%Y-%m-%d-%H:%M:%S")))
    qmp.execute("dump-guest-memory", {"paging": False, "protocol": "file:" + path}, timeout=300.0)
    return path
