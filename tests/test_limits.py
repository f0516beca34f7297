"""Stated limits and the kernel's bounds: each refusal names the file and line, and the largest
scenario the limits allow still checks, simulates and prints quickly (measured, not asserted)."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from netsim import scenario as sc
from netsim.errors import ScenarioError
from netsim.render.labscript import render
from netsim.scenario import parse_scenario, scenario_path
from netsim.simulation import run

ROOM = """\
title: limits
bridges:
  br0:
    host: h
    address: 10.0.0.1/16
    ageing_time: {ageing}
    ports:
{ports}
hosts:
  h: {{}}
{hosts}
steps:
{steps}
"""


def room(n_hosts: int = 2, steps: str = "  - {id: s, send: {by: a0, dst: broadcast}}", ageing: int = 300) -> str:
    ports = "\n".join(f"      p{i}: {{}}" for i in range(n_hosts))
    hosts = "\n".join(
        f"  a{i}:\n    interfaces: {{eth0: {{address: 10.0.{i // 250}.{i % 250 + 2}/16, plug: br0.p{i}}}}}"
        for i in range(n_hosts)
    )
    return ROOM.format(ports=ports, hosts=hosts, steps=steps, ageing=ageing)


def error(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "diagrams/limits.yaml")
    return str(caught.value)


def test_the_kernels_bounds() -> None:
    base = room()
    retries = base.replace("  a0:\n", "  a0:\n    tcp_syn_retries: N\n").replace
    assert ":13: hosts.a0.tcp_syn_retries: 0 is out of range; expected a whole number from 1 to 127" in error(
        retries("N", "0")
    )
    assert "MAX_TCP_SYNCNT = 127" in error(retries("N", "128"))
    parse_scenario(retries("N", "127"), "diagrams/limits.yaml")  # the kernel takes 127; so do we
    assert "ageing_time: 42949673 is out of range" in error(room(ageing=42_949_673))
    reachable = base.replace("  a0:\n", "  a0:\n    reachable_time: N\n").replace
    assert "reachable_time: inf is not a finite number" in error(reachable("N", ".inf"))
    assert "reachable_time: nan is not a finite number" in error(reachable("N", ".nan"))
    assert "reachable_time: 0.0 is out of range" in error(reachable("N", "0.0"))


def test_waits_and_the_real_time_they_add_up_to() -> None:
    one = room(steps="  - {id: w, wait: 3601}")
    assert "steps[0].wait: 3601 is out of range; expected a number from 0 to 3600" in error(one)
    many = room(steps="\n".join(f"  - {{id: w{i}, wait: 3000}}" for i in range(2)))
    message = error(many)
    assert message.startswith("diagrams/limits.yaml:18: steps[1]: by this step the scenario may take 6000 s")
    # A connect counts for its SYN timeout, the longest it can take: 127 retries is refused by time (the
    # RTO stops doubling at TCP_RTO_MAX: 127 s, then 121 more firings 120 s apart, tcp_model_timeout()).
    slow = room(steps="  - {id: c, connect: {by: a0, to: '10.0.0.9:80'}}").replace(
        "  a0:\n", "  a0:\n    tcp_syn_retries: 127\n"
    )
    assert "may take 14651 s of real time" in error(slow)


def test_counts_are_bounded() -> None:
    assert ":73: hosts: 65 items; expected at most 64" in error(room(n_hosts=64))
    extra = "\n".join(f"      q{i}: {{}}" for i in range(63))
    assert ":8: bridges.br0.ports: 65 items; expected at most 64" in error(
        room().replace("      p1: {}", f"      p1: {{}}\n{extra}")
    )
    steps = "\n".join(f"  - {{id: s{i}, wait: 0}}" for i in range(sc.MAX_STEPS + 1))
    assert f"steps: {sc.MAX_STEPS + 1} items; expected at most {sc.MAX_STEPS}" in error(room(steps=steps))


def test_names_and_their_derived_names_fit_linux() -> None:
    long_port = room().replace("p0: {}", "p0123456789abc: {}").replace("br0.p0", "br0.p0123456789abc")
    assert "'p0123456789abc' is 14 characters; expected at most 13 (an empty seat's far end" in error(long_port)
    assert "is not a usable interface name: the kernel refuses it" in error(room().replace("br0:", "br0123456789abcd:"))
    assert "'br0\\n' is not a usable interface name" in error(room().replace("  br0:", '  "br0\\n":'))


def test_an_absent_host_has_nothing_from_the_start() -> None:
    text = room().replace("  h: {}", "  h: {absent: true}")
    assert "hosts.h.absent: h is absent until a netns_add step, but has bridges br0 from the start" in error(text)


def test_an_absent_host_forwards_and_masquerades_only_after_a_step() -> None:
    # The lab's netns_add makes a namespace with forwarding off and no ruleset; netsim turned both on.
    router = "  r: {absent: true, ip_forward: true, masquerade: [{saddr: 10.0.0.0/16}]}"
    text = room().replace("  h: {}", "  h: {}\n" + router)
    assert "hosts.r.absent: r is absent until a netns_add step, but has ip_forward, masquerade from the start" in error(
        text
    )
    parse_scenario(room().replace("  h: {}", "  h: {}\n  r: {absent: true, ip_forward: false}"), "diagrams/x.yaml")


def test_scenario_names_from_pages_stay_inside_diagrams(tmp_path: Path) -> None:
    (tmp_path / "diagrams").mkdir()
    assert scenario_path(tmp_path, "ok-name") == (tmp_path / "diagrams" / "ok-name.yaml").resolve()
    for bad in ("../etc/passwd", "a/b", "x\n", "", "A" * 70, "."):
        with pytest.raises(ScenarioError, match="is not a scenario name"):
            scenario_path(tmp_path, bad)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "diagrams" / "sneaky.yaml").symlink_to(tmp_path / "elsewhere" / "x.yaml")
    with pytest.raises(ScenarioError, match="resolves outside diagrams/"):
        scenario_path(tmp_path, "sneaky")


def test_the_largest_scenario_the_limits_allow_stays_small() -> None:
    """64 seats and hosts (one seat empty), 200 steps of floods and ARP: measured, never a timed assertion."""
    steps = "\n".join(
        f"  - {{id: s{i}, send: {{by: a{i % 63}, dst: broadcast}}}}"
        if i % 2
        else f"  - {{id: s{i}, arp: {{by: a{i % 63}, target: 10.0.0.{(i + 7) % 63 + 2}}}}}"
        for i in range(sc.MAX_STEPS)
    )
    text = room(n_hosts=sc.MAX_HOSTS - 1, steps=steps).replace("      p0: {}", "      p0: {}\n      spare: {}")
    started = time.perf_counter()
    s = parse_scenario(text, "diagrams/largest.yaml")
    checked = time.perf_counter()
    trace = run(s)
    simulated = time.perf_counter()
    script = render(s)
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"\nlargest scenario: {len(text)} bytes; check {checked - started:.2f} s, run {simulated - checked:.2f} s, "
        f"script {done - simulated:.2f} s ({len(script)} bytes); peak memory of this test process {peak} MiB"
    )
    assert len(trace.steps) == sc.MAX_STEPS
    assert script.count("\nsend_frame ") == sc.MAX_STEPS // 2
