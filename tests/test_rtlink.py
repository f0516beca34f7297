"""The links the lab's wait on linkwatch reads over rtnetlink are the ones `ip -j -d link show` prints.

Lab._settle_links() polls every namespace's links every 20 ms after a carrier change. It ran
`ip -j -d link show` each time until 2026-12 and now sends the same RTM_GETLINK dump itself
(netsim.lab.rtlink). Here both are asked in a network namespace of the test's own, with links in
each state the wait tells apart, and must agree field by field; iproute2 is the referee."""

from __future__ import annotations

import json
import socket
import struct
import textwrap
from typing import Any

import pytest
from own_netns import sh_in_own_netns

from netsim.errors import LabError
from netsim.lab import rtlink
from netsim.lab.netns import missing_requirement

REASON = missing_requirement()

# A bridge up with a port that forwards and one that is down (disabled); a bridge with STP on, whose
# port waits in `listening`; a veth up whose peer is down (no carrier: LOWERLAYERDOWN), and that peer;
# lo (operstate UNKNOWN). Then both answers, as JSON.
LINKS = textwrap.dedent(
    """
    set -e
    ip link set lo up
    ip link add br0 type bridge; ip link set br0 up
    ip link add p1 type veth peer name q1; ip link set p1 master br0; ip link set p1 up; ip link set q1 up
    ip link add p2 type veth peer name q2; ip link set p2 master br0; ip link set q2 up
    ip link add br1 type bridge stp_state 1 forward_delay 3000; ip link set br1 up
    ip link add p3 type veth peer name q3; ip link set p3 master br1; ip link set p3 up; ip link set q3 up
    ip link add v1 type veth peer name v2; ip link set v1 up
    sleep 1.2  # linkwatch: every carrier change acted on (it may wait a second)
    ip -j -d link show
    echo ---
    "$PYTHON" -c 'import json; from netsim.lab import rtlink; print(json.dumps([l.__dict__ for l in rtlink.links()]))'
    """
)


def from_iproute2(link: dict[str, object], index_of: dict[str, int]) -> dict[str, object]:
    """What the wait reads of one link in `ip -j -d link show`'s words (ip/ipaddress.c)."""
    info = link.get("linkinfo") or {}
    assert isinstance(info, dict)
    port = info.get("info_slave_data") or {}
    flags = link.get("flags") or []
    assert isinstance(flags, list)
    return {
        "name": link["ifname"],
        "index": link["ifindex"],
        "up": "UP" in flags,
        "lower_up": "LOWER_UP" in flags,
        "operstate": link.get("operstate", "UNKNOWN"),
        "master": index_of[str(link["master"])] if "master" in link else None,
        "port_kind": info.get("info_slave_kind"),
        "port_state": port.get("state"),
        "learning": port.get("learning"),
        "type": {"loopback": 772, "ether": 1}[str(link["link_type"])],
        "address": link.get("address"),
        "kind": info.get("info_kind"),
        "ageing": (info.get("info_data") or {}).get("ageing_time") if info.get("info_kind") == "bridge" else None,
    }


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_each_link_is_what_ip_link_show_prints() -> None:
    stdout = sh_in_own_netns(LINKS)
    printed, _, asked = stdout.partition("---\n")
    shown = json.loads(printed)
    index_of = {str(link["ifname"]): int(link["ifindex"]) for link in shown}
    expected = [from_iproute2(link, index_of) for link in shown]
    assert json.loads(asked) == expected
    by_name = {link["name"]: link for link in expected}
    # the states the wait tells apart are all here
    assert by_name["p1"]["port_state"] == "forwarding" and by_name["p1"]["operstate"] == "UP"
    assert by_name["p2"]["port_state"] == "disabled" and not by_name["p2"]["up"]
    assert by_name["p3"]["port_state"] == "listening" and by_name["p3"]["operstate"] == "UP"
    assert by_name["v1"]["operstate"] == "LOWERLAYERDOWN" and not by_name["v1"]["lower_up"]
    assert by_name["v2"]["operstate"] == "DOWN" and not by_name["v2"]["up"]
    assert by_name["lo"]["operstate"] == "UNKNOWN" and by_name["lo"]["up"]


def attribute(kind: int, value: bytes) -> bytes:
    length = rtlink.RTATTR.size + len(value)
    return rtlink.RTATTR.pack(length, kind) + value + bytes(-length % 4)


def test_a_port_is_read_from_its_nested_attributes() -> None:
    slave = attribute(rtlink.IFLA_BRPORT_STATE, bytes([1]))
    info = attribute(rtlink.IFLA_INFO_SLAVE_KIND, b"bridge\0") + attribute(rtlink.IFLA_INFO_SLAVE_DATA | 0x8000, slave)
    body = rtlink.IFINFOMSG.pack(socket.AF_UNSPEC, 1, 7, rtlink.IFF_UP, 0) + b"".join(
        [
            attribute(rtlink.IFLA_IFNAME, b"p\xff1\0"),  # a name need not be UTF-8
            attribute(rtlink.IFLA_MASTER, struct.pack("=I", 4)),
            attribute(rtlink.IFLA_OPERSTATE, bytes([2])),
            attribute(rtlink.IFLA_LINKINFO | 0x8000, info),  # NLA_F_NESTED, as the kernel may set it
        ]
    )
    links = rtlink.parse_links([(rtlink.RTM_NEWLINK, body)])
    assert links == [rtlink.Link("p\udcff1", 7, True, False, "DOWN", 4, "bridge", "listening", type=1)]


