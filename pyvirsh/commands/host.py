"""Host and Hypervisor: hostname, nodeinfo, uri, version."""

from __future__ import annotations

from ..declare import command, flag
from ..output import format_kv

# The libvirt API level pyvirsh implements and reports (it is virsh 9.0's twin).
API_VERSION = "9.0.0"


@command("hostname")
def hostname(ctl):
    ctl.print("%s\n" % ctl.conn.get_hostname())
    return True


@command("nodeinfo", "Returns basic information about the node.")
def nodeinfo(ctl):
    info = ctl.conn.get_node_info()
    if ctl.out.json:
        ctl.out.emit_json({"cpu_model": info.model, "cpus": info.cpus, "mhz": info.mhz, "sockets": info.sockets,
                           "cores_per_socket": info.cores, "threads_per_core": info.threads,
                           "numa_cells": info.nodes, "memory_kib": info.memory_kib})
        return True
    ctl.print(format_kv([
        ("CPU model:", info.model),
        ("CPU(s):", info.cpus),
        ("CPU frequency:", "%d MHz" % info.mhz),
        ("CPU socket(s):", info.sockets),
        ("Core(s) per socket:", info.cores),
        ("Thread(s) per core:", info.threads),
        ("NUMA cell(s):", info.nodes),
        ("Memory size:", "%d KiB" % info.memory_kib),
    ], width=20))
    return True


@command("uri")
def uri(ctl):
    ctl.print("%s\n" % ctl.conn.get_uri())
    return True


def _dotted(packed: int) -> str:
    return "%d.%d.%d" % (packed // 1000000, packed // 1000 % 1000, packed % 1000)


@command("version", "Display the system version information.")
@flag("daemon", "report daemon version too")
def version(ctl, daemon):
    conn = ctl.conn
    hv_type = conn.get_type()
    lines = [
        "Compiled against library: libvirt %s" % API_VERSION,
        "Using library: libvirt %s" % API_VERSION,
        "Using API: %s %s" % (hv_type, API_VERSION),
        "Running hypervisor: %s %s" % (hv_type, _dotted(conn.get_version())),
    ]
    if daemon:
        lines.append("Running against daemon: %s" % API_VERSION)
    ctl.print("\n".join(lines) + "\n")
    return True
