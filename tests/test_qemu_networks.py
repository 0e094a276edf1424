"""Virtual networks on the QEMU driver.

The first tests need no privileges: definitions in files, libvirt's network-driver rules
(a free virbrN and a MAC given at define, bridge names in use, one DHCP section) and
net-update on the persistent definition. The rest run as root inside a network namespace
each module makes for itself (`unshare --net`), so the host's own interfaces, routes and
firewall are never touched: net-start builds the bridge, address, iptables rules and
dnsmasq; net-destroy, a dead dnsmasq and a pyvirsh killed during net-start all leave
nothing behind.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import pytest

from difftool import call_main, pyvirsh_argv

NAT_XML = """<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
      <host mac='52:54:00:aa:00:01' name='fixed' ip='192.168.122.10'/>
    </dhcp>
  </ip>
</network>
"""


def _write(tmp_path, name: str, text: str) -> str:
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Files:
    """An embedded QEMU connection whose commands run in this process (no host parts used)."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.uri = "qemu:///embed?root=%s" % os.path.join(str(tmp_path), "root")

    def run(self, *args):
        out, err, rc = call_main(["-c", self.uri] + list(args), cwd=str(self.tmp))
        return out.decode(), err.decode(), rc

    def ok(self, *args) -> str:
        out, err, rc = self.run(*args)
        assert rc == 0 and err == "", (args, out, err)
        return out

    def fails(self, *args) -> str:
        out, err, rc = self.run(*args)
        assert rc == 1 and out == "\n", (args, out, err)
        return err


@pytest.fixture
def files(tmp_path):
    return Files(tmp_path)


def test_define_gives_bridge_and_mac_and_keeps_them(files, tmp_path):
    path = _write(tmp_path, "iso.xml", "<network><name>iso</name><uuid>6e3c5a52-0a6b-4c53-9f1d-1f0c8d4f2a11</uuid>"
                  "<ip address='10.9.0.1' prefix='24'/></network>")
    assert files.ok("net-define", path) == "Network iso defined from %s\n\n" % path
    xml = files.ok("net-dumpxml", "iso")
    assert re.search(r"<bridge name='virbr0' stp='on' delay='0'/>\n  <mac address='52:54:00(:[0-9a-f]{2}){3}'/>", xml)
    # A redefinition without bridge or MAC keeps what the first one was given.
    assert files.ok("net-define", path) and files.ok("net-dumpxml", "iso") == xml
    # The next network gets the next free name.
    other = _write(tmp_path, "other.xml", "<network><name>other</name></network>")
    files.ok("net-define", other)
    assert "<bridge name='virbr1' " in files.ok("net-dumpxml", "other")
    taken = _write(tmp_path, "taken.xml", "<network><name>third</name><bridge name='virbr1'/></network>")
    assert files.fails("net-define", taken) == ("error: Failed to define network from %s\n"
                                                "error: internal error: bridge name 'virbr1' already in use.\n" % taken)
    two_dhcp = _write(tmp_path, "two.xml", "<network><name>two</name>"
                      "<ip address='10.1.0.1' prefix='24'><dhcp><range start='10.1.0.2' end='10.1.0.3'/></dhcp></ip>"
                      "<ip address='10.2.0.1' prefix='24'><dhcp><range start='10.2.0.2' end='10.2.0.3'/></dhcp></ip>"
                      "</network>")
    assert files.fails("net-define", two_dhcp).endswith(
        "error: unsupported configuration: Multiple IPv4 dhcp sections found -- dhcp is supported only for a "
        "single IPv4 address on each network\n")
    bad_range = _write(tmp_path, "bad.xml", "<network><name>bad</name><ip address='10.1.0.1' prefix='24'>"
                       "<dhcp><range start='10.1.0.9' end='10.1.0.3'/></dhcp></ip></network>")
    assert files.fails("net-define", bad_range).endswith(
        "error: internal error: range 10.1.0.9 - 10.1.0.3 is reversed \n")
    unknown = _write(tmp_path, "unknown.xml", "<network><name>u</name><portgroup name='x'/></network>")
    assert files.fails("net-define", unknown).endswith(
        "error: unsupported configuration: network XML element <portgroup> in <network> is not supported by "
        "pyvirsh\n")
    assert files.ok("net-list", "--all", "--name") == "iso\nother\n\n"


def test_lifecycle_rules_without_starting(files, tmp_path):
    path = _write(tmp_path, "n.xml", "<network><name>n</name><uuid>11111111-2222-3333-4444-555555555555</uuid>"
                  "<ip address='10.3.0.1' prefix='24'><dhcp><range start='10.3.0.2' end='10.3.0.9'/></dhcp></ip>"
                  "</network>")
    files.ok("net-define", path)
    assert files.ok("net-info", "n").startswith("Name:           n\nUUID:           "
                                                 "11111111-2222-3333-4444-555555555555\nActive:         no\n")
    assert files.ok("net-autostart", "n") == "Network n marked as autostarted\n\n"
    assert files.ok("net-list", "--autostart", "--all", "--name") == "n\n\n"
    assert files.fails("net-destroy", "n") == ("error: Failed to destroy network n\n"
                                               "error: Requested operation is not valid: network 'n' is not active\n")
    host = "<host mac='52:54:00:00:00:07' name='h7' ip='10.3.0.7'/>"
    assert files.ok("net-update", "n", "add", "ip-dhcp-host", host) == "Updated network n persistent config\n"
    assert host in files.ok("net-dumpxml", "n", "--inactive")
    assert files.fails("net-update", "n", "add", "ip-dhcp-host", host, "--live") == (
        "error: Failed to update network n\nerror: Requested operation is not valid: network is not running\n")
    assert files.ok("net-name", "11111111-2222-3333-4444-555555555555") == "n\n\n"
    assert files.ok("net-undefine", "n") == "Network n has been undefined\n\n"
    assert files.ok("net-list", "--all") == (" Name   State   Autostart   Persistent\n"
                                             "----------------------------------------\n\n")
    state = os.path.join(str(tmp_path), "root", "config", "networks")
    assert sorted(os.listdir(state)) == ["autostart"] and os.listdir(os.path.join(state, "autostart")) == []
    # IPv6 addresses (libvirt's dnsmasq RA/DHCPv6 and ip6tables rules) are not built: refused by name
    v6 = _write(tmp_path, "v6.xml", "<network><name>v6</name><ip family='ipv6' address='fd00:1::1' prefix='64'/>"
                "</network>")
    assert files.fails("net-define", v6) == ("error: Failed to define network from %s\nerror: unsupported "
                                             "configuration: network XML <ip family='ipv6'> is not supported by "
                                             "pyvirsh\n" % v6)
    assert os.listdir(state) == ["autostart"]


