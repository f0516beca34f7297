"""TCP's half of the story: which socket a SYN finds (inet_hashtables.c) and what it answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.addresses import ANY
from netsim.frames import Tcp, initial_sequence

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


def retransmit_times(retries: int) -> list[float]:
    """Offsets of each retransmitted SYN after the first: RTO 1 s, doubling: 1, 3, 7, 15 ..."""
    return [float(2 ** (n + 1) - 1) for n in range(retries)]


def syn_timeout(retries: int) -> float:
    """Seconds from the first SYN to ETIMEDOUT: 127 s with the default tcp_syn_retries=6."""
    return float(2 ** (retries + 1) - 1)


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
        ns.neigh.confirm(ipv4.nexthop(ns, seg.src_ip), sim.now)
        conn.state = "connected"
        ipv4.output(sim, ns, Tcp(conn.src_ip, conn.dst_ip, conn.sport, conn.dport, "A", seg.ack, seg.seq + 1))
    elif seg.flags == "RA":
        conn.state = "refused"


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
