"""The "try it yourself" script: a scenario rebuilt with plain `ip`, `bridge` and a little Python.

The script is generated from the scenario, so what a reader copies is what the tests run. It
puts itself inside a private network and mount namespace first: nothing it does can touch the
reader's own interfaces, routes or firewall, and everything vanishes when it exits.
"""

from __future__ import annotations

import shlex

from netsim.addresses import BROADCAST, derived_mac, normalise_mac
from netsim.scenario import Scenario, Step

HEADER = """#!/usr/bin/env bash
# Try it yourself: "{title}", from The Bottom Six.
# Generated from {file}; every step below is one step of the post.
#
# Run it as root on any Linux machine with iproute2 and Python 3:   sudo bash {name}.sh
# It first moves itself into a private network namespace of its own, so it never touches your
# interfaces, routes or firewall, and everything it builds disappears when it ends.
set -euo pipefail
if [ "${{BOTTOM_SIX_PRIVATE:-}}" != 1 ]; then
  exec unshare --net --mount --propagation private env BOTTOM_SIX_PRIVATE=1 bash "$0" "$@"
fi
mount -t tmpfs bottom-six /run   # `ip netns` keeps its files here, hidden from the rest of the machine
{needs_nft}
mkdir -p /run/netns
declare -A LISTENER              # "host address:port" -> pid of the listening program
trap 'kill ${{LISTENER[@]:-}} 2>/dev/null || true' EXIT

show_fdb() {{  # the learned lines of the bridge's MAC table
  echo "\\$ bridge fdb show br $2   (learned entries)"
  bridge -n "lab-$1" fdb show br "$2" | grep ' master ' | grep -v permanent || echo "(empty)"
}}
show_links() {{  # every host's interfaces, as `ip -br addr` shows them
  for host in "$@"; do echo "-- ip addr in $host"; ip -n "lab-$host" -br addr show; done
}}
show_neigh() {{  # every host's ARP table
  for host in "$@"; do echo "-- ip neigh in $host"; ip -n "lab-$host" neigh show; done
}}
send_frame() {{  # host dev dst-mac src-mac: one raw Ethernet frame, as the kernel selftests send
  ip netns exec "lab-$1" python3 - "$2" "$3" "$4" <<'PY'
import socket, sys
dev, dst, src = sys.argv[1:4]
if src == "self":  # the interface's own MAC, as the kernel reports it
    src = open(f"/sys/class/net/{{dev}}/address").read().strip()
mac = lambda text: bytes.fromhex(text.replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
s.send(mac(dst) + mac(src) + b"\\x88\\xb5" + b"a note from the bottom six".ljust(46, b"\\0"))
PY
}}
ask_arp() {{  # host dev my-mac my-ip target-ip: the question "who has target-ip?"
  # The kernel only asks when it has a packet to deliver, and that packet would add traffic the
  # post does not describe. So we write the question ourselves, after creating the INCOMPLETE
  # entry the kernel would have made; the answer and every table change are the kernel's own.
  ip -n "lab-$1" neigh replace "$5" dev "$2" nud incomplete
  ip netns exec "lab-$1" python3 - "$2" "$3" "$4" "$5" <<'PY'
import socket, sys
dev, mac, ip, target = sys.argv[1:5]
m = lambda text: bytes.fromhex(text.replace(":", ""))
a = lambda text: socket.inet_aton(text)
arp = b"\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x01" + m(mac) + a(ip) + bytes(6) + a(target)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
s.send(b"\\xff" * 6 + m(mac) + b"\\x08\\x06" + arp)
PY
  sleep 0.2
}}
knock() {{  # host address port: a TCP connect, and what the kernel answered
  ip netns exec "lab-$1" python3 - "$2" "$3" <<'PY'
import errno, socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
names = {{errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "host-unreachable",
         errno.ENETUNREACH: "network-unreachable", errno.ETIMEDOUT: "timeout"}}
s = socket.socket()
s.settimeout(300)
try:
    s.connect((addr, port))
    result = "connected"
except TimeoutError:
    result = "timeout"
except OSError as exc:
    result = names.get(exc.errno, exc.strerror)
print(f"connect {{addr}}:{{port}} -> {{result}}")
PY
}}
listen_on() {{  # host address port: a doorman that stays until close_on
  ip netns exec "lab-$1" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    s.accept()
' "$2" "$3" &
  LISTENER["$1 $2:$3"]=$!
  sleep 0.3
  echo "$1 listens on $2:$3"
}}
close_on() {{
  kill "${{LISTENER["$1 $2:$3"]}}"; wait "${{LISTENER["$1 $2:$3"]}}" 2>/dev/null || true
  unset 'LISTENER["$1 $2:$3"]'
  echo "$1 stops listening on $2:$3"
}}
"""


def _q(text: str) -> str:
    return shlex.quote(text)