def _netif_cases() -> list[dict]:
    with open(os.path.join(os.path.dirname(__file__), "data", "netif-libvirt.json")) as f:
        return json.load(f)


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed")
@pytest.mark.parametrize("case", range(2))
def test_link_commands_same_as_libvirt(tmp_path, case):
    """domiflist, domif-getlink, domif-setlink (live through QMP set_link, --config, on a shut-off
    domain) and update-device of an interface, byte for byte as virsh 9.0 + libvirt's QEMU driver
    printed them (tests/data/netif-libvirt.json, from tests/record_netif_reference.py): a
    <link state='down'/> applied at start, a model change refused live, an unknown MAC."""
    ref = _netif_cases()
    for name, text in dict(ref["files"], **{"dom.xml": ref["dom_xml"]}).items():
        _write(tmp_path, name, text)
    one = ref["cases"][case]
    uri = "qemu:///embed?root=%s" % os.path.join(str(tmp_path), "root")
    proc = subprocess.run(pyvirsh_argv() + ["-c", uri, one["command"]], capture_output=True, text=True,
                          cwd=str(tmp_path), env=dict(os.environ, LANG="C"), check=False)
    subprocess.run(pyvirsh_argv() + ["-c", uri, "destroy nl"], capture_output=True, check=False)
    assert (proc.stdout, proc.stderr, proc.returncode) == (one["stdout"], one["stderr"], one["status"])


# ---------------------------------------------------------------------------
# Host parts, inside a network namespace of the module's own
# ---------------------------------------------------------------------------

def _netns_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (bridges, iptables and dnsmasq in a network namespace)"
    for tool in ("unshare", "nsenter", "ip", "iptables", "dnsmasq"):
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None:
            return "%s is not installed" % tool
    return None


needs_netns = pytest.mark.skipif(_netns_missing() is not None, reason=_netns_missing() or "")


class Netns:
    """A network namespace held open by a process of its own; commands run in it with nsenter."""

    def __init__(self, base: str):
        self.base = base
        self.uri = "qemu:///embed?root=%s" % os.path.join(base, "root")
        self.holder = subprocess.Popen(["unshare", "--net", "cat"], stdin=subprocess.PIPE)
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while os.readlink("/proc/%d/ns/net" % self.holder.pid) == mine:     # until unshare has entered it
            assert time.monotonic() < deadline, "unshare did not make a network namespace"
            time.sleep(0.01)
        self.prefix = ["nsenter", "--net=/proc/%d/ns/net" % self.holder.pid]
        self.sh("ip link set lo up")

    def sh(self, command: str) -> str:
        return subprocess.run(self.prefix + ["sh", "-c", command], capture_output=True, text=True,
                              check=True).stdout

    def run(self, *args):
        return subprocess.run(self.prefix + pyvirsh_argv() + ["-c", self.uri] + list(args), capture_output=True,
                              text=True, cwd=self.base, check=False)

    def ok(self, *args) -> str:
        proc = self.run(*args)
        assert proc.returncode == 0 and proc.stderr == "", (args, proc.stdout, proc.stderr)
        return proc.stdout

    def fails(self, *args) -> str:
        proc = self.run(*args)
        assert proc.returncode == 1 and proc.stdout == "\n", (args, proc.stdout, proc.stderr)
        return proc.stderr

    def links(self) -> list[str]:
        return sorted(link["ifname"] for link in json.loads(self.sh("ip -j link show")) if link["ifname"] != "lo")

    def rules(self) -> str:
        return self.sh("iptables-save | grep -v '^[#:*]' | grep -v '^COMMIT' || true")

    def dnsmasq_pids(self) -> list[int]:
        root = os.path.join(self.base, "root")
        pids = []
        for entry in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = f.read().split(b"\0")
                with open("/proc/%s/stat" % entry) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if argv and argv[0].endswith(b"dnsmasq") and any(root.encode() in a for a in argv) and state != "Z":
                pids.append(int(entry))
        return pids

    def close(self) -> None:
        for pid in self.dnsmasq_pids():
            os.kill(pid, signal.SIGKILL)
        self.holder.stdin.close()       # type: ignore[union-attr]
        self.holder.wait(10)


@pytest.fixture(scope="module")
def netns(tmp_path_factory):
    ns = Netns(str(tmp_path_factory.mktemp("netns")))
    try:
        yield ns
    finally:
        ns.close()


def _clean(ns: Netns) -> None:
    """Nothing of any network is left in the namespace."""
    assert ns.links() == []
    assert ns.rules() == ""
    assert ns.dnsmasq_pids() == []


