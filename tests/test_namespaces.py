"""Namespaces as rooms built step by step: what `ip netns add`, veth pairs, moves, renames, link
state, addresses and routes do, one mechanism per test."""

from __future__ import annotations

import pytest
from conftest import simulate

from netsim.errors import ScenarioError
from netsim.scenario import parse_scenario
from netsim.simulation import run

BASE = """
title: rooms
bridges:
  br0: {host: h, mac: '02:00:00:00:00:01', address: 10.0.0.1/24, ports: {v0: {}}}
hosts:
  h: {listeners: ['127.0.0.1:80']}
  c: {absent: true}
steps:
"""
BUILD = """
  - {id: room, netns_add: c}
  - {id: lo, link_set: {by: c, dev: lo, up: true}}
  - {id: cable, veth_add: {by: h, name: v0, peer: t0, mac: '02:00:00:00:00:10', peer_mac: '02:00:00:00:00:11'}}
  - {id: move, link_move: {by: h, dev: t0, to: c}}
  - {id: rename, link_rename: {by: c, dev: t0, name: eth0}}
  - {id: plug, link_set: {by: h, dev: v0, master: br0, up: true}}
  - {id: addr, addr_add: {by: c, dev: eth0, address: 10.0.0.2/24}}
  - {id: up, link_set: {by: c, dev: eth0, up: true}}
"""


def trace(steps: str):  # noqa: ANN201 - a Trace
    return run(parse_scenario(BASE + steps, "rooms.yaml"))


def test_a_new_namespace_has_only_lo_and_it_is_down_without_an_address() -> None:
    step = trace("  - {id: room, netns_add: c}").steps[0]
    assert list(step.links["c"]) == ["lo"]
    assert step.links["c"]["lo"]["state"] == "DOWN" and step.links["c"]["lo"]["addresses"] == []
    assert step.neigh["c"] == {}


def test_with_lo_down_even_127_0_0_1_is_unreachable() -> None:
    t = trace("  - {id: room, netns_add: c}\n  - {id: k, connect: {by: c, to: '127.0.0.1:80'}}")
    assert t.steps[1].outcome == "network-unreachable"


def test_bringing_lo_up_gives_it_127_0_0_1() -> None:
    t = trace("  - {id: room, netns_add: c}\n  - {id: lo, link_set: {by: c, dev: lo, up: true}}")
    assert t.steps[1].links["c"]["lo"]["addresses"] == ["127.0.0.1/8"]


def test_the_same_address_and_port_listen_in_two_namespaces_apart() -> None:
    t = trace(
        BUILD
        + """
  - {id: listen, listen: {by: c, bind: '127.0.0.1:80'}}
  - {id: mine, connect: {by: c, to: '127.0.0.1:80'}}
  - {id: gone, close: {by: c, bind: '127.0.0.1:80'}}
  - {id: theirs-invisible, connect: {by: c, to: '127.0.0.1:80'}}
"""
    )
    assert t.step("listen").listeners == {"h": ["127.0.0.1:80"], "c": ["127.0.0.1:80"]}
    assert t.step("mine").outcome == "connected"
    assert t.step("theirs-invisible").outcome == "refused"  # h still listens, in another room


def test_a_moved_end_arrives_down_and_the_cable_stays_connected() -> None:
    t = trace(BUILD)
    move = t.step("move")
    assert move.links["c"]["t0"]["state"] == "DOWN"
    assert move.links["h"]["v0"]["peer"] == "c/t0" and "t0" not in move.links["h"]
    assert t.step("rename").links["h"]["v0"]["peer"] == "c/eth0"


def test_a_frame_written_into_one_end_comes_out_of_the_other() -> None:
    t = trace(BUILD + "  - {id: note, send: {by: c, dev: eth0, dst: broadcast}}")
    (hop,) = t.step("note").frames
    assert (hop.in_port, hop.decision, hop.out_ports) == ("v0", "flood", ("br0",))


def test_a_frame_into_a_cable_whose_other_end_is_down_is_lost() -> None:
    t = trace(
        BUILD.replace(
            "  - {id: plug, link_set: {by: h, dev: v0, master: br0, up: true}}",
            "  - {id: plug, link_set: {by: h, dev: v0, master: br0}}",
        )
        + "  - {id: note, send: {by: c, dev: eth0, dst: broadcast}}"
    )
    assert t.step("note").frames == []
    assert any("is down" in e for e in t.step("note").events)


def test_the_container_reaches_the_hosts_seat_through_the_cable() -> None:
    t = trace(BUILD + "  - {id: knock, connect: {by: c, to: '10.0.0.1:80'}}")
    assert t.step("knock").outcome == "refused"  # h listens on its own 127.0.0.1 only
    assert t.step("knock").frames[0].in_port == "v0"


def test_an_interface_renamed_while_up_keeps_its_routes_and_neighbours() -> None:
    # Since 6.2 dev_change_name() renames a device that is up; no NETDEV_DOWN, so nothing is lost.
    t = trace(
        BUILD
        + "  - {id: knock, connect: {by: c, to: '10.0.0.1:80'}}\n"
        + "  - {id: again, link_rename: {by: c, dev: eth0, name: eth1}}"
    )
    step = t.step("again")
    assert step.links["c"]["eth1"]["state"] == "UP" and "eth0" not in step.links["c"]
    assert any("dev eth1" in line for line in step.routes["c"])
    assert [n["dev"] for n in step.neigh["c"].values()] == ["eth1"]


def test_a_step_on_an_interface_that_does_not_exist_yet_names_what_does() -> None:
    with pytest.raises(ScenarioError) as info:
        trace("  - {id: room, netns_add: c}\n  - {id: up, link_set: {by: c, dev: eth0, up: true}}")
    assert str(info.value).endswith(
        "steps[1].link_set.dev: c has no interface 'eth0' at this step; "
        'the kernel refuses (Cannot find device "eth0"); it has: lo'
    )


