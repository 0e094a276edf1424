"""The session's qcow2 chain copies (conftest.qcow2_chain) are what qemuhelp.make_chain makes."""

from __future__ import annotations

import os

from qemuhelp import backing_chain, check_view, expected_view, make_chain, qemu_io, write_patterns


def _layers(path: str) -> list[dict]:
    """qemu-img's view of a chain, top first, with file names relative to their folder."""
    layers = backing_chain(path)
    for layer in layers:
        for key in ("filename", "backing-filename", "full-backing-filename"):
            if key in layer:
                layer[key] = os.path.basename(layer[key])
        layer.pop("dirty-flag", None)
    return layers


def test_a_copied_chain_equals_a_made_one(env, qcow2_chain, tmp_path):
    names = ["base.qcow2", "mid.qcow2", "top.qcow2"]
    copied = qcow2_chain(names, patterns=True)
    again = qcow2_chain(["b2.qcow2", "m2.qcow2", "t2.qcow2"], patterns=True)   # the same template again

    class Folder:
        path = staticmethod(lambda name: str(tmp_path / name))

    made = make_chain(Folder, names)
    write_patterns(made)
    assert _layers(copied[-1]) == _layers(made[-1])
    # Each copy's headers name its own files, with the backing format recorded.
    assert [layer["filename"] for layer in backing_chain(copied[-1])] == copied[::-1]
    assert [layer["filename"] for layer in backing_chain(again[-1])] == again[::-1]
    formats = [layer.get("backing-filename-format") for layer in backing_chain(copied[-1])]
    assert formats == ["qcow2", "qcow2", None]
    check_view(copied[-1], expected_view(3))
    # Writing into one copy leaves the session's template (and so the next copy) alone.
    assert qemu_io(copied[0], "write -P 0x99 0M 1M").returncode == 0
    fresh = qcow2_chain(["b3.qcow2", "m3.qcow2", "t3.qcow2"], patterns=True)
    check_view(fresh[-1], expected_view(3))
