"""TCP's half of the story: which socket a SYN finds (inet_hashtables.c) and what it answers.

TCP never sends on its own: it answers IP (netsim.ipv4) with the segments to send.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from netsim.addresses import ANY
from netsim.frames import (
    DNS_PORT,
    ICMP_DEST_UNREACH,
    ICMP_EXC_TTL,
    ICMP_HOST_UNREACH,
    ICMP_NET_UNREACH,
    ICMP_PARAMETERPROB,
    ICMP_PKT_FILTERED,
    ICMP_PORT_UNREACH,
    ICMP_TIME_EXCEEDED,
    Icmp,
    Tcp,
)

if TYPE_CHECKING:
    from netsim.netns import Connection, Namespace
    from netsim.stack import Stack

# What connect() reports, by the errno the kernel would return.
ERRNO_NAME = {
    "connected": None,
    "refused": "ECONNREFUSED",
    "host-unreachable": "EHOSTUNREACH",
    "network-unreachable": "ENETUNREACH",
    "timeout": "ETIMEDOUT",
    # Not the kernel's: the application stopped waiting first (Go's "i/o timeout"); no errno at all.
    "deadline": None,
    # What listen() can get: bind() refusing the address.
    "address-in-use": "EADDRINUSE",
    "address-not-available": "EADDRNOTAVAIL",
}
OUTCOMES = tuple(ERRNO_NAME)
# The backlog the lab's and the script's listeners pass to listen(): ssh's own for a forwarded port
# (SSH_LISTEN_BACKLOG in OpenSSH's ssh.h), so `ss -ltn` shows what it shows for a real tunnel.
LISTEN_BACKLOG = 128
# dnsmasq's own for its TCP listener (TCP_BACKLOG in dnsmasq's src/config.h), the lab's DNS server.
DNSMASQ_BACKLOG = 32


def bind_error(
    local: set[str],
    listeners: Collection[tuple[str, int]],
    addr: str,
    port: int,
    reuseport: bool = False,
    shared: frozenset[tuple[str, int]] | set[tuple[str, int]] = frozenset(),
) -> str | None:
    """What bind() says to a listener for (addr, port): None, or the outcome of its errno.

    inet_bind(): an address the namespace does not have is EADDRNOTAVAIL (ip_nonlocal_bind 0).
    inet_csk_bind_conflict(): a port already listened on at the same address, or with 0.0.0.0 on
    either side, is EADDRINUSE; SO_REUSEADDR does not help against a listener. SO_REUSEPORT on both
    sockets does (`shared` holds the listeners that set it; both belong to one user here).
    `local` holds the namespace's addresses as text, and its subnets' broadcast addresses (their
    interfaces up); 127/8 counts once lo has 127.0.0.1. inet_addr_valid_or_nonlocal() (net/ipv4/
    af_inet.c) takes RTN_LOCAL, RTN_BROADCAST and RTN_MULTICAST: 255.255.255.255 and 224/4 are the
    last two whatever the tables hold (__inet_dev_addr_type(), net/ipv4/fib_frontend.c).
    """
    loopback = "127.0.0.1" in local and addr.startswith("127.")
    anywhere = addr == "255.255.255.255" or 224 <= int(addr.split(".")[0]) <= 239
    if addr != str(ANY) and addr not in local and not loopback and not anywhere:
        return "address-not-available"
    for other, other_port in listeners:
        if other_port == port and (other == addr or str(ANY) in (other, addr)):
            if reuseport and (other, other_port) in shared:
                continue
            return "address-in-use"
    return None


def find_listener(listeners: set[tuple[str, int]], dst_ip: str, dport: int) -> tuple[str, int] | None:
    """Exact address and port first, then the wildcard 0.0.0.0 and the port; nothing else."""
    if (dst_ip, dport) in listeners:
        return (dst_ip, dport)
    if (str(ANY), dport) in listeners:
        return (str(ANY), dport)
    return None


# tcp_syn_linear_timeouts: commit ccce324dabfe ("tcp: make the first N SYN RTO backoffs linear", net-next
# May 2023, first released in Linux 6.5; the shared facts file says 6.7) repeats a 1 s RTO this many times.
LINEAR_TIMEOUTS = 4


# TCP_RTO_MAX (include/net/tcp.h): no retransmission timeout grows past 120 s.
TCP_RTO_MAX = 120.0


def model_timeout(retries: int) -> float:
    """tcp_model_timeout() (net/ipv4/tcp_timer.c) with a SYN's rto_base, TCP_TIMEOUT_INIT (1 s): the time
    `retries` doubling retransmissions take, the doubling stopping at ilog2(TCP_RTO_MAX / 1 s) = 6 and each
    later one adding TCP_RTO_MAX."""
    thresh = 6
    if retries <= thresh:
        return float(2 ** (retries + 1) - 1)
    return float(2 ** (thresh + 1) - 1) + (retries - thresh) * TCP_RTO_MAX


def _timer_firings(retries: int, linear: int = LINEAR_TIMEOUTS) -> list[float]:
    """When the SYN retransmit timer fires: 1 s apart for the first linear + 1, then doubling up to
    TCP_RTO_MAX (tcp_retransmit_timer(): min(icsk_rto << 1, TCP_RTO_MAX)). tcp_write_timeout() gives up at
    the firing that finds retransmits_timed_out() (model_timeout() passed since the first SYN) or
    retries + linear retransmissions made."""
    limit = model_timeout(retries)
    fires, t, n = [], 0.0, 0
    while True:
        n += 1
        t += 1.0 if n <= linear + 1 else min(float(2 ** (n - linear - 1)), TCP_RTO_MAX)
        fires.append(t)
        if t >= limit or n - 1 >= retries + linear:
            return fires


def retransmit_times(retries: int, linear: int = LINEAR_TIMEOUTS) -> list[float]:
    """Offsets of each retransmitted SYN after the first: 1, 2, 3, 4, 5, 7, 11, 19 ... seconds.

    The kernel (tcp_timer.c) retransmits each time its timer fires, until the time the classic
    doubling schedule would have taken for `retries` retransmissions has passed.
    """
    return _timer_firings(retries, linear)[:-1]


def syn_timeout(retries: int, linear: int = LINEAR_TIMEOUTS) -> float:
    """Seconds from the first SYN to ETIMEDOUT: the first timer firing at or after the limit.

    7 s with tcp_syn_retries=2; 131 s with the default 6 (127 s on kernels before 6.5); 371 s with 8.
    """
    return _timer_firings(retries, linear)[-1]


@dataclass(frozen=True)
class Answer:
    """What TCP hands back to IP after a segment: segments to send (one that proves the path carries
    Tcp.pending_confirm). `request`: the SYN-ACK in `replies` is a request sock's, whose
    retransmission timer IP arms once the SYN-ACK has a route (tcp_conn_request(), net/ipv4/tcp_input.c)."""

    replies: tuple[Tcp, ...] = ()
    request: tuple[str, int, str, int] | None = None


# net.ipv4.tcp_synack_retries: a request sock's SYN-ACK is sent again this many times, at 1, 3, 7,
# 15 and 31 s (TCP_TIMEOUT_INIT doubling, reqsk_timeout()), and the request is dropped at 63 s.
SYNACK_RETRIES = 5
INVALID_RATELIMIT = 0.5  # net.ipv4.tcp_invalid_ratelimit: 500 ms between out-of-window answers
TCP_TIMEOUT_MIN = 2  # jiffies (include/net/tcp.h)


def listen_backlog(ns: Namespace, listener: str) -> int:
    """The backlog a listener passed to listen() (its sk_max_ack_backlog)."""
    return program_backlog(listener, ns.dns_servers)


def program_backlog(listener: str, dns_servers: Collection[str]) -> int:
    """The backlog the program behind a listener ("ADDR:PORT") passes to listen(), given the addresses
    the host's DNS servers listen on: a DNS server's TCP socket is dnsmasq's, listen(fd, TCP_BACKLOG)
    with 32 (src/config.h); the lab's and the script's own listeners, and sshd's, call listen(128).
    `ss -ltn` shows it as Send-Q."""
    addr, _, port = listener.rpartition(":")
    if int(port) == DNS_PORT and addr in dns_servers:
        return DNSMASQ_BACKLOG
    return LISTEN_BACKLOG


def syn_queue_full(ns: Namespace, listener: str) -> bool:
    """inet_csk_reqsk_queue_is_full() (include/net/inet_connection_sock.h): the listener holds more
    request socks than its backlog."""
    return sum(1 for owner in ns.half_open.values() if owner == listener) > listen_backlog(ns, listener)


def request_timeout(num_timeout: int) -> float:
    """reqsk_timeout(): the request's timeout, TCP_TIMEOUT_INIT (1 s) doubled per firing, at most TCP_RTO_MAX."""
    return min(float(1 << num_timeout), TCP_RTO_MAX)


