"""What the kernel refuses, `check` refuses, in the kernel's own words; what it accepts, `check` accepts.

Each case comes from a scenario an outside tester wrote and ran against the kernel (issue 12): the
lab or the reader's script died on a command `check` had let through, or `check` refused what the
kernel takes. `check` is parse_scenario() then run(), as the CLI does; no root is needed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netsim.errors import NetsimError
from netsim.scenario import parse_scenario
from netsim.simulation import run

ROOMS = """\
title: t
bridges:
  br0:
    host: h
    address: 10.0.0.1/24
    ports:
      p1: {}
      p2: {}
      p3: {}
hosts:
  h: {}
  a:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}
  b:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0b", address: 10.0.0.11/24, plug: br0.p2}
  n: {absent: true}
steps:
"""


def check(text: str) -> None:
    """What `python -m netsim check FILE` does: read and validate the file, then play the story."""
    if text.endswith("steps:\n"):
        text += "  - {id: pause, wait: 1}\n"  # a scenario tells a story: at least one step
    run(parse_scenario(text, "bad.yaml"))


def refusal(text: str) -> str:
    with pytest.raises(NetsimError) as info:
        check(text)
    return str(info.value)


# --- a frame to a host that only steps gave an interface (after the outsider's 96 and 97) ------------

BUILT = ROOMS + (
    "  - {id: room, netns_add: n}\n"
    "  - {id: move, link_move: {by: a, dev: eth0, to: n}}\n"
    "  - {id: up, link_set: {by: n, dev: eth0, up: true}}\n"
)


def test_a_frame_to_a_host_with_no_interface_in_the_file_names_a_mac_instead() -> None:
    # `dst: n` means n's first interface in the file (host_mac()); n has none there: it crashed.
    text = (
        BUILT
        + "  - id: two\n    sends:\n      frames:\n"
        + "        - {by: n, dst: broadcast, dev: eth0}\n        - {by: b, dst: n}\n"
    )
    assert refusal(text) == (
        "bad.yaml:27: steps[3].sends.frames[1].dst: n has no interface in the file, so its name is no MAC; "
        "expected a MAC (such as 02:00:00:00:00:0a) or a host with an interface of its own"
    )
    check(text.replace("dst: n}", "dst: '02:00:00:00:00:0a'}"))


# --- names the kernel will not register (outsider's 107; 24, 25 and 65 are in test_scenario_errors) ---


def test_a_veth_whose_two_ends_share_a_name_is_refused() -> None:
    text = ROOMS + "  - {id: v, veth_add: {by: h, name: v0, peer: v0}}\n"
    assert refusal(text) == (
        "bad.yaml:20: steps[0].veth_add.peer: 'v0' is also the name of the other end, in the same namespace; "
        "the kernel refuses a second device by that name (EEXIST, File exists); expected two names"
    )


def test_two_empty_seats_of_one_name_on_bridges_of_two_hosts_are_refused() -> None:
    # Each empty seat's far end, PORT-x, stays in the one namespace the lab and the script run in.
    text = ROOMS.replace("hosts:\n", "  br1:\n    host: b\n    ports:\n      p3: {}\nhosts:\n")
    assert refusal(text) == (
        "bad.yaml:13: bridges.br1.ports.p3: br0 has an empty seat p3 too; both far ends would be called "
        "p3-x in the namespace the lab and the script run in, and the kernel refuses the second "
        "(EEXIST, File exists); expected another name"
    )
    check(text.replace("      p3: {}\nhosts:", "      p4: {}\nhosts:"))


def test_an_empty_seat_named_as_another_seats_far_end_is_refused() -> None:
    # br0's empty seat p3 leaves p3-x in the script's namespace; br1's empty seat p3-x would be a second.
    text = ROOMS.replace("hosts:\n", "  br1:\n    host: b\n    ports:\n      p3-x: {}\nhosts:\n")
    assert refusal(text) == (
        "bad.yaml:13: bridges.br1.ports.p3-x: 'p3-x' is already the far end of br0's empty seat in the namespace "
        "the lab and the script run in; the kernel refuses a second (EEXIST, File exists); expected another name"
    )


def test_seats_of_one_name_on_two_hosts_bridges_are_no_clash_when_someone_sits_in_them() -> None:
    # Only an empty seat leaves a far end behind: a seat someone sits in has its far end in that host.
    text = (
        ROOMS.replace("      p3: {}\n", "").replace(
            "hosts:\n", "  br1:\n    host: b\n    ports:\n      p1: {}\nhosts:\n"
        )
        + "  - {id: x, wait: 1}\n"
    )
    text = text.replace(
        "  n: {absent: true}\n",
        "  n: {absent: true}\n  c:\n    interfaces:\n      eth0: {mac: '02:00:00:00:00:0c', address: 10.0.1.12/24, "
        "plug: br1.p1}\n",
    )
    check(text)


# --- routes the kernel adds (its refusals, outsider's 38, 42, 43 and 55, are in test_scenario_errors) ---


@pytest.mark.parametrize(
    "between",
    [
        "  - {id: gone, route_del: {by: a, to: 10.9.0.0/16}}\n",
        # fib_disable_ip() takes every route through a device that goes down; up does not bring them back
        "  - {id: down, link_set: {by: a, dev: eth0, up: false}}\n"
        "  - {id: up, link_set: {by: a, dev: eth0, up: true}}\n",
    ],
)
def test_a_route_may_be_added_again_once_the_first_is_gone(between: str) -> None:
    check(
        ROOMS
        + "  - {id: one, route_add: {by: a, to: 10.9.0.0/16, via: 10.0.0.1}}\n"
        + between
        + "  - {id: two, route_add: {by: a, to: 10.9.0.0/16, via: 10.0.0.11}}\n"
    )


def test_the_network_s_own_address_is_a_gateway_the_kernel_takes() -> None:
    # 10.0.0.0 is no broadcast address (no subnet-zero broadcast route): RTN_UNICAST, accepted (seen in unshare)
    check(ROOMS.replace("  b:\n", "    gateway: 10.0.0.0\n  b:\n", 1))


def test_lo_s_broadcast_is_no_gateway() -> None:
    # 127.255.255.255 is RTN_BROADCAST on lo: fib_check_nh_v4_gw() refuses it (seen in unshare)
    message = refusal(ROOMS.replace("  b:\n", "    gateway: 127.255.255.255\n  b:\n", 1))
    assert "127.255.255.255 is a broadcast address; the kernel refuses the route (EINVAL" in message


def test_a_gateway_on_lo_is_one_the_kernel_takes() -> None:
    # 127.0.0.1 and 127.0.0.9 are RTN_LOCAL on lo, which is up before the routes: fib_check_nh_v4_gw()
    # takes them, dev lo, scope host (seen in unshare and in the lab: gateway-loopback-address)
    check(ROOMS.replace("  b:\n", "    gateway: 127.0.0.1\n    routes: [{to: 10.9.0.0/16, via: 127.0.0.9}]\n  b:\n", 1))


# --- what br_add_if() will not make a port (outsider's 104, 105, 106) --------------------------------

TWO_BRIDGES = ROOMS.replace("hosts:\n", "  br1:\n    host: h\n    ports: {}\nhosts:\n")


@pytest.mark.parametrize(
    ("dev", "master", "message"),
    [
        (
            "br1",
            "br0",
            "br1 is a bridge; the kernel refuses to make it a port of br0 (ELOOP, Too many levels of symbolic "
            "links: Can not enslave a bridge to a bridge; br_add_if(), net/bridge/br_if.c)",
        ),
        (
            "br0",
            "br0",
            "br0 is a bridge; the kernel refuses to make it a port of br0 (ELOOP, Too many levels of symbolic "
            "links: Can not enslave a bridge to a bridge; br_add_if(), net/bridge/br_if.c)",
        ),
        (
            "lo",
            "br0",
            "lo is the loopback; the kernel refuses to make it a port of br0 (EINVAL, Invalid argument: "
            "br_add_if() takes Ethernet devices only, net/bridge/br_if.c)",
        ),
    ],
)
def test_what_a_bridge_will_not_take_as_a_port_is_refused(dev: str, master: str, message: str) -> None:
    # errnos seen with strace on `ip link set DEV master br0` in `unshare -n` (6.18)
    text = TWO_BRIDGES + f"  - id: plug\n    link_set:\n      by: h\n      dev: {dev}\n      master: {master}\n"
    assert refusal(text) == f"bad.yaml:25: steps[0].link_set.dev: {message}"


def test_a_veth_end_may_still_become_a_port() -> None:
    check(
        TWO_BRIDGES
        + "  - {id: v, veth_add: {by: h, name: v0, peer: v1}}\n"
        + "  - {id: plug, link_set: {by: h, dev: v0, master: br1}}\n"
    )


# --- a chosen source port the kernel will not give (outsider's 84) -----------------------------------
# The lab and the script bind the connecting socket to 0.0.0.0:SPORT with SO_REUSEADDR, then connect.
# What the kernel said to each case, in `unshare -n` (6.18): bind() EADDRINUSE beside a listener on the
# port; connect() EADDRNOTAVAIL for a second socket with an open one's four addresses and ports; both
# fine for another destination, or after a connect that was refused.

LISTENING = ROOMS + (
    "  - {id: a-listens, listen: {by: a, bind: '0.0.0.0:8080'}}\n"
    "  - {id: b-listens, listen: {by: b, bind: '0.0.0.0:9000'}}\n"
    "  - {id: b-listens-too, listen: {by: b, bind: '0.0.0.0:9001'}}\n"
)


def test_a_source_port_a_listener_holds_is_refused() -> None:
    text = LISTENING + "  - id: knock\n    connect:\n      by: a\n      to: '10.0.0.11:9000'\n      sport: 8080\n"
    assert refusal(text) == (
        "bad.yaml:25: steps[3].connect.sport: a listens on 0.0.0.0:8080 already; the kernel refuses to bind the "
        "connecting socket to 0.0.0.0:8080 (EADDRINUSE, Address already in use: a listener keeps its port even "
        "from a socket with SO_REUSEADDR, which the lab and the script set; inet_csk_bind_conflict(), "
        "net/ipv4/inet_connection_sock.c); expected another sport"
    )


def test_a_second_connection_with_the_same_addresses_and_ports_is_refused() -> None:
    knock = "  - id: {id}\n    connect:\n      by: a\n      to: '10.0.0.11:{port}'\n      sport: 40100\n"
    text = LISTENING + knock.format(id="first", port=9000) + knock.format(id="again", port=9000)
    assert refusal(text) == (
        "bad.yaml:30: steps[4].connect.sport: a's connection 10.0.0.10:40100 > 10.0.0.11:9000 from step 'first' "
        "is open still (the lab keeps it open; closed, it would wait in TIME_WAIT); the kernel refuses a second "
        "socket with the same addresses and ports (EADDRNOTAVAIL, Cannot assign requested address: "
        "__inet_check_established(), net/ipv4/inet_hashtables.c); expected another sport"
    )
    check(LISTENING + knock.format(id="first", port=9000) + knock.format(id="elsewhere", port=9001))
    # A refused connect leaves no socket behind: the same four again are fine.
    check(LISTENING + knock.format(id="first", port=9002) + knock.format(id="again", port=9002))


def test_the_lab_refuses_what_check_refuses_before_any_namespace_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The outsider's lab run of such a scenario died with "internal error" (OSError from bind()).
    from netsim.lab import cli

    monkeypatch.setattr(cli, "missing_requirement", lambda: "no root here")  # the lab would stop here next
    path = tmp_path / "sport.yaml"
    path.write_text(LISTENING + "  - {id: knock, connect: {by: a, to: '10.0.0.11:9000', sport: 8080}}\n")
    with pytest.raises(NetsimError, match=r"steps\[3\]\.connect\.sport: a listens on 0\.0\.0\.0:8080 already"):
        cli.lab_main(path, as_json=False, compare=True)


def test_a_refused_bind_names_every_kind_of_address_the_kernel_would_take() -> None:
    # The outsider's 26: the list named 127.0.0.1 only, though any 127/8 address binds once lo has 127.0.0.1/8.
    check(ROOMS + "  - {id: l, listen: {by: a, bind: '127.6.7.8:80'}}\n")
    assert refusal(ROOMS + "  - {id: l, listen: {by: a, bind: '10.0.0.99:80'}}\n").endswith(
        "expected 0.0.0.0, one of its own addresses (10.0.0.10) or any address in 127.0.0.0/8"
    )
    # A namespace a step made has lo down and bare, and no local fib table yet: __inet_dev_addr_type() answers
    # RTN_BROADCAST without one, so any address binds (lab_scenarios/fresh-namespace-binds-anything.yaml);
    # its first address (lo's, coming up) makes the table, and then only what it has binds.
    made = ROOMS + "  - {id: room, netns_add: n}\n  - {id: l, listen: {by: n, bind: '127.0.0.1:80'}}\n"
    check(made)
    up = (
        made
        + "  - {id: up, link_set: {by: n, dev: lo, up: true}}\n  - {id: l2, listen: {by: n, bind: '10.1.2.3:80'}}\n"
    )
    assert refusal(up).endswith(
        "(EADDRNOTAVAIL, Cannot assign requested address); expected 0.0.0.0 or any address in 127.0.0.0/8"
    )


# --- what bind() takes beyond the host's own addresses (outsider's 28 and 29) ------------------------
# inet_addr_valid_or_nonlocal() (net/ipv4/af_inet.c) takes RTN_BROADCAST and RTN_MULTICAST too; seen in
# `unshare -n` (6.18): 10.0.0.255 (the subnet's broadcast, its interface up), 255.255.255.255 and any of
# 224/4 bind; the network's own 10.0.0.0 does not, nor the broadcast once its interface is down.


@pytest.mark.parametrize("addr", ["10.0.0.255", "255.255.255.255", "224.0.0.1", "239.255.0.9"])
def test_a_listener_on_a_broadcast_or_multicast_address_is_what_the_kernel_allows(addr: str) -> None:
    trace = run(
        parse_scenario(
            ROOMS
            + f"  - {{id: l, listen: {{by: a, bind: '{addr}:8080'}}}}\n"
            + "  - {id: wild, listen: {by: a, bind: '0.0.0.0:8080', may_fail: true}}\n"
            + "  - {id: in, connect: {by: b, to: '10.0.0.10:8080'}}\n",
            "ok.yaml",
        )
    )
    # The wildcard on the same port is refused; a SYN to a's own address finds no listener there.
    assert [st.outcome for st in trace.steps] == [None, "address-in-use", "refused"]


def test_a_subnet_broadcast_is_no_bind_address_while_its_interface_is_down() -> None:
    down = ROOMS + "  - {id: down, link_set: {by: a, dev: eth0, up: false}}\n"
    assert refusal(down + "  - {id: l, listen: {by: a, bind: '10.0.0.255:8080'}}\n") == (
        "bad.yaml:21: steps[1].listen.bind: a has no address 10.0.0.255 to listen on at this point; the kernel "
        "refuses the bind (EADDRNOTAVAIL, Cannot assign requested address); expected may_fail: true to show the "
        "refusal, or what it can bind then"
    )
    trace = run(parse_scenario(down + "  - {id: l, listen: {by: a, bind: '10.0.0.255:8080', may_fail: true}}\n"))
    assert trace.steps[-1].outcome == "address-not-available"


# --- closing a listener that was never opened; port 0 (outsider round 5: 80c, 80g, 80h) ---------------


def test_closing_a_listener_that_was_never_opened_is_refused() -> None:
    # `check` let it through and `run` narrated "a stops listening on 0.0.0.0:82": a door that never opened.
    text = ROOMS.replace("plug: br0.p1}\n", "plug: br0.p1}\n    listeners: ['0.0.0.0:81']\n", 1)
    assert refusal(text + "  - {id: cl, close: {by: a, bind: '0.0.0.0:82'}}\n") == (
        "bad.yaml:21: steps[0].close.bind: a has no listener on 0.0.0.0:82 at this step, so there is nothing to "
        "close; expected one of: 0.0.0.0:81"
    )
    check(text + "  - {id: cl, close: {by: a, bind: '0.0.0.0:81'}}\n")
    twice = (
        text + "  - {id: cl, close: {by: a, bind: '0.0.0.0:81'}}\n  - {id: again, close: {by: a, bind: '0.0.0.0:81'}}\n"
    )
    assert "a has no listener on 0.0.0.0:81 at this step" in refusal(twice)
    reopened = text + (
        "  - {id: cl, close: {by: a, bind: '0.0.0.0:81'}}\n"
        "  - {id: op, listen: {by: a, bind: '10.0.0.10:82'}}\n"
        "  - {id: again, close: {by: a, bind: '10.0.0.10:82'}}\n"
    )
    check(reopened)


@pytest.mark.parametrize(
    ("step", "field"),
    [("connect: {by: a, to: '10.0.0.11:0'}", "connect.to"), ("listen: {by: a, bind: '0.0.0.0:0'}", "listen.bind")],
)
def test_port_zero_is_refused_for_its_port_not_its_shape(step: str, field: str) -> None:
    # It said "is not an IPv4 address and port", which '10.0.0.11:0' plainly is.
    message = refusal(ROOMS + f"  - {{id: x, {step}}}\n")
    assert message.startswith(f"bad.yaml:20: steps[0].{field}: ")
    assert "port 0 is not modelled" in message and "expected a port from 1 to 65535" in message
    assert "is not an IPv4 address and port" not in message
    assert "port 70000 is beyond 65535" in refusal(ROOMS + "  - {id: x, connect: {by: a, to: '10.0.0.11:70000'}}\n")
    assert "is not an IPv4 address and port" in refusal(ROOMS + "  - {id: x, connect: {by: a, to: '10.0.0:80'}}\n")


# --- a loop of bridges (outsider 4's r16: check crashed with a RecursionError) -------------------------

JOINED = """\
title: t
bridges:
  br0:
    host: h
    ports: {p1: {}, p2: {}, p3: {}}
  br1:
    host: h
    ports: {q1: {}}
