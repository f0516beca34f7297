"""A namespace's IPv4 addresses as rtnetlink tells them (RTM_GETADDR), for the lab's read after each step.

After every step the lab writes each namespace's links down with their IPv4 addresses (Lab.links()).
Until 2026-12 they came from the `addr show` of an `ip -j -d -batch` a namespace; here this process
sends the RTM_GETADDR dump of family AF_INET that `ip -4 addr show` sends (ipaddr_list_flush_or_save()
in ip/ipaddress.c), inside the namespace. inet_dump_ifaddr() (net/ipv4/devinet.c) answers one message
an address, device by device, each device's in the order of its list (ifa_list: primaries before
secondaries, as __inet_insert_ifa() keeps it), which is the order `ip addr show` prints them in.

Of each address the lab reads what `ip -j addr show` printed as `local` and `prefixlen`: IFA_LOCAL,
or IFA_ADDRESS where there is no IFA_LOCAL, as print_addrinfo() takes it, and ifa_prefixlen.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from netsim.errors import LabError
from netsim.lab import nlmsg
from netsim.lab.rtlink import attributes

RTM_NEWADDR, RTM_GETADDR = 20, 22  # include/uapi/linux/rtnetlink.h
IFADDRMSG = struct.Struct("=BBBBI")  # ifa_family, ifa_prefixlen, ifa_flags, ifa_scope, ifa_index (if_addr.h)
IFA_ADDRESS, IFA_LOCAL = 1, 2  # enum in include/uapi/linux/if_addr.h
WHAT = "an RTM_GETADDR dump of family AF_INET (what `ip -4 addr show` asks)"


@dataclass(frozen=True)
class Address:
    """One IPv4 address of a device."""

    index: int  # the device's ifindex
    local: str  # dotted quad
    prefixlen: int


def parse_addresses(answers: list[tuple[int, bytes]]) -> list[Address]:
    """The IPv4 addresses among a dump's answers, in its order."""
    out = []
    for body in nlmsg.bodies(answers, RTM_NEWADDR, IFADDRMSG.size, WHAT):
        family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(body)
        if family != socket.AF_INET:
            continue
        with nlmsg.reading(WHAT):
            attrs = attributes(body, IFADDRMSG.size, len(body))
        raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
        if raw is None or len(raw) != 4:
            raise LabError(f"netlink: an IPv4 address of ifindex {index} with no 4-byte IFA_LOCAL, answering {WHAT}")
        out.append(Address(index=index, local=socket.inet_ntop(socket.AF_INET, raw), prefixlen=prefixlen))
    return out


def addresses() -> list[Address]:
    """Every IPv4 address of this thread's network namespace (run it inside netns.inside())."""
    request = IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
    return parse_addresses(nlmsg.dump(socket.SOCK_RAW, socket.NETLINK_ROUTE, RTM_GETADDR, request, WHAT))