def carry_confirm(ns: Namespace, seg: Tcp) -> Tcp:
    """A segment an established socket sends: __tcp_transmit_skb() (net/ipv4/tcp_output.c) copies the
    socket's sk_dst_pending_confirm into it (skb_set_dst_pending_confirm()), and sock_confirm_neigh()
    (include/net/sock.h) in ip_finish_output2() clears it on the socket as it confirms the neighbour: the
    first segment after tcp_ack() set it carries it, whatever the segment is (an accepted socket's banner,
    challenge ACK, ACK, FIN or RST), and the ones after do not."""
    four = (seg.src_ip, seg.sport, seg.dst_ip, seg.dport)
    if four not in ns.dst_pending_confirm or four not in ns.established:
        return seg
    ns.dst_pending_confirm.discard(four)
    return replace(seg, pending_confirm=True)


def receive(stack: Stack, ns: Namespace, seg: Tcp) -> Answer:
    """tcp_v4_rcv(): a SYN looks for a listener; answers settle a waiting connect()."""
    local = (seg.dst_ip, seg.dport, seg.src_ip, seg.sport)
    if local in ns.ssh_sessions and seg.flags in ("A", "PA"):
        # Data or its acknowledgement on an established SSH connection: ssh and sshd read it.
        reply = stack.ssh_segment(ns, seg)
        return Answer((reply,) if reply is not None else ())
    if seg.flags == "PA":
        return _data(stack, ns, seg, local)
    if seg.flags == "S" and local in ns.established:
        # __inet_lookup_skb() finds the established socket before any listener, and a SYN there
        # gets an RFC 5961 challenge ACK (tcp_validate_incoming() -> tcp_send_challenge_ack(),
        # net/ipv4/tcp_input.c), at most one per 500 ms per socket (tcp_oow_rate_limited(),
        # net.ipv4.tcp_invalid_ratelimit); the connection itself is left as it is.
        allowed = stack.passed_at(ns.established[local], INVALID_RATELIMIT)  # counted in jiffies
        if stack.now < allowed:
            stack.event(f"{ns.label} hears a SYN on an established connection again: no second challenge ACK yet")
            stack.refill(allowed, f"{ns.label}'s challenge ACK limit allowed again")
            return Answer()
        ns.established[local] = stack.now
        stack.event(f"{ns.label} hears a SYN on an established connection: it answers with a challenge ACK")
        # tcp_send_ack(): the socket's own snd_nxt and rcv_nxt, whatever the forged SYN carried
        # (no data flows in netsim, so its own initial sequence number + 1, and the peer's as it was heard:
        # the SYN now heard may be a newer socket's on that four). Every socket in `established` has its
        # rcv_nxt: the two are set and dropped together.
        mine = stack.isn_of(seg.dst_ip, seg.dport, seg.src_ip, seg.sport) + 1
        theirs = ns.rcv_nxt[local]
        return Answer((carry_confirm(ns, Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "A", mine, theirs)),))
    opener = _connection(ns, seg) if seg.flags == "S" else None
    if opener is not None and opener.state == "SYN_SENT":
        # __inet_lookup_skb() finds a socket in SYN_SENT with these very addresses and ports before
        # any listener: a simultaneous open (tcp_rcv_synsent_state_process(), net/ipv4/tcp_input.c,
        # "it can be connect to self"). The socket goes to SYN_RECV and answers SYN-ACK with its
        # own sequence number; a socket connecting to its own address and port hears its own SYN,
        # then its own SYN-ACK, and connect() returns 0 with no listener anywhere.
        opener.state = "SYN_RECV"
        stack.event(f"{ns.label}'s connecting socket hears a SYN for itself: a simultaneous open, it answers SYN-ACK")
        synack = Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "SA", opener.isn, seg.seq + 1, ttl=opener.ttl)
        return Answer((synack,))
    if seg.flags == "S":
        found = find_listener(ns.listeners, seg.dst_ip, seg.dport)
        if found is None:
            # No socket matched: the kernel itself slams the door; no program ever hears of it.
            stack.event(f"no listener on {ns.label} for {seg.dst_ip}:{seg.dport}: the kernel answers RST")
            return Answer((Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "RA", 0, seg.seq + 1),))
        key = (seg.src_ip, seg.sport, seg.dst_ip, seg.dport)
        if key in ns.half_open and ns.request_isn.get(key, seg.seq) != seg.seq:
            return _out_of_window_syn(stack, ns, seg, key, ns.request_snt_isn[key])
        if key in ns.half_open:
            # tcp_check_req(): a retransmitted SYN for a request sock gets its SYN-ACK again
            # (tcp_rtx_synack(); inet_rtx_syn_ack() before 6.17), and the request's timer is re-armed
            # from now (mod_timer_pending()), unless tcp_oow_rate_limited() says the request answered
            # out of turn within 500 ms (last_oow_ack_time, which its out-of-window ACKs stamp too):
            # then nothing at all.
            if _request_oow_limited(stack, ns, key):
                stack.event(f"{ns.label}'s listener on {ns.half_open[key]} hears the SYN again: no second answer yet")
                return Answer()
            stack.event(f"{ns.label}'s listener on {ns.half_open[key]} hears the SYN again and answers SYN-ACK again")
        elif syn_queue_full(ns, f"{found[0]}:{found[1]}"):
            # tcp_conn_request() (net/ipv4/tcp_input.c): a full SYN queue with net.ipv4.tcp_syncookies 1
            # (the default) answers with a SYN cookie (tcp_syn_flood_action(), want_cookie): a SYN-ACK whose
            # sequence number encodes the request, and no request sock is kept, so nothing sends it again.
            stack.event(f"{ns.label}'s listener on {found[0]}:{found[1]} has a full SYN queue: a SYN cookie answers")
            isn = stack.initial_sequence(seg.dst_ip, seg.dport, seg.src_ip, seg.sport)
            ns.syn_cookies[key] = (f"{found[0]}:{found[1]}", isn)
            return Answer((Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "SA", isn, seg.seq + 1),))
        else:
            stack.event(f"{ns.label}'s listener on {found[0]}:{found[1]} answers SYN-ACK")
            # The connection belongs to that listener once the handshake completes (its accept queue).
            ns.half_open[key] = f"{found[0]}:{found[1]}"
            ns.request_isn[key] = seg.seq
            # tcp_conn_request(): the request's own number, kept for its retransmissions (tcp_v4_init_seq())
            ns.request_snt_isn[key] = stack.initial_sequence(seg.dst_ip, seg.dport, seg.src_ip, seg.sport)
            ns.request_oow_ack.pop(key, None)
        synack = Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "SA", ns.request_snt_isn[key], seg.seq + 1)
        return Answer((synack,), request=key)
    if seg.flags == "A" and (seg.src_ip, seg.sport, seg.dst_ip, seg.dport) not in ns.half_open:
        conn = _connection(ns, seg)
        if conn is not None and conn.state == "SYN_SENT" and seg.ack != (conn.isn + 1) & 0xFFFFFFFF:
            # tcp_rcv_synsent_state_process() (net/ipv4/tcp_input.c): an ACK that acknowledges nothing this
            # socket sent goes to reset_and_undo, and tcp_v4_send_reset() answers it with a bare RST whose
            # sequence number is that ACK's. The socket stays in SYN_SENT; its SYN goes again on its timer.
            stack.event(f"{ns.label}'s connecting socket hears an ACK for a SYN it never sent: it answers RST")
            if conn.firings == 0:
                # "Previous FIN/ACK or RST/ACK might be ignored": a socket that has not retransmitted yet
                # sends its SYN again TCP_TIMEOUT_MIN (2 jiffies) from now, not a second later.
                stack.event(f"{ns.label}'s connecting socket will send its SYN again in two ticks")
                stack.rearm_syn(ns, conn, TCP_TIMEOUT_MIN)
            return Answer((Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "R", seg.ack, 0),))
    if seg.flags == "A" and _cookie_ack(ns, seg):
        # tcp_v4_cookie_check() -> cookie_v4_check() (net/ipv4/syncookies.c): the ACK that acknowledges a
        # SYN cookie rebuilds the request from it and completes the handshake as a request sock would.
        # Simplified: netsim does not age cookies (a cookie is good for about two minutes).
        ns.half_open[key_of(seg)] = ns.syn_cookies.pop(key_of(seg))[0]
    if (
        seg.flags == "A"
        and key_of(seg) not in ns.half_open
        and _connection(ns, seg) is None
        and local not in ns.established
    ):
        # No socket has these four: tcp_v4_rcv() -> no_tcp_socket, or a listener (tcp_rcv_state_process():
        # TCP_LISTEN, `if (th->ack) return 1`): tcp_v4_send_reset() answers a bare RST whose sequence
        # number is the ACK's acknowledgement (a request that was gone; a handshake never made here).
        stack.event(f"{ns.label} has no connection for {seg.summary()}: the kernel answers RST")
        return Answer((Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "R", seg.ack, 0),))
    if seg.flags == "A":
        # The ACK proves the path, but the kernel only records that the next time this socket
        # transmits (sk_dst_confirm); a listener that sends nothing more leaves its entry as is.
        listener = ns.half_open.pop((seg.src_ip, seg.sport, seg.dst_ip, seg.dport), None)
        if listener is None and local in ns.established and seg.ack != (stack.isn_of(*local) + 1) & 0xFFFFFFFF:
            # tcp_ack() on data this socket sent (sshd's banner): acknowledged, nothing to answer; the
            # forward progress sets sk_dst_pending_confirm again (sk_dst_confirm()) for its next segment.
            stack.event(f"{ns.label} hears its data acknowledged")
            ns.dst_pending_confirm.add(local)
            return Answer()
        stack.event(f"{ns.label} completes the handshake")
        ns.requests.pop((seg.src_ip, seg.sport, seg.dst_ip, seg.dport), None)  # its timer stops
        if listener is not None:
            ns.established.setdefault(local, float("-inf"))
            ns.rcv_nxt[local] = seg.seq  # the handshake's ACK carries the peer's ISN + 1
            # tcp_rcv_state_process(): the child's tcp_ack() of its SYN-ACK calls sk_dst_confirm(); the
            # accepted socket's first segment, whichever it is, confirms the neighbour (carry_confirm()).
            ns.dst_pending_confirm.add(local)
            stack.answered_by(listener)
            # tcp_check_req(): the request sock becomes a full socket on the accept queue of the listener
            # that answered its SYN (req->rsk_listener, inet_csk_complete_hashdance()), not of whichever
            # listener the port's lookup would find now (a more specific one opened since, SO_REUSEPORT).
            addr, _, port = listener.rpartition(":")
            ns.accepted.append(((addr, int(port)), (seg.dst_ip, seg.dport, seg.src_ip, seg.sport)))
        return Answer()
    if seg.flags == "FA":
        # tcp_fin(): the peer closed its side. The kernel ACKs at once; a read() now returns 0 bytes.
        conn = _connection(ns, seg)
        if conn is not None:
            conn.reads = "eof"
            stack.event(f"{ns.label} gets FIN: its next read() returns end-of-file")
        return Answer(
            (carry_confirm(ns, Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "A", seg.ack, seg.seq + 1)),)
        )
    key = (seg.src_ip, seg.sport, seg.dst_ip, seg.dport)
    if seg.flags in ("R", "RA") and local in ns.established:
        return _reset_established(stack, ns, seg, local)
    if seg.flags == "R" and key in ns.half_open:
        # tcp_check_req(): a reset in the request's window drops the request sock (embryonic_reset:
        # inet_csk_reqsk_queue_drop()). The bare RST that answers the SYN-ACK carries the sequence
        # number the SYN-ACK acknowledged, so it is in the window. An RST|ACK answers a SYN (seq 0,
        # acknowledging that SYN): its ACK is not the SYN-ACK's (tcp_check_req() hands it to the
        # listener, which discards a reset) and its seq is outside the window, so the request stays.
        del ns.half_open[key]
        ns.requests.pop(key, None)
        stack.event(f"{ns.label} drops the half-open connection from {seg.src_ip}:{seg.sport}: it was reset")
        return Answer()
    conn = _connection(ns, seg)
    if conn is None and seg.flags == "SA":
        # An answer to a SYN this host never sent to that address (a reply that skipped the NAT
        # that would have turned it back): no socket matches, and tcp_v4_send_reset() answers a
        # segment carrying an ACK with a bare RST whose sequence number is that ACK.
        stack.event(f"{ns.label} has no connection with {seg.src_ip}:{seg.sport}: it answers RST")
        return Answer((Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "R", seg.ack, 0),))
    if conn is not None and conn.state == "SYN_RECV" and seg.flags == "SA":
        # tcp_validate_incoming() lets a SYN-ACK through in SYN_RECV when it acknowledges what this
        # socket sent (the simultaneous-open case); tcp_rcv_state_process() moves it to ESTABLISHED.
        conn.state = "connected"
        ns.established.setdefault((conn.src_ip, conn.sport, conn.dst_ip, conn.dport), float("-inf"))
        ns.rcv_nxt[(conn.src_ip, conn.sport, conn.dst_ip, conn.dport)] = (seg.seq + 1) & 0xFFFFFFFF
        stack.event(f"{ns.label}'s socket hears the SYN-ACK of its simultaneous open: established")
        return Answer()
    if conn is None or conn.state != "SYN_SENT":
        return Answer()
    if seg.flags == "SA":
        # tcp_ack() sets sk_dst_pending_confirm; the ACK carries it (skb->dst_pending_confirm) and
        # confirms the neighbour on its way out (sock_confirm_neigh() in ip_finish_output2()), and
        # again at every router that forwards it: IP does that (netsim.ipv4.send_via_neighbour()).
        conn.state = "connected"
        ns.established.setdefault((conn.src_ip, conn.sport, conn.dst_ip, conn.dport), float("-inf"))
        ns.rcv_nxt[(conn.src_ip, conn.sport, conn.dst_ip, conn.dport)] = (seg.seq + 1) & 0xFFFFFFFF
        ack = Tcp(
            conn.src_ip,
            conn.dst_ip,
            conn.sport,
            conn.dport,
            "A",
            seg.ack,
            seg.seq + 1,
            ttl=conn.ttl,
            pending_confirm=True,
        )
        return Answer((ack,))
    if seg.flags == "RA":
        conn.state = "refused"
    return Answer()


