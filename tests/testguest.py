"""A tiny Linux test guest, built from Debian packages on this machine (linux-image-amd64's
kernel and modules, busybox-static): the kernel's uncompressed ELF payload (PVH entry; TCG
boots it in seconds, where the compressed bzImage takes twice as long) and an uncompressed
initramfs whose /init loads the drivers for virt-install's devices, reports what the guest
sees between PYVIRSH-GUEST-BEGIN/END lines on ttyS0, and powers off.

With `pyvirsh.shell` on the kernel command line the guest stays up instead: it runs every
/etc/pyvirsh.d/*.sh (tests add them, and the programs they start, with build(extras=...)),
prints PYVIRSH-GUEST-READY and keeps a root shell (prompt "guest# ") on the console, so tests
can log in through `console`, write data to disks, or serve the guest agent.

Built once into a cache directory ($PYVIRSH_TEST_GUEST_CACHE, else ~/.cache/pyvirsh/test-guest/
KERNEL-VERSION) and reused: `python3 tests/testguest.py` builds it and prints the two paths.
The initramfs is written here as a newc cpio archive; no cpio binary is needed.
"""

from __future__ import annotations

import glob
import lzma
import os
import shutil
import stat
import sys

MODULES = ("virtio_pci", "virtio_blk", "virtio_console", "virtio_rng", "virtio_net", "virtio_scsi",
           "virtio_balloon", "ahci", "ata_piix", "sd_mod", "sr_mod", "xhci_pci", "usbhid", "hid_generic",
           "e1000", "e1000e", "8139cp", "qemu_fw_cfg")

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in %(modules)s; do modprobe $m 2>/dev/null; done
# Wait for the drivers' asynchronous probing (SATA links, USB enumeration) to settle.
last=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    now="$(ls /sys/block /sys/bus/usb/devices 2>/dev/null | tr '\n' ' ')"
    [ -n "$last" ] && [ "$now" = "$last" ] && break
    last="$now"
    sleep 1
