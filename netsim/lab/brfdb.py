"""A bridge's forwarding database as rtnetlink tells it, for the lab's reads before and after each step.

The lab reads each bridge's learned entries after every step (Lab.fdb()), and before every step the
entries with how long ago each was refreshed (Lab.before_step()). Until 2026-12 these were a
`bridge -batch` and a `bridge -s -d -batch` a namespace, two processes a step; here this process sends
the RTM_GETNEIGH dump of family AF_BRIDGE that `bridge fdb show` sends (bridge/fdb.c), inside the
namespace, with no filter: rtnl_fdb_dump() (net/core/rtnetlink.c) then dumps every device's entries,
and a bridge's own are the ones whose NDA_MASTER is its ifindex (br_fdb_fill_info(),
net/bridge/br_fdb.c), each once, under its port (ndm_ifindex), in the order `fdb show br NAME` lists them.

Of each entry the lab reads what `bridge -j -s fdb show` printed of it: the MAC (NDA_LLADDR), the
port, the bridge, whether it is permanent (NUD_PERMANENT: a port's own address, fdb_to_nud()), its
VLAN (NDA_VLAN), and how long ago it was refreshed (struct nda_cacheinfo's ndm_updated, in USER_HZ
ticks: jiffies_to_clock_t(now - fdb->updated); `bridge -s` printed it in whole seconds).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from netsim.lab import nlmsg
from netsim.lab.rtlink import attributes

AF_BRIDGE = 7  # PF_BRIDGE, include/linux/socket.h
RTM_NEWNEIGH, RTM_GETNEIGH = 28, 30  # include/uapi/linux/rtnetlink.h
NDMSG = struct.Struct("=B3xiHBB")  # ndm_family, pad, ndm_ifindex, ndm_state, ndm_flags, ndm_type (neighbour.h)
NDA_LLADDR, NDA_CACHEINFO, NDA_VLAN, NDA_MASTER = 2, 3, 5, 9  # enum in include/uapi/linux/neighbour.h
CACHEINFO = struct.Struct("=IIII")  # ndm_confirmed, ndm_used, ndm_updated, ndm_refcnt
NUD_PERMANENT = 0x80
WHAT = "an RTM_GETNEIGH dump of family AF_BRIDGE (what `bridge fdb show` asks)"


@dataclass(frozen=True)
class Entry:
    """One entry of a bridge's forwarding database."""

    mac: str  # as iproute2 prints it: two lowercase hex digits a byte, colons between
    port: int  # the ifindex it forwards to (the bridge's own for the bridge's own address)
    master: int | None  # the bridge's ifindex (NDA_MASTER); None: a device's own list (`self`)
    permanent: bool  # NUD_PERMANENT: an address of the bridge or of a port, never learned
    vlan: int | None
    updated: int | None  # USER_HZ ticks since the entry was last refreshed


def parse_entries(answers: list[tuple[int, bytes]]) -> list[Entry]:
    """The entries among a dump's answers."""
    out = []
    for body in nlmsg.bodies(answers, RTM_NEWNEIGH, NDMSG.size, WHAT):
        _family, port, state, _flags, _type = NDMSG.unpack_from(body)
        attrs = attributes(body, NDMSG.size, len(body))
        cache = attrs.get(NDA_CACHEINFO)
        master = attrs.get(NDA_MASTER)
        vlan = attrs.get(NDA_VLAN)
        out.append(
            Entry(
                mac=":".join(f"{b:02x}" for b in attrs.get(NDA_LLADDR, b"")),
                port=port,
                master=struct.unpack("=I", master[:4])[0] if master is not None and len(master) >= 4 else None,
                permanent=bool(state & NUD_PERMANENT),
                vlan=struct.unpack("=H", vlan[:2])[0] if vlan is not None and len(vlan) >= 2 else None,
                updated=CACHEINFO.unpack_from(cache)[2] if cache is not None and len(cache) >= CACHEINFO.size else None,
            )
        )
    return out


def entries() -> list[Entry]:
    """Every bridge's entries (and every device's own list) in this thread's network namespace (run it
    inside netns.inside())."""
    request = NDMSG.pack(AF_BRIDGE, 0, 0, 0, 0)
    return parse_entries(nlmsg.dump(socket.SOCK_RAW, socket.NETLINK_ROUTE, RTM_GETNEIGH, request, WHAT))
