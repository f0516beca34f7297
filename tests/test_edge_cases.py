"""Flags, orders and timer states no post's scenario reaches, each held to the kernel's behaviour.

Every test here was shown to fail against the fault it guards (the fault is named in its
docstring): the code was broken on purpose, the test watched fail, the code restored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MAC, ROOM, ROOT, room, simulate

from netsim import routing, tcp
from netsim.errors import ScenarioError
from netsim.neighbour import DELAY_FIRST_PROBE, UCAST_SOLICIT, NeighbourTable
from netsim.scenario import load_scenario, parse_scenario
from netsim.simulation import run

MCAST = "01:00:5e:00:00:01"


# --- the bridge: flags, hairpin, learning order, ports that are down --------------------------------


def test_multicast_obeys_its_own_flood_flag_not_the_broadcast_one() -> None:
    """Guards: multicast looked up under bcast_flood (br_flood() picks BR_MCAST_FLOOD for it)."""
    trace = simulate(f"""
        - {{id: no-mcast-to-p2, set_port: {{bridge: br0, port: p2, mcast_flood: false}}}}
        - {{id: no-bcast-to-p3, set_port: {{bridge: br0, port: p3, bcast_flood: false}}}}
        - {{id: mcast, send: {{by: a, dst: '{MCAST}'}}}}
        - {{id: bcast, send: {{by: a, dst: broadcast}}}}
    """)
    assert trace.step("mcast").frames[0].out_ports == ("p3", "br0")
    assert trace.step("bcast").frames[0].out_ports == ("p2", "br0")


def test_unknown_unicast_obeys_flood_not_mcast_flood() -> None:
    """Guards: unknown unicast looked up under a group flag."""
    trace = simulate("""
        - {id: no-mcast-to-p2, set_port: {bridge: br0, port: p2, mcast_flood: false, bcast_flood: false}}
        - {id: unknown, send: {by: a, dst: c}}
    """)
    assert trace.step("unknown").frames[0].out_ports == ("p2", "p3")


def test_a_flag_set_off_and_on_again_floods_again() -> None:
    trace = simulate("""
        - {id: flood-off, set_port: {bridge: br0, port: p2, flood: false}}
        - {id: unknown, send: {by: a, dst: c}}
        - {id: flood-on, set_port: {bridge: br0, port: p2, flood: true}}
        - {id: unknown-again, send: {by: b, dst: c}}
        - {id: to-a, send: {by: c, dst: '02:00:00:00:00:99'}}
    """)
    assert trace.step("unknown").frames[0].out_ports == ("p3",)
    assert trace.step("to-a").frames[0].out_ports == ("p1", "p2")


def test_hairpin_sends_a_flood_back_out_of_the_port_it_came_in_by() -> None:
    """Guards: a flood that skips the ingress port even with hairpin on (should_deliver())."""
    trace = simulate(
        f"""
        - {{id: unknown, send: {{by: a, dst: b}}}}
        - {{id: bcast, send: {{by: a, dst: broadcast}}}}
        - {{id: mcast, send: {{by: a, dst: '{MCAST}'}}}}
        """,
        p1="hairpin: true",
    )
    assert trace.step("unknown").frames[0].out_ports == ("p1", "p2", "p3")
    assert trace.step("bcast").frames[0].out_ports == ("p1", "p2", "p3", "br0")
    assert trace.step("mcast").frames[0].out_ports == ("p1", "p2", "p3", "br0")


def test_without_hairpin_a_flood_never_goes_back_where_it_came_from() -> None:
    step = simulate("- {id: unknown, send: {by: a, dst: b}}").steps[0]
    assert "p1" not in step.frames[0].out_ports


def test_the_bridge_learns_before_it_looks_up() -> None:
    """Guards: lookup before learning. br_handle_frame_finish() learns first, so a frame to the
    sender's own MAC finds it on the ingress port and is dropped, not flooded."""
    step = simulate(f"- {{id: self, send: {{by: a, dst: '{MAC['a']}'}}}}").steps[0]
    (hop,) = step.frames
    assert (hop.decision, hop.out_ports, hop.learned) == ("drop", (), "new")
    assert hop.reason == "destination is on the port it came from"


def test_a_bridge_port_set_down_gets_no_copies_and_forgets_what_it_learned() -> None:
    """Guards: a port whose device is down still flooded to, or still holding its learned MACs.
    br_stp_disable_port() flushes them (br_fdb_delete_by_port()); the lab agrees
    (tests/lab_scenarios/port-down-flushes-fdb.yaml)."""
    trace = simulate("""
        - {id: b-speaks, send: {by: b, dst: broadcast}}
        - {id: c-speaks, send: {by: c, dst: broadcast}}
        - {id: p2-down, link_set: {by: host, dev: p2, up: false}}
        - {id: unknown, send: {by: a, dst: c}}
        - {id: bcast, send: {by: a, dst: broadcast}}
        - {id: to-b, send: {by: a, dst: b}}
        - {id: p2-up, link_set: {by: host, dev: p2, up: true}}
        - {id: to-b-again, send: {by: a, dst: b}}
    """)
    assert trace.step("p2-down").links["host"]["p2"]["state"] == "DOWN"
    # br_fdb_delete_by_port(): the port forgets what it learned; other ports' entries stay.
    assert trace.step("c-speaks").fdb["br0"] == {MAC["b"]: "p2", MAC["c"]: "p3"}
    assert trace.step("p2-down").fdb["br0"] == {MAC["c"]: "p3"}
    assert MAC["b"] not in trace.step("p2-down").fdb["br0"]
    assert trace.step("unknown").frames[0].out_ports == ("p3",)
    assert trace.step("bcast").frames[0].out_ports == ("p3", "br0")
    hop = trace.step("to-b").frames[0]
    assert (hop.decision, hop.out_ports) == ("flood", ("p3",))
    assert trace.step("to-b-again").frames[0].out_ports == ("p2", "p3")