@needs_netns
def test_nat_network_made_and_removed(netns, tmp_path):
    path = _write(tmp_path, "default.xml", NAT_XML)
    netns.ok("net-define", path)
    assert netns.ok("net-start", "default") == "Network default started\n\n"
    assert netns.links() == ["virbr0"]
    addr = json.loads(netns.sh("ip -j addr show dev virbr0"))[0]
    assert [(a["local"], a["prefixlen"]) for a in addr["addr_info"] if a["family"] == "inet"] == \
        [("192.168.122.1", 24)]
    assert addr["address"] == re.search(r"<mac address='([0-9a-f:]+)'/>", netns.ok("net-dumpxml", "default")).group(1)
    assert netns.sh("cat /sys/class/net/virbr0/bridge/stp_state 2>/dev/null || ip -d -j link show virbr0") != ""
    rules = netns.rules()
    for rule in ("-A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE",
                 "-A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p tcp -j MASQUERADE --to-ports 1024-65535",
                 "-A LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT",
                 "-A LIBVIRT_FWI -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                 "-A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 67 -j ACCEPT",
                 "-A POSTROUTING -j LIBVIRT_PRT", "-A FORWARD -j LIBVIRT_FWX"):
        assert rule in rules.splitlines(), (rule, rules)
    assert netns.sh("cat /proc/sys/net/ipv4/ip_forward").strip() == "1"
    # no IPv6 on a bridge whose network has none, never RAs taken or addresses made up (libvirt's sysctls)
    assert netns.sh("cd /proc/sys/net/ipv6/conf/virbr0 && cat disable_ipv6 accept_ra autoconf").split() == \
        ["1", "0", "0"]
    [pid] = netns.dnsmasq_pids()
    conf = os.path.join(netns.base, "root", "run", "networks", "default", "default.conf")
    with open(conf) as f:
        text = f.read()
    assert "interface=virbr0\n" in text and "dhcp-range=192.168.122.2,192.168.122.254,255.255.255.0\n" in text
    assert "dhcp-host=52:54:00:aa:00:01,192.168.122.10,fixed\n" in text and "dhcp-lease-max=253\n" in text
    assert netns.ok("net-list") == (" Name      State    Autostart   Persistent\n"
                                    "--------------------------------------------\n"
                                    " default   active   no          yes\n\n")
    # A second network on the same subnet, or on its bridge name, changes nothing.
    clash = _write(tmp_path, "clash.xml", NAT_XML.replace("default", "clash").replace("virbr0", "virbr9"))
    assert netns.fails("net-create", clash) == ("error: Failed to create network from %s\n"
                                                "error: internal error: Network is already in use by interface "
                                                "virbr0\n" % clash)
    assert netns.links() == ["virbr0"] and netns.rules() == rules
    # A host interface already named as the bridge: libvirt's error, nothing made or taken away.
    netns.sh("ip link add virbr9 type bridge")
    assert netns.fails("net-create", clash).endswith(
        "error: internal error: Network is already in use by interface virbr0\n")
    busy = _write(tmp_path, "busy.xml", NAT_XML.replace("default", "busy").replace("virbr0", "virbr9")
                  .replace("192.168.122", "192.168.77"))
    assert netns.fails("net-create", busy) == ("error: Failed to create network from %s\n"
                                               "error: error creating bridge interface virbr9: File exists\n" % busy)
    assert netns.links() == ["virbr0", "virbr9"] and netns.rules() == rules
    assert netns.ok("net-list", "--all", "--name") == "default\n\n"
    netns.sh("ip link del virbr9")
    # net-update --live restarts dnsmasq with the new host; the lease file is kept.
    assert netns.ok("net-update", "default", "add", "ip-dhcp-host",
                    "<host mac='52:54:00:aa:00:02' ip='192.168.122.11'/>") == "Updated network default live state\n"
    with open(conf) as f:
        assert "dhcp-host=52:54:00:aa:00:02,192.168.122.11\n" in f.read()
    assert netns.dnsmasq_pids() != [pid] and len(netns.dnsmasq_pids()) == 1
    assert netns.ok("net-dhcp-leases", "default") == (
        " Expiry Time   MAC address   Protocol   IP address   Hostname   Client ID or DUID\n"
        "-----------------------------------------------------------------------------------\n\n")
    assert netns.ok("net-destroy", "default") == "Network default destroyed\n\n"
    _clean(netns)
    netns.ok("net-undefine", "default")


