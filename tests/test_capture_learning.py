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
