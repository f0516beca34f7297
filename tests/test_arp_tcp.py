"""ARP and TCP connect, checked against the behaviour in shared/reference/linux-facts.md."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import MAC, simulate

from netsim import icmp, tcp
from netsim.frames import Icmp, Tcp, initial_sequence
from netsim.lab.compare import compare_with_kernel
from netsim.netns import Connection, Iface, Namespace
from netsim.scenario import load_scenario
from netsim.simulation import run


def test_arp_request_is_broadcast_and_the_reply_is_unicast() -> None:
    step = simulate("- {id: s, arp: {by: a, target: 10.0.0.11}}").steps[0]
    request, reply = step.frames
    assert request.dst == "ff:ff:ff:ff:ff:ff" and request.decision == "flood"
    assert (reply.src, reply.dst, reply.decision) == (MAC["b"], MAC["a"], "forward")


def test_the_asker_records_reachable_and_the_replier_learns_the_asker_stale() -> None:
    neigh = simulate("- {id: s, arp: {by: a, target: 10.0.0.11}}").steps[0].neigh
    assert neigh["a"]["10.0.0.11"]["state"] == "REACHABLE"
    assert neigh["b"]["10.0.0.10"] == {"mac": MAC["a"], "state": "STALE", "dev": "eth0"}


def test_bystanders_learn_nothing_from_a_request_for_someone_else() -> None:
    neigh = simulate("- {id: s, arp: {by: a, target: 10.0.0.11}}").steps[0].neigh
    assert neigh["c"] == {} and neigh["host"] == {}


def test_an_unanswered_request_is_sent_three_times_then_fails() -> None:
    step = simulate("- {id: s, arp: {by: a, target: 10.0.0.99}}").steps[0]
    assert [h.what for h in step.frames] == ["ARP who-has 10.0.0.99 tell 10.0.0.10"] * 3
    assert step.neigh["a"]["10.0.0.99"]["state"] == "FAILED"
    assert step.time == 3.0


def test_reachable_becomes_stale_after_thirty_seconds() -> None:
    # neigh_timer_handler(): still alive while now <= confirmed + reachable_time (time_before_eq)
    trace = simulate("""
        - {id: ask, arp: {by: a, target: 10.0.0.11}}
        - {id: just-before, wait: 29.9}
        - {id: later, wait: 0.2}
    """)
    assert trace.steps[1].neigh["a"]["10.0.0.11"]["state"] == "REACHABLE"
    assert trace.steps[2].neigh["a"]["10.0.0.11"]["state"] == "STALE"


# The observed matrix from linux-facts.md: host listeners on 127.0.0.1:8080, 10.0.0.1:8081 and
# 0.0.0.0:8082 (10.0.0.1 plays podman0's 10.88.0.1).
MATRIX = [
    ("a", "10.0.0.1:8080", "refused"),
    ("a", "10.0.0.1:8081", "connected"),
    ("a", "10.0.0.1:8082", "connected"),
    ("a", "10.0.0.1:8083", "refused"),
    ("host", "10.0.0.1:8080", "refused"),
    ("host", "127.0.0.1:8081", "refused"),
    ("host", "127.0.0.1:8082", "connected"),
    ("a", "127.0.0.1:8080", "refused"),
]


@pytest.mark.parametrize(("by", "to", "outcome"), MATRIX)
def test_listener_matrix(by: str, to: str, outcome: str) -> None:
    step = simulate(
        f"- {{id: s, connect: {{by: {by}, to: '{to}'}}}}",
        listeners="127.0.0.1:8080, 10.0.0.1:8081, 0.0.0.0:8082",
    ).steps[0]
    assert step.outcome == outcome


def test_the_containers_127_0_0_1_is_its_own_no_frame_crosses_the_bridge() -> None:
    step = simulate("- {id: s, connect: {by: a, to: '127.0.0.1:8080'}}", listeners="127.0.0.1:8080").steps[0]
    assert step.outcome == "refused" and step.frames == []


def test_refused_is_an_rst_from_the_hosts_kernel() -> None:
    step = simulate("- {id: s, connect: {by: a, to: '10.0.0.1:9'}}").steps[0]
    assert [h.what.split()[-1] for h in step.frames if h.what.startswith("TCP")] == ["SYN", "RST"]


def test_no_route_is_network_unreachable_at_once() -> None:
    step = simulate("- {id: s, connect: {by: b, to: '192.0.2.1:80'}}").steps[0]
    assert (step.outcome, step.frames, step.time) == ("network-unreachable", [], 0.0)


def test_an_on_link_address_nobody_owns_is_host_unreachable_after_three_seconds() -> None:
    step = simulate("- {id: s, connect: {by: a, to: '10.0.0.99:80'}}").steps[0]
    assert step.outcome == "host-unreachable"
    assert step.time == 3.0


def test_a_silent_drop_times_out_after_the_syn_retries() -> None:
    from netsim.scenario import parse_scenario
    from netsim.simulation import run

    text = """
title: firewall
bridges: {br0: {host: h, address: 10.0.0.1/24, ports: {p1: {}}}}
hosts:
  h: {listeners: ['0.0.0.0:80'], drop_tcp_ports: [80]}
  a:
    interfaces: {eth0: {address: 10.0.0.2/24, plug: br0.p1}}
    tcp_syn_retries: 2
steps:
  - {id: s, connect: {by: a, to: '10.0.0.1:80'}}