# tcp_v4_err(): which outcome an ICMP error gives a connect() still in SYN_SENT. In that state any
# of these ends the attempt at once, with icmp_err_convert[]'s errno (ICMP_TIME_EXCEEDED: EHOSTUNREACH).
ICMP_OUTCOME = {
    (ICMP_DEST_UNREACH, ICMP_NET_UNREACH): "network-unreachable",
    (ICMP_DEST_UNREACH, ICMP_HOST_UNREACH): "host-unreachable",
    (ICMP_DEST_UNREACH, ICMP_PORT_UNREACH): "refused",
    (ICMP_DEST_UNREACH, ICMP_PKT_FILTERED): "host-unreachable",  # icmp_err_convert[13]: EHOSTUNREACH, fatal
    (ICMP_TIME_EXCEEDED, ICMP_EXC_TTL): "host-unreachable",
}


def error(stack: Stack, ns: Namespace, icmp: Icmp) -> Answer:
    """An ICMP error for a SYN_SENT socket: connect() fails at once with the matching errno.

    A host or network unreachable may first send the SYN once more (rto_revert()); IP sends it.
    """
    sent = icmp.original
    quoted = (sent.src_ip, sent.sport, sent.dst_ip, sent.dport)
    outcome = ICMP_OUTCOME.get((icmp.type, icmp.code))
    for conn in ns.connections:
        mine = (conn.src_ip, conn.sport, conn.dst_ip, conn.dport) == quoted
        if mine and conn.state == "SYN_SENT" and sent.seq != conn.isn:
            # tcp_v4_err(): a quoted sequence number outside snd_una..snd_nxt (an older socket's SYN on
            # the same four) is out of window: the error is dropped (LINUX_MIB_OUTOFWINDOWICMPS).
            stack.event(f"{ns.label} ignores the ICMP error: it quotes a SYN this socket did not send")
            return Answer()
        if mine and conn.state == "SYN_SENT" and outcome is not None and _owned(stack, conn):
            # tcp_v4_err(): `if (!sock_owned_by_user(sk)) tcp_done_with_error(sk, err); else
            # sk->sk_err_soft = err;` A blocking connect() holds the socket (lock_sock() in
            # inet_stream_connect()) until inet_wait_for_connect() sleeps, and the softirq that its SYN's
            # dev_queue_xmit() runs (local_bh_enable()) carries the SYN over veths and bridges to the
            # router and its ICMP error back, all inside that call: the error is only noted, and the
            # SYN goes again on its timer (tcp_retransmit_timer()); the error its copy meets then ends
            # connect(), or the timeout does with the noted errno (tcp_write_err()). The lab saw it
            # with ssh's connect() (TcpExtLockDroppedIcmps counts it; fuzz seed 117).
            conn.soft_error = outcome
            stack.event(
                f"{ns.label}'s connect() still holds its socket: the ICMP error ({outcome.replace('-', ' ')}) "
                "is only noted, and the SYN goes again on its timer"
            )
            return Answer()
        if mine and conn.state == "SYN_SENT" and outcome is not None:
            revert = icmp.type == ICMP_DEST_UNREACH and icmp.code in (ICMP_NET_UNREACH, ICMP_HOST_UNREACH)
            again = rto_revert(stack, ns, conn) if revert else None
            conn.state = outcome
            stack.event(f"{ns.label} reads the ICMP error: {outcome.replace('-', ' ')}")
            return Answer((again,) if again else ())
    request = (sent.dst_ip, sent.dport, sent.src_ip, sent.sport)
    if sent.flags == "SA" and request in ns.half_open and sent.seq != ns.request_snt_isn.get(request):
        # tcp_req_err() (net/ipv4/tcp_ipv4.c): `if (seq != tcp_rsk(req)->snt_isn)` the quote is another
        # request's SYN-ACK (an older one on the same four): LINUX_MIB_OUTOFWINDOWICMPS, nothing else.
        stack.event(f"{ns.label} ignores the ICMP error: it quotes a SYN-ACK this half-open connection did not send")
        return Answer()
    if sent.flags == "SA" and request in ns.half_open and request_aborts(icmp):
        # tcp_v4_err() -> tcp_req_err() (net/ipv4/tcp_ipv4.c): the error quotes a request sock's
        # SYN-ACK with its own sequence number (snt_isn): the request is dropped without a word.
        del ns.half_open[request]
        ns.requests.pop(request, None)
        stack.event(f"{ns.label} drops the half-open connection from {sent.dst_ip}:{sent.dport}: an ICMP error")
    return Answer()


