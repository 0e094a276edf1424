"""The bounded fuzz run of issue 17 (the long one is tests/fuzz/run.py): the image-header
prober and every definition parser take mutated inputs from the seed corpus (real qemu-img
images; the suite's domain, pool and snapshot XML), and each input is either accepted or
refused with a libvirt-style error: no other exception, no file left behind by a refused
define, no raw image whose header is followed. Inputs that once found a bug
(tests/fuzz/corpus/*/finding-*) are replayed first. Deterministic: fixed seeds."""

from __future__ import annotations

import glob
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fuzz"))

import run
from targets import Finding, ProbeTarget, XMLTarget

PROBE_RUNS = 25000
XML_RUNS = 1500


def _replayed(target_name: str):
    return sorted(glob.glob(os.path.join(run.corpus_dir(target_name), "finding-*")))


def _coverage_corpus(target_name: str) -> list[bytes]:
    """What the long coverage-guided runs kept (tests/fuzz/corpus/TARGET-cov)."""
    out = []
    for path in sorted(glob.glob(os.path.join(run.corpus_dir(target_name + "-cov"), "*"))):
        with open(path, "rb") as f:
            out.append(f.read())
    return out


@pytest.mark.parametrize("path", _replayed("probe"), ids=os.path.basename)
def test_past_probe_findings(tmp_path, path):
    with open(path, "rb") as f:
        ProbeTarget(str(tmp_path))(f.read())


@pytest.mark.parametrize("path", _replayed("xml"), ids=os.path.basename)
def test_past_xml_findings(tmp_path, path):
    with open(path, "rb") as f:
        XMLTarget(str(tmp_path))(f.read())


def test_prober_takes_the_coverage_corpus(tmp_path):
    target = ProbeTarget(str(tmp_path))
    for data in _coverage_corpus("probe"):
        target(data)


def test_xml_layer_takes_the_coverage_corpus(tmp_path):
    target = XMLTarget(str(tmp_path))
    for data in _coverage_corpus("xml"):
        target(data)


def test_prober_takes_mutated_images():
    lines: list[str] = []
    assert run.run_mutations("probe", PROBE_RUNS, seed=17, report=lines.append) == 0, "\n".join(lines)


def test_xml_layer_takes_mutated_definitions():
    lines: list[str] = []
    assert run.run_mutations("xml", XML_RUNS, seed=17, report=lines.append) == 0, "\n".join(lines)


def test_a_finding_is_reported(tmp_path):
    """The harness itself can fail: an input that escapes as a Python exception is a Finding."""
    target = ProbeTarget(str(tmp_path))
    with pytest.raises(Finding):
        from targets import _refused_cleanly
        _refused_cleanly(int, "not a number")
    target(b"\0" * 10)          # and a plain input is not
