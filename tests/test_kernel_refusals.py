"""What the kernel refuses, `check` refuses, in the kernel's own words; what it accepts, `check` accepts.

Each case comes from a scenario an outside tester wrote and ran against the kernel (issue 12): the
lab or the reader's script died on a command `check` had let through, or `check` refused what the
kernel takes. `check` is parse_scenario() then run(), as the CLI does; no root is needed here.
"""

from __future__ import annotations

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


# --- a step that names no interface, on a host that only steps gave one (outsider's 96 and 97) --------

BUILT = ROOMS + (
    "  - {id: room, netns_add: n}\n"
    "  - {id: move, link_move: {by: a, dev: eth0, to: n}}\n"
    "  - {id: up, link_set: {by: n, dev: eth0, up: true}}\n"
)


def test_a_send_without_dev_on_a_host_built_by_steps_uses_its_only_interface() -> None:
    trace = run(parse_scenario(BUILT + "  - {id: hello, send: {by: n, dst: broadcast}}\n", "ok.yaml"))
    # The frame leaves by the eth0 that moved in (a's MAC), and the bridge learns it on p1.
    assert "02:00:00:00:00:0a" in trace.steps[-1].fdb["br0"]


def test_frames_of_a_sends_step_without_dev_on_a_host_built_by_steps_are_sent() -> None:
    text = (
        BUILT + "  - id: two\n    sends:\n      frames:\n        - {by: n, dst: broadcast}\n        - {by: b, dst: n}\n"
    )
    with pytest.raises(NetsimError) as info:  # `dst: n`: n has no interface in the file to name a MAC by
        check(text)
    assert str(info.value) == (
        "bad.yaml:27: steps[3].sends.frames[1].dst: n has no interface in the file, so its name is no MAC; "
        "expected a MAC (such as 02:00:00:00:00:0a) or a host with an interface of its own"
    )
    check(text.replace("dst: n}", "dst: '02:00:00:00:00:0a'}"))


# --- names the kernel will not register (outsider's 24, 25, 65, 107) -------------------------------

ALL_DEFAULT = (
    "the kernel refuses to register a device by this name (EINVAL, Invalid argument: "
    "devinet_sysctl_register() would collide with net/ipv4/conf/{all,default}, net/ipv4/devinet.c)"
)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'eth0: {mac: "02:00:00:00:00:0a"',
            'all: {mac: "02:00:00:00:00:0a"',
            f"bad.yaml:14: hosts.a.interfaces.all: 'all' is not a usable interface name: {ALL_DEFAULT}",
        ),
        (
            "  br0:\n",
            "  default:\n",
            f"bad.yaml:4: bridges.default: 'default' is not a usable interface name: {ALL_DEFAULT}",
        ),
        (
            "      p3: {}\n",
            "      all: {}\n",
            f"bad.yaml:9: bridges.br0.ports.all: 'all' is not a usable interface name: {ALL_DEFAULT}",
        ),
        (
            "steps:\n",
            "steps:\n  - {id: v, veth_add: {by: h, name: v0, peer: default}}\n",
            f"bad.yaml:20: steps[0].veth_add.peer: 'default' is not a usable interface name: {ALL_DEFAULT}",
        ),
        (
            "steps:\n",
            "steps:\n  - {id: v, link_rename: {by: a, dev: eth0, name: all}}\n",
            f"bad.yaml:20: steps[0].link_rename.name: 'all' is not a usable interface name: {ALL_DEFAULT}",
        ),
        (
            "      p3: {}\n",
            "      lo: {}\n",
            "bad.yaml:9: bridges.br0.ports.lo: 'lo' is not a usable interface name: every namespace has its own lo "
            "already; the kernel refuses a second (EEXIST, File exists)",
        ),
        (
            "  br0:\n",
            "  lo:\n",
            "bad.yaml:4: bridges.lo: 'lo' is not a usable interface name: every namespace has its own lo "
            "already; the kernel refuses a second (EEXIST, File exists)",
        ),
        (
            "      p3: {}\n",
            "      br0: {}\n",
            "bad.yaml:9: bridges.br0.ports.br0: h already has an interface 'br0' (the bridge br0); "
            "the kernel refuses a second by that name (EEXIST, File exists)",
        ),
        (
            "steps:\n",
            "steps:\n  - {id: v, veth_add: {by: h, name: v0, peer: v0}}\n",
            "bad.yaml:20: steps[0].veth_add.peer: 'v0' is also the name of the other end, in the same namespace; "
            "the kernel refuses a second device by that name (EEXIST, File exists); expected two names",
        ),
    ],
)
def test_a_name_the_kernel_will_not_register_is_refused(old: str, new: str, message: str) -> None:
    assert old in ROOMS
    assert refusal(ROOMS.replace(old, new, 1)) == message