# --- ARP and the neighbour table: known neighbours, DELAY and PROBE --------------------------------


def test_a_request_from_a_known_neighbour_keeps_a_better_state() -> None:
    """Guards: neigh_update() demoting a valid entry to STALE when the address has not changed."""
    trace = simulate("""
        - {id: a-asks, arp: {by: a, target: 10.0.0.11}}
        - {id: b-uses-its-stale-entry, arp: {by: b, target: 10.0.0.10}}
        - {id: b-probes, wait: 5}
    """)
    probe = [h for h in trace.step("b-probes").frames if h.src == MAC["b"]]
    assert [(h.dst, h.decision) for h in probe] == [(MAC["a"], "forward")]  # unicast: a PROBE
    assert trace.step("b-probes").neigh["a"]["10.0.0.11"]["state"] == "REACHABLE"


class _Clock:
    now = 0.0

    def schedule(self, delay: float, callback: object, name: str = "") -> None:
        pass


class _Ops:
    def solicit(self, entry: object) -> None:
        pass

    def output(self, entry: object, parked: object) -> None:
        pass

    def error_report(self, entry: object, parked: object) -> None:
        pass

    def constructor(self, entry: object) -> None:
        pass


def test_a_request_from_a_known_neighbour_with_a_new_mac_updates_the_entry() -> None:
    """Guards: a neighbour update that keeps the old MAC (neigh_update() with OVERRIDE), or that
    takes a different answer inside locktime without it (arp_process(): the first answer wins)."""
    clock, table = _Clock(), NeighbourTable()
    table.attach(clock, _Ops())
    entry = table.lookup("10.0.0.11", "eth0")
    table.update(entry, MAC["b"], "REACHABLE", override=False)
    clock.now = 0.5
    assert not table.update(entry, "02:00:00:00:00:98", "REACHABLE", override=False)  # inside locktime
    assert entry.mac == MAC["b"]
    clock.now = 1.0
    table.update(entry, "02:00:00:00:00:99", "STALE", override=True)  # neigh_event_ns() overrides
    assert (entry.mac, entry.state) == ("02:00:00:00:00:99", "STALE")
    # The same MAC again, as STALE: a REACHABLE entry stays REACHABLE.
    clock.now = 2.0
    table.update(entry, "02:00:00:00:00:99", "REACHABLE", override=False)
    clock.now = 3.0
    table.update(entry, "02:00:00:00:00:99", "STALE", override=True)
    assert entry.state == "REACHABLE"


def test_using_a_stale_entry_goes_to_delay_then_probe_then_reachable() -> None:
    """Guards: the DELAY and PROBE timers (neigh_timer_handler()): STALE in use -> DELAY, after
    delay_first_probe_time with no confirmation -> PROBE with a unicast request -> REACHABLE."""
    trace = simulate(f"""
        - {{id: ask, arp: {{by: a, target: 10.0.0.11}}}}
        - {{id: stale, wait: 31}}
        - {{id: use, connect: {{by: a, to: '10.0.0.11:80'}}}}
        - {{id: almost, wait: {DELAY_FIRST_PROBE - 0.5}}}
        - {{id: probe, wait: 0.5}}
    """)
    assert trace.step("stale").neigh["a"]["10.0.0.11"]["state"] == "STALE"
    assert trace.step("use").outcome == "refused"  # an RST confirms nothing
    assert trace.step("use").neigh["a"]["10.0.0.11"]["state"] == "DELAY"
    assert trace.step("almost").neigh["a"]["10.0.0.11"]["state"] == "DELAY"
    assert trace.step("almost").frames == []
    probe = trace.step("probe")
    request = probe.frames[0]
    assert (request.src, request.dst, request.decision) == (MAC["a"], MAC["b"], "forward")
    assert request.what == "ARP who-has 10.0.0.11 tell 10.0.0.10"
    assert probe.neigh["a"]["10.0.0.11"]["state"] == "REACHABLE"


def test_an_unanswered_probe_is_sent_ucast_solicit_times_then_fails() -> None:
    """Guards: PROBE retrying broadcast, forever, or a wrong number of times before FAILED."""
    trace = simulate(f"""
        - {{id: ask, arp: {{by: a, target: 10.0.0.11}}}}
        - {{id: stale, wait: 31}}
        - {{id: use, connect: {{by: a, to: '10.0.0.11:80'}}}}
        - {{id: b-gone, link_set: {{by: b, dev: eth0, up: false}}}}
        - {{id: probing, wait: {DELAY_FIRST_PROBE}}}
        - {{id: given-up, wait: {UCAST_SOLICIT}}}
    """)
    assert trace.step("probing").neigh["a"]["10.0.0.11"]["state"] == "PROBE"
    probes = trace.step("probing").frames + trace.step("given-up").frames
    # b's port lost carrier with b's eth0 and forgot b's MAC: the unicast probes are flooded.
    assert [(h.dst, h.decision) for h in probes] == [(MAC["b"], "flood")] * UCAST_SOLICIT
    assert trace.step("given-up").neigh["a"]["10.0.0.11"]["state"] == "FAILED"