"""
    step = run(parse_scenario(text)).steps[0]
    syns = [h for h in step.frames if h.what.endswith("SYN")]
    assert step.outcome == "timeout"
    # Seen on a 6.18 kernel: one second apart five times (tcp_syn_linear_timeouts=4), then doubling.
    assert [h.time for h in syns] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert step.time == 7.0


def test_the_default_syn_retries_wait_131_seconds_with_eleven_syns() -> None:
    from netsim.tcp import retransmit_times, syn_timeout

    assert retransmit_times(6) == [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0]
    assert syn_timeout(6) == 131.0
    assert syn_timeout(6, linear=0) == 127.0  # the classic doubling, as before Linux 6.5


def test_a_martian_127_packet_arriving_on_a_bridge_port_is_dropped() -> None:
    from netsim.frames import Tcp
    from netsim.scenario import parse_scenario
    from netsim.simulation import Simulation

    sim = Simulation(parse_scenario(ROOM_WITH_LOOPBACK_LISTENER))
    host = sim.namespaces["host"]
    from netsim import ipv4

    events: list[str] = []
    sim.event = events.append  # type: ignore[method-assign]
    ipv4.receive(sim, host, "br0", Tcp("10.0.0.10", "127.0.0.1", 4000, 8080, "S"))
    assert events and "127/8 lives on lo only" in events[0]


ROOM_WITH_LOOPBACK_LISTENER = """
title: martian
bridges: {br0: {host: host, address: 10.0.0.1/24, ports: {p1: {}}}}
hosts:
  host: {listeners: ['127.0.0.1:8080']}
steps: []
"""


def test_a_veth_cable_between_two_hosts_carries_frames_with_no_bridge() -> None:
    from netsim.scenario import parse_scenario
    from netsim.simulation import run

    text = """
title: two rooms, one cable
hosts:
  a:
    interfaces: {veth0: {mac: '02:00:00:00:00:0a', address: 10.1.0.1/30, plug: b.veth1}}
  b:
    interfaces: {veth1: {mac: '02:00:00:00:00:0b', address: 10.1.0.2/30}}
    listeners: ['10.1.0.2:80']
steps:
  - {id: frame, send: {by: a, dst: b}}
  - {id: knock, connect: {by: a, to: '10.1.0.2:80'}}
"""
    trace = run(parse_scenario(text))
    frame, knock = trace.steps
    assert frame.frames == [] and [(x.host, x.accepted) for x in frame.arrivals] == [("b", True)]
    assert knock.outcome == "connected"
    assert knock.neigh["a"]["10.1.0.2"]["state"] == "REACHABLE"


def test_a_firewall_reject_answers_with_icmp_port_unreachable_and_connect_is_refused() -> None:
    from netsim.frames import Icmp
    from netsim.scenario import parse_scenario
    from netsim.simulation import run

    text = """
title: reject
bridges: {br0: {host: h, address: 10.0.0.1/24, ports: {p1: {}}}}
hosts:
  h: {listeners: ['0.0.0.0:80'], reject_tcp_ports: [80]}
  a:
    interfaces: {eth0: {address: 10.0.0.2/24, plug: br0.p1}}
steps:
  - {id: s, connect: {by: a, to: '10.0.0.1:80'}}
"""
    step = run(parse_scenario(text)).steps[0]
    icmp = step.frames[-1].payload
    assert isinstance(icmp, Icmp) and (icmp.type, icmp.code) == (3, 3)
    assert icmp.original.dport == 80 and icmp.src_ip == "10.0.0.1"
    assert (step.outcome, step.elapsed) == ("refused", 0.0)


FIREWALL = """
title: firewall answers
bridges: {br0: {host: h, address: 10.0.0.1/24, ports: {p1: {}}}}
hosts:
  h: {listeners: ['0.0.0.0:80', '0.0.0.0:81'], reset_tcp_ports: [80], prohibit_tcp_ports: [81], drop_tcp_ports: [82]}
  a:
    interfaces: {eth0: {address: 10.0.0.2/24, plug: br0.p1}}
    gateway: 10.0.0.1
steps:
  - {id: reset, connect: {by: a, to: '10.0.0.1:80'}}
  - {id: prohibited, connect: {by: a, to: '10.0.0.1:81'}}
  - {id: nobody, connect: {by: a, to: '10.0.0.1:83'}}
  - {id: impatient, connect: {by: a, to: '10.0.0.1:82', deadline: 30}}
  - {id: later, wait: 8}
