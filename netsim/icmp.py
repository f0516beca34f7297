"""The rate limit on ICMP errors a host sends (net/ipv4/icmp.c, net/ipv4/inetpeer.c).

icmp_send() asks icmpv4_xrlim_allow() before it sends an error of a type in net.ipv4.icmp_ratemask
(6168 by default: destination unreachable, source quench, time exceeded, parameter problem), except
"fragmentation needed" and anything leaving by lo. The limit is a token bucket per destination
address (the namespace's inet_peer for it, inet_peer_xrlim_allow()): tokens grow with time, at most
XRLIM_BURST_FACTOR times net.ipv4.icmp_ratelimit (1000 ms), and each error spends one ratelimit's
worth. A new peer starts as if last seen 60 s ago (inet_getpeer(): rate_last = jiffies - 60*HZ), so
a full burst of six: the seventh error within a second to one host is not sent, and a client's SYN
that met a reject is retransmitted instead (outsider's 61). nft's `reject` goes through icmp_send()
too (nf_send_unreach()).

A router that has no route for a packet answers from ip_error() (net/ipv4/route.c), which keeps a
bucket of its own on the same inet_peer, that of the offending packet's source: it spends
ip_rt_error_cost (1 s) of rate_tokens, at most ip_rt_error_burst (5 s) of them, before it calls
icmp_send(), whose check above spends another second of the same tokens. So a sender whose packets
meet no route gets four errors a second apart, not an endless one a second (outsider3's 09).

Simplification, named: the global limit (icmp_global_allow(), icmp_msgs_per_sec 1000, burst 50 per
namespace) is not modelled; no scenario here comes near it. Peers are never forgotten (the kernel's
inet_peer GC drops unused ones after a while; a forgotten peer starts with a full burst again, as
one not used for six seconds does here).

Tokens are jiffies in the kernel: a bucket fills by whole ticks between two looks at it. On the lab's
clock, whose tick phase the lab reads, netsim looks at the moment of the last tick (Stack.tick_at());
elsewhere (`netsim run`, the pages) it counts seconds. netsim's timers fire on time where the kernel's
wheel fires them a little late (netsim.timerwheel): a retransmitted SYN that comes 16 ms late finds
16 ms more in its sender's bucket. So a refusal also says when the bucket would have allowed
(wait()): the comparison with the kernel tries a late timer past that moment (timer-branch).
"""

from __future__ import annotations

from dataclasses import dataclass

RATELIMIT = 1.0  # net.ipv4.icmp_ratelimit, 1000 ms
BURST_FACTOR = 6  # XRLIM_BURST_FACTOR
ERROR_COST = 1.0  # ip_rt_error_cost, HZ (net.ipv4.route.error_cost)
ERROR_BURST = 5.0  # ip_rt_error_burst, 5 * HZ (net.ipv4.route.error_burst)
RATEMASK = (3, 4, 11, 12)  # the types in net.ipv4.icmp_ratemask = 6168
ICMP_FRAG_NEEDED = 4  # code 4 of type 3 is never limited
# Under a tick at any HZ: a bucket counted in ticks of TICK_NSEC (3,333,333 ns at HZ 300) holds its HZ
# ticks a tenth of a microsecond short of a second, and that is a full ratelimit's worth.
TOLERANCE = 1e-6


@dataclass
class Peer:
    tokens: float = 0.0  # rate_tokens, in seconds
    last: float = -60.0  # rate_last: a new peer starts 60 s back, a full burst


def limited(type_: int, code: int) -> bool:
    """Whether icmpv4_mask_allow() leaves an error of this type to the rate limit."""
    return type_ in RATEMASK and not (type_ == 3 and code == ICMP_FRAG_NEEDED)


def allow(peers: dict[str, Peer], dst: str, now: float) -> bool:
    """inet_peer_xrlim_allow(): spend one token of `dst`'s bucket, if there is one to spend."""
    peer = peers.setdefault(dst, Peer(last=now - 60.0))
    tokens = min(peer.tokens + now - peer.last, BURST_FACTOR * RATELIMIT)
    peer.last = now
    ok = tokens >= RATELIMIT - TOLERANCE
    peer.tokens = tokens - RATELIMIT if ok else tokens
    return ok


def ip_error_allow(peers: dict[str, Peer], src: str, now: float) -> bool:
    """ip_error()'s own check on the source's peer: tokens grow with time up to ERROR_BURST, and an
    error costs ERROR_COST; rate_last moves to now either way. False: no ICMP at all."""
    peer = peers.setdefault(src, Peer(last=now - 60.0))
    peer.tokens = min(peer.tokens + now - peer.last, ERROR_BURST)
    peer.last = now
    if peer.tokens >= ERROR_COST - TOLERANCE:
        peer.tokens -= ERROR_COST
        return True
    return False


def wait(peers: dict[str, Peer], addr: str, cost: float) -> float:
    """Seconds after the last check of `addr`'s bucket until it holds `cost`: a check that came that
    much later would have passed (inet_peer_xrlim_allow() and ip_error() add the time since rate_last)."""
    peer = peers.get(addr)
    return 0.0 if peer is None else max(cost - peer.tokens, 0.0)  # a new peer starts full (inet_getpeer())