hosts:
  h:
    interfaces:
      x1: {mac: "02:00:00:00:0e:01", plug: br0.p1}
      x2: {mac: "02:00:00:00:0e:02", plug: br0.p2}
  a:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p3}
  b:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0b", address: 10.0.0.11/24, plug: br1.q1}
steps:
  - {id: join-one, link_set: {by: h, dev: x1, master: br1, up: true}}
"""
SHOUT = "  - {id: shout, send: {by: a, dst: broadcast}}\n"
CABLE = (
    '  - {id: cable, veth_add: {by: h, name: j0, peer: j1, mac: "02:00:00:00:00:e0", peer_mac: "02:00:00:00:00:e1"}}\n'
)


def test_one_cable_between_two_bridges_is_a_story() -> None:
    check(JOINED + SHOUT)


def test_a_second_cable_between_two_bridges_is_refused_at_the_step_that_closes_the_loop() -> None:
    told = refusal(JOINED + "  - {id: join-two, link_set: {by: h, dev: x2, master: br1, up: true}}\n" + SHOUT)
    assert told.startswith("bad.yaml:22: steps[1].link_set.master: br1 and br0 are joined already (br1 -> x1's cable")
    assert "broadcast storm" in told and "expected one path between any two bridges" in told


HAIRPIN_LINK = """\
title: t
bridges:
  br0:
    host: h
    ports: {p1: {}, j0: {}}
  br1:
    host: h
    ports: {q1: {}, j1: {hairpin: true}}
