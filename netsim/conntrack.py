"""Connection tracking (net/netfilter/nf_conntrack_core.c, nf_conntrack_proto_tcp.c).

One table per namespace. A connection is two tuples: the original direction as its first packet
had it, and the reply direction the answers must have. NAT changes the reply tuple, which is
how a reply to the laptop's Wi-Fi address is recognised as meant for a container.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netsim.frames import Tcp, Udp

ORIGINAL, REPLY = "original", "reply"
SEQ_MASK = 0xFFFFFFFF
# The slack tcp_in_window() leaves round a side's td_end while the handshake is open: the other side's
# window (td_maxwin), which a SYN, never scaled, offers at most 65535 of (Linux: 64240).
SYN_WINDOW = 65535
UDP = "UDP"  # a UDP entry's "state": it has none (nf_conntrack_proto_udp.c)
UDP_STREAM_AFTER = 2.0  # ct->proto.udp.stream_ts = 2 * HZ + jiffies, for the first packet
# tcp_timeouts[TCP_CONNTRACK_SYN_SENT2] (2 MINS): nf_conntrack_tcp_init_net() copies it into every namespace's
# nf_tcp_pernet(net)->timeouts[], and nf_conntrack_standalone_init_tcp_sysctl() gives it no sysctl (its XASSIGN
# list has SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, RETRANS, UNACK), so
# it stays 120 s whatever nf_conntrack_tcp_timeout_syn_sent says.
SYN_SENT2_TIMEOUT = 120


@dataclass(frozen=True)
class Timeouts:
    """One namespace's conntrack timeouts, in seconds, as its sysctls set them: nf_conntrack_tcp_init_net() and
    nf_conntrack_udp_init_net() copy tcp_timeouts[] and udp_timeouts[] into nf_tcp_pernet(net)->timeouts and
    nf_udp_pernet(net)->timeouts, and nf_conntrack_standalone.c registers net.netfilter.nf_conntrack_* per
    namespace pointing at those copies. The defaults are the kernel's."""

    syn_sent: int = 120  # nf_conntrack_tcp_timeout_syn_sent (2 MINS)
    syn_recv: int = 60  # nf_conntrack_tcp_timeout_syn_recv
    established: int = 432000  # nf_conntrack_tcp_timeout_established (5 DAYS)
    close: int = 10  # nf_conntrack_tcp_timeout_close
    unacknowledged: int = 300  # nf_conntrack_tcp_timeout_unacknowledged (TCP_CONNTRACK_UNACK, 5 MINS)
    udp: int = 30  # nf_conntrack_udp_timeout (UDP_CT_UNREPLIED)
    udp_stream: int = 120  # nf_conntrack_udp_timeout_stream (UDP_CT_REPLIED)

    def state(self, state: str) -> int:
        """timeouts[state] for a TCP state netsim reaches, or a UDP entry's unreplied timeout."""
        return {
            "SYN_SENT": self.syn_sent,
            "SYN_SENT2": SYN_SENT2_TIMEOUT,
            "SYN_RECV": self.syn_recv,
            "ESTABLISHED": self.established,
            "CLOSE": self.close,
            UDP: self.udp,
        }[state]


DEFAULTS = Timeouts()


def timeout(conn: Conn, timeouts: Timeouts, replied: bool | None = None) -> float:
    """The timeout an entry's state gives it in its namespace; an entry picked up mid-stream (ESTABLISHED
    without IPS_SEEN_REPLY) is held to UNACK, "avoid large ESTABLISHED timeout" (nf_conntrack_tcp_packet()).
    `replied`: IPS_SEEN_REPLY as nf_conntrack_tcp_packet() reads it, before nf_conntrack_in() sets it for
    the packet being tracked (the entry's own flag if not given)."""
    if conn.state == "ESTABLISHED" and not (conn.seen_reply if replied is None else replied):
        return min(timeouts.unacknowledged, timeouts.established)
    return timeouts.state(conn.state)


@dataclass(frozen=True)
class Tuple:
    """nf_conntrack_tuple for TCP over IPv4: who to whom, by which ports."""

    src: str
    sport: int
    dst: str
    dport: int
    proto: str = "tcp"

    def invert(self) -> Tuple:
        return Tuple(self.dst, self.dport, self.src, self.sport, self.proto)

    def show(self) -> str:
        return f"src={self.src} dst={self.dst} sport={self.sport} dport={self.dport}"


