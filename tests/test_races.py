"""tests/races.py, the race finder: it names a recording whose outcome a step's action taking effect a
little late would change, and passes one that sits well clear of every edge."""

from __future__ import annotations

from pathlib import Path

import races

TRACES = Path(__file__).resolve().parent / "kernel_traces"


def test_a_connect_whose_arp_probe_falls_at_a_step_s_start_when_late_is_named() -> None:
    # Eleven 0.1 s connects across the laptop's ARP for 192.168.1.99: r3's connect 0.1 s late puts the
    # probe its SYN waits on after the lab began the next step, so r3's own frames lack it.
    name, state, found = races.examine(TRACES / "icmpnat-own-unreach-lo-unlimited.json", 0.1)
    assert (name, state) == ("icmpnat-own-unreach-lo-unlimited", "agrees")
    assert any(line.startswith("step 6 (r3, connect) acting 0.1 s late: ✗ [6] r3") for line in found), found
    assert not any("(m2," in line for line in found)  # a step whose lateness changes nothing is not named


def test_a_tunnel_end_back_well_between_two_resends_is_not_named() -> None:
    # Back 6 s after it left, in the 6.3-12.9 s gap between the channel open's resends (stop 41's fix).
    _, state, found = races.examine(TRACES / "lifecycle-tunnel-end-moved-away-and-back.json", 0.25)
    assert state == "agrees" and found == []


def test_the_first_disagreement_is_what_is_named() -> None:
    lines = ["✓ [1] a: 2 frame(s)", "✗ [2] b", "    frame 1: x", "    frame 2: y", "    frame 3: z", "✗ [3] c"]
    assert races.first_disagreement(lines) == "✗ [2] b: frame 1: x | frame 2: y"
