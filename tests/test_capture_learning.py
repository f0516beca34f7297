"""The lab tells a forward from a flood with one eligible port by what the bridge had learned; a
source counts as learned only where its way in learns (outsider3's 25: a port with learning off).
No root: sightings stand in for what the AF_PACKET sockets saw."""

from __future__ import annotations

from netsim import wire
from netsim.frames import ETH_P_TEST, Tcp, carries
from netsim.lab import capture
from netsim.lab.capture import Seen, hops
from netsim.trace import Hop

ANN, BEN = "02:a0:00:00:00:0a", "02:b0:00:00:00:0b"


def frame(dst: str, src: str) -> bytes:
    mac = bytes.fromhex
    return mac(dst.replace(":", "")) + mac(src.replace(":", "")) + ETH_P_TEST.to_bytes(2, "big") + b"\0" * 46


def sightings() -> list[Seen]:
    """Ben speaks in by s2 (to Ann, on s1); then Ann's frame to Ben leaves by s3 alone (s2 floods not)."""
    ben, ann = frame(ANN, BEN), frame(BEN, ANN)
    return [
        Seen(1, "br0", "s2", False, ben),
        Seen(2, "br0", "s1", True, ben),
        Seen(3, "br0", "s1", False, ann),
        Seen(4, "br0", "s3", True, ann),
    ]


def test_a_source_in_by_a_port_that_does_not_learn_stays_unknown_so_one_port_out_is_a_flood() -> None:
    crossed = hops(sightings(), {"br0": set()}, {"br0": {"s2"}})
    assert [(h["src"], h["out_ports"], h["decision"]) for h in crossed] == [
        (BEN, ["s1"], "flood"),
        (ANN, ["s3"], "flood"),
    ]


def test_a_source_in_by_a_learning_port_is_known_from_then_on() -> None:
    crossed = hops(sightings(), {"br0": set()}, {"br0": set()})
    assert crossed[1]["decision"] == "forward"  # as the bridge would: it learned Ben on s2
    assert hops(sightings(), {"br0": set()})[1]["decision"] == "forward"  # nothing said: every port learns


def test_the_lab_names_every_segment_netsim_sends_in_netsims_words() -> None:
    # ssh's FIN-ACK closing a tunnel's connection crossed a watched bridge and the lab called it
    # "TCP flags 0x11" (outsider4's F4): every flag set netsim puts on the wire must read the same.
    for letters in wire.TCP_FLAGS:
        seg = Tcp("10.88.0.1", "10.88.0.2", 19001, 40001, letters, 1, 2)
        hop = Hop("br0", "s1", ANN, BEN, "forward", ("s2",), "", "", payload=seg)
        assert capture.carries(wire.encode(hop)) == carries(seg), letters


CAT = "02:c0:00:00:00:0c"


def test_a_frame_the_bridge_drops_still_teaches_its_source() -> None:
    # br_handle_frame_finish() learns before it decides: Cat's badge, worn by Ann's frame to Ann's own
    # MAC (dropped: the destination is on s1, its way in), is known when Ben's frame to it crosses.
    dropped, to_it = frame(ANN, CAT), frame(CAT, BEN)
    seen = [Seen(1, "br0", "s1", False, dropped), Seen(2, "br0", "s2", False, to_it), Seen(3, "br0", "s1", True, to_it)]
    crossed = hops(seen, {"br0": {ANN}}, {"br0": set()})
    assert [(h["out_ports"], h["decision"]) for h in crossed] == [([], "drop"), (["s1"], "forward")]


def test_what_the_host_sends_or_a_bad_source_teaches_nothing() -> None:
    # br_dev_xmit() never learns, and br_handle_frame() drops a group source or a pause frame first.
    pause = "01:80:c2:00:00:01"
    for bridge_dev, first in (("br0", frame("ff:ff:ff:ff:ff:ff", CAT)), ("s1", frame(pause, CAT))):
        seen = [
            Seen(1, "br0", bridge_dev, bridge_dev == "br0", first),
            *([Seen(1, "br0", "s3", True, first)] if bridge_dev == "br0" else []),  # the host's flood left by s3
            Seen(2, "br0", "s2", False, frame(CAT, BEN)),
            Seen(3, "br0", "s1", True, frame(CAT, BEN)),
        ]
        assert hops(seen, {"br0": set()}, {"br0": set()})[-1]["decision"] == "flood", bridge_dev


def test_an_entry_that_ages_out_within_the_step_is_unknown_again() -> None:
    # br_fdb_cleanup() deletes Ben's entry an ageing time (1 s) after his frame: the host's frame to
    # him 2 s later leaves by one port (s1 floods nothing) as a flood, while one at 0.5 s is a forward.
    second = 1_000_000_000
    ben, to_ben = frame(ANN, BEN), frame(BEN, "02:00:00:00:00:01")
    seen = [
        Seen(0, "br0", "s2", False, ben),
        Seen(1, "br0", "s1", True, ben),
        Seen(second // 2, "br0", "br0", True, to_ben),
        Seen(second // 2 + 1, "br0", "s2", True, to_ben),
        Seen(2 * second, "br0", "br0", True, to_ben),
        Seen(2 * second + 1, "br0", "s2", True, to_ben),
    ]
    crossed = hops(seen, {"br0": {ANN}}, {"br0": set()}, {"br0": (second, {ANN: 0})})
    assert [h["decision"] for h in crossed] == ["forward", "forward", "flood"]
    # A MAC known as the step began ages out the same way, from when it was last refreshed.
    late = [s for s in seen if s.when >= second // 2]
    assert [h["decision"] for h in hops(late, {"br0": {BEN}}, {"br0": set()}, {"br0": (second, {BEN: 0})})] == [
        "forward",
        "flood",
    ]


def test_a_frame_to_its_own_source_finds_the_entry_it_just_made() -> None:
    # labfuzz seeds 16 and 18: br_handle_frame_finish() learns the source before br_fdb_find_rcu()
    # looks the destination up, so Ann's frame to her own MAC, back out of her hairpin port s1 alone,
    # was forwarded; the lab called it a flood (it decided before it learned).
    own = frame(ANN, ANN)
    crossed = hops([Seen(1, "br0", "s1", False, own), Seen(2, "br0", "s1", True, own)], {"br0": set()}, {"br0": set()})
    assert [(h["out_ports"], h["decision"]) for h in crossed] == [(["s1"], "forward")]
    unlearned = hops(
        [Seen(1, "br0", "s1", False, own), Seen(2, "br0", "s1", True, own)], {"br0": set()}, {"br0": {"s1"}}
    )
    assert unlearned[0]["decision"] == "flood"  # a port that does not learn: nothing to find


def test_two_identical_frames_in_before_either_leaves_are_both_forwarded() -> None:
    # A router's two RSTs to two identical SYN-ACKs are the same bytes; both entered the bridge before
    # the first left. Each copy out of s2 is one crossing's (a crossing leaves by a port once), so
    # neither is a drop (waitq-router-queue-let-out).
    rst = frame(BEN, ANN)
    seen = [
        Seen(1, "br0", "s1", False, rst),
        Seen(2, "br0", "s1", False, rst),
        Seen(3, "br0", "s2", True, rst),
        Seen(4, "br0", "s2", True, rst),
    ]
    crossed = hops(seen, {"br0": {BEN}})
    assert [(h["out_ports"], h["decision"]) for h in crossed] == [(["s2"], "forward"), (["s2"], "forward")]
