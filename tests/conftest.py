import os
import sys

# tests/ holds helper modules (difftool, qemu fixtures) imported by the tests.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402


@pytest.fixture
def env(tmp_path):
    """An embedded QEMU driver in a fresh directory; every QEMU it started is stopped after the test."""
    from qemuhelp import Env
    e = Env(tmp_path)
    try:
        yield e
    finally:
        e.cleanup()