def test_a_confirmation_as_the_delay_begins_is_too_old() -> None:
    """Guards: a DELAY that began with the SYN its SYN-ACK confirmed turning REACHABLE unprobed.

    The kernel's DELAY timer fires at least a jiffy late (calc_index(), kernel/time/timer.c), so
    time_before_eq(now, confirmed + delay_first_probe_time) fails for a confirmation in the jiffy
    the DELAY began: the entry is probed (tests/lab_scenarios/stale-use-confirmed-at-once.yaml)."""
    trace = simulate(
        f"""
        - {{id: ask, arp: {{by: a, target: 10.0.0.1}}}}
        - {{id: stale, wait: 31}}
        - {{id: use, connect: {{by: a, to: '10.0.0.1:80'}}}}
        - {{id: later, wait: {DELAY_FIRST_PROBE}}}
        """,
        listeners="0.0.0.0:80",
    )
    assert trace.step("use").outcome == "connected"
    assert trace.step("use").neigh["a"]["10.0.0.1"]["state"] == "DELAY"
    asked = [h for h in trace.step("later").frames if h.src == MAC["a"] and "who-has" in h.what]
    assert [h.dst for h in asked] == [MAC["br0"]]  # one unicast probe, answered
    assert trace.step("later").neigh["a"]["10.0.0.1"]["state"] == "REACHABLE"


def test_a_confirmed_connection_cancels_the_probe() -> None:
    """Guards: DELAY going to PROBE even after TCP confirmed the neighbour (dst_confirm())."""
    trace = simulate(
        """
        - {id: ask, arp: {by: a, target: 10.0.0.1}}
        - {id: stale, wait: 31}
        - {id: use, connect: {by: a, to: '10.0.0.1:80'}}
        - {id: meanwhile, wait: 2}
        - {id: again, connect: {by: a, to: '10.0.0.1:80'}}
        - {id: later, wait: 4}
        """,
        listeners="0.0.0.0:80",
    )
    assert trace.step("again").outcome == "connected"
    # neigh_confirm() only moves `confirmed`; DELAY, begun 2 s before this confirmation, turns
    # REACHABLE at its timer, with no probe.
    assert trace.step("again").neigh["a"]["10.0.0.1"]["state"] == "DELAY"
    assert trace.step("later").neigh["a"]["10.0.0.1"]["state"] == "REACHABLE"
    asked = [h for h in trace.step("later").frames if h.src == MAC["a"] and "who-has" in h.what]
    assert asked == []  # a sends no probe (the host may probe a: its own entry was only used)


# --- sockets and routes -----------------------------------------------------------------------------


def test_an_exact_listener_wins_over_the_wildcard_when_both_exist() -> None:
    """Guards: the wildcard looked up first (__inet_lookup_listener(): exact address, then ANY)."""
    listeners = {("0.0.0.0", 80), ("10.0.0.1", 80)}
    assert tcp.find_listener(listeners, "10.0.0.1", 80) == ("10.0.0.1", 80)
    assert tcp.find_listener(listeners, "127.0.0.1", 80) == ("0.0.0.0", 80)
    assert tcp.find_listener(listeners, "10.0.0.1", 81) is None
    # Both at once exist only with SO_REUSEPORT; without it the second bind() fails, and so does check.
    with pytest.raises(ScenarioError, match=r"EADDRINUSE, Address already in use"):
        simulate("- {id: k, connect: {by: a, to: '10.0.0.1:80'}}", listeners="0.0.0.0:80, 10.0.0.1:80")


def test_a_route_through_a_device_that_is_down_is_no_route() -> None:
    """Guards: routes kept on a device that went down (fib_sync_down_dev() marks them dead)."""
    trace = simulate("""
        - {id: down, link_set: {by: a, dev: eth0, up: false}}
        - {id: on-link, connect: {by: a, to: '10.0.0.11:80'}}
        - {id: via-gateway, connect: {by: a, to: '192.0.2.1:80'}}
        - {id: up, link_set: {by: a, dev: eth0, up: true}}
        - {id: again, connect: {by: a, to: '10.0.0.1:80'}}
    """)
    assert trace.step("on-link").outcome == "network-unreachable"
    assert trace.step("on-link").frames == []
    assert trace.step("via-gateway").outcome == "network-unreachable"
    assert trace.step("again").outcome == "refused"


# --- namespaces: moves and names --------------------------------------------------------------------

ROOMS = """
title: rooms
bridges:
  br0: {host: h, mac: '02:00:00:00:00:01', address: 10.0.0.1/24, ports: {v0: {}}}
hosts:
  h: {listeners: ['0.0.0.0:80']}
  c: {absent: true}
  d: {absent: true}
steps:
  - {id: room-c, netns_add: c}
  - {id: room-d, netns_add: d}
  - {id: cable, veth_add: {by: h, name: v0, peer: t0, mac: '02:00:00:00:00:10', peer_mac: '02:00:00:00:00:11'}}
  - {id: plug, link_set: {by: h, dev: v0, master: br0, up: true}}
  - {id: move, link_move: {by: h, dev: t0, to: c}}
"""


def rooms(steps: str):  # noqa: ANN201 - a Trace
    return run(parse_scenario(ROOMS + steps, "rooms.yaml"))