done
echo PYVIRSH-GUEST-BEGIN
for d in /sys/bus/pci/devices/*; do
    echo "pci $(basename $d) $(cat $d/vendor) $(cat $d/device)"
done
for b in /sys/block/*; do
    case $(basename $b) in loop*|ram*) continue;; esac
    echo "block $(basename $b) $(cat $b/size) $(readlink -f $b/device | sed 's|/sys/devices/||')"
done
[ -e /sys/class/misc/hw_random/rng_current ] && echo "rng $(cat /sys/class/misc/hw_random/rng_current)"
for p in /sys/class/virtio-ports/*; do [ -e $p/name ] && echo "vport $(cat $p/name)"; done
for u in /sys/bus/usb/devices/*; do [ -e $u/product ] && echo "usb $(cat $u/product)"; done
for n in /sys/class/net/*; do
    [ "$(basename $n)" = lo ] || echo "net $(basename $n) $(cat $n/address)"
done
grep -q '^0: uart:16550A' /proc/tty/driver/serial 2>/dev/null && echo "serial ttyS0"
d=/sys/class/dmi/id
[ -e $d/sys_vendor ] && echo "dmi $(cat $d/bios_vendor)|$(cat $d/sys_vendor)|$(cat $d/product_name)|\
$(cat $d/product_serial)|$(cat $d/board_vendor)|$(cat $d/chassis_vendor)"
for e in /sys/firmware/dmi/entries/11-*; do [ -e $e/raw ] && echo "oem $(tail -c +6 $e/raw | tr '\0' '|')"; done
for k in /sys/firmware/qemu_fw_cfg/by_key/*; do
    case "$(cat $k/name 2>/dev/null)" in opt/*) echo "fwcfg $(cat $k/name) $(cat $k/raw)";; esac
done
echo PYVIRSH-GUEST-END
case " $(cat /proc/cmdline) " in
*" pyvirsh.shell "*)
    for s in /etc/pyvirsh.d/*.sh; do [ -e "$s" ] && . "$s"; done
    echo PYVIRSH-GUEST-READY
    export PS1='guest# '
    # init must never exit: a shell that ends (exit, ^D) is started again.
    while true; do setsid cttyhack /bin/sh; done;;
esac
poweroff -f
"""


def kernel_version() -> str | None:
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    return os.path.basename(kernels[-1])[len("vmlinuz-"):] if kernels else None


def cache_dir(version: str) -> str:
    base = os.environ.get("PYVIRSH_TEST_GUEST_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "pyvirsh", "test-guest")
    return os.path.join(base, version)


def extract_vmlinux(vmlinuz: str) -> bytes:
    """The ELF kernel inside a bzImage (Debian compresses it with xz)."""
    with open(vmlinuz, "rb") as f:
        data = f.read()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        raise RuntimeError("%s: no xz payload found" % vmlinuz)
    elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
    if not elf.startswith(b"\x7fELF"):
        raise RuntimeError("%s: the payload is not an ELF kernel" % vmlinuz)
    return elf


def _module_closure(version: str) -> list[str]:
    """The module files MODULES need, with their dependencies (from modules.dep)."""
    root = "/lib/modules/%s" % version
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    with open(os.path.join(root, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
            by_name[os.path.basename(path)[:-3].replace("-", "_")] = path
    wanted, todo = set(), [by_name[m] for m in MODULES if m in by_name]
    while todo:
        path = todo.pop()
        if path not in wanted:
            wanted.add(path)
            todo.extend(deps.get(path, ()))
    return sorted(wanted)


class _Cpio:
    """A newc cpio archive, written entry by entry."""

    def __init__(self, f):
        self.f, self.ino = f, 1

    def add(self, name: str, mode: int, data: bytes = b"") -> None:
        name_bytes = name.encode() + b"\0"
        header = "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X" % (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_bytes), 0)
        self.ino += 1
        self.f.write(header.encode() + name_bytes)
        self.f.write(b"\0" * ((4 - (110 + len(name_bytes)) % 4) % 4))
        self.f.write(data)
        self.f.write(b"\0" * ((4 - len(data) % 4) % 4))

    def close(self) -> None:
        self.add("TRAILER!!!", 0)


Extras = dict[str, "tuple[int, bytes]"]  # path in the guest -> (mode, content)


def build_initrd(version: str, path: str, extras: Extras | None = None) -> None:
    busybox = shutil.which("busybox", path="/bin:/usr/bin")
    if busybox is None or "static" not in os.path.realpath(busybox) and not _is_static(busybox):
        raise RuntimeError("busybox-static is needed (apt-get install -y busybox-static)")
    modroot = "/lib/modules/%s" % version
    tmp = "%s.tmp%d" % (path, os.getpid())      # concurrent test workers build side by side
    with open(tmp, "wb") as f:
        cpio = _Cpio(f)
        made = set()
        for d in ("bin", "dev", "proc", "sys", "lib", "lib/modules", modroot[1:], "etc", "etc/pyvirsh.d"):
            cpio.add(d, stat.S_IFDIR | 0o755)
            made.add(d)
        with open(busybox, "rb") as b:
            cpio.add("bin/busybox", stat.S_IFREG | 0o755, b.read())
        cpio.add("init", stat.S_IFREG | 0o755, (INIT % {"modules": " ".join(MODULES)}).encode())
        for name, (mode, data) in sorted((extras or {}).items()):
            name = name.lstrip("/")
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in made:
                    made.add(d)
                    cpio.add(d, stat.S_IFDIR | 0o755)
            cpio.add(name, mode, data)
        for rel in _module_closure(version):
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "%s/%s" % (modroot[1:], "/".join(parts[:i]))
                if d not in made:
                    made.add(d)
                    cpio.add(d, stat.S_IFDIR | 0o755)
            with open(os.path.join(modroot, rel), "rb") as m:
                cpio.add("%s/%s" % (modroot[1:], rel), stat.S_IFREG | 0o644, m.read())
        for meta in ("modules.dep", "modules.alias", "modules.symbols", "modules.builtin", "modules.order"):
            if os.path.exists(os.path.join(modroot, meta)):
                with open(os.path.join(modroot, meta), "rb") as m:
                    cpio.add("%s/%s" % (modroot[1:], meta), stat.S_IFREG | 0o644, m.read())
        cpio.close()
    os.replace(tmp, path)


def _is_static(path: str) -> bool:
    with open(path, "rb") as f:
        return b"/lib64/ld-linux" not in f.read(65536)


def _initrd_key(extras: Extras | None, flavour: str) -> str:
    import hashlib
    listed = sorted((name, mode, hashlib.sha256(data).hexdigest()) for name, (mode, data) in (extras or {}).items())
    return "%s-%s" % (flavour, hashlib.sha256(repr(listed).encode()).hexdigest()[:12])


def build(extras: Extras | None = None, flavour: str = "") -> tuple[str, str]:
    """(kernel, initrd) paths in the cache, built if missing. A test that adds `extras` (files
    in the guest, e.g. /etc/pyvirsh.d/agent.sh and the programs it starts) names its `flavour`;
    the cached initrd is named by the flavour and a digest of the extras, so a changed extra
    never boots a stale initrd."""
    version = kernel_version()
    if version is None:
        raise RuntimeError("no kernel in /boot (apt-get install -y linux-image-amd64)")
    directory = cache_dir(version)
    os.makedirs(directory, exist_ok=True)
    kernel = os.path.join(directory, "vmlinux")
    initrd = os.path.join(directory, "initrd-%s.cpio" % _initrd_key(extras, flavour) if flavour or extras
                          else "initrd.cpio")
    if not os.path.exists(kernel):
        tmp = "%s.tmp%d" % (kernel, os.getpid())
        with open(tmp, "wb") as f:
            f.write(extract_vmlinux("/boot/vmlinuz-%s" % version))
        os.replace(tmp, kernel)
    if not os.path.exists(initrd):
        build_initrd(version, initrd, extras)
    return kernel, initrd


def report(text: str) -> list[str]:
    """The guest's report lines from its serial output."""
    if "PYVIRSH-GUEST-BEGIN" not in text or "PYVIRSH-GUEST-END" not in text:
        return []
    body = text.split("PYVIRSH-GUEST-BEGIN", 1)[1].split("PYVIRSH-GUEST-END", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip()]


if __name__ == "__main__":
    print("\n".join(build()))
    sys.exit(0)