def tuple_of(seg: Tcp | Udp) -> Tuple:
    return Tuple(seg.src_ip, seg.sport, seg.dst_ip, seg.dport, "udp" if isinstance(seg, Udp) else "tcp")


@dataclass(eq=False)
class Conn:
    original: Tuple
    reply: Tuple
    state: str = "SYN_SENT"
    seen_reply: bool = False
    assured: bool = False
    confirmed: bool = False
    snat: bool = False  # a source NAT binding (IPS_SRC_NAT): the reply's destination was changed
    dnat: bool = False  # a destination NAT binding (IPS_DST_NAT): the reply's source was changed
    bound: set[str] = field(default_factory=set)  # the NAT kinds already decided (nf_nat_initialized())
    masq_dev: str | None = None  # the device masquerade took its address from (nat->masq_index)
    # The last packet's kind and way (tcp.last_index, get_conntrack_index(): SYN, SYNACK, FIN, ACK, RST,
    # and tcp.last_dir), whether it was tracked or ignored, and where an ignored one ended (tcp.last_end).
    last_index: str | None = None
    last_dir: str | None = None
    last_end: int = 0
    # seen[ORIGINAL].td_end: the end of the original side's SYN (seq + 1), which nf_conntrack_tcp_new()
    # and tcp_in_window() keep for the window check; None for an entry netsim started otherwise (UDP).
    orig_end: int | None = None
    reply_end: int | None = None  # seen[REPLY].td_end as the reply side's first SYN or SYN-ACK set it
    expires: float = 0.0
    stream_ts: float = 0.0  # UDP: 2 s after the first packet (ct->proto.udp.stream_ts)

    def to_json(self) -> dict[str, object]:
        """The fields `conntrack -L` and /proc/net/nf_conntrack print, as the trace keeps them."""
        flags = (["UNREPLIED"] if not self.seen_reply else []) + (["ASSURED"] if self.assured else [])
        if self.original.proto == "udp":  # ct_seq_show() prints a state only through
            # l4proto->print_conntrack (tcp_print_conntrack()); nf_conntrack_l4proto_udp has none
            return {"proto": "udp", "original": self.original.show(), "reply": self.reply.show(), "flags": flags}
        return {
            "proto": self.original.proto,
            "state": self.state,
            "original": self.original.show(),
            "reply": self.reply.show(),
            "flags": flags,
        }


@dataclass
class Table:
    """One namespace's table, and the timeouts its sysctls give every entry in it."""

    conns: list[Conn] = field(default_factory=list)  # confirmed entries only
    timeouts: Timeouts = DEFAULTS

    def find(self, t: Tuple, now: float) -> tuple[Conn, str] | None:
        """__nf_conntrack_find_get(): an entry whose original or reply tuple is this packet's."""
        for conn in self.conns:
            if conn.expires <= now:
                continue
            if conn.original == t:
                return conn, ORIGINAL
            if conn.reply == t:
                return conn, REPLY
        return None

    def taken(self, reply: Tuple, now: float, ignore: Conn | None = None) -> bool:
        """nf_conntrack_tuple_taken() (net/netfilter/nf_conntrack_core.c): would this reply tuple be
        confused with another entry's? The hash holds both tuples of every entry, so a reply tuple is
        taken by another's reply tuple and by another's original one alike (the far end's own
        connection to this host, from the port a masqueraded one would reach)."""
        return any(c is not ignore and c.expires > now and reply in (c.reply, c.original) for c in self.conns)

    def confirm(self, conn: Conn, now: float) -> None:
        """__nf_conntrack_confirm(): the first packet made it through; the entry joins the table."""
        if not conn.confirmed:
            conn.confirmed = True
            conn.expires = now + timeout(conn, self.timeouts)
            self.conns.append(conn)

    def kill(self, conn: Conn) -> None:
        if conn in self.conns:
            self.conns.remove(conn)

    def snapshot(self, now: float) -> list[dict[str, object]]:
        """What `conntrack -L` lists: expired entries are not shown even before gc removes them.
        TCP and UDP (netsim's only UDP is DNS), as the lab reads them."""
        return [c.to_json() for c in self.conns if c.expires > now]