def _owned(stack: Stack, conn: Connection) -> bool:
    """Whether connect() itself still holds the socket (sock_owned_by_user()): a blocking connect()
    whose first SYN left in this very instant, with no timer run since (frames cross veths and
    bridges within the softirq the send runs; a timer's work is done when nobody holds the socket).
    A non-blocking connect() returns at once, and the lab's knock and sshd's channel connects poll
    for the answer: the error reaches them at once (netsim does not model that path further)."""
    return conn.blocking and conn.firings == 0 and stack.now == conn.sent


def key_of(seg: Tcp) -> tuple[str, int, str, int]:
    """A request sock's key: the peer's address and port, then ours."""
    return (seg.src_ip, seg.sport, seg.dst_ip, seg.dport)


def request_aborts(icmp: Icmp) -> bool:
    """tcp_v4_err() on a request sock (TCP_NEW_SYN_RECV): only a parameter problem, a time exceeded,
    or a network or host unreachable drop it; any other error, port unreachable and admin prohibited
    among them, leaves it to retransmit its SYN-ACK (tcp_req_err()'s `abort`)."""
    if icmp.type == ICMP_TIME_EXCEEDED or icmp.type == ICMP_PARAMETERPROB:
        return True
    return icmp.type == ICMP_DEST_UNREACH and icmp.code in (ICMP_NET_UNREACH, ICMP_HOST_UNREACH)