def test_a_moved_end_that_was_up_with_an_address_arrives_down_and_bare() -> None:
    """Guards: a move that keeps the address, the up state or the route (dev_change_net_namespace()
    closes the device and the old namespace's inet device, with its addresses, goes away)."""
    t = rooms("""
  - {id: addr, addr_add: {by: c, dev: t0, address: 10.0.0.2/24}}
  - {id: up, link_set: {by: c, dev: t0, up: true}}
  - {id: lo, link_set: {by: c, dev: lo, up: true}}
  - {id: onward, link_move: {by: c, dev: t0, to: d}}
  - {id: knock, connect: {by: c, to: '10.0.0.1:80'}}
  - {id: same-name, veth_add: {by: c, name: t0, peer: t5}}
  - {id: same-name-up, link_set: {by: c, dev: t0, up: true}}
  - {id: knock-again, connect: {by: c, to: '10.0.0.1:80'}}
""")
    assert t.step("up").links["c"]["t0"] == {
        **t.step("up").links["c"]["t0"],
        "state": "UP",
        "addresses": ["10.0.0.2/24"],
    }
    moved = t.step("onward").links
    assert "t0" not in moved["c"]
    assert (moved["d"]["t0"]["state"], moved["d"]["t0"]["addresses"]) == ("DOWN", [])
    assert t.step("knock").outcome == "network-unreachable"  # the route left with the device
    # A new device under the old name inherits nothing: no address, so no route.
    assert t.step("knock-again").outcome == "network-unreachable"


def test_a_name_is_free_again_once_its_device_moved_away() -> None:
    """Guards: a moved device left behind under its old name (the name stays taken)."""
    t = rooms("""
  - {id: again, veth_add: {by: h, name: t0, peer: t1}}
  - {id: back, link_move: {by: c, dev: t0, to: d}}
""")
    links = t.step("again").links
    assert links["h"]["t0"]["peer"] == "h/t1"
    assert links["c"]["t0"]["peer"] == "h/v0" and links["h"]["v0"]["peer"] == "c/t0"
    assert links["h"]["t0"]["mac"] != links["c"]["t0"]["mac"]
    assert t.step("back").links["d"]["t0"]["peer"] == "h/v0"


# --- found by `make mutants`: behaviour no other test pinned ------------------------------------------


def test_the_story_a_step_tells_is_the_one_netsim_run_prints() -> None:
    """The events are the story `netsim run` tells and the caption of a step with no frame."""
    trace = simulate("""
        - {id: ask, arp: {by: a, target: 10.0.0.11}}
        - {id: nobody, arp: {by: a, target: 10.0.0.99}}
        - {id: knock, connect: {by: a, to: '10.0.0.1:80'}}
        - {id: listen, listen: {by: host, bind: '10.0.0.1:81'}}
        - {id: knock2, connect: {by: a, to: '10.0.0.1:81'}}
        - {id: close, close: {by: host, bind: '10.0.0.1:81'}}
        - {id: nowhere, connect: {by: b, to: '192.0.2.1:80'}}
    """)
    bystanders = ["host ignores a request for someone else", "c ignores a request for someone else"]
    assert trace.step("ask").events == [*bystanders, "b answers: 10.0.0.11 is at 02:00:00:00:00:0b"]
    assert trace.step("nobody").events == bystanders * 3 + ["a gives up on 10.0.0.99: nobody answered"]
    assert trace.step("knock").events == [
        "host answers: 10.0.0.1 is at 02:00:00:00:00:01",
        "c ignores a request for someone else",
        "a learns 10.0.0.1 is at 02:00:00:00:00:01",
        "no listener on host for 10.0.0.1:80: the kernel answers RST",
    ]
    assert trace.step("listen").events == ["host listens on 10.0.0.1:81"]
    assert trace.step("knock2").events == [
        "host's listener on 10.0.0.1:81 answers SYN-ACK",
        "host completes the handshake",
    ]
    assert trace.step("close").events == ["host stops listening on 10.0.0.1:81"]
    assert trace.step("nowhere").events == ["b has no route to 192.0.2.1"]


def test_a_flood_that_skips_the_ingress_port_behaves_as_the_tuple_it_stands_for() -> None:
    from netsim.bridge import Excluding

    ports = ("p1", "p2", "p3")
    rest = Excluding(ports, "p2", {p: i for i, p in enumerate(ports)})
    assert (len(rest), list(rest), rest[0], rest[-1], rest[0:2]) == (2, ["p1", "p3"], "p1", "p3", ("p1", "p3"))
    assert "p1" in rest and "p2" not in rest and "p9" not in rest
    assert rest == ("p1", "p3") and rest == ["p1", "p3"] and rest != ("p1", "p2", "p3")
    assert rest.__eq__(42) is NotImplemented
    assert hash(rest) == hash(("p1", "p3")) and repr(rest) == "('p1', 'p3')"