def set_closing(conn: Conn, now: float, timeouts: Timeouts) -> None:
    """nf_conntrack_tcp_set_closing() (net/netfilter/nf_conntrack_proto_tcp.c), for a reset the
    firewall sent: a confirmed TCP entry goes to CLOSE, with CLOSE's timeout unless it was already
    there; an unconfirmed one is left alone."""
    if not conn.confirmed or conn.original.proto != "tcp":
        return
    was, conn.state = conn.state, "CLOSE"
    if was != "CLOSE":
        conn.expires = now + timeouts.close


def track_udp(conn: Conn, direction: str, now: float, timeouts: Timeouts) -> None:
    """nf_conntrack_udp_packet() (net/netfilter/nf_conntrack_proto_udp.c, as in 6.18): no states; every
    packet renews the entry, by nf_conntrack_udp_timeout (30 s), and by nf_conntrack_udp_timeout_stream (120 s)
    once it has seen a reply and the first packet is more than 2 s old (stream_ts), which also makes it
    ASSURED. IPS_SEEN_REPLY is set by nf_conntrack_in() after this, so the first reply itself renews by the
    unreplied timeout and assures nothing, however late it comes. `timeouts`: the entry's namespace's."""
    extra = timeouts.udp
    if conn.seen_reply and now > conn.stream_ts:
        extra, conn.assured = timeouts.udp_stream, True
    if direction == REPLY:
        conn.seen_reply = True
    if conn.confirmed:
        conn.expires = now + extra


# tcp_conntracks[][][] entries that are sIV, for the states netsim reaches (no FIN, so no FIN_WAIT, CLOSE_WAIT,
# LAST_ACK, TIME_WAIT): (direction, index, state).
_SIV = {
    *((REPLY, "SYN", s) for s in ("SYN_RECV", "ESTABLISHED", "CLOSE")),
    (REPLY, "RST", "SYN_SENT2"),
    (ORIGINAL, "ACK", "SYN_SENT"),
    (ORIGINAL, "ACK", "SYN_SENT2"),
    *((ORIGINAL, "SYNACK", s) for s in ("SYN_SENT", "ESTABLISHED", "CLOSE")),
}


def invalid(conn: Conn, direction: str, seg: Tcp) -> bool:
    """nf_conntrack_tcp_packet() (net/netfilter/nf_conntrack_proto_tcp.c) returns -NF_ACCEPT: the packet goes on
    without its entry, and no NAT touches it. Either tcp_conntracks[][][] says sIV: a SYN the reply way past
    SYN_SENT and SYN_SENT2 (TIME_WAIT, where it also reopens, is not modelled), a reset the reply way in
    SYN_SENT2, an ACK the original way before the reply's SYN-ACK, a SYN-ACK the original way but in SYN_SENT2
    and SYN_RECV (a simultaneous open's); or tcp_in_window() finds it INVALID."""
    if (direction, conntrack_index(seg), conn.state) in _SIV:
        return True
    return window(conn, direction, seg) == "invalid"


def _after(a: int, b: int) -> bool:
    """after() (include/net/tcp.h): a is later than b in sequence space."""
    return 0 < ((a - b) & SEQ_MASK) < 0x80000000