def rto_revert(stack: Stack, ns: Namespace, conn: Connection) -> Tcp | None:
    """tcp_ld_RTO_revert() (net/ipv4/tcp_ipv4.c, RFC 6069), which tcp_v4_err() runs for a host or
    network unreachable before it ends a SYN_SENT connect() with tcp_done(): if the retransmit timer
    has backed off, undo one doubling; if the shorter timeout has already run out since the last
    SYN, tcp_retransmit_timer() sends the SYN once more at once. The socket closes right after, so
    nobody waits for an answer, but the SYN is real: with the neighbour FAILED it starts a new ARP
    resolution (a broadcast, the entry INCOMPLETE again) (tests/lab_scenarios/ghost-after-stale.yaml).

    icsk_backoff counts only the exponential firings: Linux 6.5 and later leave the first
    tcp_syn_linear_timeouts of a SYN at 1 s without backing off (tcp_retransmit_timer(),
    net/ipv4/tcp_timer.c), and with no backoff there is nothing to revert. No RTT was ever measured
    in SYN_SENT, so the base is TCP_TIMEOUT_INIT (1 s).
    """
    backoff = conn.firings - LINEAR_TIMEOUTS
    if backoff < 1:
        return None
    rto = min(float(2 ** (backoff - 1)), TCP_RTO_MAX)  # inet_csk_rto_backoff() after icsk_backoff--
    if rto - (stack.now - conn.sent) > 0:
        return None  # only the timer is re-armed, and tcp_done() stops it
    if conn.firings >= len(retransmit_times(ns.tcp_syn_retries)):
        return None  # tcp_write_timeout() would give up instead of sending
    conn.firings += 1
    conn.sent = stack.now
    stack.event(f"{ns.label}'s TCP undoes one backoff (RFC 6069): the SYN is overdue and goes once more")
    return Tcp(conn.src_ip, conn.dst_ip, conn.sport, conn.dport, "S", conn.isn, ttl=conn.ttl)