hosts:
  h: {}
  a:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}
  b:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0b", address: 10.0.0.11/24, plug: br1.q1}
steps:
"""
JOIN = CABLE + (
    "  - {id: j0-in, link_set: {by: h, dev: j0, master: br0, up: true}}\n"
    "  - {id: j1-in, link_set: {by: h, dev: j1, master: br1, up: true}}\n"
)


def test_hairpin_on_one_end_of_a_bridge_link_is_a_story() -> None:
    # The broadcast comes back once from j1 and br0 floods it on, but not back out of j0: it ends.
    check(HAIRPIN_LINK + JOIN + SHOUT)


def test_hairpin_on_both_ends_of_a_bridge_link_is_refused_as_a_storm() -> None:
    # netsim's check used to hang here: each bridge sent the broadcast back to the other for ever.
    told = refusal(HAIRPIN_LINK + JOIN + "  - {id: both, set_port: {bridge: br0, port: j0, hairpin: true}}\n" + SHOUT)
    assert told.startswith("bad.yaml:21: steps[3].set_port.hairpin: hairpin on j0 of br0 and on j1 of br1")
    assert "broadcast storm" in told and told.endswith("netsim does not model; expected hairpin on one of them at most")
    # The same pair made the other way round: j0's hairpin first, then the cable whose far end has its own.
    told = refusal(
        HAIRPIN_LINK
        + CABLE
        + "  - {id: j0-in, link_set: {by: h, dev: j0, master: br0, up: true}}\n"
        + "  - {id: j0-hairpin, set_port: {bridge: br0, port: j0, hairpin: true}}\n"
        + "  - {id: j1-in, link_set: {by: h, dev: j1, master: br1, up: true}}\n"
    )
    assert "steps[3].link_set.master: hairpin on j0 of br0 and on j1 of br1" in told


def test_a_cable_with_both_ends_on_one_bridge_is_refused() -> None:
    told = refusal(
        JOINED
        + CABLE
        + "  - {id: one-end, link_set: {by: h, dev: j0, master: br1, up: true}}\n"
        + "  - {id: other-end, link_set: {by: h, dev: j1, master: br1, up: true}}\n"
    )
    assert "steps[3].link_set.master: both ends of j1's cable would be ports of br1" in told


def test_a_loop_through_three_bridges_is_refused_and_a_chain_is_not() -> None:
    three = JOINED.replace("  br1:\n", "  br2:\n    host: h\n    ports: {}\n  br1:\n", 1) + (
        CABLE + "  - {id: j0-br1, link_set: {by: h, dev: j0, master: br1, up: true}}\n"
        "  - {id: j1-br2, link_set: {by: h, dev: j1, master: br2, up: true}}\n"
    )
    check(three + SHOUT)  # br0 - br1 - br2: a chain
    told = refusal(three + "  - {id: x2-br2, link_set: {by: h, dev: x2, master: br2, up: true}}\n" + SHOUT)
    assert "br2 and br0 are joined already (br2 -> j1's cable -> br1 -> x1's cable -> br0)" in told


def test_a_bridge_of_another_host_is_no_device_in_this_one() -> None:
    # outsider 4's r12: located, and now in ip's own words (seen in a throwaway namespace)
    told = refusal(ROOMS + "  - {id: plug, link_set: {by: a, dev: eth0, master: br0}}\n")
    assert "steps[0].link_set.master: 'br0' is not a bridge of a" in told
    assert 'Error: argument "br0" is wrong: Device does not exist' in told


# --- a frame from an interface that is down (the lab's raw send died on ENETDOWN) ---------------------


def test_a_frame_from_an_interface_that_is_down_is_refused() -> None:
    down = ROOMS + "  - {id: down, link_set: {by: b, dev: eth0, up: false}}\n"
    message = refusal(down + "  - {id: hello, send: {by: b, dst: broadcast}}\n")
    assert "steps[1].send.by: b's eth0 is down; the kernel refuses to send a frame on it (ENETDOWN" in message
    burst = down + "  - {id: two, sends: {frames: [{by: a, dst: broadcast}, {by: b, dev: eth0, dst: a}]}}\n"
    assert "steps[1].sends.frames[1].dev: b's eth0 is down" in refusal(burst)
    check(ROOMS + "  - {id: p2-down, link_set: {by: h, dev: p2, up: false}}\n  - {id: lost, send: {by: b, dst: a}}\n")


# --- lo renamed: the kernel keeps it as the loopback under its new name; netsim knows it as lo ---------


def test_renaming_lo_is_refused_as_a_limit_of_netsim() -> None:
    steps = "  - {id: down, link_set: {by: h, dev: lo, up: false}}\n"
    steps += "  - {id: mv, link_rename: {by: h, dev: lo, name: lo9}}\n"
    message = refusal(ROOMS + steps)
    assert "steps[1].link_rename.dev: lo is the loopback; the kernel would rename it" in message
    assert "netsim does not model a loopback with another name" in message


# --- one of a reuseport group closes on connections not yet accepted (tcpclose-19) -------------------------

REUSEPORT_REQUESTS = ROOMS.replace(
    '      eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}\n',
    '      eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}\n    drop_tcp_ports: [41000]\n',
) + (
    "  - {id: one, listen: {by: b, bind: '0.0.0.0:80', reuseport: true}}\n"
    "  - {id: two, listen: {by: b, bind: '0.0.0.0:80', reuseport: true}}\n"
    "  - {id: knock, connect: {by: a, to: '10.0.0.11:80', sport: 41000, deadline: 0.5}}\n"
)


def test_one_of_a_reuseport_group_closing_on_a_request_sock_is_refused() -> None:
    """The lab dropped 0 to 4 of 4 such requests, run by run: which socket took a SYN is a hash with a
    per-namespace secret (reuseport_select_sock()), and only the closing socket's requests die."""
    message = refusal(REUSEPORT_REQUESTS + "  - {id: two-closes, close: {by: b, bind: '0.0.0.0:80'}}\n")
    assert "steps[3].close.bind" in message and "reuseport_select_sock()" in message
    assert "SO_REUSEPORT" in message and "1 connection(s) not yet accepted" in message


