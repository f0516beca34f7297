"""Connection tracking's TCP states, step by step, as nf_conntrack_proto_tcp.c moves them.

The lab's recorded traces show the states a real run passed through; these pin the transitions
and the ignored packets (TCP_CONNTRACK_IGNORE) one at a time, each against its row of the kernel's
tcp_conntracks[dir][index][state] table or the code after it, so a fault in one is caught even
where no recording reaches it (a 5% mutation sample of conntrack.py, 1 December, left 7 of 25
mutants alive: state names misspelt, a transition lost, the SYN's end miscomputed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netsim.conntrack import DEFAULTS, ORIGINAL, REPLY, SYN_WINDOW, Conn, Table, Tuple, _ignored, track, window
from netsim.frames import Tcp
from netsim.scenario import load_scenario
from netsim.simulation import run

A, B = "10.0.0.1", "10.0.0.2"


def conn(state: str = "SYN_SENT", **fields: object) -> Conn:
    t = Tuple(A, 40000, B, 80)
    return Conn(t, t.invert(), state=state, **fields)


def seg(direction: str, flags: str, seq: int = 1000, ack: int = 0) -> Tcp:
    return Tcp(A, B, 40000, 80, flags, seq, ack) if direction == ORIGINAL else Tcp(B, A, 80, 40000, flags, seq, ack)


# The sIG cells of tcp_conntracks that netsim's states reach (sNO, sFW, sCW, sLA, sTW are not modelled):
#   ORIGINAL syn:    sSS sSS sIG sIG ... sSS(sCL; falls through to IGNORE when it reopens nothing) sS2
#   REPLY synack:    sIV sSR sIG sIG ... sIG(sCL) sSR
#   REPLY ack:       sIV sIG sSR sES ... sCL(sCL) sIG(sS2)
IGNORED = {
    ("SYN", ORIGINAL): {"SYN_RECV", "ESTABLISHED", "CLOSE"},
    ("SYNACK", REPLY): {"SYN_RECV", "ESTABLISHED", "CLOSE"},
    ("ACK", REPLY): {"SYN_SENT", "SYN_SENT2"},
}


@pytest.mark.parametrize("index", ["SYN", "SYNACK", "ACK", "RST"])
@pytest.mark.parametrize("direction", [ORIGINAL, REPLY])
@pytest.mark.parametrize("state", ["SYN_SENT", "SYN_SENT2", "SYN_RECV", "ESTABLISHED", "CLOSE"])
def test_the_packets_the_state_table_ignores(index: str, direction: str, state: str) -> None:
    assert _ignored(conn(state), direction, index) == (state in IGNORED.get((index, direction), set()))


def test_a_handshake_moves_sent_recv_established_and_assures_it() -> None:
    c = conn(orig_end=1001)
    assert track(c, ORIGINAL, seg(ORIGINAL, "S", 1000), 0.0, DEFAULTS) and c.state == "SYN_SENT"
    assert track(c, REPLY, seg(REPLY, "SA", 5000, 1001), 0.1, DEFAULTS) and c.state == "SYN_RECV"
    assert not c.assured
    assert track(c, ORIGINAL, seg(ORIGINAL, "A", 1001, 5001), 0.2, DEFAULTS) and c.state == "ESTABLISHED"
    assert c.assured


def test_an_ack_the_reply_way_does_not_establish_a_connection() -> None:
    # tcp_conntracks[REPLY][ack][sSR] is sSR: only the original side's ACK completes the handshake.
    c = conn("SYN_RECV", seen_reply=True, orig_end=1001)
    track(c, REPLY, seg(REPLY, "A", 5001, 1001), 0.0, DEFAULTS)
    assert c.state == "SYN_RECV" and not c.assured


def test_a_simultaneous_open_goes_through_syn_sent2_to_syn_recv() -> None:
    c = conn(orig_end=1001)
    track(c, REPLY, seg(REPLY, "S", 5000), 0.0, DEFAULTS)
    assert (c.state, c.reply_end) == ("SYN_SENT2", 5001)
    track(c, ORIGINAL, seg(ORIGINAL, "SA", 1000, 5001), 0.1, DEFAULTS)
    assert c.state == "SYN_RECV"  # tcp_conntracks[ORIGINAL][synack][sS2] is sSR


def test_a_later_syn_moves_the_senders_end_and_an_earlier_one_does_not() -> None:
    c = conn(orig_end=1001)
    track(c, ORIGINAL, seg(ORIGINAL, "S", 0xFFFFFFFF), 0.0, DEFAULTS)
    assert c.orig_end == 1001  # 0xffffffff + 1 is 0: before 1001 in sequence space, so not later
    track(c, ORIGINAL, seg(ORIGINAL, "S", 3000), 0.0, DEFAULTS)
    assert c.orig_end == 3001


def test_in_syn_sent2_a_segment_below_the_window_is_ignored_and_one_above_it_invalid() -> None:
    c = conn("SYN_SENT2", orig_end=1001, reply_end=500_001)
    assert window(c, ORIGINAL, seg(ORIGINAL, "S", 1000)) == "accept"
    assert window(c, ORIGINAL, seg(ORIGINAL, "S", (1001 - SYN_WINDOW - 10) & 0xFFFFFFFF)) == "ignore"
    assert window(c, ORIGINAL, seg(ORIGINAL, "S", 1001 + SYN_WINDOW + 10)) == "invalid"
    assert window(c, REPLY, seg(REPLY, "SA", (5001 - SYN_WINDOW - 10) & 0xFFFFFFFF)) == "ignore"


def test_a_reset_before_any_reply_kills_the_entry_and_after_one_closes_it() -> None:
    # "a fairly common problem case": the first answer a reset, nf_ct_kill_acct() while IPS_SEEN_REPLY is unset.
    assert track(conn(orig_end=1001), REPLY, seg(REPLY, "RA", 0, 1001), 0.0, DEFAULTS) is False
    c = conn("ESTABLISHED", seen_reply=True, orig_end=1001)
    assert track(c, ORIGINAL, seg(ORIGINAL, "R", 1001), 0.0, DEFAULTS) and c.state == "CLOSE"


def test_a_udp_query_answered_at_once_stays_a_short_unassured_entry() -> None:
    """nf_conntrack_udp_packet(): an answer marks the entry as replied, and only a packet after that, more
    than 2 s after the first (ct->proto.udp.stream_ts), makes it a stream (ASSURED, 120 s); a DNS query and
    its answer keep it at 30 s, so it is gone by the scenario's last step (as the kernel's recording)."""
    trace = run(load_scenario(Path(__file__).resolve().parent / "lab_scenarios" / "udpct-answered-query-expires.yaml"))
    steps = {s.id: s.to_json()["conntrack"] for s in trace.steps}
    (entry,) = steps["lookup"]["laptop"]
    assert entry["proto"] == "udp" and entry["flags"] == []
    assert steps["gone"] == {}


def test_an_ack_the_state_table_ignores_is_noted_before_any_window_check() -> None:
    """nf_conntrack_tcp_packet(): a packet tcp_conntracks[][][] ignores (here the reply side's ACK in
    SYN_SENT2, "our connection entry may be out of sync") returns with last_index, last_dir and last_end
    noted (a bare ACK ends where it starts: segment_seq_plus_len()), before tcp_in_window() is asked; its
    sequence number, far below the window, changes nothing."""
    c = conn("SYN_SENT2", orig_end=1001, reply_end=500_001)
    assert window(c, REPLY, seg(REPLY, "A", 100, 1001)) == "ignore"  # the window would ignore it too
    assert track(c, REPLY, seg(REPLY, "A", 100, 1001), 1.0, DEFAULTS)
    assert (c.last_index, c.last_dir, c.last_end, c.state) == ("ACK", REPLY, 100, "SYN_SENT2")


def test_an_entry_is_gone_from_the_listing_at_its_very_expiry() -> None:
    """nf_ct_is_expired(): timeout - now <= 0; `conntrack -L` skips it (nf_conntrack_netlink)."""
    table = Table()
    entry = conn()
    table.confirm(entry, 0.0)
    assert len(table.snapshot(entry.expires - 0.001)) == 1
    assert table.snapshot(entry.expires) == []
