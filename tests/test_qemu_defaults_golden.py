"""Golden in/out XML for the QEMU driver's defaults (drivers/qemu/defaults.py): what libvirt
9.0's QEMU driver fills in at define (emulator, machine type, implicit and default
controllers, PCI/PCIe and drive addresses, the serial
port a console implies, virtio-serial for channels, USB, video, audio, balloon).

Inputs: tests/data/defaults/NAME.xml (hand-written: pc, q35, disks on each bus, CD-ROMs,
USB, channels, network and graphics), the virt-install profiles recorded in
tests/data/virtinst (named virtinst-NAME here) and the device mixes in tests/data/libvirt
(libvirt-NAME), read from where they are. Expected: tests/data/defaults/NAME.out.xml, the
persistent XML after define (dumpxml --inactive), with a UUID or MAC address that the
define generated (one the input lacks) written as UUID / 52:54:00:XX:XX:XX.

The recorded cases also come with libvirt 9.0's own persistent XML for the same input
(NAME.libvirt.xml, made by their record.sh): pyvirsh's output must equal it byte for byte,
generated values aside. These are the only golden files of the QEMU driver's persistent XML;
tests/test_guests.py starts the same profiles and checks QEMU's view of them.

Regenerate after an intended change of the defaults (or a QEMU upgrade that moves the
machine type), then review the diff:

    PYVIRSH_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_qemu_defaults_golden.py

Runs in process on an embedded driver (define needs the emulator binary, never a guest).
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

DATA = os.path.join(os.path.dirname(__file__), "data")
DEFAULTS = os.path.join(DATA, "defaults")
VIRTINST = os.path.join(DATA, "virtinst")
LIBVIRT = os.path.join(DATA, "libvirt")
REGENERATE = os.environ.get("PYVIRSH_REGENERATE_GOLDEN") == "1"


def _inputs() -> dict[str, tuple[str, str | None]]:
    """name -> (input, libvirt's own output for it or None)."""
    cases: dict[str, tuple[str, str | None]] = {
        f[:-4]: (os.path.join(DEFAULTS, f), None) for f in os.listdir(DEFAULTS)
        if f.endswith(".xml") and not f.endswith(".out.xml")}
    for prefix, folder in (("virtinst-", VIRTINST), ("libvirt-", LIBVIRT)):
        cases.update({prefix + f[:-4]: (os.path.join(folder, f), os.path.join(folder, f[:-4] + ".libvirt.xml"))
                      for f in os.listdir(folder) if f.endswith(".xml") and ".libvirt" not in f})
    return dict(sorted(cases.items()))


CASES = _inputs()

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 is not installed (define finds the emulator)")


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    from pyvirsh.drivers import open_connection
    root = tmp_path_factory.mktemp("defaults-golden")
    connection = open_connection("qemu:///embed?root=%s" % root)
    try:
        yield connection
    finally:
        connection.close()


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().replace("/tmp/lvimg/", "/IMAGES/")


def _normalise(xml: str, given: str) -> str:
    """Only what a define generates differs from run to run: a UUID or MAC the input lacks."""
    def generated(placeholder: str):
        return lambda match: match.group(0) if match.group(1) in given else placeholder
    xml = re.sub(r"<uuid>([^<]*)</uuid>", generated("<uuid>UUID</uuid>"), xml)
    return re.sub(r"<mac address='(52:54:00:[0-9a-f:]{8})'/>", generated("<mac address='52:54:00:XX:XX:XX'/>"),
                  xml)


@pytest.mark.parametrize("name", list(CASES))
def test_defaults_golden(conn, name):
    from pyvirsh.drivers.api import XMLFlags
    source, reference = CASES[name]
    given = _read(source)
    dom = conn.define_xml(given)
    try:
        out = _normalise(dom.get_xml_desc(XMLFlags.INACTIVE), given)
    finally:
        dom.undefine()
    path = os.path.join(DEFAULTS, name + ".out.xml")
    if REGENERATE or not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(out)
    with open(path, encoding="utf-8") as f:
        expected = f.read()
    assert out == expected, "%s differs (PYVIRSH_REGENERATE_GOLDEN=1 rewrites it; review the diff)" % path
    if reference is not None:
        # virsh dumpxml ends its output with one more newline than the document has.
        assert out == _normalise(_read(reference), given).removesuffix("\n"), \
            "pyvirsh's persistent XML differs from libvirt's own (%s)" % reference


def test_every_golden_output_has_an_input():
    """A renamed or removed input leaves no stale expectation behind."""
    outputs = {f[:-len(".out.xml")] for f in os.listdir(DEFAULTS) if f.endswith(".out.xml")}
    assert outputs <= set(CASES), sorted(outputs - set(CASES))
    assert len(CASES) >= 15
