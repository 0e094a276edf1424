"""Fuzz targets for pyvirsh's two hostile-input surfaces: the image-header prober (every
image a chain names is read by it) and the XML layer (domain, snapshot, pool and volume
definitions). Each target takes one input; a libvirt-style DriverError is the expected way
to refuse it, and anything else (another exception, a traceback, a file written for a
refused definition, a raw image whose header gets followed) raises Finding.

Used by tests/test_fuzz.py (a bounded, deterministic run in CI) and by tests/fuzz/run.py
(the long run, coverage-guided with atheris when it is installed)."""

from __future__ import annotations

import os
import traceback

import pyvirsh
from pyvirsh.drivers.api import DriverError
from pyvirsh.drivers.storage.chain import probe_chain
from pyvirsh.drivers.storage.probe import FORMATS, detect_format, read_header

# The formats whose headers the prober parses, then two that are never parsed.
PROBE_FORMATS = ("qcow2", "qcow", "qed", "vmdk", "cow", "vdi", "vpc", "ploop", "raw", "iso")


_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pyvirsh.__file__)))


class Finding(Exception):
    """An input the code under test mishandled; the message says how."""


class ProbeTarget:
    """The prober on one file (rewritten per input) in a directory of its own: the first
    byte picks the format the header is read as, the rest is the image."""

    def __init__(self, workdir: str):
        self.dir = workdir
        self.path = os.path.join(workdir, "image")
        # What the seed images name (a backing file, a data file), so that chains go on.
        for name in ("base.img", "data.raw"):
            with open(os.path.join(workdir, name), "wb") as f:
                f.truncate(65536)

    def __call__(self, data: bytes) -> None:
        if not data:
            return
        fmt = PROBE_FORMATS[data[0] % len(PROBE_FORMATS)]
        image = data[1:]
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, image)
        finally:
            os.close(fd)
        _refused_cleanly(detect_format, self.path)
        _refused_cleanly(read_header, self.path, fmt)
        layers = _refused_cleanly(probe_chain, self.path, fmt, "vda", 8)
        if layers is not None and layers[0].path != self.path:
            raise Finding("chain of %s starts at %r" % (fmt, layers[0].path))
        # A raw top is never parsed: whatever header its bytes carry, nothing else is opened.
        raw = _refused_cleanly(probe_chain, self.path, "raw")
        if raw is not None and [layer.path for layer in raw] != [self.path]:
            raise Finding("a raw image led to %r" % [layer.path for layer in raw])


def _refused_cleanly(function, *args):
    try:
        return function(*args)
    except DriverError as err:
        text = str(err)
        if not text or "Traceback" in text:
            raise Finding("%s gave an empty or traceback error: %.200r" % (function.__name__, text)) from err
        return None
    except Exception as err:       # the finding itself: anything but DriverError escaped
        frame = traceback.extract_tb(err.__traceback__)[-1]
        where = "%s:%d" % (os.path.relpath(frame.filename, _SOURCE_ROOT), frame.lineno)
        raise Finding("%s raised %s at %s: %.200s" % (function.__name__, type(err).__name__, where, err)) from err


WARM_UP = ("<domain type='kvm'><name>fuzz-warm-up</name><memory>65536</memory>"
           "<os><type>hvm</type></os></domain>")


class XMLTarget:
    """Every definition parser pyvirsh has, on one document: the QEMU driver's domain parse
    (with its defaults and its applied-or-refused table), snapshots, pools, volumes, and a
    define into a scratch embedded connection that must write nothing when it refuses."""

    def __init__(self, root: str):
        from pyvirsh.drivers import open_connection
        from pyvirsh.drivers.snapshots import SnapshotDef
        from pyvirsh.drivers.storage.pooldef import parse_pool
        from pyvirsh.drivers.storage.voldef import parse_volume

        self.root = root
        self.conn = open_connection("qemu:///embed?root=%s" % root)
        self.parsers = (SnapshotDef.parse, parse_pool, parse_volume)
        # One define first, so that what any define makes once (the probed QEMU capabilities,
        # lock files) is there before the inputs are watched.
        self.conn.define_xml(WARM_UP).undefine(0)

    def _files(self) -> list[tuple[str, int]]:
        found = []
        for base, dirs, files in os.walk(self.root):
            for name in files:
                path = os.path.join(base, name)
                found.append((path, os.stat(path).st_mtime_ns))
        return sorted(found)

    def __call__(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        for parse in self.parsers:
            _refused_cleanly(parse, text)
        before = self._files()
        dom = _refused_cleanly(self.conn.define_xml, text)
        if dom is None:
            after = self._files()
            if after != before:
                raise Finding("a refused define changed %s" % sorted(set(after) ^ set(before)))
            return
        # Accepted: the definition must read back and go again without a trace.
        _refused_cleanly(dom.get_xml_desc, 0)
        try:
            dom.undefine(0)
        except DriverError as err:
            raise Finding("a defined domain cannot be undefined: %s" % err) from err


assert set(PROBE_FORMATS) <= set(FORMATS)