def _holds_open(proc: subprocess.Popen, path: str) -> None:
    """Until the process has the file open (a listener has begun following the event log)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            links = [os.readlink("/proc/%d/fd/%s" % (proc.pid, fd)) for fd in os.listdir("/proc/%d/fd" % proc.pid)]
        except OSError:
            links = []
        if path in links:
            return
        assert proc.poll() is None and time.monotonic() < deadline, "the listener never opened " + path
        time.sleep(0.02)


@needs_netns
def test_net_event_listeners_hear_other_processes(netns, tmp_path):
    """net-event in one process hears net-start, net-destroy, net-undefine made by others,
    filtered by network; a domain `event` listener hears none of them."""
    netns.ok("net-define", _write(tmp_path, "other.xml", "<network><name>other</name></network>"))
    netns.ok("net-define", _write(tmp_path, "ev.xml", "<network ipv6='yes'><name>ev</name><bridge name='virbr5'/>"
                                  "<ip address='192.168.55.1' netmask='255.255.255.0'/></network>"))
    log = os.path.join(netns.base, "root", "run", "events.jsonl")

    def listen(*args):
        return subprocess.Popen(netns.prefix + pyvirsh_argv() + ["-c", netns.uri] + list(args), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=netns.base)
    every = listen("net-event", "--event", "lifecycle", "--loop")
    once = listen("net-event", "ev", "--event", "lifecycle")
    other = listen("net-event", "--network", "other", "--event", "lifecycle", "--loop")
    domains = listen("event", "--all", "--loop")
    try:
        for proc in (every, once, other, domains):
            _holds_open(proc, log)
        netns.ok("net-start", "ev")
        # ipv6='yes': IPv6 among the guests, the bridge still a gateway that takes no RAs
        assert netns.sh("cd /proc/sys/net/ipv6/conf/virbr5 && cat disable_ipv6 accept_ra autoconf").split() == \
            ["0", "0", "0"]
        assert once.communicate(timeout=30) == ("event 'lifecycle' for network ev: Started\nevents received: 1\n\n",
                                                "")
        assert once.returncode == 0
        netns.ok("net-destroy", "ev")
        netns.ok("net-undefine", "ev")
        netns.ok("net-undefine", "other")
        # Each listener prints (and flushes) an event as it reads it: read them before the interrupt.
        heard = [[every.stdout.readline() for _ in range(4)], [other.stdout.readline()]]     # type: ignore[union-attr]
    finally:
        for proc in (every, other, domains):
            proc.send_signal(signal.SIGINT)
        try:
            outputs = [proc.communicate(timeout=30) + (proc.returncode,) for proc in (every, other, domains)]
        except subprocess.TimeoutExpired:
            for proc in (every, once, other, domains):      # never left running past a failed test
                proc.kill()
                proc.wait()
            raise
    assert "".join(heard[0]) + outputs[0][0] == (
        "event 'lifecycle' for network ev: Started\nevent 'lifecycle' for network ev: Stopped\n"
        "event 'lifecycle' for network ev: Undefined\nevent 'lifecycle' for network other: Undefined\n"
        "event loop interrupted\nevents received: 4\n\n")
    assert outputs[0][1:] == ("", 0)
    assert "".join(heard[1]) + outputs[1][0] == ("event 'lifecycle' for network other: Undefined\n"
                                                 "event loop interrupted\nevents received: 1\n\n")
    assert outputs[1][1:] == ("", 0)
    assert outputs[2] == ("event loop interrupted\nevents received: 0\n\n", "", 1)
    _clean(netns)


@needs_netns
def test_dead_dnsmasq_or_lost_start_is_cleaned_up(netns, tmp_path):
    path = _write(tmp_path, "iso.xml", "<network><name>iso</name><bridge name='virbr3'/>"
                  "<ip address='10.33.0.1' prefix='24'><dhcp><range start='10.33.0.2' end='10.33.0.9'/></dhcp></ip>"
                  "</network>")
    netns.ok("net-define", path)
    netns.ok("net-start", "iso")
    [pid] = netns.dnsmasq_pids()
    os.kill(pid, signal.SIGKILL)
    # The next look at the network notices, tears down the rest and shows it inactive.
    assert " iso    inactive " in netns.ok("net-list", "--all")
    _clean(netns)
    assert netns.ok("net-start", "iso") == "Network iso started\n\n"
    assert netns.links() == ["virbr3"]
    # pyvirsh killed at random moments of a net-start: each next command finds either a
    # running network with all its parts or nothing at all.
    netns.ok("net-destroy", "iso")
    rng = random.Random(16)
    for _ in range(6):
        proc = subprocess.Popen(netns.prefix + pyvirsh_argv() + ["-c", netns.uri, "net-start", "iso"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.4))      # a random point of the start, not a wait for state
        proc.kill()
        proc.wait()
        listing = netns.ok("net-list", "--all")
        if " iso    active " in listing:
            assert netns.links() == ["virbr3"] and len(netns.dnsmasq_pids()) == 1
            assert "-A LIBVIRT_FWX -i virbr3 -o virbr3 -j ACCEPT" in netns.rules()
            netns.ok("net-destroy", "iso")
        else:
            assert " iso    inactive " in listing
        _clean(netns)
    netns.ok("net-undefine", "iso")


# ---------------------------------------------------------------------------
# Guests on the network: a tap per interface, DHCP from the network's dnsmasq
# ---------------------------------------------------------------------------

UDHCPC_SCRIPT = b"""#!/bin/sh
case "$1" in
bound|renew) ifconfig "$interface" "$ip" netmask "$subnet" ;;
esac
"""

NET_SH = b"""ip link set eth0 up
udhcpc -i eth0 -q -n -t 20 -T 1 -s /etc/udhcpc.sh >/dev/null 2>&1
echo "PYVIRSH-NET addr $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
ping -c 2 -W 2 192.168.122.1 >/dev/null 2>&1 && echo "PYVIRSH-NET host ok" || echo "PYVIRSH-NET host failed"
peer=$(sed -n 's/.*pyvirsh.peer=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
i=0
while [ $i -lt 90 ]; do ping -c 1 -W 1 "$peer" >/dev/null 2>&1 && break; i=$((i+1)); done
[ $i -lt 90 ] && echo "PYVIRSH-NET peer ok" || echo "PYVIRSH-NET peer failed"
echo PYVIRSH-NET-DONE
"""

# Started after net.sh: brings up every ethN as it appears (hot-plugged ones too) and reports
# each change of its carrier as the guest sees it (with `ip link`'s NO-CARRIER), and the
# DHCP address a hot-plugged NIC gets once its link is up.
LINK_SH = b"""(
seen=" "
while true; do
  for n in /sys/class/net/eth*; do
    [ -e "$n" ] || continue
    i=${n##*/}
    case "$seen" in *" $i "*) ;; *) seen="$seen$i "; ip link set $i up; eval last_$i=x ;; esac
    c=$(cat $n/carrier 2>/dev/null)
    eval last=\\$last_$i
    if [ "$c" != "$last" ]; then
      eval last_$i=$c
      echo "PYVIRSH-LINK $i $c $(ip -o link show $i | grep -o NO-CARRIER)"
      if [ "$c" = 1 ] && [ "$i" != eth0 ] && ! ip -4 -o addr show dev $i | grep -q inet; then
        (udhcpc -i $i -q -n -t 20 -T 1 -s /etc/udhcpc.sh >/dev/null 2>&1
         echo "PYVIRSH-DHCP $i $(ip -4 -o addr show dev $i | awk '{print $4}')") &
      fi
    fi
  done
  sleep 0.2
done
) &
"""

GUEST_DEADLINE = 240.0


def _guest_xml(name: str, kernel: str, initrd: str, log: str, interface: str, peer: str) -> str:
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
            "<features><acpi/></features><os><type arch='x86_64'>hvm</type><kernel>%s</kernel><initrd>%s</initrd>"
            "<cmdline>console=ttyS0 pyvirsh.shell pyvirsh.peer=%s</cmdline></os>"
            "<devices>%s<serial type='file'><source path='%s'/></serial></devices></domain>"
            % (name, kernel, initrd, peer, interface, log))


def _wait_line(log: str, line: str, count: int = 1) -> None:
    """Until the guest has printed the line count times."""
    deadline = time.monotonic() + GUEST_DEADLINE
    while True:
        with open(log, errors="replace") as f:
            lines = f.read().splitlines()
        # the shell's prompt may start the line the background watcher prints on
        if sum(1 for text in lines if text.rstrip().endswith(line)) >= count:
            return
        assert time.monotonic() < deadline, "the guest did not print %r:\n%s" % (line, "\n".join(lines[-30:]))
        time.sleep(0.2)


def _dhcp_report(log: str, nic: str) -> str:
    deadline = time.monotonic() + GUEST_DEADLINE
    while True:
        with open(log, errors="replace") as f:
            found = re.search(r"PYVIRSH-DHCP %s (\S*)" % nic, f.read())
        if found:
            return found.group(1)
        assert time.monotonic() < deadline, "the guest reported no DHCP address on " + nic
        time.sleep(0.2)


def _rows(listing: str) -> list[str]:
    """A table's rows, without its header, dashes and the closing blank line."""
    return listing.splitlines()[2:-1]


