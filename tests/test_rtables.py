"""The tables the lab reads after each step over rtnetlink (netsim.lab.rtneigh, rtaddr, rtroute, and
the links of rtlink) are what `ip -j -d` prints for them.

Lab.after_step() read every namespace's neighbours, addresses, REACHABLE draws and routes with one
`ip -j -d -batch` a namespace until 2026-12; it now asks the kernel itself, and writes each table in
the words iproute2 printed, so nothing the comparison reads changed. Here both are asked in a
network namespace of the test's own, with every kind of entry the reads tell apart, and must agree:
iproute2 is the referee."""

from __future__ import annotations

import json
import socket
import struct
import textwrap
from typing import Any

import pytest
from own_netns import sh_in_own_netns
from test_lab_batch import ROUTES

from netsim.errors import LabError
from netsim.lab import rtaddr, rtlink, rtneigh, rtroute
from netsim.lab.netns import missing_requirement
from netsim.lab.routetext import route_text
from netsim.lab.runner import Lab

REASON = missing_requirement()
NEEDS_NETNS = pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")

# Neighbours in each state a step can leave (a frame sent to a silent address leaves INCOMPLETE), one
# that `ip neigh show` leaves out (NOARP only), one on a second device with the same address, and an
# IPv6 one; links of each kind (lo, veth, bridge and port, one down) with addresses of each
# shape (primary and secondary, a peer address, on a device that is down), and two bridges' ageing
# times. Then ours and iproute2's, as JSON.
TABLES = textwrap.dedent(
    """
    set -e
    ip link set lo up
    ip link add v1 type veth peer name v2; ip link set v1 up; ip link set v2 up
    ip link add br0 type bridge ageing_time 1234; ip link set br0 up
    ip link add br1 type bridge ageing_time 0
    ip link add p1 type veth peer name q1; ip link set p1 master br0; ip link set p1 up; ip link set q1 up
    ip link add d0 type veth peer name e0; ip link set d0 up
    ip link add d1 type veth peer name e1
    ip addr add 10.0.0.1/24 dev v1; ip addr add 10.0.0.77/24 dev v1; ip addr add 10.5.0.1/16 dev v1
    ip addr add 10.9.0.1 peer 10.9.0.2 dev d0
    ip addr add 10.8.0.1/24 dev d1
    ip addr add 10.7.0.1/24 dev br0
    ip neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev v1 nud permanent
    ip neigh add 10.0.0.3 lladdr 02:00:00:00:00:03 dev v1 nud stale
    ip neigh add 10.0.0.4 lladdr 02:00:00:00:00:04 dev v1 nud reachable
    ip neigh add 10.0.0.5 lladdr 02:00:00:00:00:05 dev v1 nud noarp
    ip neigh add 10.0.0.2 lladdr 02:00:00:00:00:12 dev br0 nud stale
    ip neigh add fe80::2 lladdr 02:00:00:00:00:22 dev v1 nud permanent
    "$PYTHON" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("10.0.0.9", 9))'
    "$PYTHON" -c '
    import json
    from netsim.lab import rtaddr, rtlink, rtneigh
    links = rtlink.links()
    print(json.dumps({
        "neigh": rtneigh.entries(links),
        "links": [l.__dict__ for l in links],
        "addresses": [a.__dict__ for a in rtaddr.addresses()],
    }))'
    echo ---
    ip -j neigh show
    echo ---
    ip -j -d addr show
    """
)


def neighbour_words(entry: dict[str, Any]) -> dict[str, Any]:
    """What the lab reads of one entry of `ip -j neigh show`."""
    return {key: entry[key] for key in ("dst", "dev", "lladdr", "state") if key in entry}


