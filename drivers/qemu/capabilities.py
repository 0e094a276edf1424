"""What the host's QEMU can do: binaries, machine types, KVM.

`qemu-system-x86_64 -machine help` is run once per binary (its size and mtime
are the cache key) and the answer kept in the driver's state directory, so
defining a domain does not pay for a QEMU process.
"""

from __future__ import annotations

# json, shutil and subprocess are imported where used: most commands (list,
# dominfo, domblklist...) never look at capabilities and should not pay for them.
import os

from ..api import DriverError, ErrorCode
from ..fsutil import atomic_write, read_text

ARCH_BINARIES = {"x86_64": "qemu-system-x86_64", "i686": "qemu-system-i386"}
INSTALL_HINT = "install the Debian package qemu-system-x86 (apt-get install -y qemu-system-x86)"


def host_arch() -> str:
    return os.uname().machine


def find_emulator(arch: str) -> str:
    import shutil
    name = ARCH_BINARIES.get(arch)
    if name is None:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "No emulator found for arch '%s'" % arch)
    path = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/local/bin")
    if path is None:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                          "QEMU emulator '%s' is not installed: %s" % (name, INSTALL_HINT))
    return path


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


class Capabilities:
    """Machine types of one emulator binary: aliases, canonical names, default."""

    def __init__(self, cache_path: str):
        self.cache_path = cache_path
        self._data: dict | None = None

    def _load(self) -> dict:
        if self._data is None:
            import json
            text = read_text(self.cache_path)
            try:
                self._data = json.loads(text) if text else {}
            except ValueError:
                self._data = {}
        return self._data

    def machines(self, emulator: str) -> dict:
        try:
            st = os.stat(emulator)
        except OSError:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "Cannot find QEMU binary %s: %s"
                              % (emulator, INSTALL_HINT)) from None
        import json
        import subprocess
        key = "%s:%d:%d" % (emulator, st.st_size, int(st.st_mtime))
        data = self._load()
        if key in data:
            return data[key]
        try:
            out = subprocess.run([emulator, "-machine", "help"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout
        except (OSError, subprocess.SubprocessError) as err:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot query machine types of %s: %s"
                              % (emulator, err)) from None
        aliases, names, default = {}, [], None
        for line in out.splitlines()[1:]:
            parts = line.split(None, 1)
            if not parts:
                continue
            name, desc = parts[0], parts[1] if len(parts) > 1 else ""
            names.append(name)
            if "(alias of " in desc:
                aliases[name] = desc.split("(alias of ", 1)[1].split(")", 1)[0]
            if "(default)" in desc:
                default = name
        info = {"aliases": aliases, "names": names, "default": default}
        data[key] = info
        try:
            atomic_write(self.cache_path, json.dumps(data))
        except OSError:
            pass
        return info

    def canonical_machine(self, emulator: str, machine: str | None) -> str:
        info = self.machines(emulator)
        wanted = machine or "pc"
        if wanted not in info["names"]:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                              "Emulator '%s' does not support machine type '%s'" % (emulator, wanted))
        return info["aliases"].get(wanted, wanted)
