"""The pool and volume commands against real virsh 9.0 on test:///default, byte for byte:
option parsing, --print-xml builders, lookups, size parsing, local file errors, help, and the
test driver's pool and volume life cycle (define, start, build, destroy, delete, undefine,
autostart, volumes made, cloned and deleted, sizes taken from the pool). The QEMU driver's
pools and volumes are compared against virsh + libvirtd in test_qemu_pools.py and
test_qemu_volumes.py."""

from __future__ import annotations

import re

import pytest

from difftool import compare, virsh_missing_reason

needs_virsh = pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")

CASES = [
    'pool-define-as --print-xml P logical --source-host h1 --source-path /sp --source-dev /dev/x --source-name S --target /t --source-format lvm2 --auth-type chap --auth-username u --secret-usage su --adapter-name host1 --source-protocol-ver 4 --source-initiator iqn.x',
    'pool-define-as --print-xml P dir --secret-uuid 11111111-1111-1111-1111-111111111111 --auth-type ceph --auth-username u --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent p',
    'pool-define-as --print-xml P scsi --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent-wwnn 3 --adapter-parent-wwpn 4 --adapter-parent-fabric-wwn 5 --adapter-name n',
    'pool-define-as --print-xml P scsi --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent-fabric-wwn 5',
    'pool-define-as --print-xml P scsi --auth-type chap --auth-username u',
    'pool-create-as --print-xml P dir --target /t --build',
    'pool-create-as P dir --target /t --build --overwrite --no-overwrite',
    'pool-start default-pool --overwrite --no-overwrite',
    'pool-uuid default-pool',
    'pool-name dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566',
    'pool-name default-pool',
    'pool-name 00000000-0000-0000-0000-000000000000',
    'pool-uuid nosuch',
    'vol-create-as default-pool v1 1M; vol-path v1 --pool default-pool; vol-key v1 --pool default-pool; vol-name /default-pool/v1; vol-pool /default-pool/v1; vol-pool /default-pool/v1 --uuid',
    'vol-name nosuch',
    'vol-pool nosuch',
    'vol-path nosuch',
    'vol-key nosuch',
    'vol-create-as default-pool big 16E',
    'vol-create-as default-pool big 99999999999999999999',
    'vol-resize nosuch 1M',
    'vol-create-as default-pool v1 1M; vol-resize v1 -1M --pool default-pool',
    'vol-create-as default-pool v1 1M; vol-wipe v1 --pool default-pool --algorithm foo',
    'vol-upload nosuch /etc/hostname',
    'vol-download nosuch /nonexistent/x',
    'vol-create-as default-pool v1 1M; vol-upload v1 /nonexistent --pool default-pool',
    'vol-create-as default-pool v1 1M; vol-download v1 /nonexistent/x --pool default-pool',
    'vol-create-as default-pool v1 1M; vol-upload v1 /etc/hostname --pool default-pool --offset x',
    'vol-clone nosuch x',
    'help pool-define-as; help pool-create-as; help pool-define; help pool-create; help pool-build; help pool-start',
    'help pool-destroy; help pool-delete; help pool-undefine; help pool-autostart; help pool-refresh; help pool-dumpxml; help pool-name; help pool-uuid; help pool-edit',
    'help vol-create; help vol-create-from; help vol-clone; help vol-upload; help vol-download; help vol-dumpxml; help vol-path; help vol-name; help vol-key; help vol-pool',
]


@needs_virsh
@pytest.mark.parametrize("text", CASES, ids=[c[:70] for c in CASES])
def test_same_as_virsh(text):
    theirs, ours = compare(["-c", "test:///default", text], in_process=True)
    assert ours == theirs


# Pools defined without a UUID get a random one, on both sides.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

