"""The host as a router: routes, forwarding, TTL, a router's ICMP, netfilter's hooks, conntrack, NAT.

Each test reads like the behaviour it protects; the kernel agrees with the same scenarios in the
lab (diagrams/finding-the-way-out.yaml, tests/lab_scenarios/*).
"""

from __future__ import annotations

import ast
import ipaddress
from pathlib import Path

import pytest

from netsim import routing
from netsim.errors import ScenarioError
from netsim.scenario import parse_scenario
from netsim.simulation import run
from netsim.trace import ip_header

ROOT = Path(__file__).resolve().parent.parent

TWO_ROOMS = """
bridges:
  podman0: {host: laptop, address: 10.88.0.1/16, ports: {s2: {}, s3: {}}}
  wifi0: {host: ap, ports: {w23: {}, w50: {}}}
hosts:
  laptop:
    interfaces: {wlan0: {mac: '3c:22:fb:00:01:23', address: 192.168.1.23/24, plug: wifi0.w23}}
    ip_forward: FORWARD
    masquerade: MASQ
  c2:
    interfaces: {eth0: {mac: '0a:58:0a:58:00:02', address: 10.88.0.2/16, plug: podman0.s2}}
    gateway: 10.88.0.1
    tcp_syn_retries: 1
  c3:
    interfaces: {eth0: {mac: '0a:58:0a:58:00:03', address: 10.88.0.3/16, plug: podman0.s3}}
    gateway: 10.88.0.1
  server:
    interfaces: {eth0: {mac: '52:54:00:00:01:50', address: 192.168.1.50/24, plug: wifi0.w50}}
    listeners: ['0.0.0.0:9001']
  ap: {}
"""


def scenario(steps: str, forward: bool = True, masq: str = "[{saddr: 10.88.0.0/16, oifname: wlan0}]"):
    text = "title: t\n" + TWO_ROOMS.replace("FORWARD", str(forward).lower()).replace("MASQ", masq) + "steps:\n" + steps
    return parse_scenario(text, "two-rooms.yaml")


def test_the_longest_prefix_wins_whatever_the_order() -> None:
    routes = [
        routing.RouteEntry(ipaddress.IPv4Network("10.0.0.0/8"), "eth0", ipaddress.IPv4Address("10.9.0.1")),
        routing.RouteEntry(ipaddress.IPv4Network("10.20.0.0/16"), "eth0", ipaddress.IPv4Address("10.9.0.2")),
        routing.RouteEntry(ipaddress.IPv4Network("0.0.0.0/0"), "eth0", ipaddress.IPv4Address("10.9.0.3")),
    ]
    for order in (routes, routes[::-1]):
        assert routing.lookup(ipaddress.IPv4Address("10.20.1.1"), set(), order).neighbour == "10.9.0.2"
        assert routing.lookup(ipaddress.IPv4Address("10.30.1.1"), set(), order).neighbour == "10.9.0.1"
        assert routing.lookup(ipaddress.IPv4Address("8.8.8.8"), set(), order).neighbour == "10.9.0.3"


def test_a_host_that_does_not_forward_drops_without_a_word() -> None:
    trace = run(scenario("  - {id: k, connect: {by: c2, to: '192.168.1.50:9001'}}", forward=False))
    step = trace.step("k")
    assert step.outcome == "timeout"
    assert {h.bridge for h in step.frames} == {"podman0"}  # nothing reached the Wi-Fi, no ICMP came back
    assert not any(h.payload.__class__.__name__ == "Icmp" for h in step.frames)


def test_a_router_takes_one_off_the_ttl_and_the_masquerade_rewrites_the_source() -> None:
    step = run(scenario("  - {id: k, connect: {by: c2, to: '192.168.1.50:9001', sport: 40000}}")).step("k")
    assert step.outcome == "connected"
    syns = [ip_header(h.payload) for h in step.frames if h.what.endswith(" SYN")]
    assert syns == [
        {"src": "10.88.0.2", "dst": "192.168.1.50", "ttl": 64},
        {"src": "192.168.1.23", "dst": "192.168.1.50", "ttl": 63},
    ]
    (entry,) = step.conntrack["laptop"]
    assert entry["reply"] == "src=192.168.1.50 dst=192.168.1.23 sport=9001 dport=40000"
    assert entry["state"] == "ESTABLISHED" and entry["flags"] == ["ASSURED"]