def render(scenario: Scenario) -> str:
    s = scenario
    firewall = any(h.drop_tcp_ports or h.reject_tcp_ports for h in s.hosts.values())
    needs_nft = (
        'command -v nft >/dev/null || { echo "this scenario needs nft (package nftables)" >&2; exit 3; }'
        if firewall
        else ""
    )
    header = HEADER.format(title=s.title, file=s.file, name=s.name, needs_nft=needs_nft)
    lines = [header, "# --- The room ---"]
    for host, h in s.hosts.items():
        if h.absent:
            continue  # made by a step below
        lines.extend(_netns(s, host))
        lines.append(f"ip -n lab-{host} link set lo up")
    for name, br in s.bridges.items():
        lines.append(
            f"ip -n lab-{br.host} link add {name} type bridge ageing_time {br.ageing_time * 100} "
            "stp_state 0 mcast_snooping 0"
        )
        lines.append(f"ip -n lab-{br.host} link set {name} address {s.bridge_mac(name)}")
        if br.address:
            lines.append(f"ip -n lab-{br.host} addr add {br.address} dev {name}   # the host's own seat")
        lines.append(f"ip -n lab-{br.host} link set {name} up")
    for host, h in s.hosts.items():
        for dev, iface in h.interfaces.items():
            if not iface.plug or h.absent:
                continue
            target, _, end = iface.plug.partition(".")
            if target in s.bridges:
                owner = s.bridges[target].host
                lines.append(f"# {h.label or host}'s cable: {dev} inside {host}, {end} on {target}")
                lines.append(f"ip -n lab-{owner} link add {end} type veth peer name {dev} netns lab-{host}")
                lines.append(f"ip -n lab-{owner} link set {end} address {s.port_mac(target, end)}")
                lines.append(f"ip -n lab-{owner} link set {end} master {target}")
                lines.append(f"ip -n lab-{owner} link set {end} up")
            elif host < target:
                lines.append(f"ip -n lab-{host} link add {dev} type veth peer name {end} netns lab-{target}")
            lines.append(f"ip -n lab-{host} link set {dev} address {s.host_mac(host, dev)}")
            if h.reachable_time != 30:
                ms = int(h.reachable_time * 1000)
                lines.append(f"ip netns exec lab-{host} sysctl -qw net.ipv4.neigh.{dev}.base_reachable_time_ms={ms}")
            if iface.address:
                lines.append(f"ip -n lab-{host} addr add {iface.address} dev {dev}")
            lines.append(f"ip -n lab-{host} link set {dev} up")
        if h.gateway and not h.absent:
            lines.append(f"ip -n lab-{host} route add default via {h.gateway}")
        for route in [] if h.absent else h.routes:
            extra = (["via", route.via] if route.via else []) + (["dev", route.dev] if route.dev else [])
            lines.append(shlex.join(["ip", "-n", f"lab-{host}", "route", "add", route.to, *extra]))
    dynamic = s.dynamic_ports()
    for name, br in s.bridges.items():
        for port, flags in br.ports.items():
            if (name, port) in dynamic:
                continue  # plugged in by a step below
            if s.host_at(name, port) is None:
                lines.append(f"ip -n lab-{br.host} link add {port} type veth peer name {port}-x   # an empty seat")
                lines.append(f"ip -n lab-{br.host} link set {port} master {name}")
                lines.append(f"ip -n lab-{br.host} link set {port} up; ip -n lab-{br.host} link set {port}-x up")
            changed = _flags(flags, defaults=True)
            if changed:
                lines.append(f"bridge -n lab-{br.host} link set dev {port} {changed}")
    for host, h in s.hosts.items():
        if (h.drop_tcp_ports or h.reject_tcp_ports) and not h.absent:
            lines.extend(_firewall(host, h.drop_tcp_ports, h.reject_tcp_ports))
        for text in h.listeners:
            addr, port = text.rsplit(":", 1)
            lines.append(f"listen_on {host} {addr} {port}")
    lines.append("sleep 0.5   # let the links come up")
    for n, step in enumerate(s.steps, 1):
        lines.append("")
        lines.append(f"echo; echo {_q(f'== step {n}/{len(s.steps)} {step.id}: {step.title or step.action}')}")
        lines.extend(_step(s, step))
    lines.append("")
    lines.append('echo; echo "done: everything above lived in namespaces that vanish now"')
    return "\n".join(lines) + "\n"


def _firewall(host: str, drop: list[int], reject: list[int]) -> list[str]:
    """An nftables input filter inside the host's namespace only (needs the nftables package)."""
    rules = [f"tcp dport {port} drop" for port in drop]
    rules += [f"tcp dport {port} reject with icmp type port-unreachable" for port in reject]
    return [
        f"ip netns exec lab-{host} nft -f - <<'NFT'   # {host}'s firewall",
        "table inet lab {",
        "  chain input {",
        "    type filter hook input priority 0; policy accept;",
        *(f'    iifname != "lo" {rule}' for rule in rules),
        "  }",
        "}",
        "NFT",
    ]