def _cookie_ack(ns: Namespace, seg: Tcp) -> bool:
    """Whether this ACK acknowledges a SYN cookie the listener sent on its four (its number + 1) while no
    request sock or connection holds them."""
    cookie = ns.syn_cookies.get(key_of(seg))
    if cookie is None or key_of(seg) in ns.half_open or seg.ack != (cookie[1] + 1) & 0xFFFFFFFF:
        return False
    # tcp_v4_rcv() looks the listener up afresh, and cookie_v4_check() (net/ipv4/syncookies.c) takes the
    # cookie only on one that overflowed lately (tcp_synq_no_recent_overflow()): the listener that sent
    # it. Another listener found now (a more specific bind made since) has no overflow: its `if (th->ack)`
    # answers RST. (A closed listener's cookies went with it: Simulation._step_close.)
    found = find_listener(ns.listeners, seg.dst_ip, seg.dport)
    return found is not None and f"{found[0]}:{found[1]}" == cookie[0]


def _request_oow_limited(stack: Stack, ns: Namespace, key: tuple[str, int, str, int]) -> bool:
    """tcp_oow_rate_limited() on a request sock's last_oow_ack_time: True (and the moment it allows again
    noted) within 500 ms of its last out-of-turn answer, counted in jiffies; else it stamps now."""
    last = ns.request_oow_ack.get(key)
    allowed = None if last is None else stack.passed_at(last, INVALID_RATELIMIT)
    if allowed is not None and stack.now < allowed:
        stack.refill(allowed, f"{ns.label}'s out-of-window ACK limit allowed again")
        return True
    ns.request_oow_ack[key] = stack.now
    return False