def test_one_of_a_reuseport_group_closing_after_the_request_is_gone_is_a_story() -> None:
    check(REUSEPORT_REQUESTS + "  - {id: gone, wait: 64}\n  - {id: two-closes, close: {by: b, bind: '0.0.0.0:80'}}\n")


# --- an ssh -L channel's answer with no way back (the names fuzzer's seed 28) --------------------------

SSH_BEHIND_ROUTER = """\
title: t
bridges:
  br0: {host: sw, ports: {p1: {}, p9: {}}}
hosts:
  sw: {}
  ann:
    interfaces: {eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.11/24, plug: br0.p1}}
    gateway: 10.0.0.1
  rt:
    interfaces:
      eth0: {mac: "02:00:00:00:00:01", address: 10.0.0.1/24, plug: br0.p9}
      eth1: {mac: "02:00:00:00:00:02", address: 10.0.1.1/24, plug: far.eth0}
    ip_forward: true
  far:
    interfaces: {eth0: {mac: "02:00:00:00:00:05", address: 10.0.1.5/24}}
    gateway: 10.0.1.1
    sshd: true
steps:
  - {id: tunnel, ssh_forward: {by: ann, server: 10.0.1.5, forward: '19001:10.0.0.77:9001'}}
"""


def test_a_channel_answer_the_server_cannot_send_back_is_refused() -> None:
    """The server's open failure (or confirmation) is a segment of the SSH connection; with no route
    back to the client sshd's TCP only retransmits it, and ssh logs nothing and closes nothing."""
    gone = "  - {id: no-way-back, route_del: {by: far, to: default}}\n"
    knock = "  - {id: knock, connect: {by: ann, to: '127.0.0.1:19001'}}\n"
    assert "has no route back to 10.0.0.11" in refusal(SSH_BEHIND_ROUTER + gone + knock)
    check(SSH_BEHIND_ROUTER + knock)  # with the route, ssh hears the failure and closes the knock


