"""The new pool and volume commands against real virsh 9.0 on test:///default, byte for byte:
what the test driver answers the same way (option parsing, --print-xml builders, lookups,
size parsing, local file errors, help). The commands the test driver does not implement
(pool-define and the other state changes) are compared against virsh + libvirtd on the QEMU
driver instead, in test_qemu_pools.py and test_qemu_volumes.py."""

from __future__ import annotations

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
