"""The REACHABLE lifetimes the kernel drew for each device, as rtnetlink tells them (RTM_GETNEIGHTBL).

Each device's ARP parameters hold a reachable time drawn at random between half and one and a half
times the base (neigh_rand_reach_time(), net/core/neighbour.c), drawn again every 300 s by the table's
periodic work. The lab reads the draws in force before the first step (Lab.reachable()); until 2026-12
that was an `ip -j ntable show name arp_cache` a namespace, a process each. Here this process sends
the dump `ip ntable show` sends (ipntable.c), inside the namespace. neightbl_dump_info() answers, for
each table of the family, one message for the table itself (its default parameters, which belong to
no device) and one for each device's parameters (neightbl_fill_param_info()): NDTA_NAME, then
NDTA_PARMS holding NDTPA_IFINDEX and NDTPA_REACHABLE_TIME (nla_put_msecs(): milliseconds, a u64).
"""

from __future__ import annotations

import socket
import struct

from netsim.lab import nlmsg
from netsim.lab.rtlink import attributes

RTM_NEWNEIGHTBL, RTM_GETNEIGHTBL = 64, 66  # include/uapi/linux/rtnetlink.h
NDTMSG = struct.Struct("=B3x")  # ndtm_family, pads (include/uapi/linux/neighbour.h)
NDTA_NAME, NDTA_PARMS = 1, 6
NDTPA_IFINDEX, NDTPA_REACHABLE_TIME = 1, 3
WHAT = "an RTM_GETNEIGHTBL dump (what `ip ntable show` asks)"


def parse_draws(answers: list[tuple[int, bytes]], table: str) -> dict[int, int]:
    """Each device's drawn reachable time in milliseconds, by ifindex, in the table named `table`."""
    out: dict[int, int] = {}
    for body in nlmsg.bodies(answers, RTM_NEWNEIGHTBL, NDTMSG.size, WHAT):
        attrs = attributes(body, NDTMSG.size, len(body))
        if attrs.get(NDTA_NAME, b"").rstrip(b"\0") != table.encode() or NDTA_PARMS not in attrs:
            continue
        parms = attributes(attrs[NDTA_PARMS], 0, len(attrs[NDTA_PARMS]))
        if NDTPA_IFINDEX in parms and NDTPA_REACHABLE_TIME in parms:  # a device's, not the table's defaults
            out[struct.unpack("=I", parms[NDTPA_IFINDEX][:4])[0]] = struct.unpack(
                "=Q", parms[NDTPA_REACHABLE_TIME][:8]
            )[0]
    return out


def draws(table: str = "arp_cache") -> dict[int, int]:
    """The draws of this thread's network namespace (run it inside netns.inside()), by ifindex, in ms."""
    request = NDTMSG.pack(socket.AF_INET)
    return parse_draws(nlmsg.dump(socket.SOCK_RAW, socket.NETLINK_ROUTE, RTM_GETNEIGHTBL, request, WHAT), table)
