"""How a host sorts a packet that arrived on one of its devices (netsim.ipv4._route_input), case by
case against ip_route_input_slow() and ip_route_input_mc() (net/ipv4/route.c): taken as its own,
taken as a broadcast, forwarded, or dropped with the reason the story tells.

The recorded kernel traces reach most of these through whole scenarios; a 5% mutation sample of
ipv4.py (1 December) found three rows no recording told apart: a multicast source on a packet to
224.0.0.1, and the story a dropped broadcast from the host's own address tells.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netsim.ipv4 import _route_input
from netsim.scenario import load_scenario
from netsim.simulation import Simulation

ROOT = Path(__file__).resolve().parent.parent
MARTIAN = "Alice drops a packet from {src} that arrived on eth0: a martian source"
OWN = "Alice drops a packet from its own address {src} that arrived on eth0: a martian source"


@pytest.fixture(scope="module")
def alice() -> object:
    return Simulation(load_scenario(ROOT / "diagrams" / "margarets-room.yaml")).namespaces["alice"]  # 10.88.0.3/16


@pytest.mark.parametrize(
    ("src", "dst", "verdict", "story"),
    [
        # To the all-hosts group: ip_mc_validate_source() refuses a multicast, limited-broadcast or 127/8 source.
        ("224.0.0.5", "224.0.0.1", "drop", MARTIAN),
        ("255.255.255.255", "224.0.0.1", "drop", MARTIAN),
        ("127.0.0.1", "224.0.0.1", "drop", MARTIAN),
        ("10.88.0.3", "224.0.0.1", "drop", OWN),  # fib_validate_source(): its own address
        ("0.0.0.0", "224.0.0.1", "broadcast", ""),  # a zero source is fine for a link-local group
        ("10.88.0.5", "224.0.0.1", "broadcast", ""),
        # Any other destination: a multicast or limited-broadcast source is a martian.
        ("224.0.0.5", "10.88.0.3", "drop", MARTIAN),
        ("255.255.255.255", "10.88.0.3", "drop", MARTIAN),
        # To 255.255.255.255 (brd_input): its own address as the source is refused, another taken.
        ("10.88.0.3", "255.255.255.255", "drop", OWN),
        ("10.88.0.5", "255.255.255.255", "broadcast", ""),
        ("0.0.0.0", "255.255.255.255", "broadcast", ""),  # a DHCP client's first packet
        # The subnet's broadcast address (the local table's broadcast route).
        ("10.88.0.3", "10.88.255.255", "drop", OWN),
        ("10.88.0.5", "10.88.255.255", "broadcast", ""),
        # A unicast packet: its own address as the source is refused; for itself taken; else forwarded.
        ("10.88.0.3", "10.88.0.3", "drop", OWN),
        ("10.88.0.5", "10.88.0.3", "local", ""),
        ("10.88.0.5", "10.88.0.9", "forward", ""),
        ("0.0.0.0", "10.88.0.3", "drop", MARTIAN),
    ],
    ids=lambda v: str(v).split(" ")[0] if isinstance(v, str) else str(v),  # short ids: not the whole story
)
def test_a_packet_is_sorted_as_the_kernel_sorts_it(alice: object, src: str, dst: str, verdict: str, story: str) -> None:
    got = _route_input(alice, "eth0", ipaddress.IPv4Address(src), ipaddress.IPv4Address(dst))  # type: ignore[arg-type]
    assert got == (verdict, story.format(src=src))
