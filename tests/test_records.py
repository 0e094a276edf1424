"""The API's records convert to plain dicts and back (what a remote driver and --json need)."""

from __future__ import annotations

import json

import pytest

from pyvirsh.drivers import api

# One instance of every record the API returns, with values of each field's kind.
SAMPLES = [
    api.NodeInfo("x86_64", 3145728, 16, 1400, 2, 2, 2, 2),
    api.DomainInfo(api.DomainState.PAUSED, 8388608, 2097152, 2, 123456789000),
    api.BlockInfo(1099506450432, 1099511627776, 1099511627776),
    api.BlockJobInfo(api.BlockJobType.ACTIVE_COMMIT, 1048576, 10, 20, True),
    api.SecurityLabel("testSecurity", "", "libvirt-test", True),
    api.SecurityModel("testSecurity", "0"),
    api.FSInfo("/boot", "vda2", "ext4", ["vda"]),
    api.IPAddress("ipv6", "::1", 128),
    api.DomainInterface("eth0", "52:54:00:00:00:01", [api.IPAddress("ipv4", "192.168.122.3", 24)]),
    api.DomainInterface("lo", None, []),
    api.StoragePoolInfo(api.StoragePoolState.RUNNING, 107374182400, 1048576, 107373133824),
    api.StorageVolInfo(api.StorageVolType.FILE, 1073741824, 0),
    api.BlockStats(1, 512, 0, 0, -1),
    api.InterfaceStats(90, 1, 0, 0, 0, 0, 0, 0),
    api.VcpuInfo(0, 1, 130000000, 1),
    api.DiskLayer(2, "/img/base.qcow2", None, "file"),
    api.DomainDisk("file", "disk", "vda", "virtio", "/img/top.qcow2", True, "qcow2", False,
                   [api.DiskLayer(1, "/img/top.qcow2", "qcow2", "file"),
                    api.DiskLayer(2, "/img/base.qcow2", "raw", "block")]),
    api.DomainDisk("file", "cdrom", "hdc", "ide", None, False, None, True, []),
]
SAMPLES.insert(0, api.NetworkDHCPLease("virbr0", 1764460000, 0, "52:54:00:aa:00:01", None, "192.168.122.10", 24,
                                       "guest", "01:52:54:00:aa:00:01"))


def _all_record_classes():
    return {cls for cls in vars(api).values()
            if isinstance(cls, type) and issubclass(cls, api.Record) and cls is not api.Record}


def test_every_record_class_has_a_sample():
    assert {type(s) for s in SAMPLES} == _all_record_classes()


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_round_trip_through_json(record):
    data = record.to_dict()
    assert list(data) == list(type(record).__slots__)
    text = json.dumps(data)                       # plain data only: JSON takes it as it is
    again = type(record).from_dict(json.loads(text))
    assert again == record
    assert again.to_dict() == data


def test_nested_records_come_back_as_records():
    disk = SAMPLES[-2]
    again = api.DomainDisk.from_dict(disk.to_dict())
    assert all(isinstance(layer, api.DiskLayer) for layer in again.chain)
    assert again.chain[1].path == "/img/base.qcow2"


def test_interface_addresses_come_back_as_records():
    iface = next(s for s in SAMPLES if isinstance(s, api.DomainInterface) and s.addrs)
    again = api.DomainInterface.from_dict(json.loads(json.dumps(iface.to_dict())))
    assert again == iface and isinstance(again.addrs[0], api.IPAddress)


def test_equality_sees_every_field():
    a = api.BlockJobInfo(1, 2, 3, 4, False)
    assert a != api.BlockJobInfo(1, 2, 3, 4, True)
    assert a != api.BlockInfo(1, 2, 3)


@pytest.mark.parametrize("data,word", [
    ({"capacity": 1, "allocation": 2}, "needs the field physical"),
    ({"capacity": 1, "allocation": 2, "physical": 3, "x": 4}, "no field x"),
])
def test_from_dict_refuses_missing_and_unknown_fields(data, word):
    with pytest.raises(ValueError, match=word):
        api.BlockInfo.from_dict(data)