"""


def test_a_firewall_reset_is_the_same_rst_the_kernel_sends_when_nobody_listens() -> None:
    from netsim.frames import Tcp
    from netsim.scenario import parse_scenario
    from netsim.simulation import run

    reset, _, nobody, *_ = run(parse_scenario(FIREWALL)).steps
    ours, kernels = reset.frames[-1].payload, nobody.frames[-1].payload
    assert isinstance(ours, Tcp) and isinstance(kernels, Tcp)
    assert (reset.outcome, reset.elapsed) == ("refused", 0.0)  # though a socket listens behind the rule
    # nf_send_reset() and tcp_v4_send_reset() answer a SYN alike: RST|ACK, seq 0, ack = its seq + 1.
    assert (ours.flags, ours.seq, ours.src_ip) == (kernels.flags, kernels.seq, kernels.src_ip) == ("RA", 0, "10.0.0.1")


def test_admin_prohibited_is_no_route_to_host_at_once() -> None:
    from netsim.frames import Icmp
    from netsim.scenario import parse_scenario
    from netsim.simulation import run

    step = run(parse_scenario(FIREWALL)).steps[1]
    icmp = step.frames[-1].payload
    assert isinstance(icmp, Icmp) and (icmp.type, icmp.code) == (3, 13)  # ICMP_PKT_FILTERED
    assert (step.outcome, step.elapsed) == ("host-unreachable", 0.0)  # icmp_err_convert[13]: EHOSTUNREACH


def test_an_application_deadline_ends_the_knocking_before_the_kernel_would() -> None:
    from netsim.scenario import parse_scenario
    from netsim.simulation import run

    *_, impatient, later = run(parse_scenario(FIREWALL)).steps
    syns = [h.time - (impatient.time - impatient.elapsed) for h in impatient.frames if h.what.endswith("SYN")]
    assert (impatient.outcome, impatient.elapsed) == ("deadline", 30.0)
    assert syns == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0]
    assert later.frames == []  # the SYN due at 35 s never leaves: a closed socket sends nothing


# --- found unguarded by `make mutants`: each test below failed with the mutant it names planted ---


def test_a_knock_on_another_loopback_address_comes_from_127_0_0_1() -> None:
    # The local table's route for 127.0.0.0/8 carries `src 127.0.0.1` (fib_add_ifaddr() adds it
    # with the address of lo as prefsrc): a connect() to 127.0.0.2 leaves from 127.0.0.1, not from
    # 127.0.0.2 (`ip route get 127.0.0.2` says "local 127.0.0.2 dev lo src 127.0.0.1").
    step = simulate("- {id: self, connect: {by: host, to: '127.0.0.2:80'}}", listeners="'0.0.0.0:80'").steps[0]
    assert step.outcome == "connected"
    assert step.events[0] == "host sends TCP 127.0.0.1:40000 > 127.0.0.2:80 SYN through lo"


def test_an_application_deadline_does_not_delay_a_knock_that_is_answered() -> None:
    # The deadline is how long the program is willing to wait, not how long it waits: an answered
    # SYN ends the wait at once (simulation._connect_with_deadline stops when the state changes).
    step = simulate(
        "- {id: quick, connect: {by: a, to: '10.0.0.1:80', deadline: 2.5}}", listeners="'0.0.0.0:80'"
    ).steps[0]
    assert step.outcome == "connected"
    assert step.elapsed < 0.1


def test_an_open_connection_keeps_its_namespace_from_being_deleted_a_refused_one_does_not() -> None:
    from netsim.errors import ScenarioError

    base = "- {id: knock, connect: {by: a, to: '10.0.0.1:%s'%s}}\n- {id: gone, netns_del: a}"
    for port, deadline in (("80", ""), ("80", ", deadline: 2.5")):
        with pytest.raises(ScenarioError, match="a has an open TCP connection"):
            simulate(base % (port, deadline), listeners="'0.0.0.0:80'")
    for port, deadline in (("81", ""), ("81", ", deadline: 2.5")):  # refused: nothing stays open
        trace = simulate(base % (port, deadline), listeners="'0.0.0.0:80'")
        assert trace.steps[0].outcome == "refused"


def test_one_listener_sharing_the_port_does_not_excuse_another_that_does_not() -> None:
    # inet_csk_bind_conflict() walks every socket on the port: a SO_REUSEPORT one that shares is
    # skipped, and the next one, which does not share, still refuses the bind.
    from netsim.tcp import bind_error

    local = {"127.0.0.1", "10.0.0.1"}
    shared, alone = ("127.0.0.1", 80), ("10.0.0.1", 80)
    for order in ([shared, alone], [alone, shared]):
        assert bind_error(local, order, "0.0.0.0", 80, reuseport=True, shared={shared}) == "address-in-use"


def test_the_syn_a_revert_sends_once_more_is_the_connections_own() -> None:
    # tcp_ld_RTO_revert() has tcp_retransmit_timer() resend the head of the retransmit queue: the
    # very SYN connect() sent (its addresses, ports, sequence number and TTL), not a new one. In the
    # lab's scenarios that SYN waits on an ARP answer that never comes, so only this shows its fields.
    stack = SimpleNamespace(now=20.0, event=lambda text: None)
    # The socket's own number, which need not be the four's hash (a later socket on the same four's is not)
    isn = (initial_sequence("10.0.0.10", "10.0.0.11", 40000, 80) + 123_456_789) & 0xFFFFFFFF
    conn = Connection("10.0.0.10", 40000, "10.0.0.11", 80, ttl=7, sent=12.0, firings=tcp.LINEAR_TIMEOUTS + 1, isn=isn)
    syn = tcp.rto_revert(stack, Namespace("a", "A"), conn)  # type: ignore[arg-type]
    assert syn == Tcp("10.0.0.10", "10.0.0.11", 40000, 80, "S", isn, ttl=7)
    assert (conn.firings, conn.sent) == (tcp.LINEAR_TIMEOUTS + 2, 20.0)


# --- broadcast addresses in the neighbour table (outsider round 5: 72, 74) ------------------------------


def test_a_request_claiming_the_subnet_broadcast_cannot_poison_it() -> None:
    # arp_constructor() makes the entry for 10.0.0.255 NUD_NOARP with ff:ff:ff:ff:ff:ff; __neigh_update()
    # leaves NOARP alone, and `ip neigh show` hides it. netsim recorded c's MAC there, STALE.
    step = simulate(
        "- {id: s, send: {by: c, dst: broadcast, arp: {op: request, sender_ip: 10.0.0.255, target_ip: 10.0.0.11}}}"
    ).steps[0]
    assert [(h.src, h.dst) for h in step.frames] == [(MAC["c"], "ff:ff:ff:ff:ff:ff"), (MAC["b"], MAC["c"])]
    assert "10.0.0.255" not in step.neigh["b"]


def test_a_sender_in_0_0_0_0_slash_8_other_than_0_0_0_0_is_an_ordinary_address() -> None:
    # A current kernel takes 0.0.0.0/8 but 0.0.0.0 as unicast: the lab's 6.18 answered 0.1.2.3 and
    # learned it STALE (lab scenario arp-senders-crafted), as netsim does. Pinned, as it is easy to "fix".
    step = simulate(
        "- {id: s, send: {by: c, dst: broadcast, arp: {op: request, sender_ip: 0.1.2.3, target_ip: 10.0.0.11}}}"
    ).steps[0]
    assert [h.src for h in step.frames] == [MAC["c"], MAC["b"]]
    assert step.neigh["b"]["0.1.2.3"] == {"mac": MAC["c"], "state": "STALE", "dev": "eth0"}


def test_a_syn_from_the_subnet_broadcast_is_answered_to_every_port() -> None:
    # Not a martian (only multicast, 255.255.255.255 and 0/8 sources are); the SYN-ACK is routed
    # RTN_BROADCAST and leaves through the NOARP entry: ff:ff:ff:ff:ff:ff, no ARP asked. netsim dropped it.
    step = simulate(
        "- {id: s, send: {by: a, dst: host, syn: {src: '10.0.0.255:5556', dst: '10.0.0.1:80'}}}",
        listeners="'0.0.0.0:80'",
    ).steps[0]
    assert [(h.src, h.dst, h.what) for h in step.frames][:2] == [
        (MAC["a"], MAC["br0"], "TCP 10.0.0.255:5556 > 10.0.0.1:80 SYN"),
        (MAC["br0"], "ff:ff:ff:ff:ff:ff", "TCP 10.0.0.1:80 > 10.0.0.255:5556 SYN-ACK"),
    ]
    assert step.frames[1].decision == "flood"
    assert "10.0.0.255" not in step.neigh["host"]


def test_a_127_address_is_listed_first_and_never_chosen_as_a_source_elsewhere() -> None:
    # iproute2 gives 127/8 scope host; __inet_insert_ifa() puts a primary after the last primary of at
    # least its scope, so `ip addr` lists it first (outsider's 67); inet_select_addr() skips it for a
    # destination on none of the device's networks. netsim listed it last, and took it as that source.
    trace = simulate("""
        - {id: net, addr_add: {by: c, dev: eth0, address: 10.2.0.0/24}}
        - {id: lo-net, addr_add: {by: c, dev: eth0, address: 127.0.0.5/8}}
        - {id: second, addr_add: {by: c, dev: eth0, address: 10.0.0.13/24}}
    """)
    assert trace.step("second").links["c"]["eth0"]["addresses"] == [
        "127.0.0.5/8",
        "10.0.0.12/24",
        "10.2.0.0/24",
        "10.0.0.13/24",
    ]
    ns = Namespace("c", "c")
    added = ["127.0.0.5/8", "10.2.0.7/24"]
    ns.ifaces["eth0"] = Iface("eth0", MAC["c"], [ipaddress.IPv4Interface(a) for a in added], "veth")
    assert ns.source_address("eth0", "10.9.0.9") == "10.2.0.7"  # a `dev eth0` route to 10.9/16
    assert ns.source_address("eth0", "10.2.0.1") == "10.2.0.7"


# --- the ICMP error rate limit per destination (netsim.icmp; outsider round 5, 61) ----------------------


def test_a_new_peer_gets_a_burst_of_six_then_one_a_second() -> None:
    # inet_peer_xrlim_allow(): tokens grow with time up to 6 x 1 s; a new peer starts 60 s back.
    peers: dict[str, icmp.Peer] = {}
    assert [icmp.allow(peers, "10.0.0.10", 0.0) for _ in range(8)] == [True] * 6 + [False] * 2
    assert icmp.allow(peers, "10.0.0.11", 0.0)  # another destination has its own bucket
    assert not icmp.allow(peers, "10.0.0.10", 0.5)
    assert icmp.allow(peers, "10.0.0.10", 1.0) and not icmp.allow(peers, "10.0.0.10", 1.0)
    assert [icmp.allow(peers, "10.0.0.10", 100.0) for _ in range(7)] == [True] * 6 + [False]


def test_only_the_ratemask_types_are_limited() -> None:
    assert icmp.limited(3, 3) and icmp.limited(3, 13) and icmp.limited(11, 0)
    assert not icmp.limited(3, 4)  # fragmentation needed is never limited
    assert not icmp.limited(0, 0) and not icmp.limited(8, 0)  # echo reply and request are not errors


def test_eight_rejected_syns_at_once_get_six_answers_as_the_lab_s_kernel_gave() -> None:
    # tests/lab_scenarios/icmp-ratelimit-burst.yaml, recorded: 8 SYNs and 6 ICMP errors, then 2 and 2.
    trace = run(load_scenario(Path(__file__).parent / "lab_scenarios" / "icmp-ratelimit-burst.yaml"))

    def errors(step: str) -> int:
        return sum(isinstance(h.payload, Icmp) for h in trace.step(step).frames)

    assert (errors("eight-at-once"), errors("two-more")) == (6, 2)


LAB = Path(__file__).resolve().parent / "lab_scenarios"


@pytest.mark.parametrize(
    ("hz", "phase", "answered"), [(250, None, 0), (250, 0.0, 0), (250, 0.9, 1), (300, 0.0, 0), (300, 0.9, 1)]
)
def test_the_icmp_bucket_fills_by_whole_ticks_on_the_labs_clock(hz: int, phase: float | None, answered: int) -> None:
    # inet_peer_xrlim_allow() (net/ipv4/inetpeer.c) adds jiffies - rate_last to the tokens. Six errors at
    # 1 s spend a full bucket; a seventh SYN 0.999 s later needs HZ ticks. With the ticks at 0.4 ms past
    # every 4 ms (HZ 250, phase 0.9), 1 s and 1.999 s are 250 ticks apart: answered. With the ticks on
    # whole seconds (phase 0), 249: not; counted in seconds (no phase, the pages), 0.999 s: not.
    burst = load_scenario(LAB / "icmp-ratelimit-burst.yaml")
    six = dataclasses.replace(
        burst.steps[1], sends=dataclasses.replace(burst.steps[1].sends, frames=burst.steps[1].sends.frames[:6])
    )
    seventh = dataclasses.replace(
        burst.steps[3], sends=dataclasses.replace(burst.steps[3].sends, frames=burst.steps[3].sends.frames[:1])
    )
    scenario = dataclasses.replace(burst, steps=[burst.steps[0], six, seventh])
    clock = [(0.0, 0.01, 0.02), (1.0, 1.01, 1.02), (1.999, 2.01, 2.02)]  # the first step: ben learns ann
    trace = run(scenario, clock, hz=hz, tick_phase=phase)  # at HZ 300, 300 ticks are 0.9999999 s: a full second
    errors = [sum(isinstance(h.payload, Icmp) for h in step.frames) for step in trace.steps[1:]]
    assert errors == [6, answered]


def test_a_socket_connecting_to_its_own_address_and_port_opens_simultaneously_with_itself() -> None:
    # tcp_rcv_synsent_state_process(): its own SYN finds it in SYN_SENT before any listener.
    steps = run(load_scenario(LAB / "self-connect.yaml")).steps
    assert [s.outcome for s in steps] == ["connected", "connected", "refused"]
    assert [s.listener for s in steps] == [None, None, None]  # nothing listens anywhere


def test_a_firewall_reset_of_a_synack_is_a_bare_rst_that_ends_the_request_sock() -> None:
    reset, after, prohibited, later = run(load_scenario(LAB / "synack-reset-by-client.yaml")).steps
    segs = [f.payload for f in reset.frames if isinstance(f.payload, Tcp)]
    synacks = [s for s in segs if s.flags == "SA"]
    resets = [s for s in segs if "R" in s.flags]
    # nf_reject_ip_tcphdr_put(): for a segment with ACK, RST alone, its sequence number that ACK.
    assert [(r.flags, r.seq) for r in resets] == [("R", s.ack) for s in synacks] and len(resets) == 3
    # Each reset dropped its request sock (tcp_check_req()): no SYN-ACK of 41001 comes on its own.
    assert not [f for f in after.frames if isinstance(f.payload, Tcp)]
    # Admin prohibited leaves the request alone (tcp_req_err() aborts for none but net/host
    # unreachable, time exceeded and parameter problem): its SYN-ACK comes again after the connect.
    again = [f.payload for f in later.frames if isinstance(f.payload, Tcp)]
    assert again and all(s.flags == "SA" and s.dport == 41000 for s in again)


@pytest.mark.parametrize(
    ("kind", "code", "drops"),
    [(3, 1, True), (3, 0, True), (11, 0, True), (12, 0, True), (3, 3, False), (3, 13, False)],
)
def test_an_icmp_error_about_a_synack_drops_the_request_only_for_the_kernels_fatal_kinds(
    kind: int, code: int, drops: bool
) -> None:
    ns = Namespace("ben", "ben")
    key = ("10.1.0.10", 41000, "10.1.0.11", 80)
    ns.half_open[key] = "0.0.0.0:80"
    ns.request_snt_isn[key] = 7
    synack = Tcp("10.1.0.11", "10.1.0.10", 80, 41000, "SA", 7, 8)
    stack = SimpleNamespace(now=0.0, event=lambda text: None)
    tcp.error(stack, ns, Icmp("10.1.0.10", "10.1.0.11", kind, code, synack))  # type: ignore[arg-type]
    assert (key not in ns.half_open) is drops


@pytest.mark.parametrize(("kind", "code"), [(3, 1), (3, 0), (11, 0), (12, 0)])
def test_an_icmp_error_quoting_another_synack_on_the_same_four_leaves_the_request(kind: int, code: int) -> None:
    """tcp_req_err(): `seq != snt_isn`, an older request's SYN-ACK, is out of window even for a fatal kind."""
    ns = Namespace("ben", "ben")
    key = ("10.1.0.10", 41000, "10.1.0.11", 80)
    ns.half_open[key] = "0.0.0.0:80"
    ns.request_snt_isn[key] = 7 + 1_000_000
    older = Tcp("10.1.0.11", "10.1.0.10", 80, 41000, "SA", 7, 8)
    stack = SimpleNamespace(now=0.0, event=lambda text: None)
    tcp.error(stack, ns, Icmp("10.1.0.10", "10.1.0.11", kind, code, older))  # type: ignore[arg-type]
    assert key in ns.half_open


