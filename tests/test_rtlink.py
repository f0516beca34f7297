"""The links the lab's wait on linkwatch reads over rtnetlink are the ones `ip -j -d link show` prints.

Lab._settle_links() polls every namespace's links every 20 ms after a carrier change. It ran
`ip -j -d link show` each time until 2026-12 and now sends the same RTM_GETLINK dump itself
(netsim.lab.rtlink). Here both are asked in a network namespace of the test's own, with links in
each state the wait tells apart, and must agree field by field; iproute2 is the referee."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import textwrap

import pytest

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
    }


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_each_link_is_what_ip_link_show_prints() -> None:
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", LINKS],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHON": sys.executable, "PYTHONPATH": "."},
    )
    assert done.returncode == 0, done.stderr
    printed, _, asked = done.stdout.partition("---\n")
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


def message(kind: int, seq: int, body: bytes) -> bytes:
    length = rtlink.NLMSGHDR.size + len(body)
    return rtlink.NLMSGHDR.pack(length, kind, 2, seq, 0) + body + bytes(-length % 4)


def attribute(kind: int, value: bytes) -> bytes:
    length = rtlink.RTATTR.size + len(value)
    return rtlink.RTATTR.pack(length, kind) + value + bytes(-length % 4)


def test_a_port_is_read_from_its_nested_attributes() -> None:
    slave = attribute(rtlink.IFLA_BRPORT_STATE, bytes([1]))
    info = attribute(rtlink.IFLA_INFO_SLAVE_KIND, b"bridge\0") + attribute(rtlink.IFLA_INFO_SLAVE_DATA | 0x8000, slave)
    body = rtlink.IFINFOMSG.pack(socket.AF_UNSPEC, 1, 7, rtlink.IFF_UP, 0) + b"".join(
        [
            attribute(rtlink.IFLA_IFNAME, b"p1\0"),
            attribute(rtlink.IFLA_MASTER, struct.pack("=I", 4)),
            attribute(rtlink.IFLA_OPERSTATE, bytes([2])),
            attribute(rtlink.IFLA_LINKINFO | 0x8000, info),  # NLA_F_NESTED, as the kernel may set it
        ]
    )
    data = (
        message(rtlink.RTM_NEWLINK, 9, body)
        + message(rtlink.RTM_NEWLINK, 8, body)
        + message(rtlink.NLMSG_DONE, 9, bytes(4))
    )
    links, done = rtlink.parse_links(data, 9)
    assert done
    assert links == [rtlink.Link("p1", 7, True, False, "DOWN", 4, "bridge", "listening")]


def test_a_refusal_or_a_broken_answer_is_a_lab_error() -> None:
    with pytest.raises(LabError, match="Operation not permitted"):
        rtlink.parse_links(message(rtlink.NLMSG_ERROR, 1, struct.pack("=i", -1) + bytes(16)), 1)
    body = rtlink.IFINFOMSG.pack(0, 1, 7, 0, 0) + rtlink.RTATTR.pack(40, rtlink.IFLA_IFNAME) + b"p1\0\0"
    with pytest.raises(LabError, match="attribute of 40 bytes"):
        rtlink.parse_links(message(rtlink.RTM_NEWLINK, 1, body), 1)


@pytest.mark.parametrize(("flags", "lower_up"), [(0x1 | 0x10000, True), (0x1 | 0x40, False)])
def test_the_carrier_is_iff_lower_up_not_iff_running(flags: int, lower_up: bool) -> None:
    # dev_get_flags() (net/core/dev.c) sets IFF_RUNNING from the operstate linkwatch set and
    # IFF_LOWER_UP from the carrier: the two differ exactly while the wait must go on waiting.
    body = rtlink.IFINFOMSG.pack(socket.AF_UNSPEC, 1, 3, flags, 0) + attribute(rtlink.IFLA_IFNAME, b"v1\0")
    links, _ = rtlink.parse_links(message(rtlink.RTM_NEWLINK, 1, body), 1)
    assert links[0].lower_up is lower_up
