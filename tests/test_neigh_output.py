"""Packets sent through a REACHABLE neighbour entry do not mark it used (neigh_output(),
include/net/neighbour.h: the cached header, neigh_hh_output(), never reaches neigh_event_send()), so a
REACHABLE entry whose confirmation runs out goes STALE however busy it was; `ip neigh ... use`
(NTF_USE, the lab's `arp` step) calls neigh_event_send() itself and does mark it. Checked against
real kernel runs kept in tests/kernel_edges, which counting such packets as a use gets wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netsim import neighbour
from netsim.lab.compare import compare_with_kernel
from netsim.scenario import load_scenario, parse_scenario
from netsim.simulation import run

ROOT = Path(__file__).resolve().parent.parent
KEPT = ROOT / "tests" / "kernel_edges"
RUNS = [
    "listener-address-deleted-used-while-reachable-timeout",
    "listener-address-deleted-used-while-reachable-late-probe",
    "reachable-used-by-packets-goes-stale",
]
SCENARIO = ROOT / "tests" / "lab_scenarios" / "reachable-used-by-packets-goes-stale.yaml"


def kept(name: str) -> tuple[Any, dict[str, Any]]:
    run_ = json.loads((KEPT / f"{name}.json").read_text(encoding="utf-8"))
    scenario_name = "listener-address-deleted.yaml" if name.startswith("listener") else f"{name}.yaml"
    return parse_scenario(run_["scenario_text"], scenario_name), run_["trace"]


def packets_mark_reachable_entries_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old mechanism: every packet went through neigh_event_send(), REACHABLE or not."""
    monkeypatch.setattr(neighbour.NeighbourTable, "output", lambda self, entry, parked: self.event_send(entry, parked))


@pytest.mark.parametrize("name", RUNS)
def test_the_kernel_runs_agree(name: str) -> None:
    scenario, kernel = kept(name)
    agree, lines, _, _ = compare_with_kernel(scenario, kernel)
    assert agree, "\n".join(lines)


@pytest.mark.parametrize("name", RUNS)
def test_counting_packets_as_a_use_disagrees_with_the_same_runs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    packets_mark_reachable_entries_used(monkeypatch)
    scenario, kernel = kept(name)
    agree, lines, _, _ = compare_with_kernel(scenario, kernel)
    assert not agree, "\n".join(lines)


def states(trace: dict[str, Any], host: str, ip: str) -> dict[str, str]:
    return {s["id"]: s["neigh"][host].get(ip, {}).get("state") for s in trace["steps"]}


def test_a_busy_reachable_entry_goes_stale_and_its_next_use_makes_it_delay() -> None:
    trace = run(load_scenario(SCENARIO)).to_json()
    # a's reachable time is 10 s; its SYNs went through the entry until 7 s; the timer at 10 s finds
    # `used` at the confirmation (0 s): STALE, and nothing probes it while nobody uses it. The next
    # connect makes it DELAY. Counting the SYNs as a use would make it DELAY at 10 s and probe at 15 s.
    assert states(trace, "a", "10.0.0.11") == {
        "a-connects": "REACHABLE",
        "a-waits-on-silence": "STALE",
        "quiet": "STALE",
        "a-connects-on-stale": "DELAY",
    }
    assert [s["frames"] for s in trace["steps"]][2] == []  # no probe in the quiet step


def test_ntf_use_marks_a_reachable_entry_used() -> None:
    # The `arp` step is `ip neigh replace ... use`: neigh_event_send() moves `used` whatever the state.
    scenario = parse_scenario(
        SCENARIO.read_text(encoding="utf-8").split("steps:")[0]
        + "steps:\n"
        + "  - {id: ask, arp: {by: a, target: 10.0.0.11}}\n"
        + "  - {id: later, wait: 8}\n"
        + "  - {id: ask-again, arp: {by: a, target: 10.0.0.11}}\n"
        + "  - {id: timer-fired, wait: 3}\n",
        "ntf-use.yaml",
    )
    assert states(run(scenario).to_json(), "a", "10.0.0.11")["timer-fired"] == "DELAY"
    scenario = parse_scenario(
        SCENARIO.read_text(encoding="utf-8").split("steps:")[0]
        + "steps:\n"
        + "  - {id: ask, arp: {by: a, target: 10.0.0.11}}\n"
        + "  - {id: later, wait: 8}\n"
        + "  - {id: knock, connect: {by: a, to: '10.0.0.11:80'}}\n"
        + "  - {id: timer-fired, wait: 3}\n",
        "packet-use.yaml",
    )
    # a packet instead: the knock's SYN-ACK confirms the entry (sock_confirm_neigh()), so it stays
    # REACHABLE; it is the confirmation, not the use, that keeps it.
    assert states(run(scenario).to_json(), "a", "10.0.0.11")["timer-fired"] == "REACHABLE"
