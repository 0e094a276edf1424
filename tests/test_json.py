"""--json: one document per command with the documented keys; errors as JSON on stderr."""

from __future__ import annotations

import json
import subprocess

from difftool import pyvirsh_argv

# The documented keys (README "Machine-readable output" and man page OUTPUT).
KEYS = {
    "list": {"domains"},
    "list.domain": {"id", "name", "uuid", "state", "persistent", "autostart", "title"},
    "dominfo": {"id", "name", "uuid", "os_type", "state", "vcpus", "cpu_time_seconds", "max_memory_kib",
                "used_memory_kib", "persistent", "autostart", "managed_save", "messages"},
    "domstate": {"state", "reason"},
    "domblklist": {"disks"},
    "domblklist.disk": {"type", "device", "target", "source", "chain"},
    "chain": {"index", "path", "format", "type"},
    "domblkinfo": {"disks"},
    "domblkinfo.disk": {"target", "capacity", "allocation", "physical"},
    "blockjob": {"disk", "job"},
    "blockjob.job": {"type", "bandwidth_bytes", "cur", "end", "ready", "progress"},
    "snapshot-list": {"snapshots"},
    "snapshot-list.snapshot": {"name", "creation_time", "state", "parent", "current", "location"},
    "snapshot-info": {"name", "domain", "current", "state", "location", "parent", "children", "descendants",
                      "metadata"},
    "nodeinfo": {"cpu_model", "cpus", "mhz", "sockets", "cores_per_socket", "threads_per_core", "numa_cells",
                 "memory_kib"},
}


def run_json(*args, uri="test:///default"):
    proc = subprocess.run(pyvirsh_argv() + ["--json", "-c", uri] + list(args), capture_output=True, text=True)
    return proc


def docs(text: str) -> list:
    """Parse consecutive JSON documents."""
    decoder = json.JSONDecoder()
    out, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(text, i)
        out.append(doc)
    return out


def test_test_driver_documents():
    proc = run_json("list --all; dominfo test; domstate test --reason; domblklist test; domblkinfo test --all; "
                    "nodeinfo; snapshot-create-as test s1; snapshot-list test; snapshot-info test s1")
    assert proc.returncode == 0 and proc.stderr == ""
    listing, info, state, blklist, blkinfo, node, snaps, snapinfo = docs(proc.stdout)
    assert set(listing) == KEYS["list"] and set(listing["domains"][0]) == KEYS["list.domain"]
    assert listing["domains"][0] == {"id": 1, "name": "test", "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
                                     "state": "running", "persistent": True, "autostart": False, "title": ""}
    assert set(info) == KEYS["dominfo"] and info["max_memory_kib"] == 8388608
    assert state == {"state": "running", "reason": "unknown"}
    assert set(blklist) == KEYS["domblklist"] and set(blklist["disks"][0]) == KEYS["domblklist.disk"]
    assert set(blkinfo["disks"][0]) == KEYS["domblkinfo.disk"]
    assert blkinfo["disks"][0]["capacity"] == 1099506450432
    assert set(node) == KEYS["nodeinfo"] and node["cpus"] == 16
    assert set(snaps["snapshots"][0]) == KEYS["snapshot-list.snapshot"] and snaps["snapshots"][0]["current"]
    assert set(snapinfo) == KEYS["snapshot-info"] and snapinfo["location"] == "internal"


def test_errors_are_json_with_the_same_status():
    proc = run_json("dominfo", "nosuch")
    assert proc.returncode == 1 and proc.stdout == ""
    assert json.loads(proc.stderr) == {"error": {"messages": ["failed to get domain 'nosuch'"]}}
    proc = run_json("blockjob test vda")
    assert proc.returncode == 1
    assert json.loads(proc.stderr)["error"]["messages"][0].startswith("this function is not supported")


def test_qemu_chain_and_block_job_documents(env, qcow2_chain):
    paths = qcow2_chain(["base.qcow2", "mid.qcow2", "top.qcow2"])
    env.define("vm", [("vda", paths[-1], "qcow2")])
    env.ok("start", "vm", "--paused")
    (blklist,) = docs(run_json("domblklist", "vm", uri=env.uri).stdout)
    chain = blklist["disks"][0]["chain"]
    assert all(set(layer) == KEYS["chain"] for layer in chain)
    assert [(c["index"], c["path"]) for c in chain] == [(1, paths[2]), (2, paths[1]), (3, paths[0])]
    (job,) = docs(run_json("blockjob", "vm", "vda", uri=env.uri).stdout)
    assert job == {"disk": "vda", "job": None}
    env.ok("blockcommit", "vm", "vda", "--active", "--wait")
    (job,) = docs(run_json("blockjob", "vm", "vda", uri=env.uri).stdout)
    assert set(job["job"]) == KEYS["blockjob.job"]
    assert job["job"]["type"] == "Active Block Commit" and job["job"]["ready"] and job["job"]["progress"] == 100
    env.ok("blockjob", "vm", "vda", "--abort")
    env.ok("destroy", "vm")