def test_an_icmp_error_settles_only_the_connection_it_quotes() -> None:
    """tcp_v4_err() finds the socket by the quoted header; other connections are untouched."""
    from netsim.frames import Icmp, Tcp
    from netsim.netns import Connection, Namespace

    ns = Namespace("a", "a")
    mine, other = Connection("10.0.0.10", 40000, "10.0.0.1", 80), Connection("10.0.0.10", 40001, "10.0.0.1", 81)
    ns.connections += [mine, other]
    events: list[str] = []
    sim = type("Sim", (), {"event": lambda self, text: events.append(text)})()
    quoted = Tcp("10.0.0.10", "10.0.0.1", 40000, 80, "S")
    tcp.error(sim, ns, Icmp("10.0.0.1", "10.0.0.10", 3, 3, quoted))  # type: ignore[arg-type]
    assert (mine.state, other.state) == ("refused", "SYN_SENT")
    assert events == ["a reads the ICMP error: refused"]
    other_quoted = Tcp("10.0.0.10", "10.0.0.1", 40001, 81, "S")
    tcp.error(sim, ns, Icmp("10.0.0.1", "10.0.0.10", 3, 1, other_quoted))  # type: ignore[arg-type]
    assert other.state == "host-unreachable"
    assert events[-1] == "a reads the ICMP error: host unreachable"


def test_ip_route_get_answers_as_the_kernel_and_iproute2_do() -> None:
    """`ip route get`: the local table first (127/8 from 127.0.0.1), then on-link, then a gateway."""
    trace = simulate("""
        - {id: own, route_get: {by: a, to: 10.0.0.10}}
        - {id: loopback, route_get: {by: a, to: 127.0.0.5}}
        - {id: link, route_get: {by: a, to: 10.0.0.11}}
        - {id: gateway, route_get: {by: a, to: 192.0.2.7}}
        - {id: none, route_get: {by: b, to: 192.0.2.7}}
    """)
    local = {"type": "local", "gateway": None, "dev": "lo"}
    assert trace.step("own").route == {**local, "dst": "10.0.0.10", "prefsrc": "10.0.0.10"}
    assert trace.step("loopback").route == {**local, "dst": "127.0.0.5", "prefsrc": "127.0.0.1"}
    unicast = {"type": "unicast", "dev": "eth0", "prefsrc": "10.0.0.10"}
    assert trace.step("link").route == {**unicast, "dst": "10.0.0.11", "gateway": None}
    assert trace.step("gateway").route == {**unicast, "dst": "192.0.2.7", "gateway": "10.0.0.1"}
    assert trace.step("none").route == {"error": "Network is unreachable"}
    said = {s.id: routing.route_get_text(s.route) for s in trace.steps if s.route}
    assert said == {
        "own": "local 10.0.0.10 dev lo src 10.0.0.10 uid 0 \n    cache <local> ",
        "loopback": "local 127.0.0.5 dev lo src 127.0.0.1 uid 0 \n    cache <local> ",
        "link": "10.0.0.11 dev eth0 src 10.0.0.10 uid 0 \n    cache ",
        "gateway": "192.0.2.7 via 10.0.0.1 dev eth0 src 10.0.0.10 uid 0 \n    cache ",
        "none": "RTNETLINK answers: Network is unreachable",
    }
    assert trace.step("gateway").events == [
        "a: ip route get 192.0.2.7 -> 192.0.2.7 via 10.0.0.1 dev eth0 src 10.0.0.10 uid 0"
    ]


def test_a_reachable_entry_used_lately_goes_to_delay_not_stale() -> None:
    """neigh_timer_handler(): when REACHABLE runs out, an entry used within delay_first_probe_time
    goes to DELAY (and is probed), one unused goes STALE. "Used" is neigh_event_send(): `ip neigh
    ... use` (NTF_USE, the `arp` step) here; a packet sent while REACHABLE does not count (below)."""
    trace = simulate("""
        - {id: ask, arp: {by: a, target: 10.0.0.11}}
        - {id: later, wait: 28}
        - {id: use, arp: {by: a, target: 10.0.0.11}}
        - {id: expires, wait: 2}
        - {id: delayed, wait: 5}
        - {id: probed, wait: 1}
    """)
    state = {s.id: s.neigh["a"]["10.0.0.11"]["state"] for s in trace.steps}
    assert state == {
        "ask": "REACHABLE",
        "later": "REACHABLE",
        "use": "REACHABLE",
        "expires": "REACHABLE",  # at exactly confirmed + reachable_time it still is
        "delayed": "DELAY",
        "probed": "REACHABLE",
    }
    probe = [h for h in trace.step("probed").frames if h.src == MAC["a"]]
    assert [(h.dst, h.what) for h in probe] == [(MAC["b"], "ARP who-has 10.0.0.11 tell 10.0.0.10")]


def test_a_packet_through_a_reachable_entry_is_no_use_and_it_goes_stale() -> None:
    """neigh_output() (include/net/neighbour.h): a REACHABLE entry sends with its cached header and
    never reaches neigh_event_send(); the refused knock's RST confirms nothing either."""
    trace = simulate("""
        - {id: ask, arp: {by: a, target: 10.0.0.11}}
        - {id: later, wait: 28}
        - {id: knock, connect: {by: a, to: '10.0.0.11:80'}}
        - {id: expires, wait: 3}
    """)
    assert trace.step("knock").outcome == "refused"
    assert trace.step("expires").neigh["a"]["10.0.0.11"]["state"] == "STALE"


def test_a_confirmation_keeps_an_entry_reachable_past_its_first_deadline() -> None:
    """neigh_timer_handler(): REACHABLE lasts reachable_time from the last confirmation."""
    trace = simulate("""
        - {id: ask, arp: {by: a, target: 10.0.0.11}}
        - {id: listen, listen: {by: b, bind: '0.0.0.0:80'}}
        - {id: later, wait: 20}
        - {id: confirm, connect: {by: a, to: '10.0.0.11:80'}}
        - {id: first-deadline-past, wait: 25}
        - {id: second-deadline-past, wait: 6}
    """)
    assert trace.step("confirm").outcome == "connected"
    assert trace.step("first-deadline-past").neigh["a"]["10.0.0.11"]["state"] == "REACHABLE"
    assert trace.step("second-deadline-past").neigh["a"]["10.0.0.11"]["state"] == "STALE"