@pytest.mark.parametrize(
    ("target", "what"),
    [
        ("10.0.0.255", "a broadcast address"),
        ("255.255.255.255", "a broadcast address"),
        ("224.0.0.251", "a multicast address"),
        ("10.0.0.10", "one of its own addresses"),
    ],
)
def test_an_arp_step_to_an_address_with_no_question_to_ask_sends_nothing(target: str, what: str) -> None:
    # arp_constructor() makes a broadcast or multicast neighbour NUD_NOARP with a fixed MAC, and a
    # local address goes through lo: `ip neigh ... use` asks nobody, and the step says why.
    step = simulate(f"- {{id: s, arp: {{by: a, target: {target}}}}}").steps[0]
    assert step.frames == []
    assert step.events == [f"{target} is {what} for a: nothing to ask"]
    assert target not in step.neigh["a"]


def test_only_the_bare_rst_answering_the_syn_ack_resets_a_half_open_connection() -> None:
    # tcp_check_req() (net/ipv4/tcp_minisocks.c): the RST a peer sends for our SYN-ACK (seq = the
    # SYN-ACK's ack) drops the request sock; an RST|ACK, which answers a SYN (seq 0, the ACK of that
    # SYN, not of our SYN-ACK), is discarded and the request stays (a crafted SYN from the listener's
    # own address and port to the peer's earns one).
    events: list[str] = []
    stack = SimpleNamespace(now=1.0, event=events.append)
    ns = Namespace("host", "host")
    key = ("10.0.0.12", 5556, "10.0.0.1", 80)
    ns.half_open[key] = "0.0.0.0:80"
    ns.requests[key] = [1]
    rst_ack = Tcp("10.0.0.12", "10.0.0.1", 5556, 80, "RA", 0, 7)  # answers a SYN of seq 6 from :80
    assert tcp.receive(stack, ns, rst_ack) == tcp.Answer()  # type: ignore[arg-type]
    assert key in ns.half_open and key in ns.requests and events == []
    rst = Tcp("10.0.0.12", "10.0.0.1", 5556, 80, "R", 1001, 0)  # the peer's SYN had seq 1000
    assert tcp.receive(stack, ns, rst) == tcp.Answer()  # type: ignore[arg-type]
    assert key not in ns.half_open and key not in ns.requests
    assert events == ["host drops the half-open connection from 10.0.0.12:5556: it was reset"]