def test_a_port_named_like_an_interface_of_the_bridge_s_host_is_refused() -> None:
    text = ROOMS.replace("  h: {}\n", "  h:\n    interfaces:\n      p3: {plug: a.eth1}\n").replace(
        '      eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}\n',
        '      eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}\n      eth1: {}\n',
    )
    assert refusal(text) == (
        "bad.yaml:9: bridges.br0.ports.p3: h already has an interface 'p3' (h.p3); "
        "the kernel refuses a second by that name (EEXIST, File exists)"
    )


def test_two_bridges_of_one_host_may_not_share_a_port_name() -> None:
    text = ROOMS.replace("hosts:\n", "  br1:\n    host: h\n    ports:\n      p3: {}\nhosts:\n")
    assert refusal(text) == (
        "bad.yaml:13: bridges.br1.ports.p3: h already has an interface 'p3' (a port of br0); "
        "the kernel refuses a second by that name (EEXIST, File exists)"
    )


def test_two_empty_seats_of_one_name_on_bridges_of_two_hosts_are_refused() -> None:
    # Each empty seat's far end, PORT-x, stays in the one namespace the lab and the script run in.
    text = ROOMS.replace("hosts:\n", "  br1:\n    host: b\n    ports:\n      p3: {}\nhosts:\n")
    assert refusal(text) == (
        "bad.yaml:13: bridges.br1.ports.p3: br0 has an empty seat p3 too; both far ends would be called "
        "p3-x in the namespace the lab and the script run in, and the kernel refuses the second "
        "(EEXIST, File exists); expected another name"
    )


# --- routes the kernel will not add (outsider's 38, 42, 43, 55) --------------------------------------

EEXIST_ROUTE = (
    "the kernel refuses a second (EEXIST, File exists: `ip route add` asks for NLM_F_EXCL, and "
    "fib_table_insert() finds a route of the same prefix and metric, net/ipv4/fib_trie.c); "
    "expected one route per destination, or a route_del before"
)
BAD_GATEWAY = (
    "the kernel refuses the route (EINVAL, Nexthop has invalid gateway: fib_check_nh_v4_gw() takes a "
    "unicast or local gateway only, net/ipv4/fib_semantics.c)"
)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  b:\n",
            "    routes:\n      - {to: 10.9.0.0/16, via: 10.0.0.1}\n      - {to: 10.9.0.0/16, via: 10.0.0.11}\n  b:\n",
            f"bad.yaml:17: hosts.a.routes[1]: a already has a route to 10.9.0.0/16 (routes[0], via 10.0.0.1); "
            f"{EEXIST_ROUTE}",
        ),
        (
            "  b:\n",
            "    gateway: 10.0.0.1\n    routes:\n      - {to: default, via: 10.0.0.11}\n  b:\n",
            f"bad.yaml:17: hosts.a.routes[0]: a already has a route to default (gateway, via 10.0.0.1); {EEXIST_ROUTE}",
        ),
        (
            "  b:\n",
            "    routes:\n      - {to: 10.0.0.0/24, via: 10.0.0.1}\n  b:\n",
            f"bad.yaml:16: hosts.a.routes[0]: a already has a route to 10.0.0.0/24 (eth0's own network, "
            f"10.0.0.10/24); {EEXIST_ROUTE}",
        ),
        (
            "  b:\n",
            "    routes:\n      - {to: 10.9.0.0/16, via: 10.0.0.255}\n  b:\n",
            f"bad.yaml:16: hosts.a.routes[0].via: 10.0.0.255 is the broadcast address of eth0's network "
            f"10.0.0.0/24; {BAD_GATEWAY}",
        ),
        (
            "  b:\n",
            "    gateway: 10.0.0.255\n  b:\n",
            f"bad.yaml:15: hosts.a.gateway: 10.0.0.255 is the broadcast address of eth0's network 10.0.0.0/24; "
            f"{BAD_GATEWAY}",
        ),
        (
            "steps:\n",
            "steps:\n  - {id: one, route_add: {by: a, to: 10.9.0.0/16, via: 10.0.0.1}}\n"
            "  - {id: two, route_add: {by: a, to: 10.9.0.0/16, via: 10.0.0.11}}\n",
            f"bad.yaml:21: steps[1].route_add.to: a already has a route to 10.9.0.0/16 (via 10.0.0.1); {EEXIST_ROUTE}",
        ),
        (
            "steps:\n",
            "steps:\n  - {id: one, route_add: {by: a, to: 10.0.0.0/24, via: 10.0.0.1}}\n",
            f"bad.yaml:20: steps[0].route_add.to: a already has a route to 10.0.0.0/24 (eth0's own network); "
            f"{EEXIST_ROUTE}",
        ),
        (
            "steps:\n",
            "steps:\n  - {id: one, route_add: {by: a, to: 10.9.0.0/16, via: 10.0.0.255}}\n",
            f"bad.yaml:20: steps[0].route_add.via: 10.0.0.255 is the broadcast address of eth0's network "
            f"10.0.0.0/24; {BAD_GATEWAY}",
        ),
    ],
)
def test_a_route_the_kernel_will_not_add_is_refused(old: str, new: str, message: str) -> None:
    assert old in ROOMS
    assert refusal(ROOMS.replace(old, new, 1)) == message


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
