"""swtpm, the TPM emulator behind <tpm><backend type='emulator'/>, run as libvirt 9.0 runs it:
started before QEMU (QEMU connects to its control socket), stopped with the domain, its state
kept per domain under the driver's state directory (state/swtpm/UUID/tpm2 or tpm1.2, where
libvirt keeps /var/lib/libvirt/swtpm/UUID/tpm2) and made by swtpm_setup on first start.

There is no daemon to watch it: swtpm runs with --terminate (it exits when QEMU drops its
connection) and a pidfile; a command that finds the domain stopped (destroyed, or its QEMU
killed) stops a swtpm still there, found by that pidfile and confirmed by /proc.

Unlike libvirt, swtpm_setup is asked for the endorsement key but no certificates: those come
from swtpm_localca, which keeps a host-wide CA outside the connection's root.
"""

from __future__ import annotations

import os

from ..api import DriverError, ErrorCode
from ..fsutil import ensure_dir, remove
from . import process
from .refusal import unsupported

SOCKET = "swtpm.sock"
PERMALL = {"2.0": "tpm2-00.permall", "1.2": "tpm-00.permall"}


def emulated_tpm(root):
    """The <tpm> element with an emulator backend, or None."""
    for tpm in root.iterfind("devices/tpm"):
        backend = tpm.find("backend")
        if backend is not None and backend.get("type") == "emulator":
            return tpm
    return None


def check(tpm) -> None:
    """At define, after libvirt's defaults: what of <backend> pyvirsh cannot give swtpm."""
    backend = tpm.find("backend")
    encryption = backend.find("encryption")
    if encryption is not None:
        # The state's key is a libvirt secret, and pyvirsh has no secrets: libvirt's own words
        # when the secret is missing (it says so at start; pyvirsh, which can never find one, at define).
        raise DriverError(ErrorCode.NO_SECRET, "no secret with matching uuid '%s'" % encryption.get("secret", ""))
    if backend.find("active_pcr_banks") is not None and backend.get("version") != "2.0":
        raise unsupported("<active_pcr_banks> needs a TPM 2.0 (<backend type='emulator' version='2.0'>)")


def pcr_banks(tpm) -> str | None:
    """<active_pcr_banks>'s banks as swtpm_setup's --pcr-banks takes them, or None (swtpm's default)."""
    banks = tpm.find("backend/active_pcr_banks")
    if banks is None:
        return None
    return ",".join(b.tag for b in banks if isinstance(b.tag, str))


def state_top(paths, uuid: str) -> str:
    """The domain's TPM state (removed as a whole with it)."""
    return os.path.join(paths.state, "swtpm", uuid)


def state_dir(paths, uuid: str, version: str) -> str:
    return os.path.join(state_top(paths, uuid), "tpm2" if version == "2.0" else "tpm1.2")


class SwtpmFiles:
    """Where one domain's running swtpm keeps its socket, pidfile and log."""

    def __init__(self, paths, name: str):
        self.run_dir = paths.run_dir(name)
        self.pidfile = os.path.join(self.run_dir, "swtpm.pid")
        self.log = os.path.join(paths.log, name + "-swtpm.log")

    @property
    def socket(self) -> str:
        return socket_path(self.run_dir)


def socket_path(run_dir: str) -> str:
    """swtpm's control socket in the domain's run directory, as QEMU's -chardev names it."""
    from .sockpath import short_path         # a UNIX socket path must fit in 108 bytes
    return short_path(os.path.join(run_dir, SOCKET))


def _tool(name: str) -> str:
    import shutil       # here, not at the top: every start imports this module (shutil loads lzma, bz2)
    found = shutil.which(name)
    if found is None:
        raise DriverError(ErrorCode.OPERATION_FAILED, "Unable to find '%s' binary in $PATH: "
                          "No such file or directory (apt-get install swtpm swtpm-tools)" % name)
    return found