def test_an_answer_that_changes_nothing_does_not_restart_locktime() -> None:
    # __neigh_update() moves `updated` (where arp_process()'s locktime window starts) only when the
    # state or the MAC changes: "otherwise we risk to move the locktime window with noop updates and
    # ignore relevant ARP updates". b's repeated answer at 5 s changes nothing, so c's different
    # answer in the same instant is 5 s past the last change, outside locktime (1 s), and wins.
    trace = simulate("""
        - {id: ask, arp: {by: a, target: 10.0.0.11}}
        - {id: later, wait: 5}
        - {id: again, send: {by: b, dst: a, arp: {op: reply, sender_ip: 10.0.0.11, target_ip: 10.0.0.10}}}
        - {id: claim, send: {by: c, dst: a, arp: {op: reply, sender_ip: 10.0.0.11, target_ip: 10.0.0.10}}}
    """)
    again, claim = trace.steps[2:]
    assert again.events == [] and again.neigh["a"]["10.0.0.11"]["mac"] == MAC["b"]
    assert claim.events == []
    assert claim.neigh["a"]["10.0.0.11"] == {"mac": MAC["c"], "state": "REACHABLE", "dev": "eth0"}


def test_a_change_of_state_alone_restarts_locktime() -> None:
    # The other half of the same rule: b's unicast answer moves a's STALE entry (learnt from b's own
    # question) to REACHABLE with the same MAC; that is a change, so c's different answer in the same
    # instant falls inside locktime and is ignored.
    trace = simulate("""
        - {id: asks, arp: {by: b, target: 10.0.0.10}}
        - {id: later, wait: 5}
        - {id: answer, send: {by: b, dst: a, arp: {op: reply, sender_ip: 10.0.0.11, target_ip: 10.0.0.10}}}
        - {id: claim, send: {by: c, dst: a, arp: {op: reply, sender_ip: 10.0.0.11, target_ip: 10.0.0.10}}}
    """)
    answer, claim = trace.steps[2:]
    assert answer.neigh["a"]["10.0.0.11"] == {"mac": MAC["b"], "state": "REACHABLE", "dev": "eth0"}
    assert claim.events == [f"a keeps 10.0.0.11 at {MAC['b']}: a different answer inside locktime is ignored"]
    assert claim.neigh["a"]["10.0.0.11"]["mac"] == MAC["b"]