def test_a_second_connection_on_the_same_port_gets_another_port() -> None:
    steps = (
        "  - {id: one, connect: {by: c2, to: '192.168.1.50:9001', sport: 40000}}\n"
        "  - {id: two, connect: {by: c3, to: '192.168.1.50:9001', sport: 40000}}\n"
    )
    step = run(scenario(steps)).step("two")
    assert step.outcome == "connected"
    replies = sorted(e["reply"].rsplit("dport=", 1)[1] for e in step.conntrack["laptop"])
    assert replies[0] != replies[1] and "40000" in replies


def test_without_masquerade_the_reply_has_no_way_back() -> None:
    step = run(scenario("  - {id: k, connect: {by: c2, to: '192.168.1.50:9001'}}", masq="[]")).step("k")
    assert step.outcome == "timeout"
    assert not any(h.what.endswith("SYN-ACK") for h in step.frames)
    assert step.conntrack == {}  # no NAT rule, no conntrack in the namespace


def test_ttl_one_is_refused_by_the_first_router_with_time_exceeded() -> None:
    step = run(scenario("  - {id: k, connect: {by: c2, to: '192.168.1.50:9001', ttl: 1}}")).step("k")
    assert step.outcome == "host-unreachable" and step.elapsed == 0
    assert step.frames[-1].what == "ICMP 10.88.0.1 > 10.88.0.2 time exceeded"


def test_no_route_at_the_router_is_network_unreachable_at_once() -> None:
    step = run(scenario("  - {id: k, connect: {by: c2, to: '198.51.100.7:443'}}")).step("k")
    assert step.outcome == "network-unreachable" and step.elapsed == 0
    assert step.frames[-1].what == "ICMP 10.88.0.1 > 10.88.0.2 network unreachable"


def test_a_reset_as_the_first_answer_leaves_no_ledger_entry() -> None:
    step = run(scenario("  - {id: k, connect: {by: c2, to: '192.168.1.50:9002'}}")).step("k")
    assert step.outcome == "refused"
    assert step.conntrack == {"laptop": []}


def test_route_get_answers_as_iproute2_does() -> None:
    steps = (
        "  - {id: near, route_get: {by: c2, to: 10.88.0.1}}\n"
        "  - {id: far, route_get: {by: c2, to: 192.168.1.50}}\n"
        "  - {id: none, route_get: {by: server, to: 10.88.0.2}}\n"
        "  - {id: own, route_get: {by: c2, to: 10.88.0.2}}\n"
    )
    trace = run(scenario(steps))
    text = {s.id: routing.route_get_text(s.route).splitlines()[0] for s in trace.steps}
    assert text == {
        "near": "10.88.0.1 dev eth0 src 10.88.0.2 uid 0 ",
        "far": "192.168.1.50 via 10.88.0.1 dev eth0 src 10.88.0.2 uid 0 ",
        "none": "RTNETLINK answers: Network is unreachable",
        "own": "local 10.88.0.2 dev lo src 10.88.0.2 uid 0 ",
    }


