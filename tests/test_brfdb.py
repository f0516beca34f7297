"""A bridge's forwarding database read over rtnetlink (netsim.lab.brfdb) is what `bridge -j -s fdb show`
prints, and a port's learning flag read over rtnetlink (netsim.lab.rtlink) is what `bridge -d link
show` prints.

The lab reads both before and after every step. It ran `bridge -s -d -batch` and `bridge -batch` a
namespace for them until 2026-12 and now asks the kernel itself. Here both are asked in a network
namespace of the test's own, with each kind of entry the lab tells apart, and must agree: iproute2
is the referee."""

from __future__ import annotations

import json
import socket
import struct
import textwrap

import pytest
from own_netns import sh_in_own_netns

from netsim.errors import LabError
from netsim.lab import brfdb
from netsim.lab.netns import missing_requirement

REASON = missing_requirement()

# Two bridges. br0: a port with a static, a dynamic (learned-like) and a permanent entry added by hand,
# a port with learning off, and IPv6 left on so the ports' peers' own frames are learned as a reader's
# would be. br1, a second bridge, has a port of its own and a static entry on it (the lab keeps each
# bridge's entries apart by NDA_MASTER). A VLAN-filtering bridge cannot be made here (this kernel has no
# CONFIG_BRIDGE_VLAN_FILTERING), so no entry carries a VLAN and the lab never meets one; the unit test
# below reads one. Then what iproute2 prints, and what brfdb reads.
FDB = textwrap.dedent(
    """
    set -e
    ip link add br0 type bridge; ip link set br0 up
    ip link add p1 type veth peer name q1; ip link set p1 master br0; ip link set p1 up; ip link set q1 up
    ip link add p2 type veth peer name q2; ip link set p2 master br0; ip link set p2 up; ip link set q2 up
    ip link add br1 type bridge; ip link set br1 up
    ip link add p3 type veth peer name q3; ip link set p3 master br1; ip link set p3 up; ip link set q3 up
    bridge fdb add 02:00:00:00:00:aa dev p1 master static
    bridge fdb add 02:00:00:00:00:bb dev p2 master dynamic
    bridge fdb add 02:00:00:00:00:dd dev p1 master
    bridge fdb add 02:00:00:00:00:ee dev p3 master static
    bridge link set dev p2 learning off
    sleep 2.5  # the peers' first IPv6 frames (DAD, router solicitation) reach the bridges and are learned
    "$PYTHON" -c '
    import json
    from netsim.lab import brfdb, rtlink
    print(json.dumps({"fdb": [e.__dict__ for e in brfdb.entries()], "links": [l.__dict__ for l in rtlink.links()]}))'
    echo ---
    bridge -j -s fdb show
    echo ---
    bridge -j -d link show
    """
)


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_each_bridge_entry_and_port_flag_is_what_bridge_prints() -> None:
    stdout = sh_in_own_netns(FDB)
    ours, printed, ports = stdout.split("---\n")
    read = json.loads(ours)
    name_of = {link["index"]: link["name"] for link in read["links"]}
    # iproute2's entries that belong to a bridge (a `master`), in its words, and ours in the same words
    theirs = [e for e in json.loads(printed) if "master" in e]
    mine = [
        {
            "mac": e["mac"],
            "ifname": name_of[e["port"]],
            "master": name_of[e["master"]],
            "permanent": e["permanent"],
            "vlan": e["vlan"],
            "updated": e["updated"] // 100,  # USER_HZ ticks; `bridge -s` prints whole seconds
        }
        for e in read["fdb"]
        if e["master"] is not None
    ]
    assert len(mine) == len(theirs)
    for m, t in zip(mine, theirs, strict=True):
        assert {k: m[k] for k in ("mac", "ifname", "master", "vlan")} == {
            "mac": t["mac"], "ifname": t["ifname"], "master": t["master"], "vlan": t.get("vlan")
        }  # fmt: skip
        assert m["permanent"] == ("permanent" in t.get("state", "")), (m, t)
        assert 0 <= t["updated"] - m["updated"] <= 1, (m, t)  # read a moment later
    # every kind the lab tells apart is here
    kinds = {(t["mac"], t.get("state", "")) for t in theirs}
    assert {("02:00:00:00:00:aa", "static"), ("02:00:00:00:00:bb", ""), ("02:00:00:00:00:dd", "permanent")} <= kinds
    assert any(t["ifname"] == "p1" and t.get("state") == "" and not t["mac"].startswith("02:00") for t in theirs)
    assert ("02:00:00:00:00:ee", "br1") in {(t["mac"], t["master"]) for t in theirs}
    learning = {p["ifname"]: p["learning"] for p in json.loads(ports)}
    assert learning == {"p1": True, "p2": False, "p3": True}
    assert {link["name"]: link["learning"] for link in read["links"] if link["learning"] is not None} == learning


def entry(port: int, mac: bytes, *attrs: bytes, state: int = 0x2) -> bytes:
    body = brfdb.NDMSG.pack(brfdb.AF_BRIDGE, port, state, 0, 0)
    return body + attribute(brfdb.NDA_LLADDR, mac) + b"".join(attrs)


def attribute(kind: int, value: bytes) -> bytes:
    length = 4 + len(value)
    return struct.pack("=HH", length, kind) + value + bytes(-length % 4)


def test_an_entry_is_read_from_its_attributes() -> None:
    cache = brfdb.CACHEINFO.pack(1, 2, 345, 1)
    learned = entry(
        5,
        b"\x02\x00\x00\x00\xab\x01",
        attribute(brfdb.NDA_MASTER, struct.pack("=I", 3)),
        attribute(brfdb.NDA_CACHEINFO, cache),
        attribute(brfdb.NDA_VLAN, struct.pack("=H", 7)),
    )
    own = entry(3, b"\x33\x33\x00\x00\x00\x01", state=brfdb.NUD_PERMANENT)
    assert brfdb.parse_entries([(brfdb.RTM_NEWNEIGH, learned), (brfdb.RTM_NEWNEIGH, own)]) == [
        brfdb.Entry("02:00:00:00:ab:01", 5, 3, False, 7, 345),
        brfdb.Entry("33:33:00:00:00:01", 3, None, True, None, None),
    ]
    with pytest.raises(LabError, match="an answer of type 24 and 12 bytes to an RTM_GETNEIGH dump of family AF_BRIDGE"):
        brfdb.parse_entries([(24, bytes(12))])
    assert socket.AF_BRIDGE == brfdb.AF_BRIDGE and brfdb.NDMSG.size == 12  # struct ndmsg
