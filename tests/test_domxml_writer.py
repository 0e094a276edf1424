"""The domain XML writer against real virsh (test:///default): free-form <metadata> is dumped
as libxml2 dumps it (double quotes, namespace declarations kept), as libvirt does."""

from __future__ import annotations

import shutil

import pytest
from difftool import compare

pytestmark = pytest.mark.skipif(not shutil.which("virsh"),
                                reason="virsh (Debian libvirt-clients) is not installed")


def test_metadata_is_written_as_libvirt_writes_it():
    theirs, ours = compare(["-c", "test:///default", "define metadata-ns.xml; dumpxml meta"])
    assert ours == theirs