def _net_report(log: str) -> list[str]:
    deadline = time.monotonic() + GUEST_DEADLINE
    while True:
        try:
            with open(log, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if "PYVIRSH-NET-DONE" in text:
            return [line.strip() for line in text.splitlines() if line.startswith("PYVIRSH-NET ")]
        assert time.monotonic() < deadline, "the guest did not finish its network checks:\n" + text[-2000:]
        time.sleep(0.2)


@needs_netns
def test_guests_on_network_and_bridge_get_leases_and_see_each_other(netns, tmp_path):
    import testguest

    if testguest.kernel_version() is None:
        pytest.skip("no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)")
    kernel, initrd = testguest.build(extras={"/etc/pyvirsh.d/net.sh": (0o100644, NET_SH),
                                             "/etc/pyvirsh.d/zlink.sh": (0o100644, LINK_SH),
                                             "/etc/udhcpc.sh": (0o100755, UDHCPC_SCRIPT)}, flavour="netlink")
    netns.ok("net-define", _write(tmp_path, "default.xml", NAT_XML.replace(
        "</dhcp>", "<host mac='52:54:00:aa:00:02' name='second' ip='192.168.122.11'/></dhcp>")))
    logs = {name: os.path.join(str(tmp_path), name + ".log") for name in ("ga", "gb")}
    ga = _guest_xml("ga", kernel, initrd, logs["ga"], "<interface type='network'><mac address='52:54:00:aa:00:01'/>"
                    "<source network='default'/><model type='virtio'/></interface>", "192.168.122.11")
    gb = _guest_xml("gb", kernel, initrd, logs["gb"], "<interface type='bridge'><mac address='52:54:00:aa:00:02'/>"
                    "<source bridge='virbr0'/><target dev='guestb'/><model type='virtio'/></interface>"
                    "<interface type='user'><mac address='52:54:00:aa:00:03'/><model type='virtio'/>"
                    "<link state='down'/></interface>", "192.168.122.10")
    netns.ok("define", _write(tmp_path, "ga.xml", ga))
    netns.ok("define", _write(tmp_path, "gb.xml", gb))
    assert netns.fails("start", "ga") == ("error: Failed to start domain 'ga'\n"
                                          "error: Requested operation is not valid: network 'default' is not active\n")
    assert netns.fails("start", "gb").endswith("Cannot get interface MTU on 'virbr0': No such device\n")
    assert netns.links() == []
    netns.ok("net-start", "default")
    try:
        netns.ok("start", "ga")
        netns.ok("start", "gb")
        links = {link["ifname"]: link for link in json.loads(netns.sh("ip -j link show"))}
        assert sorted(links) == ["guestb", "lo", "virbr0", "vnet0"]
        assert links["vnet0"]["master"] == "virbr0" and links["guestb"]["master"] == "virbr0"
        assert links["vnet0"]["address"] == "fe:54:00:aa:00:01"
        live = netns.ok("dumpxml", "ga")
        port = re.search(r"<source network='default' portid='([0-9a-f-]{36})' bridge='virbr0'/>", live).group(1)
        assert "<target dev='vnet0'/>" in live
        assert netns.ok("net-port-list", "default", "--uuid") == port + "\n\n"
        dom_uuid = re.search(r"<uuid>(.*)</uuid>", live).group(1)
        assert netns.ok("net-port-dumpxml", "default", port) == (
            "<networkport>\n  <uuid>%s</uuid>\n  <owner>\n    <name>ga</name>\n    <uuid>%s</uuid>\n  </owner>\n"
            "  <mac address='52:54:00:aa:00:01'/>\n  <plug type='network' bridge='virbr0'/>\n</networkport>\n\n"
            % (port, dom_uuid))
        assert _net_report(logs["ga"]) == ["PYVIRSH-NET addr 192.168.122.10/24", "PYVIRSH-NET host ok",
                                           "PYVIRSH-NET peer ok"]
        assert _net_report(logs["gb"]) == ["PYVIRSH-NET addr 192.168.122.11/24", "PYVIRSH-NET host ok",
                                           "PYVIRSH-NET peer ok"]
        leases = netns.ok("net-dhcp-leases", "default")
        assert re.search(r" 52:54:00:aa:00:01 +ipv4 +192\.168\.122\.10/24 ", leases), leases
        assert re.search(r" 52:54:00:aa:00:02 +ipv4 +192\.168\.122\.11/24 ", leases), leases
        only = netns.ok("net-dhcp-leases", "default", "--mac", "52:54:00:aa:00:02").splitlines()[2:]
        assert len(only) == 2 and " 52:54:00:aa:00:02 " in only[0] and only[1] == ""
        _addresses_and_links(netns, logs)
        _hotplugged_nic(netns, logs["gb"])
        _hotplugged_direct(netns, tmp_path, logs["ga"])
    finally:
        netns.run("destroy", "ga")
        netns.run("destroy", "gb")
    assert netns.links() == ["virbr0"]          # the taps went with their domains
    assert not os.path.exists(os.path.join(netns.base, "root", "run", "gb.taps"))
    netns.ok("net-destroy", "default")
    _clean(netns)
    netns.ok("undefine", "ga")
    netns.ok("undefine", "gb")
    netns.ok("net-undefine", "default")


def _addresses_and_links(netns: Netns, logs: dict) -> None:
    """domifaddr from the network's leases and the host's ARP table; domiflist; link state
    changes seen by the guest (NO-CARRIER), and a <link state='down'/> applied at start."""
    assert _rows(netns.ok("domifaddr", "ga", "--source", "lease")) == [
        " vnet0      52:54:00:aa:00:01    ipv4         192.168.122.10/24"]
    assert _rows(netns.ok("domifaddr", "gb", "--source", "lease")) == []        # a bridge has no leases
    assert _rows(netns.ok("domifaddr", "ga", "--source", "arp")) == [
        " vnet0      52:54:00:aa:00:01    ipv4         192.168.122.10/0"]
    assert _rows(netns.ok("domifaddr", "gb", "--source", "arp")) == [
        " guestb     52:54:00:aa:00:02    ipv4         192.168.122.11/0"]
    assert _rows(netns.ok("domiflist", "gb")) == [
        " guestb      bridge   virbr0   virtio   52:54:00:aa:00:02",
        " -           user     -        virtio   52:54:00:aa:00:03"]
    assert _rows(netns.ok("domiflist", "ga", "--inactive")) == [" -           network   default   virtio   52:54:00:aa:00:01"]
    # gb's second NIC started with its link down: the guest sees no carrier on it.
    _wait_line(logs["gb"], "PYVIRSH-LINK eth1 0 NO-CARRIER")
    assert netns.ok("domif-getlink", "gb", "52:54:00:aa:00:03") == "52:54:00:aa:00:03 down\n"
    _wait_line(logs["ga"], "PYVIRSH-LINK eth0 1")
    assert netns.ok("domif-setlink", "ga", "vnet0", "down") == "Device updated successfully\n\n"
    _wait_line(logs["ga"], "PYVIRSH-LINK eth0 0 NO-CARRIER")
    assert netns.ok("domif-getlink", "ga", "vnet0") == "vnet0 down\n"
    assert netns.ok("domif-getlink", "ga", "52:54:00:aa:00:01", "--config") == "52:54:00:aa:00:01 up\n"
    assert "<link state='down'/>" in netns.ok("dumpxml", "ga")
    assert netns.ok("domif-setlink", "ga", "vnet0", "up") == "Device updated successfully\n\n"
    _wait_line(logs["ga"], "PYVIRSH-LINK eth0 1", 2)
    assert netns.ok("domif-getlink", "ga", "vnet0") == "vnet0 up\n"
    # --config changes the next boot only
    netns.ok("domif-setlink", "ga", "52:54:00:aa:00:01", "down", "--config")
    assert netns.ok("domif-getlink", "ga", "52:54:00:aa:00:01", "--config") == "52:54:00:aa:00:01 down\n"
    assert netns.ok("domif-getlink", "ga", "vnet0") == "vnet0 up\n"
    netns.ok("domif-setlink", "ga", "52:54:00:aa:00:01", "up", "--config")


def _hotplugged_nic(netns: Netns, log: str) -> None:
    """attach-interface --live of a network NIC: its tap on the bridge, a DHCP lease in the
    guest; detach-interface takes the tap away again."""
    assert netns.ok("attach-interface", "gb", "network", "default", "--mac", "52:54:00:aa:00:04", "--model",
                    "virtio", "--live") == "Interface attached successfully\n\n"
    links = {link["ifname"]: link for link in json.loads(netns.sh("ip -j link show"))}
    assert links["vnet1"]["master"] == "virbr0" and links["vnet1"]["address"] == "fe:54:00:aa:00:04"
    addr = _dhcp_report(log, "eth2")
    assert addr.startswith("192.168.122.") and addr.endswith("/24")
    assert _rows(netns.ok("domifaddr", "gb", "--source", "lease")) == [
        " vnet1      52:54:00:aa:00:04    ipv4         %s" % addr]
    assert " vnet1       network   default   virtio   52:54:00:aa:00:04" in _rows(netns.ok("domiflist", "gb"))
    assert len(_rows(netns.ok("net-port-list", "default"))) == 2          # ga's and this one
    assert netns.ok("detach-interface", "gb", "network", "--mac", "52:54:00:aa:00:04") == \
        "Interface detached successfully\n\n"
    deadline = time.monotonic() + GUEST_DEADLINE
    while "52:54:00:aa:00:04" in netns.ok("domiflist", "gb"):     # each command settles a late unplug
        assert time.monotonic() < deadline, "the guest never let the NIC go"
        time.sleep(0.2)
    assert "vnet1" not in netns.links()


def _hotplugged_direct(netns: Netns, tmp_path, log: str) -> None:
    """A type='direct' NIC hot-plugged into a running guest: a macvtap (bridge mode) on a
    veth whose peer is on the network's bridge, so the guest's new NIC gets a lease from the
    network's dnsmasq through it; detach-interface removes the macvtap."""
    netns.sh("ip link add pvmv0 type veth peer name pvmv1 && ip link set pvmv1 master virbr0 && ip link set pvmv1 up")
    nic = _write(tmp_path, "direct.xml", "<interface type='direct'><mac address='52:54:00:aa:00:05'/>"
                 "<source dev='pvmv0' mode='bridge'/><model type='virtio'/></interface>")
    netns.ok("attach-device", "ga", nic, "--live")
    link = json.loads(netns.sh("ip -d -j link show macvtap0"))[0]
    assert link["link"] == "pvmv0" and link["address"] == "52:54:00:aa:00:05"
    assert link["linkinfo"]["info_kind"] == "macvtap" and link["linkinfo"]["info_data"]["mode"] == "bridge"
    assert " macvtap0    direct    pvmv0     virtio   52:54:00:aa:00:05" in _rows(netns.ok("domiflist", "ga"))
    addr = _dhcp_report(log, "eth1")
    assert addr.startswith("192.168.122.") and addr.endswith("/24")
    assert netns.ok("detach-interface", "ga", "direct", "--mac", "52:54:00:aa:00:05") == \
        "Interface detached successfully\n\n"
    deadline = time.monotonic() + GUEST_DEADLINE
    while "52:54:00:aa:00:05" in netns.ok("domiflist", "ga"):
        assert time.monotonic() < deadline, "the guest never let the NIC go"
        time.sleep(0.2)
    assert "macvtap0" not in netns.links()
    netns.sh("ip link del pvmv0")


@needs_netns
def test_direct_interfaces_are_macvtaps(netns, tmp_path):
    """type='direct' at start: a macvtap per interface on its <source dev> in its mode (vepa by
    default, written out at define), named macvtapN or by <target dev>, its /dev/tapN given to
    QEMU as fd=N; passthrough lends the device the guest's MAC until the domain stops. Errors in
    libvirt's words, nothing left behind. (A booted guest's direct NIC: _hotplugged_direct.)"""
    netns.sh("ip link add pv0 type veth peer name pv1 && ip link add pt0 type veth peer name pt1")
    own_mac = json.loads(netns.sh("ip -j link show pt0"))[0]["address"]
    nics = ("<interface type='direct'><mac address='52:54:00:cc:00:01'/><source dev='pv0'/>"
            "<model type='virtio'/></interface>"
            "<interface type='direct'><mac address='52:54:00:cc:00:02'/><source dev='pt0' mode='passthrough'/>"
            "<target dev='mypt'/><model type='e1000'/></interface>")
    netns.ok("define", _write(tmp_path, "dv.xml", _paused_xml("dv", nics)))
    assert "<source dev='pv0' mode='vepa'/>" in netns.ok("dumpxml", "dv", "--inactive")
    netns.ok("start", "dv", "--paused")
    try:
        links = {link["ifname"]: link for link in json.loads(netns.sh("ip -d -j link show"))}
        assert links["macvtap0"]["linkinfo"]["info_data"]["mode"] == "vepa" and links["macvtap0"]["link"] == "pv0"
        assert links["mypt"]["linkinfo"]["info_data"]["mode"] == "passthru" and links["mypt"]["link"] == "pt0"
        assert links["pt0"]["address"] == "52:54:00:cc:00:02" and "UP" in links["pv0"]["flags"]
        live = netns.ok("dumpxml", "dv")
        assert "<target dev='macvtap0'/>" in live and "<target dev='mypt'/>" in live
        info = netns.ok("qemu-monitor-command", "dv", "--hmp", "info network")
        assert len(re.findall(r"hostnet\d: index=0,type=tap,fd=\d+", info)) == 2, info
        # a <target dev> in use: nothing of the second domain is left
        netns.ok("define", _write(tmp_path, "dw.xml", _paused_xml("dw", nics.replace("dv", "dw").replace(
            ":cc:", ":cd:").replace("pt0' mode='passthrough'", "pv1' mode='bridge'"))))
        assert netns.fails("start", "dw").endswith("error: Unable to create macvtap device mypt: File exists\n")
        assert sorted(netns.links()) == ["macvtap0", "mypt", "pt0", "pt1", "pv0", "pv1"]
    finally:
        netns.run("destroy", "dv")
    assert sorted(netns.links()) == ["pt0", "pt1", "pv0", "pv1"]
    assert json.loads(netns.sh("ip -j link show pt0"))[0]["address"] == own_mac      # given back
    assert not os.path.exists(os.path.join(netns.base, "root", "run", "dv.macvtap.json"))
    netns.ok("undefine", "dw")
    netns.ok("undefine", "dv")
    # a device that is not there, at start; a bad mode or no device, at define
    netns.ok("define", _write(tmp_path, "dx.xml", _paused_xml("dx", nics.replace("pt0", "nosuch0"))))
    assert netns.fails("start", "dx").endswith(
        "error: Unable to get index for interface nosuch0: No such device\n")
    assert sorted(netns.links()) == ["pt0", "pt1", "pv0", "pv1"]
    netns.ok("undefine", "dx")
    for nic, words in (("<source dev='pv0' mode='bogus'/>",
                        "XML error: Invalid value for attribute 'mode' in element 'source': 'bogus'."),
                       ("<source mode='vepa'/>",
                        "XML error: No <source> 'dev' attribute specified with <interface type='direct'/>")):
        path = _write(tmp_path, "dy.xml", _paused_xml("dy", "<interface type='direct'>%s</interface>" % nic))
        assert netns.fails("define", path) == "error: Failed to define domain from %s\nerror: %s\n" % (path, words)
    netns.sh("ip link del pv0 && ip link del pt0")


def test_system_connection_defines_libvirts_default_network_once(tmp_path):
    from pyvirsh.drivers.qemu.networks import NetworkStore
    from pyvirsh.drivers.qemu.paths import DriverPaths

    paths = DriverPaths("embed", str(tmp_path))
    paths.mode = "system"           # qemu:///system's behaviour, in a scratch directory
    store = NetworkStore(paths)
    [rec] = store.records()
    assert rec.name == "default" and rec.autostart and rec.live is None
    xml = rec.current.to_xml()
    assert re.fullmatch(r"<network>\n  <name>default</name>\n  <uuid>[0-9a-f-]{36}</uuid>\n"
                        r"  <forward mode='nat'/>\n  <bridge name='virbr\d+' stp='on' delay='0'/>\n"
                        r"  <mac address='52:54:00(:[0-9a-f]{2}){3}'/>\n"
                        r"  <ip address='192\.168\.(\d+)\.1' netmask='255\.255\.255\.0'>\n    <dhcp>\n"
                        r"      <range start='192\.168\.\2\.2' end='192\.168\.\2\.254'/>\n    </dhcp>\n  </ip>\n"
                        r"</network>\n", xml), xml
    # Undefined once, it stays undefined: only a first use defines it.
    os.unlink(os.path.join(str(tmp_path), "config", "networks", "default.xml"))
    assert NetworkStore(paths).records() == []


@needs_netns
def test_bridge_and_open_modes(netns, tmp_path):
    # forward mode='bridge': a host bridge pyvirsh neither makes nor removes.
    netns.sh("ip link add br-host type bridge")
    host = _write(tmp_path, "host.xml", "<network><name>host</name><forward mode='bridge'/>"
                  "<bridge name='br-host'/></network>")
    netns.ok("net-define", host)
    assert netns.ok("net-dumpxml", "host").endswith("<forward mode='bridge'/>\n  <bridge name='br-host'/>\n"
                                                    "</network>\n\n")
    assert netns.ok("net-start", "host") == "Network host started\n\n"
    assert netns.ok("net-info", "host").endswith("Active:         yes\nPersistent:     yes\n"
                                                 "Autostart:      no\nBridge:         br-host\n\n")
    netns.ok("net-destroy", "host")
    assert netns.links() == ["br-host"] and netns.rules() == ""
    netns.sh("ip link del br-host")
    assert netns.fails("net-start", "host") == ("error: Failed to start network host\nerror: Unable to get index "
                                                "for interface br-host: No such device\n")
    netns.ok("net-undefine", "host")
    # forward mode='open': bridge, address and dnsmasq, and no firewall rule at all.
    opened = _write(tmp_path, "open.xml", "<network><name>open</name><forward mode='open'/>"
                    "<ip address='10.66.0.1' prefix='24'><dhcp><range start='10.66.0.2' end='10.66.0.3'/></dhcp>"
                    "</ip></network>")
    netns.ok("net-create", opened)
    assert netns.links() == ["virbr0"] and netns.rules() == "" and len(netns.dnsmasq_pids()) == 1
    assert netns.ok("net-list", "--transient", "--name") == "open\n\n"
    netns.ok("net-destroy", "open")
    _clean(netns)
    assert netns.ok("net-list", "--all", "--name") == "\n"


def _paused_xml(name: str, interfaces: str) -> str:
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>32</memory><features><acpi/></features>"
            "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>%s</devices></domain>" % (name, interfaces))


