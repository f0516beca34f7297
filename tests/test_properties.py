"""Invariants of the bridge, stated in words and checked on random stories (hypothesis)."""

from __future__ import annotations

import os

from conftest import MAC, QUICK_EXAMPLES, quick, room
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.addresses import is_valid_source
from netsim.simulation import run
from netsim.trace import Trace

PORTS = {"a": "p1", "b": "p2", "c": "p3"}
SOURCES = [MAC["a"], MAC["b"], MAC["c"], "02:00:00:00:00:99", "03:00:00:00:00:01", "00:00:00:00:00:00"]
# make mutants asks for fewer random stories per mutant (each survivor runs every test); make
# check (pytest --quick, tests/conftest.py) for fewer too, make test for all 150.
EXAMPLES = int(os.environ.get("NETSIM_PROPERTY_EXAMPLES", QUICK_EXAMPLES if quick() else 150))
SAME_TWICE = QUICK_EXAMPLES if quick() else 50  # stories run twice each, to compare the traces
DESTS = ["a", "b", "c", "broadcast", MAC["br0"], "02:00:00:00:00:99", "01:00:5e:00:00:01"]

send = st.builds(
    lambda by, src, dst: f"send: {{by: {by}, src: '{src}', dst: '{dst}'}}",
    st.sampled_from(list(PORTS)),
    st.sampled_from(SOURCES),
    st.sampled_from(DESTS),
)
wait = st.integers(min_value=0, max_value=15).map(lambda s: f"wait: {s}")
stories = st.lists(st.one_of(send, send, send, wait), min_size=1, max_size=25)


def story(actions: list[str], ageing: int = 10) -> tuple[Trace, list[str]]:
    steps = "\n".join(f"- {{id: s{i}, {action}}}" for i, action in enumerate(actions))
    return run(room(steps, ageing=ageing)), actions


@settings(max_examples=EXAMPLES, deadline=None)
@given(stories)
def test_a_frame_never_leaves_by_its_ingress_port_without_hairpin(actions: list[str]) -> None:
    trace, _ = story(actions)
    for step in trace.steps:
        for hop in step.frames:
            assert hop.in_port not in hop.out_ports


@settings(max_examples=EXAMPLES, deadline=None)
@given(stories)
def test_a_broadcast_reaches_every_other_port_and_the_host(actions: list[str]) -> None:
    trace, _ = story(actions)
    for step in trace.steps:
        for hop in step.frames:
            if hop.dst == "ff:ff:ff:ff:ff:ff" and is_valid_source(hop.src):
                assert set(hop.out_ports) == (set(PORTS.values()) - {hop.in_port}) | {"br0"}


@settings(max_examples=EXAMPLES, deadline=None)
@given(stories)
def test_nothing_is_ever_learned_from_a_group_or_zero_source(actions: list[str]) -> None:
    trace, _ = story(actions)
    for step in trace.steps:
        assert all(is_valid_source(mac) for mac in step.fdb["br0"])


@settings(max_examples=EXAMPLES, deadline=None)
@given(stories)
def test_after_a_host_sends_the_bridge_knows_its_port_until_it_ages_out(actions: list[str]) -> None:
    ageing = 10
    trace, _ = story(actions, ageing)
    last_seen: dict[str, tuple[str, float]] = {}  # mac -> (port, time), from the frames alone
    for step in trace.steps:
        for hop in step.frames:
            if is_valid_source(hop.src) and hop.src != MAC["br0"] and hop.in_port != "br0":
                last_seen[hop.src] = (hop.in_port, hop.time)
        for mac, (port, seen) in last_seen.items():
            alive = step.time < seen + ageing
            assert (step.fdb["br0"].get(mac) == port) == alive, (mac, step.id)


@settings(max_examples=SAME_TWICE, deadline=None)
@given(stories)
def test_the_same_scenario_always_gives_the_same_trace(actions: list[str]) -> None:
    first, _ = story(actions)
    second, _ = story(actions)
    assert first.dumps() == second.dumps()