def test_a_device_set_down_forgets_its_neighbours_only() -> None:
    """neigh_ifdown() -> neigh_flush_dev(): the entries of that device go, other hosts keep theirs."""
    trace = simulate("""
        - {id: ask, arp: {by: a, target: 10.0.0.11}}
        - {id: down, link_set: {by: a, dev: eth0, up: false}}
    """)
    assert list(trace.step("ask").neigh["a"]) == ["10.0.0.11"]
    assert trace.step("down").neigh["a"] == {}
    assert trace.step("down").neigh["b"] == trace.step("ask").neigh["b"] != {}


def test_the_packet_that_waits_for_arp_leaves_as_soon_as_the_answer_comes() -> None:
    """arp_queue: the SYN that needed the neighbour waits for the reply and is sent at once (no
    retransmission a second later)."""
    step = simulate("- {id: knock, connect: {by: a, to: '10.0.0.1:80'}}").steps[0]
    assert [h.what for h in step.frames] == [
        "ARP who-has 10.0.0.1 tell 10.0.0.10",
        "ARP 10.0.0.1 is-at 02:00:00:00:00:01",
        "TCP 10.0.0.10:40000 > 10.0.0.1:80 SYN",
        "TCP 10.0.0.1:80 > 10.0.0.10:40000 RST",
    ]
    assert (step.outcome, step.elapsed) == ("refused", 0.0)


def test_an_arp_table_figure_before_anyone_asked_says_so() -> None:
    from netsim.render import tables

    step = simulate("- {id: quiet, wait: 1}").steps[0]
    assert tables.neigh_table(room("- {id: quiet, wait: 1}"), step) == (
        '<p class="ns-empty">Nobody\'s ARP table has an entry yet.</p>'
    )


def test_deleting_a_device_takes_its_own_routes_and_no_others() -> None:
    """Guards: unregister_netdevice() keeping the deleted device's routes and dropping the rest.

    fib_disable_ip() (net/ipv4/fib_frontend.c) flushes the routes whose next hop is on the device
    going away; the host's route through br0 stays, so br0's network is still reachable.
    """
    trace = simulate("""
        - {id: cable, veth_add: {by: host, name: v0, peer: v1}}
        - {id: address, addr_add: {by: host, dev: v0, address: 10.9.0.1/24}}
        - {id: up, link_set: {by: host, dev: v0, up: true}}
        - {id: far-before, route_get: {by: host, to: 10.9.0.5}}
        - {id: gone, link_del: {by: host, dev: v0}}
        - {id: far-after, route_get: {by: host, to: 10.9.0.5}}
        - {id: near-after, route_get: {by: host, to: 10.0.0.10}}
    """)
    assert trace.step("far-before").route == {
        "type": "unicast",
        "dst": "10.9.0.5",
        "gateway": None,
        "dev": "v0",
        "prefsrc": "10.9.0.1",
    }
    assert trace.step("far-after").route == {"error": "Network is unreachable"}
    assert trace.step("near-after").route == {
        "type": "unicast",
        "dst": "10.0.0.10",
        "gateway": None,
        "dev": "br0",
        "prefsrc": "10.0.0.1",
    }


def test_the_source_address_is_the_one_on_the_next_hop_s_network() -> None:
    """Guards: `ip route get` answering with the interface's first address whatever the next hop.

    With no `src` on the route, fib_result_prefsrc() asks inet_select_addr() (net/ipv4/devinet.c)
    for the device's address in the next hop's subnet: the destination's when it is on-link, the
    gateway's when the route goes through one.
    """
    trace = simulate("""
        - {id: second-subnet, addr_add: {by: a, dev: eth0, address: 10.9.0.10/24}}
        - {id: near, route_get: {by: a, to: 10.9.0.5}}
        - {id: no-default, route_del: {by: a, to: default}}
        - {id: default-on-the-second, route_add: {by: a, to: default, via: 10.9.0.1}}
        - {id: far, route_get: {by: a, to: 192.0.2.7}}
    """)
    assert trace.step("near").route == {
        "type": "unicast",
        "dst": "10.9.0.5",
        "gateway": None,
        "dev": "eth0",
        "prefsrc": "10.9.0.10",
    }
    assert trace.step("far").route == {
        "type": "unicast",
        "dst": "192.0.2.7",
        "gateway": "10.9.0.1",
        "dev": "eth0",
        "prefsrc": "10.9.0.10",
    }


def test_a_port_plugged_back_gets_the_flags_the_topology_declares_for_it() -> None:
    """Guards: the declared flags handed to the new port in the wrong order (hairpin lost).

    del_nbp() frees the port and new_nbp() (net/bridge/br_if.c) makes a new one with defaults; the
    lab then sets the flags the topology declares for that port (netsim/plan.py), as at the start.
    So p1, declared hairpin, reflects a frame for a MAC learned on p1 itself, before and after.
    """
    trace = simulate(
        """
        - {id: before, send: {by: a, dst: a}}
        - {id: out, nomaster: {by: host, dev: p1}}
        - {id: back, link_set: {by: host, dev: p1, master: br0}}
        - {id: after, send: {by: a, dst: a}}
        """,
        p1="hairpin: true",
    )
    for step in ("before", "after"):
        hop = trace.step(step).frames[0]
        assert (hop.decision, hop.out_ports) == ("forward", ("p1",)), step