BANDWIDTH = ("<bandwidth><inbound average='1000' peak='5000' burst='1024'/>"
             "<outbound average='128' burst='256'/></bandwidth>")


def _hotplugged_ethernet(netns: Netns, tmp_path) -> None:
    """A hot-plugged tap NIC on the paused domain 'eth' (its <link state='down'/> applied), and
    attaches killed at random moments: the next command finds the NIC with its tap, or neither."""
    hot = _write(tmp_path, "hot.xml", "<interface type='ethernet'><mac address='52:54:00:ee:00:03'/>"
                 "<target dev='ehot'/><model type='virtio'/><link state='down'/></interface>")
    assert netns.ok("attach-device", "eth", hot, "--live") == "Device attached successfully\n\n"
    assert "ehot" in netns.links()
    assert netns.ok("domif-getlink", "eth", "ehot") == "ehot down\n"
    rng = random.Random(5)
    for n in range(3):
        path = _write(tmp_path, "k%d.xml" % n, "<interface type='ethernet'><mac address='52:54:00:ee:01:%02x'/>"
                      "<target dev='ek%d'/><model type='virtio'/></interface>" % (n, n))
        proc = subprocess.Popen(netns.prefix + pyvirsh_argv() + ["-c", netns.uri, "attach-device", "eth", path,
                                                                 "--live"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.1, 1.5))       # a random point of the attach, not a wait for state
        proc.kill()
        proc.wait()
        listed = any(row.startswith(" ek%d " % n) for row in _rows(netns.ok("domiflist", "eth")))
        assert listed == ("ek%d" % n in netns.links()), (n, listed, netns.links())


