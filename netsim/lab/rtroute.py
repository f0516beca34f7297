"""A namespace's main routing table as rtnetlink tells it (RTM_GETROUTE), for the lab's read after each step.

After every step the lab writes down each namespace's routes in the words `ip route show` prints
(netsim.lab.routetext). Until 2026-12 they came as JSON from the `route show` of an `ip -j -d -batch`
a namespace; here this process sends the RTM_GETROUTE dump of family AF_INET that `ip route show`
sends (iproute_list_flush_or_save() in ip/iproute.c, iproute2 6.1: IPv4 and table main when neither is
asked), inside the namespace. inet_dump_fib() (net/ipv4/fib_frontend.c) answers every table's routes;
this keeps the main table's (rtm_table, or RTA_TABLE past 255, as rtm_get_table() reads it) and no
cached clone (RTM_F_CLONED), as filter_nlmsg() keeps them.

Each route becomes the dict `ip -j -d route show` printed for it (print_route()), so routetext writes
it back unchanged: `type`, `dst`, `tos`, `gateway`, `dev`, `protocol`, `scope`, `prefsrc`, `metric` and
`flags`, each named as iproute2 names it (rt_names.c: its own tables, then the files under
/etc/iproute2, which it reads too). An attribute fib_dump_info() may add that the lab does not write
back (a multipath route, a flow, metrics, an encapsulation...) goes in under a key of its own, which
routetext refuses with its name: it must never drop out of both sides of a comparison unseen.
"""

from __future__ import annotations

import os
import re
import socket
import struct
from functools import cache
from typing import Any

from netsim.lab import nlmsg
from netsim.lab.rtlink import Link, attributes

RTM_NEWROUTE, RTM_GETROUTE = 24, 26  # include/uapi/linux/rtnetlink.h
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15  # enum rtattr_type_t
RT_TABLE_MAIN = 254
RTM_F_CLONED = 0x200
READ = {RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE}
# enum rtattr_type_t's names, for a route attribute the lab does not write back.
OTHER = {2: "src", 3: "iif", 8: "metrics", 9: "multipath", 11: "flow", 12: "cacheinfo", 16: "mark",
         18: "via", 19: "newdst", 20: "pref", 21: "encap_type", 22: "encap", 23: "expires", 30: "nh_id"}  # fmt: skip
# print_rt_flags()'s words in its order (ip/iproute.c): RTNH_F_* from include/uapi/linux/rtnetlink.h,
# then the RTM_F_* ones.
FLAGS = ((0x1, "dead"), (0x4, "onlink"), (0x2, "pervasive"), (0x8, "offload"), (0x40, "trap"), (0x100, "notify"),
         (0x10, "linkdown"), (0x20, "unresolved"), (0x4000, "rt_offload"), (0x8000, "rt_trap"),
         (0x20000000, "rt_offload_failed"))  # fmt: skip
# rtnl_rtntype_n2a() (lib/rt_names.c); any other type is its number.
TYPES = ("none", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable",
         "prohibit", "throw", "nat", "xresolve")  # fmt: skip
# lib/rt_names.c's own tables, before the files under /etc/iproute2 add to them or rename.
PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra", 10: "mrt",
             11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp", 18: "keepalived",
             42: "babel", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"}  # fmt: skip
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
CONFDIR = "/etc/iproute2"
WHAT = "an RTM_GETROUTE dump of family AF_INET (what `ip route show` asks)"


# A names file's line as rtnl_tab_initialize() reads it (lib/rt_names.c, iproute2 6.1): sscanf()'s
# "0x%x %s" or "%d %s", each after the blanks before it, so a number glued to its name ("21abc") is
# read as 21 and "abc", and a line neither reads ends the file.
NAME_LINE = re.compile(r"0x(?P<hex>[0-9a-fA-F]+)\s*(?P<hname>\S+)|(?P<dec>[+-]?[0-9]+)\s*(?P<dname>\S+)")