def test_any_address_in_127_8_is_bindable_once_lo_has_127_0_0_1() -> None:
    """Guards: the loopback test of bind() turned around (127/8 bindable only while lo lacks 127.0.0.1).

    inet_bind() asks inet_addr_type(): the local route `127.0.0.0/8 dev lo`, which lo gets with
    127.0.0.1 when it first comes up (fib_add_ifaddr()), makes every 127.x address local.
    """
    up = {"127.0.0.1", "10.0.0.10"}
    assert tcp.bind_error(up, set(), "127.0.0.5", 81) is None
    assert tcp.bind_error({"10.0.0.10"}, set(), "127.0.0.5", 81) == "address-not-available"
    assert tcp.bind_error(up, {("127.0.0.5", 81)}, "127.0.0.5", 81) == "address-in-use"
    trace = simulate("- {id: listen-127, listen: {by: a, bind: '127.0.0.5:81'}}")
    assert trace.step("listen-127").listeners["a"] == ["127.0.0.5:81"]


def test_a_route_that_names_only_its_device_is_on_link() -> None:
    """`ip route add 10.9.0.0/16 dev eth0`: a scenario's route with a device and no gateway sends
    straight out of that device (scope link), asking ARP for the destination itself."""
    text = ROOM.format(steps="  - {id: far, route_get: {by: b, to: 10.9.0.5}}", ageing=300, p1="", listeners="")
    text = text.replace(
        "interfaces: {eth0: {mac: 02:00:00:00:00:0b, address: 10.0.0.11/24, plug: br0.p2}}",
        "interfaces: {eth0: {mac: 02:00:00:00:00:0b, address: 10.0.0.11/24, plug: br0.p2}}\n"
        "    routes: [{to: 10.9.0.0/16, dev: eth0}]",
    )
    route = run(parse_scenario(text, "room.yaml")).step("far").route
    assert route == {"type": "unicast", "dst": "10.9.0.5", "gateway": None, "dev": "eth0", "prefsrc": "10.0.0.11"}


def test_every_line_of_the_mac_table_shows_its_seat_and_marks_only_new_lines() -> None:
    """Guards (make mutants, tables fdb_table): a line the step did not write marked with anything
    (`x_fdb_table__mutmut_28`), or a seat named from the wrong argument (`_47`, "False" in the seat
    column). figfacts reads the rows' badges, marks and data-port, not the seat's words: so the rows
    are pinned whole, as the reader sees them, in both the technical and the story view."""
    from netsim.render import tables

    scenario = room(
        """
        - {id: b-speaks, send: {by: b, dst: broadcast}}
        - {id: a-speaks, send: {by: a, dst: broadcast}}
        """,
        p1="label: the window seat",
    )
    step = run(scenario).step("a-speaks")
    new_a = '<tr class="ns-row-new" data-learned-by="0"><td><code>02:00:00:00:00:0a</code>'
    new_a += ' <span class="ns-new">new</span></td>'
    old_b = "<tr><td><code>02:00:00:00:00:0b</code></td>"
    technical = tables.fdb_table(scenario, step)
    rows = f"{new_a}<td>the window seat (<code>p1</code>)</td><td>a</td></tr>"
    rows += f"{old_b}<td>p2 (<code>p2</code>)</td><td>b</td></tr>"
    assert technical[technical.index("<tbody>") :] == f"<tbody>{rows}</tbody></table>"
    story = tables.fdb_table(scenario, step, story=True)
    rows = f'{new_a}<td data-port="p1">the window seat</td><td>a</td></tr>'
    rows += f'{old_b}<td data-port="p2">p2</td><td>b</td></tr>'
    assert story[story.index("<tbody>") :] == f"<tbody>{rows}</tbody></table>"


def test_a_caption_names_the_hosts_seat_in_the_words_of_its_view() -> None:
    """Guards (make mutants, words x_hop_sentence__mutmut_36): the seats a frame went to named in the
    kernel's words in the story's caption ("br0 (host's seat)" instead of "host's seat")."""
    from netsim.render import words

    scenario = room("- {id: s, send: {by: a, dst: broadcast}}")
    step = run(scenario).steps[0]
    (hop,) = step.frames
    assert ": copied to p2, p3 and host's seat (" in words.hop_sentence(scenario, hop, step, story=True)
    assert ": flooded to p2, p3 and br0 (host's seat) (" in words.hop_sentence(scenario, hop, step)