def _run_setup(paths, files: SwtpmFiles, version: str, name: str, uuid: str, banks: str | None) -> None:
    """Manufacture the TPM once (its endorsement key) with the PCR banks asked for, as
    libvirt does on first start."""
    state = state_dir(paths, uuid, version)
    ensure_dir(state)
    argv = [_tool("swtpm_setup")] + (["--tpm2"] if version == "2.0" else []) + [
        "--tpm-state", state, "--vmid", "%s:%s" % (name, uuid), "--logfile", files.log,
        "--createek", "--lock-nvram", "--not-overwrite"] + (["--pcr-banks", banks] if banks else [])
    try:
        _setup(argv, files)
    except DriverError:
        remove_state(paths, uuid)           # never half a TPM next time
        raise


def _reconfigure(state: str, files: SwtpmFiles, banks: str) -> None:
    """A TPM made before: its active PCR banks set to <active_pcr_banks> at every start (libvirt's
    swtpm_setup --reconfigure; the keys stay)."""
    _setup([_tool("swtpm_setup"), "--tpm2", "--tpm-state", state, "--logfile", files.log,
            "--reconfigure", "--pcr-banks", banks], files)


def _setup(argv: list[str], files: SwtpmFiles) -> None:
    import subprocess
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DriverError(ErrorCode.OPERATION_FAILED, "swtpm_setup failed: %s" % err) from None
    if proc.returncode != 0:
        raise DriverError(ErrorCode.OPERATION_FAILED, "Could not run '%s'. exitstatus: %d; Check error log "
                          "'%s' for details." % (argv[0], proc.returncode, files.log))


def start(paths, name: str, uuid: str, tpm) -> None:
    """Start the domain's swtpm (setting its state up first if new, or its PCR banks as
    asked if not) listening on the control socket QEMU connects to."""
    version = tpm.find("backend").get("version", "2.0")
    files = SwtpmFiles(paths, name)
    swtpm = _tool("swtpm")
    state = state_dir(paths, uuid, version)
    banks = pcr_banks(tpm)
    if not os.path.exists(os.path.join(state, PERMALL[version])):
        _run_setup(paths, files, version, name, uuid, banks)
    elif banks:
        _reconfigure(state, files, banks)
    stop(paths, name)                   # a stray one from a start that was killed
    # The control socket listens from here on (swtpm gets it as fd=N, as QEMU gets its monitor):
    # QEMU's connection waits in its backlog until swtpm serves it, with no polling for a file.
    listener = process.listening_socket(files.socket)
    try:
        argv = [swtpm, "socket", "--ctrl", "type=unixio,fd=%d" % listener.fileno(),
                "--tpmstate", "dir=%s,mode=0600" % state, "--log", "file=%s" % files.log,
                "--terminate", "--pid", "file=%s" % files.pidfile] + (["--tpm2"] if version == "2.0" else [])
        process.spawn(argv, files.log, pass_fds=(listener.fileno(),))
    except BaseException:
        stop(paths, name)
        raise
    finally:
        listener.close()


def running_pid(files: SwtpmFiles) -> int | None:
    """The pid in the pidfile if that process is alive and is this domain's swtpm."""
    try:
        with open(files.pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read()
    except OSError:
        return None
    if files.pidfile.encode() not in argv or not process.pid_alive(pid):
        return None                     # a recycled pid: not ours
    return pid


def stop(paths, name: str) -> None:
    """Stop the domain's swtpm if it still runs (it normally leaves with its QEMU) and remove
    its runtime files."""
    files = SwtpmFiles(paths, name)
    pid = running_pid(files)
    if pid is not None and not process.wait_gone(pid, 2.0):
        process.terminate(pid)
    remove(files.pidfile)
    remove(os.path.join(files.run_dir, SOCKET))


def remove_state(paths, uuid: str) -> None:
    import shutil
    shutil.rmtree(state_top(paths, uuid), ignore_errors=True)


def keeps_state(tpm) -> bool:
    """<backend persistent_state='yes'>: the state outlives undefine (libvirt's rule)."""
    return tpm.find("backend").get("persistent_state") == "yes"