def test_a_broken_answer_is_a_lab_error() -> None:
    body = rtlink.IFINFOMSG.pack(0, 1, 7, 0, 0) + rtlink.RTATTR.pack(40, rtlink.IFLA_IFNAME) + b"p1\0\0"
    with pytest.raises(LabError, match="attribute of 40 bytes"):
        rtlink.parse_links([(rtlink.RTM_NEWLINK, body)])
    with pytest.raises(LabError, match="an answer of type 24 and 16 bytes to an RTM_GETLINK dump"):
        rtlink.parse_links([(24, bytes(16))])


@pytest.mark.parametrize(("flags", "lower_up"), [(0x1 | 0x10000, True), (0x1 | 0x40, False)])
def test_the_carrier_is_iff_lower_up_not_iff_running(flags: int, lower_up: bool) -> None:
    # dev_get_flags() (net/core/dev.c) sets IFF_RUNNING from the operstate linkwatch set and
    # IFF_LOWER_UP from the carrier: the two differ exactly while the wait must go on waiting.
    body = rtlink.IFINFOMSG.pack(socket.AF_UNSPEC, 1, 3, flags, 0) + attribute(rtlink.IFLA_IFNAME, b"v1\0")
    assert rtlink.parse_links([(rtlink.RTM_NEWLINK, body)])[0].lower_up is lower_up


def link(
    name: str, index: int, *, up: bool = True, carrier: bool = True, oper: str = "UP", **port: object
) -> rtlink.Link:
    return rtlink.Link(name, index, up, carrier, oper, port.get("master"), port.get("kind"), port.get("state"))  # type: ignore[arg-type]


def test_settled_waits_for_the_operstate_to_follow_the_carrier_and_for_ports_to_forward() -> None:
    bridge = link("br0", 4)
    assert rtlink.settled(
        [link("lo", 1, oper="UNKNOWN"), bridge, link("p1", 5, master=4, kind="bridge", state="forwarding")]
    )
    # linkwatch has not run yet: the carrier went and the operstate still says UP, or came back and it says down
    assert not rtlink.settled([link("v1", 3, carrier=False)])
    assert not rtlink.settled([link("v1", 3, oper="LOWERLAYERDOWN")])
    assert rtlink.settled([link("v1", 3, carrier=False, oper="LOWERLAYERDOWN")])
    # a port up, of a bridge up, that does not forward yet; of a bridge down it never will
    assert not rtlink.settled([bridge, link("p1", 5, master=4, kind="bridge", state="disabled")])
    assert rtlink.settled(
        [link("br0", 4, up=False, oper="DOWN"), link("p1", 5, master=4, kind="bridge", state="disabled")]
    )
    # links down, or whose operstate is unknown, are not waited for
    assert rtlink.settled(
        [link("v2", 6, up=False, carrier=False, oper="UP"), link("d0", 7, carrier=False, oper="UNKNOWN")]
    )


# Two namespaces of the test's own, as the lab makes them (IPv6 off), each with lo down and a bridge
# down: one brings them up with `ip link set ... up`, the other with rtlink.set_up(); both are then
# shown. And a link that is not there.
SET_UP = textwrap.dedent(
    """
    set -e
    export SETUP='sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
      ip link add br0 address 02:00:00:00:00:01 type bridge'
    export SHOW='sleep 1.2; ip -j -d addr show'  # linkwatch has acted (it may wait a second)
    export BY_US='from netsim.lab import rtlink; rtlink.set_up("lo"); rtlink.set_up("br0")'
    unshare --net sh -c 'eval "$SETUP"; ip link set lo up; ip link set br0 up; eval "$SHOW"'
    echo ---
    unshare --net sh -c 'eval "$SETUP"; "$PYTHON" -c "$BY_US"; eval "$SHOW"'
    echo ---
    unshare --net "$PYTHON" -c 'from netsim.lab import rtlink
    try:
        rtlink.set_up("nope0")
    except Exception as exc:
        print(type(exc).__name__, exc)'
    """
)


def untimed(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The links without the bridge's running timers (how long until each fires: read a moment apart)."""
    for link in links:
        data = link.get("linkinfo", {}).get("info_data", {})
        for timer in [key for key in data if key.endswith("_timer")]:
            del data[timer]
    return links


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_a_link_set_up_over_rtnetlink_is_what_ip_link_set_up_makes_it() -> None:
    stdout = sh_in_own_netns(SET_UP, shell=("bash", "-c"))  # three namespaces of its own
    by_ip, by_us, missing = stdout.split("---\n")
    assert untimed(json.loads(by_us)) == untimed(json.loads(by_ip))
    lo, bridge = json.loads(by_us)
    assert lo["ifname"] == "lo" and "UP" in lo["flags"]
    assert [a["local"] for a in lo["addr_info"]] == ["127.0.0.1"]  # what lo going up adds
    assert bridge["ifname"] == "br0" and "UP" in bridge["flags"]
    assert missing.strip() == "LabError netlink: the kernel answered No such device to setting link nope0 up"
