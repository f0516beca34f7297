"""A namespace's neighbour tables as rtnetlink tells them (RTM_GETNEIGH), for the lab's read after each step.

After every step the lab writes down each namespace's neighbour table (Lab.after_step()), the one the
posts draw. Until 2026-12 that was the `neigh show` of an `ip -j -d -batch` a namespace; here this
process sends the dump `ip neigh show` sends (do_show_or_flush() in ip/ipneigh.c, iproute2 6.1): an
RTM_GETNEIGH of family AF_UNSPEC, which neigh_dump_info() (net/core/neighbour.c) answers with every
entry of every neighbour table (ARP's and, where IPv6 is on, NDISC's), one message an entry
(neigh_fill_info()).

It keeps the entries `ip neigh show` prints, by print_neigh()'s own test: an entry whose state is in
the show filter (every NUD_* bit but NUD_NOARP: an entry that is only NOARP, such as a multicast or
broadcast address's, is left out, and one with no state at all too), unless it is a proxy entry or
one learned from outside the kernel (NTF_PROXY, NTF_EXT_LEARNED), which are printed whatever their
state. Of each, what `ip -j neigh show` printed: `dst` (NDA_DST), `dev` (the ifindex's name),
`lladdr` (NDA_LLADDR, which neigh_fill_info() adds only in a NUD_VALID state) and `state`, the
names of the NUD_* bits set, lowest first, as print_neigh_state() lists them.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from netsim.errors import LabError
from netsim.lab import nlmsg
from netsim.lab.rtlink import Link, attributes, ll_address

RTM_NEWNEIGH, RTM_GETNEIGH = 28, 30  # include/uapi/linux/rtnetlink.h
NDMSG = struct.Struct("=B3xiHBB")  # ndm_family, pad, ndm_ifindex, ndm_state, ndm_flags, ndm_type (neighbour.h)
NDA_DST, NDA_LLADDR = 1, 2  # enum in include/uapi/linux/neighbour.h
NTF_PROXY, NTF_EXT_LEARNED = 0x08, 0x10
NUD_NOARP = 0x40
SHOWN = 0xFF & ~NUD_NOARP  # do_show_or_flush(): filter.state for `show` with no `nud`
# The NUD_* bits in print_neigh_state()'s order, lowest first (include/uapi/linux/neighbour.h).
STATES = ("INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "NOARP", "PERMANENT")
FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 16}
WHAT = "an RTM_GETNEIGH dump of family AF_UNSPEC (what `ip neigh show` asks)"


def state_names(state: int) -> list[str]:
    """The names of the NUD_* bits set in `state`, lowest first."""
    return [name for bit, name in enumerate(STATES) if state & (1 << bit)]


def parse_entries(answers: list[tuple[int, bytes]], links: list[Link]) -> list[dict[str, Any]]:
    """The entries `ip -j neigh show` prints among a dump's answers, in its order and words; `links`
    are the namespace's, to name each device (ll_index_to_name(): "if7" for one not there) and to
    write each address as its device type's (ll_addr_n2a())."""
    by_index = {link.index: link for link in links}
    out: list[dict[str, Any]] = []
    for body in nlmsg.bodies(answers, RTM_NEWNEIGH, NDMSG.size, WHAT):
        with nlmsg.reading(WHAT):
            entry = _entry(body, by_index)
        if entry is not None:
            out.append(entry)
    return out


def _entry(body: bytes, by_index: dict[int, Link]) -> dict[str, Any] | None:
    """One answer as print_neigh() prints it, or None for one `ip neigh show` leaves out."""
    family, index, state, flags, _type = NDMSG.unpack_from(body)
    if not (state & SHOWN) and not (flags & (NTF_PROXY | NTF_EXT_LEARNED)):
        return None
    attrs = attributes(body, NDMSG.size, len(body))
    # neigh_fill_info() (net/core/neighbour.c) always puts NDA_DST in; print_neigh() would print an
    # entry without it, but every reader downstream keys entries by their address.
    dst = attrs.get(NDA_DST)
    if dst is None or FAMILIES.get(family) != len(dst):
        said = f"a neighbour of family {family} with a {len(dst) if dst is not None else 'missing'}-byte address"
        raise LabError(f"netlink: {said}, answering {WHAT}")
    entry: dict[str, Any] = {"dst": socket.inet_ntop(family, dst)}
    link = by_index.get(index)
    if index:
        entry["dev"] = link.name if link is not None else f"if{index}"
    if NDA_LLADDR in attrs:
        entry["lladdr"] = ll_address(attrs[NDA_LLADDR], link.type if link is not None else 0)
    if state:
        entry["state"] = state_names(state)
    return entry


def dump() -> list[tuple[int, bytes]]:
    """The answers to `ip neigh show`'s dump in this thread's network namespace (run it inside
    netns.inside()), for parse_entries(): the lab asks it before the links that name its devices, so
    that it is the read nearest the step's end."""
    request = NDMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    return nlmsg.dump(socket.SOCK_RAW, socket.NETLINK_ROUTE, RTM_GETNEIGH, request, WHAT)


def entries(links: list[Link]) -> list[dict[str, Any]]:
    """The neighbour entries `ip -j neigh show` prints in this thread's network namespace (run it inside
    netns.inside()); `links` are the namespace's (rtlink.links())."""
    return parse_entries(dump(), links)