def link_table(shown: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The trace's links from `ip -j -d addr show`, as Lab.links() made them until 2026-12."""
    table = {}
    for e in shown:
        kind = "loopback" if e.get("link_type") == "loopback" else (e.get("linkinfo") or {}).get("info_kind")
        table[e["ifname"]] = {
            "kind": kind,
            "state": "UP" if "UP" in e.get("flags", []) else "DOWN",
            "mac": e.get("address"),
            "addresses": [f"{a['local']}/{a['prefixlen']}" for a in e.get("addr_info", []) if a["family"] == "inet"],
            "master": e.get("master"),
        }
    return dict(sorted(table.items()))


@pytest.mark.lab
@NEEDS_NETNS
def test_the_neighbours_links_and_addresses_are_what_ip_prints() -> None:
    ours, neigh, addr = sh_in_own_netns(TABLES).split("---\n")
    read = json.loads(ours)
    theirs = [neighbour_words(e) for e in json.loads(neigh)]
    assert read["neigh"] == theirs
    states = {(e["dst"], e["dev"]): e.get("state") for e in theirs}
    assert states[("10.0.0.9", "v1")] == ["INCOMPLETE"] and ("10.0.0.5", "v1") not in states
    assert states[("10.0.0.2", "br0")] == ["STALE"] and states[("fe80::2", "v1")] == ["PERMANENT"]
    links = [rtlink.Link(**link) for link in read["links"]]
    addresses = [rtaddr.Address(**a) for a in read["addresses"]]
    shown = json.loads(addr)
    assert Lab.links(links, addresses) == link_table(shown)
    table = link_table(shown)
    assert table["v1"]["addresses"] == ["10.0.0.1/24", "10.5.0.1/16", "10.0.0.77/24"]  # a secondary after the primaries
    assert table["d0"]["addresses"] == ["10.9.0.1/32"] and table["d1"]["state"] == "DOWN"
    assert table["p1"]["master"] == "br0" and table["lo"]["kind"] == "loopback"
    ageing = {e["ifname"]: e["linkinfo"]["info_data"]["ageing_time"] for e in shown if e["ifname"] in ("br0", "br1")}
    assert {link.name: link.ageing for link in links if link.kind == "bridge"} == ageing == {"br0": 1234, "br1": 0}


@pytest.mark.lab
@NEEDS_NETNS
def test_each_route_is_what_ip_j_d_route_show_prints() -> None:
    script = ROUTES + 'echo ---\n"$PYTHON" -c "import json; from netsim.lab import rtlink, rtroute; '
    script += 'print(json.dumps(rtroute.routes(rtlink.links())))"\n'
    text, dumped, ours = sh_in_own_netns(script).split("---\n")
    assert json.loads(ours) == json.loads(dumped)
    assert [route_text(r) for r in json.loads(ours)] == [line.strip() for line in text.splitlines() if line.strip()]


def attribute(kind: int, value: bytes) -> bytes:
    length = 4 + len(value)
    return struct.pack("=HH", length, kind) + value + bytes(-length % 4)


LINKS = [rtlink.Link("v1", 3, True, True, "UP", None, None, None, None, 1, "02:00:00:00:00:01", "veth")]


def neighbour(state: int, flags: int = 0, dst: bytes = bytes([10, 0, 0, 2]), family: int = socket.AF_INET) -> bytes:
    body = rtneigh.NDMSG.pack(family, 3, state, flags, 0) + attribute(rtneigh.NDA_DST, dst)
    return body + attribute(rtneigh.NDA_LLADDR, bytes([2, 0, 0, 0, 0, 2]))


def test_a_neighbour_is_shown_as_print_neigh_shows_it() -> None:
    def read(body: bytes) -> list[dict[str, Any]]:
        return rtneigh.parse_entries([(rtneigh.RTM_NEWNEIGH, body)], LINKS)

    assert read(neighbour(0x04)) == [
        {"dst": "10.0.0.2", "dev": "v1", "lladdr": "02:00:00:00:00:02", "state": ["STALE"]}
    ]
    assert read(neighbour(0x40)) == [] and read(neighbour(0)) == []  # NOARP alone, and no state: not shown
    assert read(neighbour(0x40 | 0x80))[0]["state"] == ["NOARP", "PERMANENT"]  # every bit, lowest first
    assert "state" not in read(neighbour(0, rtneigh.NTF_EXT_LEARNED))[0]  # shown whatever its state
    assert read(neighbour(0, rtneigh.NTF_PROXY))[0]["dev"] == "v1"
    other = rtneigh.NDMSG.pack(socket.AF_INET, 9, 0x02, 0, 0) + attribute(rtneigh.NDA_DST, bytes([10, 0, 0, 3]))
    assert read(other) == [{"dst": "10.0.0.3", "dev": "if9", "state": ["REACHABLE"]}]  # no lladdr: not NUD_VALID
    with pytest.raises(LabError, match="a neighbour of family 2 with a 16-byte address"):
        read(neighbour(0x04, dst=bytes(16)))
    with pytest.raises(LabError, match="an answer of type 24 and 4 bytes to an RTM_GETNEIGH dump"):
        rtneigh.parse_entries([(24, bytes(4))], LINKS)


def test_an_address_is_its_local_one_and_other_families_are_skipped() -> None:
    def message(family: int, *attrs: bytes) -> tuple[int, bytes]:
        return rtaddr.RTM_NEWADDR, rtaddr.IFADDRMSG.pack(family, 24, 0, 0, 3) + b"".join(attrs)

    peer = message(
        socket.AF_INET,
        attribute(rtaddr.IFA_ADDRESS, bytes([10, 9, 0, 2])),
        attribute(rtaddr.IFA_LOCAL, bytes([10, 9, 0, 1])),
    )
    alone = message(socket.AF_INET, attribute(rtaddr.IFA_ADDRESS, bytes([10, 0, 0, 1])))
    six = message(socket.AF_INET6, attribute(rtaddr.IFA_ADDRESS, bytes(16)))
    assert rtaddr.parse_addresses([peer, alone, six]) == [
        rtaddr.Address(3, "10.9.0.1", 24),
        rtaddr.Address(3, "10.0.0.1", 24),
    ]
    with pytest.raises(LabError, match="no 4-byte IFA_LOCAL"):
        rtaddr.parse_addresses([message(socket.AF_INET)])


def route(*attrs: bytes, table: int = 254, flags: int = 0, kind: int = 1, dst_len: int = 24, tos: int = 0) -> bytes:
    return rtroute.RTMSG.pack(socket.AF_INET, dst_len, 0, tos, table, 2, 253, kind, flags) + b"".join(attrs)


def test_a_route_is_read_from_its_message_and_an_unknown_attribute_is_named() -> None:
    def read(*bodies: bytes) -> list[dict[str, Any]]:
        return rtroute.parse_routes([(rtroute.RTM_NEWROUTE, b) for b in bodies], LINKS)

    dst = attribute(rtroute.RTA_DST, bytes([10, 0, 0, 0]))
    oif = attribute(rtroute.RTA_OIF, struct.pack("=I", 3))
    assert read(route(dst, oif, flags=0x10 | 0x4)) == [
        {
            "type": "unicast",
            "dst": "10.0.0.0/24",
            "dev": "v1",
            "protocol": "kernel",
            "scope": "link",
            "flags": ["onlink", "linkdown"],
        }
    ]
    # another table (rtm_table, or RTA_TABLE past 255) and a cached clone are not `ip route show`'s
    assert (
        read(
            route(dst, table=255),
            route(dst, attribute(rtroute.RTA_TABLE, struct.pack("=I", 1000))),
            route(dst, flags=0x200),
        )
        == []
    )
    assert read(route(attribute(rtroute.RTA_TABLE, struct.pack("=I", 254)), dst_len=0, kind=7))[0]["dst"] == "default"
    odd = read(route(dst, attribute(rtroute.RTA_OIF, struct.pack("=I", 8)), tos=0x10))[0]
    assert (odd["dev"], odd["tos"]) == ("if8", rtroute.names("rt_dsfield").get(0x10, "0x10"))  # a gone device, a TOS
    multipath = read(route(dst, attribute(9, bytes(8))))[0]
    assert multipath["multipath"] == "00" * 8
    with pytest.raises(LabError, match="printed multipath"):
        route_text(multipath)


def test_the_names_files_are_read_as_iproute2_reads_them(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rt_protos").write_text("# comment\n\n99\topenr\n0x2a  babel2 # trailing\n4 mine\n  21abc glued\n")
    (tmp_path / "rt_protos.d").mkdir()
    (tmp_path / "rt_protos.d" / "b.conf").write_text("200 later\n")
    (tmp_path / "rt_protos.d" / "a.conf").write_text("200 earlier\n201 x\n")
    (tmp_path / "rt_protos.d" / ".hidden.conf").write_text("202 hidden\n")  # readdir's dot files: skipped
    (tmp_path / "rt_protos.d" / ".conf").write_text("203 bare\n")
    (tmp_path / "rt_scopes").write_text("5 five\nnot a line\n6 six\n")  # a line of another shape ends the file
    monkeypatch.setattr(rtroute, "CONFDIR", str(tmp_path))
    rtroute.names.cache_clear()
    try:
        protocols = rtroute.names("rt_protos")
        # A built-in name wins over a file's (rtnl_rtprot_n2a() reads the files only for a number without one).
        assert (protocols[99], protocols[42], protocols[4], protocols[2]) == ("openr", "babel", "static", "kernel")
        assert protocols[21] == "abc"  # sscanf("%d %s"): the digits, then the rest of the word
        assert (protocols[200], protocols[201]) == ("later", "x")
        assert 202 not in protocols and 203 not in protocols
        assert rtroute.names("rt_scopes")[5] == "five" and 6 not in rtroute.names("rt_scopes")
        assert rtroute.names("rt_scopes")[253] == "link"
        assert rtroute.names("rt_dsfield") == {}
    finally:
        rtroute.names.cache_clear()


def test_a_malformed_answer_is_a_lab_error_that_names_the_dump() -> None:
    """The kernel does not send these; a reader that meets one says which dump it was, not a traceback."""
    two = struct.pack("=H", 3)

    def routes(*attrs: bytes) -> object:
        return rtroute.parse_routes([(rtroute.RTM_NEWROUTE, route(*attrs))], LINKS)

    def link(*attrs: bytes) -> object:
        return rtlink.parse_links([(rtlink.RTM_NEWLINK, rtlink.IFINFOMSG.pack(0, 1, 1, 0, 0) + b"".join(attrs))])

    cases = [
        (lambda: routes(attribute(rtroute.RTA_OIF, two)), "ROUTE"),  # a u32 of two bytes
        (lambda: routes(attribute(rtroute.RTA_DST, bytes(3))), "ROUTE"),  # an address of three
        (lambda: routes(struct.pack("=HH", 40, 1)), "ROUTE"),  # an attribute past the message's end
        (lambda: rtneigh.parse_entries([(rtneigh.RTM_NEWNEIGH, rtneigh.NDMSG.pack(2, 3, 2, 0, 0))], LINKS), "NEIGH"),
        (lambda: link(attribute(rtlink.IFLA_OPERSTATE, b"")), "LINK"),  # a u8 of none
        (lambda: link(attribute(rtlink.IFLA_MASTER, two)), "LINK"),
    ]
    for read, dump in cases:
        with pytest.raises(LabError, match=f"answering an RTM_GET{dump} dump"):
            read()