STATE_CASES = [
    ("pool-define pools/z.xml; pool-dumpxml z; pool-start z; pool-define pools/z2.xml; pool-dumpxml z; "
    "pool-destroy z; pool-dumpxml z"),
    "pool-define pools/z.xml; pool-define pools/zbad.xml; pool-create pools/zbad.xml",
    ("pool-create pools/z.xml; pool-dumpxml z; pool-list --all --transient --details; pool-autostart z; "
    "pool-undefine z; pool-destroy z; pool-list --all"),
    "pool-define pools/z.xml; pool-start z; pool-create pools/z.xml",
    ("pool-define pools/z.xml; pool-create pools/z.xml; pool-list --all --persistent; pool-info z; "
    "pool-destroy z; pool-list --all"),
    "pool-create pools/z.xml --build",
    "pool-define pools/z.xml; pool-start z --build",
    "pool-define --validate pools/z.xml; pool-list --all --uuid",
    "pool-build default-pool --overwrite",
    ("pool-start default-pool; pool-destroy default-pool; pool-destroy default-pool; pool-build default-pool; "
    "pool-refresh default-pool; pool-delete default-pool; pool-start default-pool"),
    ("pool-destroy default-pool; vol-list default-pool; pool-info default-pool; pool-dumpxml default-pool; "
    "pool-undefine default-pool; pool-list --all"),
    "pool-delete default-pool; pool-undefine default-pool",
    "pool-dumpxml --inactive default-pool",
    ("pool-define-as p2 dir --target /tmp/p2; pool-dumpxml p2; pool-info p2; pool-build p2; pool-start p2; "
    "pool-info p2; pool-refresh p2; pool-autostart p2; pool-info p2; pool-list --all --details; "
    "pool-destroy p2; pool-delete p2; pool-undefine p2; pool-list --all"),
    "pool-define-as pl logical --target /dev/vgx; pool-dumpxml pl",
    ("pool-define-as pl logical --source-name vg; pool-dumpxml pl; pool-start pl; vol-create-as pl lv1 1G; "
    "vol-dumpxml lv1 --pool pl"),
    ("pool-define-as pd disk --source-dev /dev/sdz --target /dev; pool-start pd; vol-create-as pd sdz1 1M; "
    "vol-dumpxml sdz1 --pool pd"),
    ("pool-define-as pn netfs --source-host h --source-path /e --target /mnt; pool-dumpxml pn; pool-start pn; "
    "vol-create-as pn x 1M; vol-dumpxml x --pool pn"),
    "pool-define-as pi iscsi --source-host h --source-dev iqn.x --target /dev/disk/by-path; pool-dumpxml pi",
    "pool-define-as p3 dir --target /default-pool",
    "pool-define-as p3 dir",
    "pool-define-as pz dir --source-format x --target /m; pool-dumpxml pz",
    "pool-define-as pz logical --source-format bogus",
    "pool-define-as pz disk --source-format gpt --source-dev /dev/x --target /dev; pool-dumpxml pz",
    ("pool-create-as t2 dir --target /t2; pool-list --all --transient; pool-autostart t2; pool-destroy t2; "
    "pool-list --all"),
    ("pool-autostart default-pool; pool-list --autostart; pool-autostart default-pool --disable; "
    "pool-list --all --no-autostart"),
    ("vol-create default-pool pools/v.xml; vol-create-as default-pool big 101G --allocation 0; "
    "vol-create-as default-pool big2 50G; vol-create-as default-pool big3 60G; pool-info default-pool; "
    "vol-create-as default-pool big3 60G --allocation 10G; pool-info default-pool; "
    "vol-delete big2 --pool default-pool; pool-info default-pool; vol-list default-pool --details"),
    ("vol-create-as default-pool v1 1M --format qcow2; vol-dumpxml v1 --pool default-pool; "
    "vol-create-as default-pool q 1M --backing-vol /default-pool/v1 --format qcow2; vol-dumpxml q --pool default-pool; "
    "vol-clone v1 q --pool default-pool; vol-clone v1 v3 --pool default-pool; vol-dumpxml v3 --pool default-pool; "
    "vol-delete v1 --pool default-pool --delete-snapshots"),
    ("vol-create-as default-pool v1 1M; vol-wipe v1 --pool default-pool; vol-resize v1 2M --pool default-pool; "
    "vol-upload v1 /etc/hostname --pool default-pool; vol-download v1 /nonexistent-dir/dl --pool default-pool"),
    "vol-create-as default-pool v1 1M; vol-delete v1 --pool default-pool; vol-delete v1 --pool default-pool",
    ("vol-create-as default-pool v1 1M; vol-create-from default-pool pools/v.xml v1; "
    "vol-create-from default-pool pools/v.xml v1 --inputpool default-pool; vol-list default-pool"),
    "vol-create-as default-pool v1 1M; pool-destroy default-pool; pool-start default-pool; vol-list default-pool",
    "pool-capabilities",
    "find-storage-pool-sources logical",
    "find-storage-pool-sources netfs",
    "find-storage-pool-sources dir",
    "find-storage-pool-sources fs",
    "find-storage-pool-sources bogus",
    "find-storage-pool-sources netfs --srcSpec pools/z.xml",
    "find-storage-pool-sources netfs --srcSpec /nonexistent",
    "find-storage-pool-sources-as netfs host1 --port 2049 --initiator iqn",
    "find-storage-pool-sources-as logical host1",
    "find-storage-pool-sources-as iscsi host1",
    "help find-storage-pool-sources-as; help pool-capabilities; help find-storage-pool-sources",
]