def test_netns_add_needs_a_host_declared_absent() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(BASE + "  - {id: room, netns_add: h}", "rooms.yaml")
    assert "'h' is not a host declared with absent: true; expected one of: c" in str(info.value)


def test_a_connection_to_its_own_loopback_keeps_no_other_room_from_going() -> None:
    # h talks to 127.0.0.1, which only ever reaches h itself: c's namespace may still be deleted
    # (a connection held in c would forbid it; netsim does not model the FIN or RST it would send).
    t = trace(
        "  - {id: room, netns_add: c}\n  - {id: lo, link_set: {by: c, dev: lo, up: true}}\n"
        "  - {id: home, connect: {by: h, to: '127.0.0.1:80'}}\n  - {id: c-gone, netns_del: c}\n"
    )
    assert t.step("home").outcome == "connected"
    assert "c" not in t.step("c-gone").links


def test_an_address_on_a_bridge_port_is_refused_as_netsim_s_limit() -> None:
    # The kernel allows it, but the port's own stack never sees what arrives there (br_handle_frame()):
    # netsim says it does not model it, in either order (address first, or port first), at the field
    # that makes the second half: the address's device, or the port's master.
    limit = "v0 is a port of br0; netsim does not model an address on a bridge port"
    with pytest.raises(ScenarioError, match=limit) as late:
        trace(BUILD + "  - {id: a, addr_add: {by: h, dev: v0, address: 10.1.0.1/24}}\n")
    assert str(late.value).startswith("rooms.yaml:18: steps[8].addr_add.dev: ")
    early = BUILD.replace(
        "  - {id: plug,", "  - {id: a, addr_add: {by: h, dev: v0, address: 10.1.0.1/24}}\n  - {id: plug,"
    )
    with pytest.raises(ScenarioError, match=limit) as first:
        trace(early)
    assert str(first.value).startswith("rooms.yaml:16: steps[6].link_set.master: ")


def test_a_port_whose_cable_first_gets_carrier_starts_forwarding_rather_than_again() -> None:
    """Post two plugs veth0 into podman0 while the container's end is down: the port never forwarded
    (br_add_if() enables a port only if its device is up with carrier), so when eth0 comes up the
    bridge starts forwarding on it for the first time (br_port_carrier_check()), not 'again'."""
    from pathlib import Path

    from netsim.scenario import load_scenario

    root = Path(__file__).resolve().parent.parent
    trace = run(load_scenario(root / "diagrams" / "rooms-inside-rooms.yaml"))
    assert not any("podman0" in e and "veth0" in e for e in trace.step("plug-into-podman0").events if "forward" in e)
    assert "podman0 starts forwarding on veth0, now that it has carrier" in trace.step("eth0-up").events


def test_renaming_one_interface_leaves_the_other_routes_as_they_were() -> None:
    # dev_change_name() touches one device: the routes through b's eth0 keep their gateway.
    trace = simulate("""
        - {id: route, route_add: {by: b, to: 10.9.0.0/16, via: 10.0.0.1}}
        - {id: cable, veth_add: {by: b, name: v0, peer: v1}}
        - {id: rename, link_rename: {by: b, dev: v0, name: wan0}}
    """)
    assert trace.steps[2].routes["b"] == [
        "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.11",
        "10.9.0.0/16 via 10.0.0.1 dev eth0",
    ]
    assert "wan0" in trace.steps[2].links["b"]


ROOM = """
title: a room
bridges:
  br0: {host: h, ports: {p1: {}, p2: {}}}
hosts:
  h: {}
  a:
    interfaces: {eth0: {mac: '02:00:00:00:00:0a', address: 10.0.0.10/24, plug: br0.p1}}
  b:
    listeners: ['0.0.0.0:80']
    interfaces: {eth0: {mac: '02:00:00:00:00:0b', address: 10.0.0.11/24, plug: br0.p2}}
"""


@pytest.mark.parametrize(
    ("b_runs", "why"),
    [
        ("    sshd: true\n", "b runs sshd"),
        ("    dns_servers: [{listen: 10.0.0.11, records: {x: 10.0.0.9}}]\n", "b runs a DNS"),
    ],
)
def test_a_host_running_a_server_program_is_not_deleted_as_if_its_namespace_went(b_runs: str, why: str) -> None:
    # sshd's or dnsmasq's socket keeps the namespace alive after `ip netns del`: devices, port and answers stay.
    scenario = ROOM + b_runs + "steps:\n  - {id: gone, netns_del: b}\n"
    with pytest.raises(ScenarioError, match=why):
        run(parse_scenario(scenario, "room.yaml"))


def test_a_host_with_a_syn_ack_waiting_is_not_deleted_as_if_its_namespace_went() -> None:
    # a request sock holds its listener (reqsk_alloc()) and so the namespace until its timer runs.
    steps = (
        "steps:\n"
        "  - {id: quiet, set_port: {bridge: br0, port: p1, learning: false, flood: false}}\n"
        "  - {id: b-knows-a, arp: {by: b, target: 10.0.0.10}}\n"
        "  - {id: knock, connect: {by: a, to: '10.0.0.11:80', deadline: 2.5}}\n"
        "  - {id: gone, netns_del: b}\n"
    )
    with pytest.raises(ScenarioError, match="b has a half-open connection"):
        run(parse_scenario(ROOM + steps, "room.yaml"))
    # Once the request gave up (63 s), the namespace goes with its name.
    later = steps.replace("  - {id: gone", "  - {id: later, wait: 70}\n  - {id: gone")
    assert "b" not in run(parse_scenario(ROOM + later, "room.yaml")).step("gone").links