def test_a_challenge_ack_carries_the_connection_s_own_numbers_not_the_forged_syn_s() -> None:
    # tcp_send_challenge_ack() -> tcp_send_ack(): seq is the socket's snd_nxt (its SYN-ACK's seq + 1)
    # and ack its rcv_nxt (the client's SYN + 1), whatever the forged SYN's own sequence number.
    trace = simulate(
        """
        - {id: connects, connect: {by: a, to: '10.0.0.1:80', sport: 41000}}
        - {id: forged, send: {by: c, dst: host, syn: {src: '10.0.0.10:41000', dst: '10.0.0.1:80'}}}
        """,
        listeners="'0.0.0.0:80'",
    )
    syn, synack, _ = [h.payload for h in trace.steps[0].frames if isinstance(h.payload, Tcp)]
    forged, challenge = [h.payload for h in trace.steps[1].frames if isinstance(h.payload, Tcp)]
    assert (forged.flags, challenge.flags) == ("S", "A")
    assert (challenge.seq, challenge.ack) == (synack.seq + 1, syn.seq + 1)
    assert trace.steps[1].events[0] == "host hears a SYN on an established connection: it answers with a challenge ACK"


# A real lab run kept: two forged SYNs 0.499982 s apart on the lab's clock, 125 jiffies apart in the
# kernel, which answered the second (tcp_oow_rate_limited() counts ticks, not seconds).
TICKS_RUN = Path(__file__).resolve().parent / "kernel_edges" / "challenge-ack-125-ticks-in-under-half-a-second.json"