def window(conn: Conn, direction: str, seg: Tcp) -> str:
    """tcp_in_window() (net/netfilter/nf_conntrack_proto_tcp.c): "accept", "invalid" (NFCT_TCP_INVALID: SEQ or
    ACK over the upper bound) or "ignore" (NFCT_TCP_IGNORE: SEQ or ACK under the lower bound; the packet goes
    on with its entry, NATed, and changes nothing). Checked where netsim's numbers can miss: the original
    way while the reply side has sent no tracked segment (SYN_SENT) or only its SYN (SYN_SENT2), so the
    segment must carry the numbers of the SYN the entry was made by, give or take the reply side's window.

    SYN_SENT: a SYN is always taken (a later one reinitialises the sender, RFC 793); the reply side's td_end
    is still 0 and its td_maxwin 0 (no lower bound on SEQ), so a reset's ACK must not pass 0: the RST|ACK a
    socketless client answers a forged SYN with (ack = its seq + 1) is INVALID. Its seq 0 is taken as "RST
    sent answering SYN"; a bare reset's seq must not pass td_end. SYN_SENT2: no seq-0 exception, so a new
    socket's SYN or SYN-ACK (another ISN) and a socketless answer's RST (seq 0) fall outside td_end give or
    take the window: INVALID above, ignored below. So does a SYN the reply way from a new socket: the reply
    side is not reinitialised in SYN_SENT2."""
    if conn.state == "SYN_SENT2" and direction == REPLY and conn.reply_end is not None:
        return _seq_window(seg, conn.reply_end, conn.reply_end)
    if direction != ORIGINAL or conn.orig_end is None or conn.state not in ("SYN_SENT", "SYN_SENT2"):
        return "accept"
    if conn.state == "SYN_SENT2":
        return _seq_window(seg, conn.orig_end, conn.orig_end + SYN_WINDOW)
    if conntrack_index(seg) == "SYN":
        return "accept"
    ack = seg.ack if "A" in seg.flags else 0  # no ACK, or an RST|ACK with ack 0: the receiver's td_end
    if _after(ack, 0) or (seg.seq != 0 and _after(seg.seq, conn.orig_end)):
        return "invalid"
    return "ignore" if _after(-SYN_WINDOW & SEQ_MASK, ack) else "accept"


def _seq_window(seg: Tcp, td_end: int, maxend: int) -> str:
    """tcp_in_window()'s sequence bounds in SYN_SENT2, for a sender whose SYN ended at `td_end`: above
    td_maxend (`maxend`: the original side's SYN's end plus the reply SYN's window, the reply side's its
    SYN's end, as the original side has acknowledged nothing) INVALID, below td_end less the other side's
    window ignored."""
    end = (seg.seq + (1 if "S" in seg.flags else 0)) & SEQ_MASK
    if _after(seg.seq, maxend):
        return "invalid"
    return "ignore" if _after(td_end - SYN_WINDOW, end) else "accept"


def conntrack_index(seg: Tcp) -> str:
    """get_conntrack_index(): a segment's kind as the state table reads it, RST first, then SYN."""
    if "R" in seg.flags:
        return "RST"
    if "S" in seg.flags:
        return "SYNACK" if "A" in seg.flags else "SYN"
    return "FIN" if "F" in seg.flags else "ACK"


def _ignored(conn: Conn, direction: str, index: str) -> bool:
    """tcp_conntracks[][][] is TCP_CONNTRACK_IGNORE (sIG): a SYN the original way past SYN_SENT (sCL's sSS
    also ends there when it reopens nothing), a SYN-ACK the reply way past it, an ACK the reply way in
    SYN_SENT and SYN_SENT2 ("our connection entry may be out of sync")."""
    if index == "SYN":
        return direction == ORIGINAL and conn.state in ("SYN_RECV", "ESTABLISHED", "CLOSE")
    if index == "SYNACK":
        return direction == REPLY and conn.state in ("SYN_RECV", "ESTABLISHED", "CLOSE")
    return index == "ACK" and direction == REPLY and conn.state in ("SYN_SENT", "SYN_SENT2")