def _kernel_shapes(netns: Netns) -> bool:
    """Whether this kernel has every part of libvirt's tc set-up (htb, sfq, the fw classifier,
    ingress, u32 with police), tried on a dummy device of the test's namespace."""
    probe = ("ip link add tcprobe type dummy && tc qdisc add dev tcprobe root handle 1: htb default 1 && "
             "tc class add dev tcprobe parent 1: classid 1:1 htb rate 1kbps && "
             "tc qdisc add dev tcprobe parent 1:1 handle 2: sfq perturb 10 && "
             "tc filter add dev tcprobe parent 1:0 protocol all prio 1 handle 1 fw flowid 1 && "
             "tc qdisc add dev tcprobe ingress && tc filter add dev tcprobe parent ffff: protocol all u32 match u32 "
             "0 0 police rate 1kbps burst 1kb mtu 64kb drop flowid :1; rc=$?; ip link del tcprobe; exit $rc")
    return subprocess.run(netns.prefix + ["sh", "-c", probe], capture_output=True, check=False).returncode == 0


@needs_netns
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed")
def test_ethernet_taps_scripts_and_bandwidth(netns, tmp_path):
    """type='ethernet': a tap pyvirsh makes (named by <target dev>, its <script> run with the
    name) or one that exists (managed='no', left in place); <bandwidth> set with tc as libvirt
    does and gone with the domain; what pyvirsh does not do is refused by name."""
    mark = os.path.join(str(tmp_path), "script-ran")
    script = _write(tmp_path, "up.sh", "#!/bin/sh\necho \"$1\" > %s\n" % mark)
    os.chmod(script, 0o755)
    netns.sh("ip tuntap add dev ext0 mode tap vnet_hdr")
    nics = ("<interface type='ethernet'><mac address='52:54:00:ee:00:01'/><target dev='etest'/>"
            "<script path='%s'/><model type='virtio'/>%s</interface>"
            "<interface type='ethernet'><mac address='52:54:00:ee:00:02'/><target dev='ext0' managed='no'/>"
            "<model type='virtio'/><bandwidth><outbound average='64'/></bandwidth></interface>" % (script, BANDWIDTH))
    netns.ok("define", _write(tmp_path, "eth.xml", _paused_xml("eth", nics)))
    xml = netns.ok("dumpxml", "eth")
    assert ("<mac address='52:54:00:ee:00:01'/>\n      <bandwidth>\n        <inbound average='1000' peak='5000' "
            "burst='1024'/>\n        <outbound average='128' burst='256'/>\n      </bandwidth>\n      <script path=")\
        in xml
    shaping = _kernel_shapes(netns)
    if not shaping:
        # This kernel lacks a part of libvirt's tc set-up (sfq, fw, police): the start fails
        # naming tc's complaint, and leaves no tap behind.
        err = netns.fails("start", "eth")
        assert err.startswith("error: Failed to start domain 'eth'\nerror: internal error: Child process (tc "), err
        assert netns.links() == ["ext0"]
        netns.ok("undefine", "eth")
        netns.ok("define", _write(tmp_path, "eth.xml", _paused_xml("eth", re.sub("<bandwidth>.*?</bandwidth>", "",
                                                                                   nics))))
    try:
        netns.ok("start", "eth", "--paused")
        links = {link["ifname"]: link for link in json.loads(netns.sh("ip -j link show"))}
        assert sorted(links) == ["etest", "ext0", "lo"]
        assert links["etest"]["address"] == "fe:54:00:ee:00:01" and "UP" in links["etest"]["flags"]
        with open(mark) as f:
            assert f.read() == "etest\n"
        if shaping:
            qdiscs = netns.sh("tc qdisc show dev etest")
            assert "qdisc htb 1: root" in qdiscs and "qdisc sfq 2: parent 1:1" in qdiscs and \
                "qdisc ingress ffff:" in qdiscs
            assert re.search(r"class htb 1:1 root leaf 2: prio 0 rate 8Mbit ceil 40Mbit burst 1Mb",
                             netns.sh("tc class show dev etest"))
            assert re.search(r"police 0x\w+ rate 1Mbit burst 256Kb", netns.sh("tc filter show dev etest ingress"))
            assert "qdisc ingress ffff:" in netns.sh("tc qdisc show dev ext0")
        assert _rows(netns.ok("domiflist", "eth")) == [" etest       ethernet   -        virtio   52:54:00:ee:00:01",
                                                       " ext0        ethernet   -        virtio   52:54:00:ee:00:02"]
        _hotplugged_ethernet(netns, tmp_path)
    finally:
        netns.run("destroy", "eth")
    assert netns.links() == ["ext0"]            # the tap it made is gone, the one it was given stays
    assert "ingress" not in netns.sh("tc qdisc show dev ext0")
    # A script that fails stops the start, with nothing left behind.
    _write(tmp_path, "up.sh", "#!/bin/sh\necho no >&2\nexit 3\n")
    assert netns.fails("start", "eth").endswith(
        "error: internal error: Child process (%s etest) unexpected exit status 3: no\n" % script)
    assert netns.links() == ["ext0"] and "ingress" not in netns.sh("tc qdisc show dev ext0")
    netns.ok("undefine", "eth")
    netns.sh("ip link del ext0")
    for name, nic, words in (
            ("d1", "<interface type='vhostuser'><source type='unix' path='/tmp/x.sock' mode='server'/></interface>",
             "does not support type='vhostuser' in <interface>"),
            ("d2", "<interface type='ethernet'><bandwidth><inbound average='10' floor='5'/></bandwidth></interface>",
             "does not support attribute 'floor' of <inbound>"),
            ("d3", "<interface type='ethernet'><mtu size='9000'/></interface>",
             "does not support element <mtu> in <interface>")):
        path = _write(tmp_path, name + ".xml", _paused_xml(name, nic))
        err = netns.fails("define", path)
        assert err.startswith("error: Failed to define domain from %s\nerror: unsupported configuration: " % path) \
            and words in err, err
    for nic, words in (("<script path='/bin/true'/>", "scripts are not supported on interfaces of type user"),
                       ("<bandwidth><inbound average='10'/></bandwidth>",
                        "setting bandwidth on interfaces of type 'user' is not implemented yet")):
        netns.ok("define", _write(tmp_path, "us.xml", _paused_xml("us", "<interface type='user'>%s</interface>"
                                                                        % nic)))
        assert netns.fails("start", "us").endswith("error: unsupported configuration: %s\n" % words)
        netns.ok("undefine", "us")
    _clean(netns)