def ticks_run() -> tuple[object, dict]:
    from netsim.scenario import parse_scenario

    kept = json.loads(TICKS_RUN.read_text(encoding="utf-8"))
    return parse_scenario(kept["scenario_text"], "syn-into-established.yaml"), kept["trace"]


def test_the_out_of_window_limit_counts_jiffies_where_the_lab_says_where_they_ticked() -> None:
    scenario, kernel = ticks_run()
    first, again = kernel["steps"][1], kernel["steps"][2]
    assert 0.4999 < again["clock"]["at"] - first["clock"]["at"] < 0.5  # under the limit in seconds
    assert [h["carries"] for h in again["frames"]] == ["SYN", "ACK"]  # and yet the kernel answered
    agree, lines, trace, _ = compare_with_kernel(scenario, kernel)
    assert agree, "\n".join(lines)
    assert "it answers with a challenge ACK" in trace.steps[2].events[0]


def test_without_the_tick_phase_that_run_disagrees_and_the_limit_counts_seconds() -> None:
    scenario, kernel = ticks_run()
    agree, lines, _, _ = compare_with_kernel(scenario, {k: v for k, v in kernel.items() if k != "tick_phase"})
    assert not agree
    assert any(line.startswith("✗ [3] forged-syn-again-at-once") for line in lines)


@pytest.mark.parametrize(
    ("hz", "phase", "since", "allowed"),
    [
        (250, None, 0.1, 0.6),  # no tick grid known: seconds
        (250, 0.0, 0.0, 0.5),  # since on a tick: 125 ticks later
        (250, 0.5, 0.0, 0.498),  # since half a tick in: the 125th tick comes 2 ms early
        (250, 0.999, 0.0, 0.496004),  # since just before a tick: almost a whole tick early
        (250, 0.0, 0.003, 0.5),  # since inside the tick that began at 0
        (300, 0.0, 0.0, 150 * 0.003333333),  # TICK_NSEC is 3,333,333 ns at HZ 300: 150 of them
        (1000, 0.25, 0.0, 0.49975),
    ],
)
def test_passed_at_is_the_tick_a_limit_allows_from(hz: int, phase: float | None, since: float, allowed: float) -> None:
    from netsim.simulation import Simulation

    sim = Simulation(load_scenario(Path(__file__).resolve().parent / "lab_scenarios" / "syn-into-established.yaml"))
    sim.hz, sim.tick_phase = hz, phase
    assert sim.passed_at(since, tcp.INVALID_RATELIMIT) == pytest.approx(allowed, abs=1e-9)
    sim.hz = None
    assert sim.passed_at(since, tcp.INVALID_RATELIMIT) == pytest.approx(since + 0.5)


@pytest.mark.parametrize(
    ("phase", "since", "allowed"),
    [
        (None, 0.1, 1.1 + 1e-9),  # no tick grid known: a moment past the seconds
        (0.0, 0.0, 1.004),  # time_after(jiffies, updated + 250): the 251st tick
        (0.5, 0.0, 1.002),  # updated half a tick in: that tick comes 2 ms early
    ],
)
def test_time_after_asks_one_tick_more(phase: float | None, since: float, allowed: float) -> None:
    from netsim.neighbour import LOCKTIME
    from netsim.simulation import Simulation

    sim = Simulation(load_scenario(Path(__file__).resolve().parent / "lab_scenarios" / "garp-within-locktime.yaml"))
    sim.hz, sim.tick_phase = 250, phase
    assert sim.passed_at(since, LOCKTIME, after=True) == pytest.approx(allowed, abs=1e-12)


@pytest.mark.parametrize(("gap", "kept"), [(1.002, True), (1.0041, False)])
def test_arps_locktime_counts_ticks_on_the_labs_clock(gap: float, kept: bool) -> None:
    # arp_process(): override = time_after(jiffies, n->updated + LOCKTIME). On the lab's clock with
    # its ticks at multiples of 4 ms (HZ 250, phase 0), c's different answer 1.002 s after b's is 250
    # ticks later, not yet past: b's stands. Counted in seconds it would have won. At 1.0041 s, 251.
    garp = load_scenario(Path(__file__).resolve().parent / "lab_scenarios" / "garp-within-locktime.yaml")
    two = dataclasses.replace(garp, steps=garp.steps[:2])
    clock = [(0.0, 0.01, 0.02), (gap, gap + 0.01, gap + 0.02)]
    entry = run(two, clock, hz=250, tick_phase=0.0).steps[1].neigh["a"]["10.0.0.11"]
    assert entry["mac"] == (MAC["b"] if kept else "02:00:00:00:00:0c")
    seconds = run(two, clock, hz=250).steps[1].neigh["a"]["10.0.0.11"]  # no phase: seconds, as the pages
    assert seconds["mac"] == "02:00:00:00:00:0c"


def test_tick_nsec_is_the_kernels_rounded_jiffy() -> None:
    from netsim.timerwheel import tick_nsec

    assert [tick_nsec(hz) for hz in (100, 250, 300, 1000)] == [10_000_000, 4_000_000, 3_333_333, 1_000_000]
    # (NSEC_PER_SEC + HZ/2) / HZ rounds half a nanosecond up: at HZ 1024 (some architectures' choice)
    # a jiffy is 976,562.5 ns, and TICK_NSEC is 976,563.
    assert tick_nsec(1024) == 976_563


