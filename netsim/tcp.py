"""TCP's half of the story: which socket a SYN finds (inet_hashtables.c) and what it answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.addresses import ANY
from netsim.frames import Icmp, Tcp, initial_sequence

if TYPE_CHECKING:
    from netsim.netns import Connection, Namespace
    from netsim.simulation import Simulation

# What connect() reports, by the errno the kernel would return.
ERRNO_NAME = {
    "connected": None,
    "refused": "ECONNREFUSED",
    "host-unreachable": "EHOSTUNREACH",
    "network-unreachable": "ENETUNREACH",
    "timeout": "ETIMEDOUT",
}
OUTCOMES = tuple(ERRNO_NAME)


def find_listener(listeners: set[tuple[str, int]], dst_ip: str, dport: int) -> tuple[str, int] | None:
    """Exact address and port first, then the wildcard 0.0.0.0 and the port; nothing else."""
    if (dst_ip, dport) in listeners:
        return (dst_ip, dport)
    if (str(ANY), dport) in listeners:
        return (str(ANY), dport)
    return None


LINEAR_TIMEOUTS = 4  # tcp_syn_linear_timeouts: Linux 6.7 and later repeat a 1 s RTO this many times


def _timer_firings(retries: int, linear: int = LINEAR_TIMEOUTS) -> list[float]:
    """When the SYN retransmit timer fires: 1 s apart for the first linear + 1, then doubling."""
    limit = float(2 ** (retries + 1) - 1)  # tcp_model_timeout: the exponential schedule's total
    fires, t, n = [], 0.0, 0
    while True:
        n += 1
        t += 1.0 if n <= linear + 1 else float(2 ** (n - linear - 1))
        fires.append(t)
        if t >= limit:
            return fires


def retransmit_times(retries: int, linear: int = LINEAR_TIMEOUTS) -> list[float]:
    """Offsets of each retransmitted SYN after the first: 1, 2, 3, 4, 5, 7, 11, 19 ... seconds.

    The kernel (tcp_timer.c) retransmits each time its timer fires, until the time the classic
    doubling schedule would have taken for `retries` retransmissions has passed.
    """
    return _timer_firings(retries, linear)[:-1]


def syn_timeout(retries: int, linear: int = LINEAR_TIMEOUTS) -> float:
    """Seconds from the first SYN to ETIMEDOUT: the first timer firing at or after the limit.

    7 s with tcp_syn_retries=2; 131 s with the default 6 (127 s on kernels before 6.7).
    """
    return _timer_firings(retries, linear)[-1]


def receive(sim: Simulation, ns: Namespace, dev: str, seg: Tcp) -> None:
    """tcp_v4_rcv(): a SYN looks for a listener; answers settle a waiting connect()."""
    from netsim import ipv4  # ipv4 calls back into tcp: import at use to keep one direction

    if seg.flags == "S":
        found = find_listener(ns.listeners, seg.dst_ip, seg.dport)
        if found is None:
            # No socket matched: the kernel itself slams the door; no program ever hears of it.
            sim.event(f"no listener on {ns.label} for {seg.dst_ip}:{seg.dport}: the kernel answers RST")
            reply = Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "RA", 0, seg.seq + 1)
        else:
            sim.event(f"{ns.label}'s listener on {found[0]}:{found[1]} answers SYN-ACK")
            isn = initial_sequence(seg.dst_ip, seg.src_ip, seg.dport, seg.sport)
            reply = Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "SA", isn, seg.seq + 1)
        ipv4.output(sim, ns, reply)
        return
    if seg.flags == "A":
        # The ACK proves the path, but the kernel only records that the next time this socket
        # transmits (sk_dst_confirm); a listener that sends nothing more leaves its entry as is.
        sim.event(f"{ns.label} completes the handshake")
        return
    conn = _connection(ns, seg)
    if conn is None or conn.state != "SYN_SENT":
        return
    if seg.flags == "SA":
        # tcp_ack() sets sk_dst_pending_confirm; the ACK below confirms the neighbour on its way out
        # (sock_confirm_neigh() in ip_finish_output2()).
        ns.neigh.confirm(ipv4.nexthop(ns, seg.src_ip))
        conn.state = "connected"
        ipv4.output(sim, ns, Tcp(conn.src_ip, conn.dst_ip, conn.sport, conn.dport, "A", seg.ack, seg.seq + 1))
    elif seg.flags == "RA":
        conn.state = "refused"


def error(sim: Simulation, ns: Namespace, icmp: Icmp) -> None:
    """ICMP port unreachable for a SYN_SENT socket: connect() fails at once with ECONNREFUSED."""
    sent = icmp.original
    quoted = (sent.src_ip, sent.sport, sent.dst_ip, sent.dport)
    for conn in ns.connections:
        mine = (conn.src_ip, conn.sport, conn.dst_ip, conn.dport) == quoted
        if mine and conn.state == "SYN_SENT" and (icmp.type, icmp.code) == (3, 3):
            conn.state = "refused"
            sim.event(f"{ns.label} reads the ICMP error: connection refused")


def _connection(ns: Namespace, seg: Tcp) -> Connection | None:
    for conn in ns.connections:
        if (conn.dst_ip, conn.dport, conn.src_ip, conn.sport) == (
            seg.src_ip,
            seg.sport,
            seg.dst_ip,
            seg.dport,
        ):
            return conn
    return None