# --- an SSH connection through NAT: netsim follows its segments by ssh's own addresses ------------------

SSH_THROUGH_MASQUERADE = """
title: ssh through a masquerading laptop
bridges:
  podman0: {host: laptop, address: 10.88.0.1/16, ports: {seat2: {}}}
hosts:
  laptop:
    interfaces:
      wlan0: {mac: '3c:22:fb:00:01:23', address: 192.168.1.23/24, plug: server.eth0}
    ip_forward: true
    masquerade: [{saddr: 10.88.0.0/16}]
  portainer:
    interfaces:
      eth0: {mac: '0a:58:0a:58:00:02', address: 10.88.0.2/16, plug: podman0.seat2}
    gateway: 10.88.0.1
  server:
    interfaces:
      eth0: {mac: '52:54:00:00:01:50', address: 192.168.1.50/24}
    sshd: true
steps:
  - {id: tunnel, ssh_forward: {by: portainer, server: 192.168.1.50, forward: '19001:localhost:9001'}}
"""


def test_an_ssh_connection_through_nat_is_refused_as_a_limit_of_netsim() -> None:
    # The kernel carries it (and the lab's ssh -L works); netsim would lose its channel opens.
    message = refusal(SSH_THROUGH_MASQUERADE)
    assert "steps[0].ssh_forward.server: ssh's connection to 192.168.1.50:22 is NATed on the way" in message
    assert "netsim does not model an SSH connection through NAT" in message