def _read_names(path: str, into: dict[int, str]) -> None:
    """rtnl_tab_initialize()'s reading of one names file: `NUMBER NAME` lines read by NAME_LINE, `#`
    comments and blank lines skipped, a later line winning, a line of another shape ending the
    reading as it does there. No file is no names."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        text = line.lstrip(" \t")
        if not text or text.startswith("#"):
            continue
        found = NAME_LINE.match(text)
        if found is None:
            return
        value = int(found["hex"], 16) if found["hex"] is not None else int(found["dec"])
        if 0 <= value <= 255:
            into[value] = found["hname"] or found["dname"]


@cache
def names(kind: str) -> dict[int, str]:
    """The names iproute2 prints for a route's protocol, scope or TOS (rtnl_rtprot_n2a(),
    rtnl_rtscope_n2a(), rtnl_dsfield_n2a()).

    Those read the files only when a number has no built-in name, so a file that renames a built-in
    one ("3 myboot") changes nothing until some number without one has been printed in the same `ip`;
    this takes the first case, the one every lab's routes (kernel, boot, static) meet: a built-in
    name wins, and the files name the rest. For protocols the rt_protos.d/*.conf files come after
    rt_protos, in name order (iproute2 takes readdir()'s order, which no two file systems agree on),
    leaving out the hidden ones and a bare ".conf", as rtnl_rtprot_initialize() does."""
    found: dict[int, str] = {}
    _read_names(os.path.join(CONFDIR, kind), found)
    folder = os.path.join(CONFDIR, f"{kind}.d")
    if kind == "rt_protos" and os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if not name.startswith(".") and len(name) > 5 and name.endswith(".conf"):
                _read_names(os.path.join(folder, name), found)
    return found | {"rt_protos": PROTOCOLS, "rt_scopes": SCOPES, "rt_dsfield": {}}[kind]


def _u32(value: bytes) -> int:
    return struct.unpack("=I", value[:4])[0]


def _route(body: bytes, name_of: dict[int, str]) -> dict[str, Any] | None:
    family, dst_len, _src_len, tos, table, protocol, scope, kind, flags = RTMSG.unpack_from(body)
    attrs = attributes(body, RTMSG.size, len(body))
    if (_u32(attrs[RTA_TABLE]) if RTA_TABLE in attrs else table) != RT_TABLE_MAIN or flags & RTM_F_CLONED:
        return None
    route: dict[str, Any] = {"type": TYPES[kind] if kind < len(TYPES) else str(kind)}
    if RTA_DST in attrs:
        dst = socket.inet_ntop(family, attrs[RTA_DST])
        route["dst"] = dst if dst_len == 32 else f"{dst}/{dst_len}"  # a host route is a bare address
    else:
        route["dst"] = f"0/{dst_len}" if dst_len else "default"
    if tos:
        route["tos"] = names("rt_dsfield").get(tos, f"0x{tos:02x}")
    if RTA_GATEWAY in attrs:
        route["gateway"] = socket.inet_ntop(family, attrs[RTA_GATEWAY])
    if RTA_OIF in attrs:
        index = _u32(attrs[RTA_OIF])
        route["dev"] = name_of.get(index, f"if{index}")
    route["protocol"] = names("rt_protos").get(protocol, str(protocol))
    route["scope"] = names("rt_scopes").get(scope, str(scope))
    if RTA_PREFSRC in attrs:
        route["prefsrc"] = socket.inet_ntop(family, attrs[RTA_PREFSRC])
    if RTA_PRIORITY in attrs:
        route["metric"] = _u32(attrs[RTA_PRIORITY])
    route["flags"] = [word for bit, word in FLAGS if flags & bit]
    for attr in sorted(set(attrs) - READ):
        route[OTHER.get(attr, f"attribute {attr}")] = attrs[attr].hex()
    return route


def parse_routes(answers: list[tuple[int, bytes]], links: list[Link]) -> list[dict[str, Any]]:
    """The main table's routes among a dump's answers, in its order, as `ip -j -d route show` printed
    them; `links` are the namespace's, to name each device (ll_index_to_name(): "if7" for one not there)."""
    name_of = {link.index: link.name for link in links}
    out = []
    for body in nlmsg.bodies(answers, RTM_NEWROUTE, RTMSG.size, WHAT):
        with nlmsg.reading(WHAT):
            route = _route(body, name_of)
        if route is not None:
            out.append(route)
    return out


def routes(links: list[Link]) -> list[dict[str, Any]]:
    """The IPv4 main table of this thread's network namespace (run it inside netns.inside()), as
    `ip -j -d route show` prints it; `links` are the namespace's (rtlink.links())."""
    request = RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
    return parse_routes(nlmsg.dump(socket.SOCK_RAW, socket.NETLINK_ROUTE, RTM_GETROUTE, request, WHAT), links)