def test_the_kernels_hz_is_read_from_the_first_build_configuration_that_names_it(tmp_path: Path) -> None:
    import gzip

    from netsim.timerwheel import kernel_hz

    packed, plain, silent = tmp_path / "config.gz", tmp_path / "config", tmp_path / "silent"
    with gzip.open(packed, "wt") as f:
        f.write("CONFIG_HZ_250=y\nCONFIG_HZ=250\n")
    plain.write_text("# CONFIG_HZ_1000 is not set\nCONFIG_HZ=300\n")
    silent.write_text("CONFIG_NET=y\n")
    missing = str(tmp_path / "missing.gz")
    assert kernel_hz((str(packed), str(plain))) == 250
    assert kernel_hz((missing, str(plain))) == 300  # a file the machine does not keep is passed over
    assert kernel_hz((str(silent), str(plain))) == 300  # and so is one that does not name it
    assert kernel_hz((missing, str(silent))) is None


def test_a_syn_ack_nobody_asked_for_is_reset_and_the_reset_drops_the_half_open_connection() -> None:
    # b writes a SYN by hand (no socket of its own): host's listener answers SYN-ACK, b's kernel has
    # no socket for it and answers a bare RST whose seq is the SYN-ACK's ack (tcp_v4_send_reset()),
    # which is in the request's window: host drops the request (tcp_check_req()).
    step = simulate(
        "- {id: s, send: {by: b, dst: host, syn: {src: '10.0.0.11:5556', dst: '10.0.0.1:80'}}}",
        listeners="'0.0.0.0:80'",
    ).steps[0]
    syn, synack, rst = [h.payload for h in step.frames if isinstance(h.payload, Tcp)]
    assert (synack.flags, rst.flags) == ("SA", "R")
    assert (rst.seq, rst.ack, synack.ack) == (syn.seq + 1, 0, syn.seq + 1)
    assert step.events[-2:] == [
        "b has no connection with 10.0.0.1:80: it answers RST",
        "host drops the half-open connection from 10.0.0.11:5556: it was reset",
    ]


QUEUED = Path(__file__).resolve().parent / "kernel_edges" / "syn-retransmit-while-queued"


def _kept_run_agrees() -> bool:
    scenario = load_scenario(QUEUED.with_suffix(".yaml"))
    kernel = json.loads(QUEUED.with_suffix(".json").read_text(encoding="utf-8"))
    return compare_with_kernel(scenario, kernel)[0]


def test_a_syn_retransmission_sends_nothing_while_the_last_copy_waits_for_arp() -> None:
    # outsider 4's 16 (its kernel run kept): the revert measures from the SYN that left, not the skipped firing
    kernel = json.loads(QUEUED.with_suffix(".json").read_text(encoding="utf-8"))
    last = kernel["steps"][3]
    assert [h["carries"] for h in last["frames"]].count("ARP request") == 7  # 3 unicast + 4 broadcast
    assert last["neigh"]["ann"]["10.88.0.11"]["state"] == "INCOMPLETE"
    assert _kept_run_agrees()


def test_a_retransmission_that_left_again_while_queued_disagrees_with_that_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import netsim.simulation

    monkeypatch.setattr(netsim.simulation, "_still_queued", lambda ns, syn: False)
    assert not _kept_run_agrees()


@pytest.mark.parametrize(("seq", "resets"), [(1001, True), (1000, False), (1002, False), (0, False)])
def test_an_rst_resets_an_established_connection_only_at_rcv_nxt(seq: int, resets: bool) -> None:
    # tcp_validate_incoming(): seq == rcv_nxt resets (tcp_reset()); netsim keeps no window, so any other is dropped.
    ns = Namespace("ben", "ben")
    local = ("10.1.0.11", 80, "10.1.0.10", 41000)
    ns.established[local], ns.rcv_nxt[local] = float("-inf"), 1001
    gone: list[tuple[str, int, str, int]] = []
    stack = SimpleNamespace(now=0.0, event=lambda text: None, connection_reset=lambda _ns, four: gone.append(four))
    rst = Tcp("10.1.0.10", "10.1.0.11", 41000, 80, "R", seq, 0)
    assert tcp.receive(stack, ns, rst).replies == ()  # type: ignore[arg-type]
    assert (local not in ns.established) is resets
    assert gone == ([local] if resets else [])


def test_an_accepted_socket_s_first_segment_carries_the_handshake_s_pending_confirmation() -> None:
    # sk_dst_confirm() from the handshake's last ACK; __tcp_transmit_skb() copies the bit into the next
    # segment, whichever it is (here a challenge ACK), and sock_confirm_neigh() clears it: the second
    # challenge ACK carries nothing.
    trace = run(load_scenario(Path("tests/lab_scenarios/ctfix-challenge-ack-confirms.yaml")))
    acks = [
        h.payload
        for h in trace.step("forged-syn").frames
        if isinstance(h.payload, Tcp) and h.payload.flags == "A" and h.payload.sport == 80
    ]
    assert acks and all(a.pending_confirm for a in acks)
    ns = Namespace("ben", "ben")
    ns.established[("10.1.0.11", 80, "10.1.0.10", 41000)] = 0.0
    ns.dst_pending_confirm.add(("10.1.0.11", 80, "10.1.0.10", 41000))
    seg = Tcp("10.1.0.11", "10.1.0.10", 80, 41000, "A", 1, 1)
    assert tcp.carry_confirm(ns, seg).pending_confirm
    assert not tcp.carry_confirm(ns, seg).pending_confirm