def _out_of_window_syn(stack: Stack, ns: Namespace, seg: Tcp, key: tuple[str, int, str, int], isn: int) -> Answer:
    """tcp_check_req() (net/ipv4/tcp_minisocks.c): a SYN for a request sock that is not the SYN it was made
    from (another initial sequence number: a new socket on the same four) is out of the request's window:
    "send ACK and drop", at most one ACK per 500 ms per request (tcp_oow_rate_limited(),
    net.ipv4.tcp_invalid_ratelimit). The ACK is the request's own: its SYN-ACK's number + 1, acknowledging
    the first SYN (tcp_v4_reqsk_send_ack()). Simplified: a new number within the request's receive window
    (a socket opened within about 4 ms of the first) would reset the request instead; netsim sends the ACK."""
    if _request_oow_limited(stack, ns, key):
        stack.event(f"{ns.label}'s half-open connection hears another SYN out of its window: no second ACK yet")
        return Answer()
    stack.event(
        f"{ns.label}'s half-open connection from {seg.src_ip}:{seg.sport} hears a SYN that is not the one it "
        "answered (another sequence number): it answers with a bare ACK and drops it"
    )
    ack = Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "A", isn + 1, (ns.request_isn[key] + 1) & 0xFFFFFFFF)
    return Answer((ack,))


