"""Running qemu-img: its failures as libvirt-style errors, a missing binary named by its package."""

from __future__ import annotations

from ..api import DriverError, ErrorCode


def qemu_img(*args: str) -> str:
    import subprocess       # here, not at the top: most commands never run qemu-img
    try:
        proc = subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=24 * 3600,
                              check=False)      # the exit status is read below
    except FileNotFoundError:
        raise DriverError(ErrorCode.OPERATION_FAILED, "qemu-img is not installed: install the Debian package "
                          "qemu-utils (apt-get install -y qemu-utils)") from None
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().replace("\n", " ")
        raise DriverError(ErrorCode.OPERATION_FAILED, message or "qemu-img %s failed" % args[0])
    return proc.stdout