def test_a_drawing_grows_to_hold_a_word_past_its_edge_and_only_then() -> None:
    """Guards (make mutants, graph _fit_words): the drawing's top edge starting at 1 instead of 0,
    so every figure, all of whose words fit, lost its top point (x__fit_words__mutmut_23); a word
    past the left edge measured from its wrong end (_55); the bottom margin one point off (_78).
    The golden figures keep the DOT text, not the SVG this rewrites; so the SVG is held here."""
    from netsim.render.graph import _fit_words

    def svg(text: str) -> str:
        return (
            '<svg width="100pt" height="50pt"\n viewBox="0 0 100 50">\n'
            '<g id="graph0" class="graph" transform="scale(1 1) rotate(0) translate(4 46)">\n'
            f"{text}\n</g>\n</svg>"
        )

    def word(anchor: str, x: int, y: int, text: str) -> str:
        return f'<text text-anchor="{anchor}" x="{x}" y="{y}" font-size="10">{text}</text>'

    fits = svg(word("middle", 50, -20, "hi"))
    assert _fit_words(fits) == fits
    # ~0.3 em each side of a letter's middle, plus 2 points (4 under the baseline), as graph.py reckons:
    # "wide words" ends at 164, "left side" starts at -50, "up" tops at -16, "down" ends at 60.
    words = [word("start", 98, -20, "wide words"), word("end", 2, -20, "left side")]
    words += [word("middle", 50, -50, "up"), word("middle", 50, 10, "down")]
    grown = _fit_words(svg("\n".join(words)))
    assert grown.startswith('<svg width="214pt" height="76pt"\n viewBox="-50 -16 214 76">')


def test_a_port_set_down_says_what_it_forgot_and_only_if_anything() -> None:
    """Guards (make mutants, simulation _sync_links__mutmut_18): a port that had learned nothing
    still said "it forgets" followed by nothing. The events are the story `netsim run` tells."""
    trace = simulate("""
        - {id: b-speaks, send: {by: b, dst: broadcast}}
        - {id: p2-down, link_set: {by: host, dev: p2, up: false}}
        - {id: p3-down, link_set: {by: host, dev: p3, up: false}}
    """)
    assert trace.step("p2-down").events[-1] == f"br0 stops using p2; it forgets {MAC['b']}"
    assert trace.step("p3-down").events[-1] == "br0 stops using p3"


def test_a_connection_leaves_from_the_address_on_the_destinations_network() -> None:
    """Guards (make mutants, simulation x__source__mutmut_7): the source taken as the device's first
    address whatever the destination. The connected route of 10.5.0.0/24 says `src 10.5.0.10`
    (fib_add_ifaddr()), so a knock on 10.5.0.11 leaves from 10.5.0.10, not from 10.0.0.10."""
    trace = simulate("""
        - {id: second, addr_add: {by: a, dev: eth0, address: 10.5.0.10/24}}
        - {id: b-second, addr_add: {by: b, dev: eth0, address: 10.5.0.11/24}}
        - {id: knock, connect: {by: a, to: '10.5.0.11:80'}}
    """)
    assert [h.what for h in trace.step("knock").frames] == [
        "ARP who-has 10.5.0.11 tell 10.5.0.10",
        "ARP 10.5.0.11 is-at 02:00:00:00:00:0b",
        "TCP 10.5.0.10:40000 > 10.5.0.11:80 SYN",
        "TCP 10.5.0.11:80 > 10.5.0.10:40000 RST",
    ]


def test_a_packet_from_the_receivers_own_address_is_a_martian() -> None:
    """fib_validate_source() (net/ipv4/fib_frontend.c): a SYN from outside claiming the receiver's own
    address is dropped before TCP, so nobody answers SYN-ACK through lo (accept_local is 0)."""
    root = Path(__file__).resolve().parent.parent
    trace = run(load_scenario(root / "tests" / "lab_scenarios" / "spoofed-local-source.yaml"))
    for step, host in (("to-laptop-from-laptop", "the laptop"), ("to-ann-from-ann", "ann")):
        events = trace.step(step).events
        assert any(e.startswith(f"{host} drops a packet from its own address") for e in events), events
        assert not any("SYN-ACK" in e or "RST" in e for e in events), events


def test_an_address_on_a_down_interface_says_its_route_waits_for_the_link() -> None:
    """fib_add_ifaddr() adds the prefix route only while the device is up (net/ipv4/fib_frontend.c):
    the event text says what the simulation did, not "and a route to" before the route exists
    (post two's step 15 said so once while eth0 was down)."""
    trace = simulate("""
        - {id: a-down, link_set: {by: a, dev: eth0, up: false}}
        - {id: second, addr_add: {by: a, dev: eth0, address: 10.5.0.10/24}}
        - {id: a-up, link_set: {by: a, dev: eth0, up: true}}
        - {id: third, addr_add: {by: a, dev: eth0, address: 10.6.0.10/24}}
    """)
    assert trace.step("second").events == [
        "a's eth0 gets 10.5.0.10/24; its route to 10.5.0.0/24 waits until eth0 comes up"
    ]
    assert trace.step("a-up").events[0] == "a's eth0 is now up, and with it a route to 10.0.0.0/24, 10.5.0.0/24"
    assert trace.step("third").events == ["a's eth0 gets 10.6.0.10/24, and a route to 10.6.0.0/24"]


def test_a_port_forwards_again_only_if_it_forwarded_before() -> None:
    """The bridge's event names the port's history: a port whose cable first gets both ends up
    "starts forwarding" (post two's veth0), one that had forwarded and stopped "forwards again"."""
    trace = simulate("""
        - {id: a-down, link_set: {by: a, dev: eth0, up: false}}
        - {id: a-up, link_set: {by: a, dev: eth0, up: true}}
    """)
    assert trace.step("a-down").events[-1] == "br0 stops using p1"
    assert trace.step("a-up").events[-1] == "br0 forwards on p1 again, now that it has carrier"
    post_two = run(load_scenario(ROOT / "diagrams" / "rooms-inside-rooms.yaml"))
    assert "podman0 starts forwarding on veth0, now that it has carrier" in post_two.step("eth0-up").events
    assert not any("again" in e for s in post_two.steps for e in s.events)