def track(conn: Conn, direction: str, seg: Tcp, now: float, timeouts: Timeouts) -> bool:
    """tcp_packet(), reduced to the handshake and resets. False: the entry is to be killed. `timeouts`: those of
    the namespace whose table holds the entry (nf_tcp_pernet(nf_ct_net(ct))->timeouts).

    A RST as the very first answer kills the entry at once ("a fairly common problem case").
    ASSURED is set when the handshake's last ACK moves SYN_RECV to ESTABLISHED.

    An ignored packet (TCP_CONNTRACK_IGNORE, nf_conntrack_tcp_packet() in
    net/netfilter/nf_conntrack_proto_tcp.c) goes through with only tcp.last_index, last_dir and last_end
    noted: it returns before nf_ct_refresh_acct(), so the entry's timeout runs on. A SYN-ACK that
    acknowledges the SYN it ignored last, from the other side, puts it back in sync: SYN_SENT to SYN_RECV,
    a full update. A request sock's SYN-ACKs sent again on its own timer are ignored so.
    """
    index = conntrack_index(seg)
    if not _ignored(conn, direction, index) and window(conn, direction, seg) == "ignore":
        conn.seen_reply |= direction == REPLY
        return True  # NFCT_TCP_IGNORE: NF_ACCEPT before anything is noted or renewed
    if index == "RST" and not conn.seen_reply:
        return False  # either way: nf_ct_kill_acct() while IPS_SEEN_REPLY is unset
    # nf_conntrack_tcp_packet(): "do not renew timeout on SYN retransmit" while no reply was seen (IPS_SEEN_REPLY,
    # which nf_conntrack_in() sets only after this), else a client or NAT reusing the port keeps the entry alive.
    renew = conn.seen_reply or not (index == "SYN" and conn.state == "SYN_SENT")
    replied_before, was = conn.seen_reply, conn.state
    if direction == REPLY:
        conn.seen_reply = True  # nf_conntrack_in() sets IPS_SEEN_REPLY after the protocol's say
    if _ignored(conn, direction, index):
        resync = index == "SYNACK" and conn.last_index == "SYN" and conn.last_dir != direction
        if not (resync and seg.ack == conn.last_end):
            conn.last_index, conn.last_dir = index, direction
            # segment_seq_plus_len(): seq + data + SYN + FIN; netsim's ignored segments carry no data.
            conn.last_end = (seg.seq + ("S" in seg.flags) + ("F" in seg.flags)) & 0xFFFFFFFF
            return True
        conn.state = "SYN_SENT"  # b) "we get in sync from the previously annotated values"
    if seg.flags in ("RA", "R"):
        conn.state = "CLOSE"
    elif direction == REPLY and seg.flags == "S" and conn.state == "SYN_SENT":
        conn.state = "SYN_SENT2"  # tcp_conntracks[REPLY][syn][sSS] is sS2: a simultaneous open
        conn.reply_end = (seg.seq + 1) & SEQ_MASK
    elif seg.flags == "SA" and conn.state == "SYN_SENT2":
        conn.state = "SYN_RECV"  # sS2 -> sSR, either way
    elif direction == REPLY and seg.flags == "SA" and conn.state == "SYN_SENT":
        conn.state = "SYN_RECV"
    elif direction == ORIGINAL and index == "SYN" and conn.state == "SYN_SENT" and conn.orig_end is not None:
        if _after(seg.seq + 1, conn.orig_end):  # tcp_in_window(): a later SYN reinitialises the sender's td_end
            conn.orig_end = (seg.seq + 1) & SEQ_MASK
    elif direction == ORIGINAL and index == "ACK" and conn.state == "SYN_RECV":
        conn.state = "ESTABLISHED"
    # nf_conntrack_tcp_packet(): ASSURED on a valid ACK into ESTABLISHED after SYN_RECV, or the next valid
    # packet of an entry picked up mid-stream once a reply was seen (IPS_SEEN_REPLY set before this one).
    if replied_before and was in ("SYN_RECV", "ESTABLISHED") and conn.state == "ESTABLISHED":
        conn.assured = True
    conn.last_index, conn.last_dir = index, direction
    if conn.confirmed and renew:
        # The first reply of an entry picked up mid-stream renews it by UNACK only: IPS_SEEN_REPLY is still
        # unset when nf_conntrack_tcp_packet() picks the timeout.
        conn.expires = now + timeout(conn, timeouts, replied_before)
    return True


def reopens(conn: Conn, direction: str, seg: Tcp) -> bool:
    """nf_conntrack_tcp_packet(): a SYN that would take an entry past TIME_WAIT (CLOSE here) back to SYN_SENT
    reopens it when the last packet tracked was a reset going the same way ("Handle aborted connections:
    ... the client aborts it and starts a new one"): nf_ct_kill() and -NF_REPEAT, so the SYN is looked up
    again and starts an entry of its own, NAT decided afresh. (A FIN's IP_CT_TCP_FLAG_CLOSE_INIT would too;
    netsim tracks no FIN.)"""
    # The reply way, a SYN on CLOSE is invalid (tcp_conntracks[1][TCP_SYN_SET][sCL] is sIV: invalid() above).
    return (
        seg.flags == "S"
        and direction == ORIGINAL
        and conn.state == "CLOSE"
        and (conn.last_index, conn.last_dir) == ("RST", direction)
    )