@pytest.mark.parametrize(
    ("steps", "masq", "message"),
    [
        ("  - {id: k, masquerade: {by: laptop, saddr: 10.88.0.0/33}}", "[]", "'10.88.0.0/33' is not a network"),
        ("  - {id: k, masquerade: {by: laptop, saddr: 10.88.0.0/16, oifname: wlan9}}", "[]", "no interface 'wlan9'"),
        (  # a bridge's port is there, in the host: the error says what it is, not that it is missing
            "  - {id: k, masquerade: {by: laptop, saddr: 10.88.0.0/16, oifname: s2}}",
            "[]",
            "'s2' is a port of laptop's bridge podman0, not a device a packet is routed out of",
        ),
        (
            "  - {id: k, connect: {by: c2, to: '192.168.1.50:9001', ttl: 0}}",
            "[]",
            "0 is out of range; expected a whole number from 1 to 255",
        ),
        (
            "  - {id: k, connect: {by: c2, to: '192.168.1.50:9001', sport: 70000}}",
            "[]",
            "70000 is out of range; expected a whole number from 1 to 65535",
        ),
        ("  - {id: k, route_get: {by: c2}}", "[]", "to"),
    ],
)
def test_bad_routing_input_is_named_with_file_and_line(steps: str, masq: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario(steps, masq=masq)
    assert str(caught.value).startswith("two-rooms.yaml:") and message in str(caught.value)


PROTOCOLS = ("ipv4", "tcp", "forwarding", "netfilter", "conntrack", "routing")


@pytest.mark.parametrize("module", PROTOCOLS)
def test_protocol_modules_never_import_the_simulation(module: str) -> None:
    # They see the simulation only through netsim.stack.Stack: the data flows one way.
    tree = ast.parse((ROOT / "netsim" / f"{module}.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "netsim.simulation" not in imported
    if module in ("tcp", "netfilter", "conntrack", "routing", "forwarding"):
        assert "netsim.ipv4" not in imported and not any(
            isinstance(n, ast.ImportFrom) and n.module == "netsim" and any(a.name == "ipv4" for a in n.names)
            for n in ast.walk(tree)
        )


def test_a_lent_mapping_that_is_taken_starts_the_search_from_its_own_port() -> None:
    """get_unique_tuple() (net/netfilter/nf_nat_core.c): find_appropriate_src() writes the source's live
    mapping into the tuple; when that tuple is taken, the search (nf_nat_l4proto_unique_tuple()) starts
    from it. The original port is not tried again, even where it would be free."""
    from netsim.conntrack import Conn, Tuple
    from netsim.netfilter import SRC, _unique_port

    laptop, server = "192.168.1.23", "192.168.1.50"
    # two's 10.88.0.2:20000 was mapped to the laptop's port 31000 for server:9001 ...
    lent = Conn(Tuple("10.88.0.2", 20000, server, 9001), Tuple(server, 9001, laptop, 31000), bound={SRC})
    # ... and the laptop's own socket holds laptop:31000 -> server:9003.
    own = Conn(Tuple(laptop, 31000, server, 9003), Tuple(server, 9003, laptop, 31000), bound={SRC})
    ns = _masquerade_table(lent, own)
    # two's next knock from 20000 to server:9002 gets the lent port, free there;
    fresh = Conn(Tuple("10.88.0.2", 20000, server, 9002), Tuple(server, 9002, "10.88.0.2", 20000))
    assert _unique_port(ns, fresh, laptop, 1.0) == 31000  # type: ignore[arg-type]
    # to server:9003 the lent port is taken, and 20000, free there, is not what it gets.
    clash = Conn(Tuple("10.88.0.2", 20000, server, 9003), Tuple(server, 9003, "10.88.0.2", 20000))
    port = _unique_port(ns, clash, laptop, 1.0)  # type: ignore[arg-type]
    assert port not in (20000, 31000) and 1024 <= port <= 65535


def test_a_udp_entry_is_assured_and_kept_120_s_only_by_a_packet_after_its_reply_2_s_on() -> None:
    """nf_conntrack_udp_packet() (net/netfilter/nf_conntrack_proto_udp.c, 6.18): 30 s from each packet;
    the first reply, however late, renews by 30 s (IPS_SEEN_REPLY is set after the protocol's say); a
    packet after it renews by udp_timeout_stream, 120 s, and sets ASSURED once the first packet is more
    than 2 s old (stream_ts), not before."""
    from netsim.conntrack import DEFAULTS, ORIGINAL, REPLY, UDP, Conn, Table, Tuple, track_udp

    def entry() -> Conn:
        t = Tuple("10.88.0.2", 40000, "192.168.1.53", 53, "udp")
        conn = Conn(t, t.invert(), state=UDP, stream_ts=2.0)
        Table().confirm(conn, 0.0)
        return conn

    late = entry()
    track_udp(late, REPLY, 3.0, DEFAULTS)  # the first reply, 3 s on
    assert (late.seen_reply, late.assured, late.expires) == (True, False, 33.0)
    track_udp(late, ORIGINAL, 5.0, DEFAULTS)  # the query again from the same socket
    assert (late.assured, late.expires) == (True, 125.0)
    soon = entry()
    track_udp(soon, REPLY, 0.1, DEFAULTS)
    track_udp(soon, ORIGINAL, 1.0, DEFAULTS)  # a packet after the reply, within 2 s: 30 s, not assured
    assert (soon.assured, soon.expires) == (False, 31.0)
    assert soon.to_json()["flags"] == [] and "state" not in soon.to_json()


def test_an_entry_lives_by_the_timeouts_of_the_namespace_that_holds_it() -> None:
    """The net.netfilter.nf_conntrack_*timeout* sysctls are per namespace (nf_tcp_pernet(net)->timeouts,
    nf_udp_pernet(net)->timeouts): a table's entries take its namespace's, state by state; SYN_SENT2 has no
    sysctl and keeps tcp_timeouts[]'s 120 s; UNACK caps an entry picked up mid-stream, never raises it."""
    from netsim.conntrack import ORIGINAL, REPLY, UDP, Conn, Table, Timeouts, Tuple, timeout, track_udp

    short = Timeouts(syn_sent=12, syn_recv=6, established=50, close=3, unacknowledged=20, udp=4, udp_stream=9)
    t = Tuple("10.88.0.2", 40000, "192.168.1.50", 80)
    states = {"SYN_SENT": 12, "SYN_SENT2": 120, "SYN_RECV": 6, "ESTABLISHED": 50, "CLOSE": 3}
    assert {state: timeout(Conn(t, t.invert(), state=state, seen_reply=True), short) for state in states} == states
    assert timeout(Conn(t, t.invert(), state="ESTABLISHED"), short) == 20
    assert timeout(Conn(t, t.invert(), state="ESTABLISHED"), Timeouts(established=15, unacknowledged=20)) == 15
    table = Table(timeouts=short)
    conn = Conn(t, t.invert())
    table.confirm(conn, 1.0)
    assert conn.expires == 13.0
    u = Tuple("10.88.0.2", 40001, "192.168.1.53", 53, "udp")
    dns = Conn(u, u.invert(), state=UDP, stream_ts=2.0)
    Table(timeouts=short).confirm(dns, 0.0)
    assert dns.expires == 4.0
    track_udp(dns, REPLY, 3.0, short)
    track_udp(dns, ORIGINAL, 5.0, short)
    assert (dns.assured, dns.expires) == (True, 14.0)


def _masquerade_table(*conns: object) -> object:
    from types import SimpleNamespace

    from netsim.conntrack import Table

    table = Table()
    for conn in conns:
        table.confirm(conn, 0.0)  # type: ignore[arg-type]
    return SimpleNamespace(netfilter=SimpleNamespace(conntrack=table))


def test_a_port_clash_is_a_clash_only_within_one_protocol() -> None:
    """nf_nat_used_tuple() looks the would-be reply up with its protocol (nf_conntrack_tuple_taken()
    compares the whole tuple, dst.protonum too): a UDP mapping never takes a TCP one's port, and two UDP
    flows from one port to one server do clash."""
    from netsim.conntrack import Conn, Tuple
    from netsim.netfilter import SRC, _unique_port

    laptop, server = "192.168.1.23", "192.168.1.53"
    for proto in ("tcp", "udp"):
        # one's 10.88.0.2:40000 to server:53 already holds the laptop's port 40000, by `proto`
        held = Conn(Tuple("10.88.0.2", 40000, server, 53, proto), Tuple(server, 53, laptop, 40000, proto), bound={SRC})
        ns = _masquerade_table(held)
        for other in ("tcp", "udp"):
            # two's 10.88.0.3:40000 to the same server and port, by `other`
            conn = Conn(Tuple("10.88.0.3", 40000, server, 53, other), Tuple(server, 53, "10.88.0.3", 40000, other))
            port = _unique_port(ns, conn, laptop, 1.0)  # type: ignore[arg-type]
            assert (port == 40000) == (proto != other), (proto, other, port)


@pytest.mark.parametrize(("original", "low", "high"), [(300, 1, 511), (800, 600, 1023), (40000, 1024, 65535)])
@pytest.mark.parametrize("offset", [0, 1, 2**16 - 1, 64511, 64512, 2**32 - 1])
def test_the_port_search_covers_its_range_exactly(
    original: int, low: int, high: int, offset: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nf_nat_l4proto_unique_tuple() (net/netfilter/nf_nat_proto.c): a taken port is replaced by
    min + off % range_size, range_size = max - min + 1 of the port's own range (1-511, 600-1023,
    1024-65535): whatever the offset (the kernel's is random, netsim's a hash), the first port tried
    is in the range, and the one a known offset gives is that formula's."""
    from netsim import netfilter
    from netsim.conntrack import Conn, Tuple
    from netsim.netfilter import SRC, _unique_port

    monkeypatch.setattr(netfilter, "initial_sequence", lambda *four: offset)
    laptop, server = "192.168.1.23", "192.168.1.50"
    held = Conn(Tuple("10.88.0.2", original, server, 80), Tuple(server, 80, laptop, original), bound={SRC})
    clash = Conn(Tuple("10.88.0.3", original, server, 80), Tuple(server, 80, "10.88.0.3", original))
    port = _unique_port(_masquerade_table(held), clash, laptop, 1.0)  # type: ignore[arg-type]
    assert low <= port <= high
    expected = low + offset % (high - low + 1)
    assert port == (expected if expected != original else low + (offset + 1) % (high - low + 1))


def test_a_new_udp_entry_is_a_stream_only_two_seconds_after_its_first_packet() -> None:
    """nf_conntrack_udp_packet(): a new entry's stream_ts is its first packet's jiffies + 2 s; a packet
    after the reply within that keeps it unassured at 30 s, one after it makes it a 120 s stream."""
    from types import SimpleNamespace

    from netsim.conntrack import Table
    from netsim.frames import Dns, Udp
    from netsim.netfilter import Skb, _conntrack_in

    ask, answer = Dns(7, "ben"), Dns(7, "ben", response=True, answers=("10.88.0.11",))

    for later, assured, expires in ((1.5, False, 101.5 + 30), (2.5, True, 102.5 + 120)):
        table = Table()
        stack = SimpleNamespace(now=100.0, event=lambda line: None)
        query = Skb(Udp("10.88.0.2", "192.168.1.53", 40000, 53, ask))
        assert _conntrack_in(stack, table, query)  # type: ignore[arg-type]
        table.confirm(query.conn, stack.now)  # type: ignore[arg-type]
        stack.now = 100.1
        assert _conntrack_in(stack, table, Skb(Udp("192.168.1.53", "10.88.0.2", 53, 40000, answer)))  # type: ignore[arg-type]
        stack.now = 100.0 + later
        again = Skb(Udp("10.88.0.2", "192.168.1.53", 40000, 53, ask))
        assert _conntrack_in(stack, table, again)  # type: ignore[arg-type]
        assert again.conn is query.conn
        assert (query.conn.assured, query.conn.expires) == (assured, expires), later  # type: ignore[union-attr]


def test_a_mapping_that_expires_this_very_moment_is_lent_to_nobody() -> None:
    """find_appropriate_src() skips an entry nf_ct_is_expired() calls dead: its timeout is now or past."""
    from netsim.conntrack import Conn, Tuple
    from netsim.netfilter import SRC, _unique_port

    laptop, server = "192.168.1.23", "192.168.1.50"
    lent = Conn(Tuple("10.88.0.2", 20000, server, 9001), Tuple(server, 9001, laptop, 31000), bound={SRC})
    ns = _masquerade_table(lent)
    fresh = Conn(Tuple("10.88.0.2", 20000, server, 9002), Tuple(server, 9002, "10.88.0.2", 20000))
    assert _unique_port(ns, fresh, laptop, lent.expires - 0.001) == 31000  # type: ignore[arg-type]
    assert _unique_port(ns, fresh, laptop, lent.expires) == 20000  # type: ignore[arg-type]