@needs_virsh
@pytest.mark.parametrize("text", STATE_CASES, ids=[c[:70] for c in STATE_CASES])
def test_pool_life_cycle_same_as_virsh(text):
    theirs, ours = compare(["-c", "test:///default", text], in_process=True)
    assert [_UUID.sub("UUID", str(part)) for part in ours] == [_UUID.sub("UUID", str(part)) for part in theirs]


@needs_virsh
def test_pool_edit_same_as_virsh(tmp_path):
    """pool-edit asks the test driver for the inactive definition, which it lacks, then for
    the running one (virsh's retry); the edited definition replaces the inactive pool's."""
    editor = tmp_path / "editor"
    editor.write_text("#!/bin/sh\nsed -i 's|/default-pool<|/edited<|' \"$1\"\n")
    editor.chmod(0o755)
    env = {"EDITOR": str(editor), "VISUAL": str(editor)}
    text = "pool-destroy default-pool; pool-edit default-pool; pool-dumpxml default-pool"
    theirs, ours = compare(["-c", "test:///default", text], env_extra=env, in_process=True)
    assert "/edited<" in theirs[0]
    assert ours == theirs


STORAGE_REMOVAL_CASES = [
    ("vol-create-as default-pool v1 1M; vol-create-as default-pool v2 1M; define pools/d.xml; "
    "undefine dd --remove-all-storage; vol-list default-pool"),
    ("vol-create-as default-pool v1 1M; vol-create-as default-pool v2 1M; define pools/d.xml; "
    "undefine dd --storage vda,vdc,nosuch; list --all --name"),
    ("vol-create-as default-pool v1 1M; vol-create-as default-pool v2 1M; define pools/d.xml; "
    "undefine dd --storage vda,/default-pool/v2 --wipe-storage; vol-list default-pool"),
    ("vol-create-as default-pool v1 1M; define pools/d.xml; "
    "undefine dd --remove-all-storage --delete-storage-volume-snapshots"),
    ("vol-create-as default-pool v1 1M; vol-create-as default-pool v2 1M; define pools/d.xml; "
    "undefine dd --storage vda,v2 --wipe-storage"),
    "define pools/d.xml; undefine dd --storage vdb",
    "undefine test --remove-all-storage",
]


@needs_virsh
@pytest.mark.parametrize("text", STORAGE_REMOVAL_CASES, ids=[c[-60:] for c in STORAGE_REMOVAL_CASES])
def test_domain_storage_removal(text):
    """undefine --storage/--remove-all-storage: disks whose images the test driver's pools
    hold are removed, others reported; a volume disk's pool that is missing is named."""
    theirs, ours = compare(["-c", "test:///default", text], in_process=True)
    assert ours == theirs