def _reset_established(stack: Stack, ns: Namespace, seg: Tcp, local: tuple[str, int, str, int]) -> Answer:
    """tcp_validate_incoming() (net/ipv4/tcp_input.c) on an established socket: an RST whose sequence number
    is rcv_nxt resets it (tcp_reset(): tcp_done() closes the socket, its program hears ECONNRESET). One
    elsewhere in the receive window would get a challenge ACK (RFC 5961 3.2), and one outside it is dropped.
    Simplified: netsim keeps no receive window and drops every RST that is not exact; the RSTs it sends
    carry the acknowledgement of what they answer (tcp_v4_send_reset()), which is rcv_nxt here."""
    if seg.seq != ns.rcv_nxt.get(local):
        stack.event(f"{ns.label} ignores an RST for its connection with {seg.src_ip}:{seg.sport}: not its rcv_nxt")
        return Answer()
    del ns.established[local]
    del ns.rcv_nxt[local]
    ns.dst_pending_confirm.discard(local)
    stack.event(f"{ns.label}'s connection with {seg.src_ip}:{seg.sport} is reset: the socket closes")
    stack.connection_reset(ns, local)
    return Answer()


def _data(stack: Stack, ns: Namespace, seg: Tcp, local: tuple[str, int, str, int]) -> Answer:
    """Data on a connection (sshd's version banner): the program's next read() returns it, and the kernel
    acknowledges it at once: a connection's first data finds the socket in quick-ack mode
    (tcp_event_data_recv() -> tcp_incr_quickack(), tcp_in_quickack_mode(), net/ipv4/tcp_input.c), so
    __tcp_ack_snd_check() sends the ACK now, not on the delayed-ACK timer. Its tcp_ack() acknowledges
    nothing new (the SYN-ACK did), so the ACK carries no confirmation: it is a use of the neighbour.
    A socket that is gone (reset meanwhile) leaves tcp_v4_rcv() no socket: a bare RST answers."""
    if local not in ns.established:
        stack.event(f"{ns.label} has no connection for {seg.summary()}: the kernel answers RST")
        return Answer((Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "R", seg.ack, 0),))
    conn = _connection(ns, seg)
    if conn is not None:
        conn.reads = conn.reads or "data"
    stack.event(f"{ns.label} hears {len(seg.data)} bytes: its next read() returns data; it acknowledges them at once")
    end = (seg.seq + len(seg.data)) & 0xFFFFFFFF
    ns.rcv_nxt[local] = end
    stack.data_read(ns, local)  # ssh -L's channel relays it on
    ack = Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "A", seg.ack, end, ttl=conn.ttl if conn is not None else 64)
    return Answer((carry_confirm(ns, ack),))


def _connection(ns: Namespace, seg: Tcp) -> Connection | None:
    for conn in reversed(ns.connections):  # the newest socket on these four: an older one is closed
        if (conn.dst_ip, conn.dport, conn.src_ip, conn.sport) == (
            seg.src_ip,
            seg.sport,
            seg.dst_ip,
            seg.dport,
        ):
            return conn
    return None