def _netns(s: Scenario, host: str) -> list[str]:
    h = s.hosts[host]
    out = [
        f"ip netns add lab-{host}   # {h.label or host}: a network namespace of its own",
        f"ip netns exec lab-{host} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
        "net.ipv6.conf.default.disable_ipv6=1   # no IPv6 chatter",
    ]
    if h.tcp_syn_retries != 6:
        out.append(f"ip netns exec lab-{host} sysctl -qw net.ipv4.tcp_syn_retries={h.tcp_syn_retries}")
    return out


def _flags(flags: object, defaults: bool = False) -> str:
    default = {"learning": True, "flood": True, "mcast_flood": True, "bcast_flood": True, "hairpin": False}
    parts = []
    for key, normal in default.items():
        value = getattr(flags, key)
        if value is None or (defaults and value == normal):
            continue
        parts.append(f"{key} {'on' if value else 'off'}")
    return " ".join(parts)


def commands(s: Scenario, step: Step) -> list[str]:
    """The `ip` and `bridge` commands a step runs, exactly as the script runs them."""
    return [line for line in _step(s, step) if line.startswith(("ip ", "bridge "))]


def _exists_by(s: Scenario, host: str, step: Step) -> bool:
    """Whether a host declared absent has had its netns_add step by the end of `step`."""
    for st in s.steps:
        if st.netns_add == host:
            return True
        if st is step:
            return False
    return False


def _step(s: Scenario, step: Step) -> list[str]:
    owners = {name: br.host for name, br in s.bridges.items()}
    show = [f"show_fdb {owner} {name}" for name, owner in owners.items()]
    hosts = " ".join(h for h in s.hosts if not s.hosts[h].absent or _exists_by(s, h, step))
    links = [f"show_links {hosts}"]
    if step.netns_add:
        return [*_netns(s, step.netns_add), *links]
    if step.veth_add:
        a = step.veth_add
        mac = a.mac or derived_mac(f"veth/{a.by}/{a.name}")
        peer_mac = a.peer_mac or derived_mac(f"veth/{a.by}/{a.peer}")
        return [
            f"ip -n lab-{a.by} link add name {a.name} address {mac} type veth peer name {a.peer} address {peer_mac}",
            *links,
        ]
    if step.link_move:
        m = step.link_move
        return [f"ip -n lab-{m.by} link set dev {m.dev} netns lab-{m.to}", *links]
    if step.link_rename:
        r = step.link_rename
        return [f"ip -n lab-{r.by} link set dev {r.dev} name {r.name}", *links]
    if step.link_set:
        c = step.link_set
        out = []
        if c.master:
            out.append(f"ip -n lab-{c.by} link set dev {c.dev} master {c.master}")
        if c.up is not None:
            out.append(f"ip -n lab-{c.by} link set dev {c.dev} {'up' if c.up else 'down'}")
        return [*out, "sleep 0.1", *links]
    if step.addr_add:
        a = step.addr_add
        return [f"ip -n lab-{a.by} addr add {a.address} dev {a.dev}", *links]
    if step.route_add:
        r = step.route_add
        return [f"ip -n lab-{r.by} route add {r.to} via {r.via}", f"ip -n lab-{r.by} route"]
    if step.send:
        send = step.send
        dev = send.dev or s.default_dev(send.by)
        named = BROADCAST if send.dst == "broadcast" else normalise_mac(send.dst)
        dst = named or s.host_mac(send.dst)
        src = send.src or "self"
        return [f"send_frame {send.by} {dev} {dst} {src}", "sleep 0.2", *show]
    if step.arp:
        host = step.arp.by
        dev = next(iter(s.hosts[host].interfaces))
        mine = next(str(a.ip) for a in s.addresses(host))
        mac = s.host_mac(host, dev)
        return [f"ask_arp {host} {dev} {mac} {mine} {step.arp.target}", *show, f"show_neigh {hosts}"]
    if step.connect:
        addr, port = step.connect.to.rsplit(":", 1)
        return [f"knock {step.connect.by} {addr} {port}", *show, f"show_neigh {hosts}"]
    if step.listen:
        addr, port = step.listen.bind.rsplit(":", 1)
        return [f"listen_on {step.listen.by} {addr} {port}"]
    if step.close:
        addr, port = step.close.bind.rsplit(":", 1)
        return [f"close_on {step.close.by} {addr} {port}"]
    if step.wait is not None:
        return [f"sleep {step.wait:g}", *show]
    if step.set_port:
        c = step.set_port
        return [f"bridge -n lab-{owners[c.bridge]} link set dev {c.port} {_flags(c)}"]
    if step.set_bridge:
        c = step.set_bridge
        return [
            f"ip -n lab-{owners[c.bridge]} link set {c.bridge} type bridge ageing_time {c.ageing_time * 100}",
            *show,
        ]
    raise AssertionError(step.action)
