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
(include/uapi/linux/inet_diag.h); netsim.lab.nlmsg asks and reads the dump. Each answer also names
its socket's inode (idiag_inode, sock_i_ino()), the number a process's /proc/PID/fd links name as
`socket:[INODE]`: the lab's wait for ssh's forward tells ssh's own listener from another's by it
(owns_listener()), as `ss -p` does by walking every process's descriptors.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

from netsim.lab import nlmsg

NETLINK_SOCK_DIAG = 4  # include/uapi/linux/netlink.h
SOCK_DIAG_BY_FAMILY = 20  # include/uapi/linux/sock_diag.h
TCP_LISTEN = 10  # include/net/tcp_states.h
SOCKID = 48  # inet_diag_sockid: sport, dport (__be16), src, dst (__be32[4]), if, cookie[2]
# inet_diag_msg: family, state, timer, retrans, then the sockid (sport at 4, src[0] at 8), then
# expires, rqueue, wqueue, uid, inode
INODE = 4 + SOCKID + 16
MESSAGE = INODE + 4
WHAT = "a sock_diag dump of listening TCP sockets (what `ss -ltn` asks; tcp_diag answers it)"


def request(family: int = socket.AF_INET, states: int = 1 << TCP_LISTEN) -> bytes:
    """inet_diag_req_v2: family, protocol, ext, pad, states, and a zero inet_diag_sockid (any socket)."""
    return struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, states) + bytes(SOCKID)


def listener_inodes(answers: list[tuple[int, bytes]]) -> list[tuple[ipaddress.IPv4Address, int, int]]:
    """The (address, port, inode) of each IPv4 socket in LISTEN among a dump's answers."""
    found = []
    for body in nlmsg.bodies(answers, SOCK_DIAG_BY_FAMILY, MESSAGE, WHAT):
        family, state = body[0], body[1]
        if family == socket.AF_INET and state == TCP_LISTEN:
            # idiag_sport (__be16), idiag_src[0] (__be32), idiag_inode (host order)
            address, port = ipaddress.IPv4Address(body[8:12]), int.from_bytes(body[4:6], "big")
            found.append((address, port, struct.unpack_from("=I", body, INODE)[0]))
    return found


def listeners(answers: list[tuple[int, bytes]]) -> set[tuple[ipaddress.IPv4Address, int]]:
    """The (address, port) of each IPv4 socket in LISTEN among a dump's answers."""
    return {(address, port) for address, port, _inode in listener_inodes(answers)}


def _dump() -> list[tuple[int, bytes]]:
    return nlmsg.dump(socket.SOCK_DGRAM, NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, request(), WHAT)


def listening_sockets() -> set[tuple[ipaddress.IPv4Address, int]]:
    """The (address, port) of each IPv4 TCP socket in LISTEN in this thread's network namespace
    (the netlink socket is the namespace's it is made in: run it inside netns.inside())."""
    return listeners(_dump())


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets a process holds open: its /proc/PID/fd links that read
    `socket:[INODE]` (sockfs_dname(), net/socket.c); none for a process that is gone."""
    found = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed since the listing
        if target.startswith("socket:[") and target.endswith("]"):
            found.add(int(target[8:-1]))
    return found


def owns_listener(address: str, port: int, pid: int | None = None) -> bool:
    """Whether an IPv4 TCP listener stands on address:port in this thread's network namespace (run it
    inside netns.inside()), and, given a pid, whether that process holds it (what `ss -Hltnp` tells
    by `pid=`)."""
    inodes = {inode for a, p, inode in listener_inodes(_dump()) if str(a) == address and p == port}
    return bool(inodes) if pid is None else bool(inodes & socket_inodes(pid))
