"""<bandwidth> of a tap interface, set with tc as libvirt 9.0's virNetDevBandwidthSet does it
for a tap (whose host side is the guest's other side, so the directions swap):

- <inbound> (traffic to the guest) shapes the tap's egress: an htb root qdisc 1: with
  class 1:1 (rate average, ceil peak, burst, libvirt's quantum), an sfq below it and
  libvirt's fw filter;
- <outbound> (traffic from the guest) polices the tap's ingress: an ingress qdisc with a
  u32 filter that drops above average (burst defaults to average, as libvirt's).

Rates are kilobytes per second and bursts kilobytes, the units tc's kbps/kb name.
"""

from __future__ import annotations

import subprocess

from ..api import DriverError, ErrorCode

_MTU = 1500
_UINT_MAX = 2**32 - 1


def _rate(bw_el, direction: str) -> dict | None:
    el = bw_el.find(direction)
    if el is None:
        return None
    values = {}
    for name in ("average", "peak", "burst"):
        text = el.get(name)
        if text is None:
            continue
        if not text.isdigit():
            raise DriverError(ErrorCode.XML_ERROR, "could not convert bandwidth %s value '%s'" % (name, text))
        values[name] = int(text)
    if not values.get("average"):
        raise DriverError(ErrorCode.XML_ERROR, "Missing mandatory average or floor attributes")
    return values


def _tc(args: list[str]) -> None:
    from ..network.hostnet import find_tool
    proc = subprocess.run([find_tool("tc", "iproute2")] + args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "Child process (tc %s) unexpected exit status %d: %s"
                          % (" ".join(args), proc.returncode, proc.stderr.strip()))


def clear(dev: str) -> None:
    """Remove the root and ingress qdiscs (errors ignored, as libvirt's virNetDevBandwidthClear)."""
    from ..network.hostnet import find_tool
    tc = find_tool("tc", "iproute2")
    for where in ("root", "ingress"):
        subprocess.run([tc, "qdisc", "del", "dev", dev, where], capture_output=True, check=False)


def apply(dev: str, bw_el) -> None:
    """Set the interface's <bandwidth> on its tap dev (nothing without one)."""
    if bw_el is None:
        return
    to_guest, from_guest = _rate(bw_el, "inbound"), _rate(bw_el, "outbound")
    clear(dev)
    if to_guest:
        average = "%dkbps" % to_guest["average"]
        _tc(["qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1"])
        cls = ["class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", average]
        if to_guest.get("peak"):
            cls += ["ceil", "%dkbps" % to_guest["peak"]]
        if to_guest.get("burst"):
            cls += ["burst", "%dkb" % to_guest["burst"]]
        cls += ["quantum", str(max(to_guest["average"] * 1024 // 8 // _MTU, 1))]
        _tc(cls)
        _tc(["qdisc", "add", "dev", dev, "parent", "1:1", "handle", "2:", "sfq", "perturb", "10"])
        _tc(["filter", "add", "dev", dev, "parent", "1:0", "protocol", "all", "prio", "1", "handle", "1", "fw",
             "flowid", "1"])
    if from_guest:
        burst = from_guest.get("burst") or min(from_guest["average"], _UINT_MAX // 1024)
        _tc(["qdisc", "add", "dev", dev, "ingress"])
        _tc(["filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "u32", "match", "u32", "0", "0",
             "police", "rate", "%dkbps" % from_guest["average"], "burst", "%dkb" % burst, "mtu", "64kb", "drop",
             "flowid", ":1"])
