"""A namespace's listening TCP sockets, asked of the kernel over NETLINK_SOCK_DIAG (what `ss -ltn` asks).

Until 2026-12 the lab read /proc/net/tcp inside each namespace after every step. That file walks the
whole established hash as well as the listening one (tcp_seq_next() in net/ipv4/tcp_ipv4.c), and
the established hash is the machine's, shared by every namespace unless tcp_child_ehash_entries
gave it its own: 262,144 buckets on this machine, about 5 ms of CPU a read, a tenth of a lab run's.
A sock_diag dump that asks only for TCPF_LISTEN walks the listening hash and stops there
(tcp_diag_dump() in net/ipv4/tcp_diag.c, inet_diag_dump_icsk() in inet_diag.c before 6.14: "if
(!(idiag_states & ~TCPF_LISTEN)) goto out"). The answer is the same set of sockets: those of the
namespace the netlink socket was made in (sock_net(skb->sk)) and of the family asked.

The request is struct inet_diag_req_v2 and each answer a struct inet_diag_msg
(include/uapi/linux/inet_diag.h) after a struct nlmsghdr (include/uapi/linux/netlink.h).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

from netsim.errors import LabError

NETLINK_SOCK_DIAG = 4  # include/uapi/linux/netlink.h
SOCK_DIAG_BY_FAMILY = 20  # include/uapi/linux/sock_diag.h
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_LISTEN = 10  # include/net/tcp_states.h

NLMSGHDR = struct.Struct("=IHHII")  # nlmsg_len, nlmsg_type, nlmsg_flags, nlmsg_seq, nlmsg_pid
SOCKID = 48  # inet_diag_sockid: sport, dport (__be16), src, dst (__be32[4]), if, cookie[2]


def _request(family: int, states: int, seq: int) -> bytes:
    """inet_diag_req_v2: family, protocol, ext, pad, states, and a zero inet_diag_sockid (any socket)."""
    body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, states) + bytes(SOCKID)
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def parse_listeners(data: bytes, seq: int) -> tuple[set[tuple[ipaddress.IPv4Address, int]], bool]:
    """The (address, port) of each IPv4 socket in one read of the dump's answers, and whether the
    dump ended in it (NLMSG_DONE). An NLMSG_ERROR is a LabError: the kernel refused the question."""
    found: set[tuple[ipaddress.IPv4Address, int]] = set()
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, kind, _flags, got_seq, _pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size or offset + length > len(data):
            raise LabError(f"sock_diag: a netlink message of {length} bytes at {offset} of {len(data)}")
        body = data[offset + NLMSGHDR.size : offset + length]
        offset += (length + 3) & ~3  # NLMSG_ALIGN
        if got_seq != seq:
            continue  # not an answer to this question
        if kind == NLMSG_DONE:
            return found, True
        if kind == NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", body)
            raise LabError(
                f"sock_diag: the kernel answered {os.strerror(-error)} to a dump of listening TCP sockets "
                "(what `ss -ltn` asks; a kernel built without CONFIG_INET_DIAG cannot answer it)"
            )
        if kind != SOCK_DIAG_BY_FAMILY or len(body) < 4 + 4 + 16:
            raise LabError(f"sock_diag: an answer of type {kind} and {len(body)} bytes")
        family, state = body[0], body[1]  # inet_diag_msg: family, state, timer, retrans, then the sockid
        sport = int.from_bytes(body[4:6], "big")  # idiag_sport, __be16
        if family == socket.AF_INET and state == TCP_LISTEN:
            found.add((ipaddress.IPv4Address(body[8:12]), sport))  # idiag_src[0], __be32
    return found, False


def listening_sockets(seq: int = 1) -> set[tuple[ipaddress.IPv4Address, int]]:
    """The (address, port) of each IPv4 TCP socket in LISTEN in this thread's network namespace
    (the netlink socket is the namespace's it is made in: run it inside netns.inside())."""
    found: set[tuple[ipaddress.IPv4Address, int]] = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock:
        sock.sendto(_request(socket.AF_INET, 1 << TCP_LISTEN, seq), (0, 0))
        while True:
            part, done = parse_listeners(sock.recv(65536), seq)
            found |= part
            if done:
                return found
