"""Three step kinds that change a running host (issue 12): `reachable_time` (a neighbour knob on an
interface that already has entries), `firewall_del` (one input rule goes) and `sends` (several
frames in one step: a MAC on two ports within it). Each: the reader's clear errors (file and line),
the lab's argument vectors and the script's lines (one quoting point), and the simulation against
what the real kernel did (tests/kernel_traces), with a planted fault shown to disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netsim import simulation
from netsim.errors import ScenarioError
from netsim.lab.compare import compare_with_kernel
from netsim.plan import step_ops
from netsim.render.labscript import line, render
from netsim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
ROOM = """\
title: t
bridges:
  br0:
    host: h
    ports: {p1: {}, p2: {}}
hosts:
  h: {}
  a:
    interfaces: {eth0: {address: 10.0.0.10/24, plug: br0.p1}}
  b:
    drop_tcp_ports: [80]
    reject_tcp_ports: [81]
    interfaces: {eth0: {address: 10.0.0.11/24, plug: br0.p2}}
steps:
"""


def error_for(steps: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(ROOM + steps, "tests/lab_scenarios/x.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        (
            "  - {id: s, reachable_time: {by: a, dev: eth9, seconds: 5}}\n",
            "x.yaml:15: steps[0].reachable_time.dev: a has no interface 'eth9'; expected one of: eth0",
        ),
        (
            "  - {id: s, reachable_time: {by: a, dev: eth0, seconds: 0}}\n",
            "x.yaml:15: steps[0].reachable_time.seconds: 0 is out of range",
        ),
        (
            "  - {id: s, firewall_del: {by: b, rule: drop_tcp_ports, port: 81}}\n",
            "x.yaml:15: steps[0].firewall_del.port: b has no drop_tcp_ports rule for port 81 at this step; the "
            "kernel refuses (Could not process rule: No such file or directory); expected one of: 80",
        ),
        (
            "  - {id: s, firewall_del: {by: b, rule: drop_tcp_ports, port: 80}}\n"
            "  - {id: t, firewall_del: {by: b, rule: drop_tcp_ports, port: 80}}\n",
            "x.yaml:16: steps[1].firewall_del.port: b has no drop_tcp_ports rule for port 80 at this step",
        ),
        (
            "  - {id: s, firewall_del: {by: b, rule: accept_tcp_ports, port: 80}}\n",
            "x.yaml:15: steps[0].firewall_del.rule: 'accept_tcp_ports' is not one of",
        ),
        (
            "  - {id: s, sends: {frames: [{by: a, dst: broadcast}]}}\n",
            "x.yaml:15: steps[0].sends.frames: 1 frame(s); expected 2 or more",
        ),
        (
            "  - {id: s, sends: {frames: [{by: a, dst: broadcast}, {by: zed, dst: broadcast}]}}\n",
            "x.yaml:15: steps[0].sends.frames[1].by: 'zed' is not a host; expected one of: a, b, h",
        ),
    ],
)
def test_the_reader_says_what_is_wrong_and_where(steps: str, said: str) -> None:
    assert said in error_for(steps)


def ops_of(steps: str) -> list[Any]:
    s = parse_scenario(ROOM + steps, "x.yaml")
    return [op for op in step_ops(s, s.steps[0]) if not op.show]


def test_the_labs_argument_vectors_and_the_scripts_lines() -> None:
    (sysctl,) = ops_of("  - {id: s, reachable_time: {by: a, dev: eth0, seconds: 2.5}}\n")
    assert sysctl.argv == (
        "ip", "netns", "exec", "lab-a", "sysctl", "-qw", "net.ipv4.neigh.eth0.base_reachable_time_ms=2500",
    )  # fmt: skip
    (nft,) = ops_of("  - {id: s, firewall_del: {by: b, rule: drop_tcp_ports, port: 80}}\n")
    assert nft.argv == ("ip", "netns", "exec", "lab-b", "nft", "-f", "-")
    # One transaction: the chain emptied, the rule that stays added back.
    assert nft.stdin == (
        "flush chain inet lab input",
        "add rule inet lab input iifname != lo tcp dport 81 reject with icmp type port-unreachable",
    )
    frames = ops_of("  - {id: s, sends: {frames: [{by: a, dst: broadcast}, {by: b, dst: a}]}}\n")
    assert [op.argv[:3] for op in frames] == [("send_frame", "a", "eth0"), ("send_frame", "b", "eth0")]
    script = render(parse_scenario(ROOM + "  - {id: s, firewall_del: {by: b, rule: drop_tcp_ports, port: 80}}\n"))
    assert line(nft) in script  # the script's line is the lab's vector, through the one quoting point


def recorded(name: str) -> tuple[Any, dict[str, Any]]:
    kept = json.loads((ROOT / "tests" / "kernel_traces" / f"{name}.json").read_text(encoding="utf-8"))
    scenario = ROOT / kept["scenario"]
    return load_scenario(scenario), kept["trace"]


def _reachable_at_once(self: simulation.Simulation, change: Any) -> None:
    """Planted: the new reachable time cuts entries already REACHABLE short (the kernel's do not)."""
    table = self.namespaces[change.by].neigh
    table.base[change.dev] = change.seconds
    for entry in list(table.entries.values()):
        if entry.dev == change.dev and entry.state == "REACHABLE":
            table._add_timer(entry, entry.confirmed + table.reachable(entry.dev))


def _rule_stays(self: simulation.Simulation, change: Any) -> None:
    """Planted: deleting a rule changes nothing."""


def _mac_stays(self: simulation.Simulation, burst: Any) -> None:
    """Planted: a learned MAC never moves within a step (the first port keeps it)."""
    seen: dict[str, tuple[str, str]] = {}
    for send in burst.frames:
        for bridge in self.bridges.values():
            for mac, entry in bridge.fdb.entries.items():
                seen.setdefault(mac, (bridge.name, entry.port))
        self._step_send(send)
        for mac, (name, port) in seen.items():
            entry = self.bridges[name].fdb.entries.get(mac)
            if entry is not None:
                entry.port = port


@pytest.mark.parametrize(
    ("name", "step_kind", "planted"),
    [
        ("reachable-time-shorter-on-existing", "reachable_time", _reachable_at_once),
        ("firewall-rule-deleted", "firewall_del", _rule_stays),
        ("mac-moves-within-a-step", "sends", _mac_stays),
    ],
)
def test_netsim_does_what_the_kernel_did_and_a_planted_fault_does_not(
    name: str, step_kind: str, planted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario, kernel = recorded(name)
    agree, lines, _, _ = compare_with_kernel(scenario, kernel)
    assert agree, "\n".join(lines)
    monkeypatch.setattr(simulation.Simulation, f"_step_{step_kind}", planted)
    agree, lines, _, _ = compare_with_kernel(scenario, kernel)
    assert not agree, "\n".join(lines)
