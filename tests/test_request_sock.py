"""A request sock (the server's half-open connection) meeting a SYN that is not its own.

The kernel tells a SYN sent again by the same socket (the same initial sequence number) from a new
socket's SYN on the same four addresses and ports (another number: secure_tcp_seq() adds a 64 ns
clock to a hash). tcp_check_req() answers the first with its SYN-ACK again and the second with a
bare ACK; the client resets, and its SYN goes again two ticks later. The lab agrees
(tests/lab_scenarios/new-syn-meets-old-request.yaml).
"""

from __future__ import annotations

from netsim.scenario import parse_scenario
from netsim.simulation import run
from netsim.trace import tcp_ports

ROOM = """
title: t
bridges:
  br0: {host: hub, ports: {s1: {}, s2: {}, s3: {}}}
hosts:
  hub: {}
  cli:
    interfaces: {eth0: {mac: '02:00:00:00:00:0c', address: 10.3.0.10/24, plug: br0.s1, duplicate: true}}
    drop_tcp_ports: [40001]
    tcp_syn_retries: 1
  twin:
    interfaces: {eth0: {mac: '02:00:00:00:00:0d', address: 10.3.0.10/24, plug: br0.s3, duplicate: true}}
  srv:
    interfaces: {eth0: {mac: '02:00:00:00:00:05', address: 10.3.0.5/24, plug: br0.s2}}
    listeners: ['0.0.0.0:80']
steps:
  - {id: first, connect: {by: cli, to: '10.3.0.5:80', sport: 40001}}
"""


def flags(step) -> list[str]:
    return [hop.payload.flags for hop in step.frames if hop.bridge == "br0" and tcp_ports(hop.payload)]


def test_a_new_socket_on_the_same_four_is_answered_ack_then_resets_and_connects_two_ticks_later() -> None:
    steps = (
        "  - {id: unblock, firewall_del: {by: cli, rule: drop_tcp_ports, port: 40001}}\n"
        "  - {id: again, connect: {by: cli, to: '10.3.0.5:80', sport: 40001}}\n"
    )
    t = run(parse_scenario(ROOM + steps, "room.yaml"), hz=250)
    first, again = t.step("first"), t.step("again")
    assert first.outcome == "timeout"
    assert flags(again) == ["S", "A", "R", "S", "SA", "A"]
    assert again.outcome == "connected"
    assert again.elapsed < 0.05  # TCP_TIMEOUT_MIN, 8 ms at HZ 250: not the second a timer would take
    syns = [hop.payload for hop in first.frames + again.frames if tcp_ports(hop.payload) and hop.payload.flags == "S"]
    assert len({s.seq for s in syns}) == 2  # each socket keeps its own number; the second's is not the first's
    ack = next(hop.payload for hop in again.frames if tcp_ports(hop.payload) and hop.payload.flags == "A")
    assert ack.ack == syns[0].seq + 1  # the request acknowledges the SYN it was made from


def test_another_host_wearing_the_same_address_meets_the_first_ones_request() -> None:
    steps = "  - {id: twin-knocks, connect: {by: twin, to: '10.3.0.5:80', sport: 40001}}\n"
    t = run(parse_scenario(ROOM + steps, "room.yaml"), hz=250)
    assert flags(t.step("twin-knocks"))[:3] == ["S", "A", "R"]
    assert t.step("twin-knocks").outcome == "connected"


def test_the_same_socket_sending_its_syn_again_gets_the_syn_ack_again() -> None:
    first = run(parse_scenario(ROOM, "room.yaml"), hz=250).step("first")
    assert "A" not in flags(first) and "R" not in flags(first)
    assert flags(first).count("SA") >= 2
