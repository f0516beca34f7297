"""The ICMP error rate limit per destination (netsim.icmp; outsider round 5, 61)."""

from __future__ import annotations

from pathlib import Path

from netsim import icmp
from netsim.frames import Icmp
from netsim.scenario import load_scenario
from netsim.simulation import run

ROOT = Path(__file__).resolve().parent.parent


def test_a_new_peer_gets_a_burst_of_six_then_one_a_second() -> None:
    # inet_peer_xrlim_allow(): tokens grow with time up to 6 x 1 s; a new peer starts 60 s back.
    peers: dict[str, icmp.Peer] = {}
    assert [icmp.allow(peers, "10.0.0.10", 0.0) for _ in range(8)] == [True] * 6 + [False] * 2
    assert icmp.allow(peers, "10.0.0.11", 0.0)  # another destination has its own bucket
    assert not icmp.allow(peers, "10.0.0.10", 0.5)
    assert icmp.allow(peers, "10.0.0.10", 1.0) and not icmp.allow(peers, "10.0.0.10", 1.0)
    assert [icmp.allow(peers, "10.0.0.10", 100.0) for _ in range(7)] == [True] * 6 + [False]


def test_only_the_ratemask_types_are_limited() -> None:
    assert icmp.limited(3, 3) and icmp.limited(3, 13) and icmp.limited(11, 0)
    assert not icmp.limited(3, 4)  # fragmentation needed is never limited
    assert not icmp.limited(0, 0) and not icmp.limited(8, 0)  # echo reply and request are not errors


def test_eight_rejected_syns_at_once_get_six_answers_as_the_lab_s_kernel_gave() -> None:
    # tests/lab_scenarios/icmp-ratelimit-burst.yaml, recorded: 8 SYNs and 6 ICMP errors, then 2 and 2.
    trace = run(load_scenario(ROOT / "tests" / "lab_scenarios" / "icmp-ratelimit-burst.yaml"))

    def errors(step: str) -> int:
        return sum(isinstance(h.payload, Icmp) for h in trace.step(step).frames)

    assert (errors("eight-at-once"), errors("two-more")) == (6, 2)
