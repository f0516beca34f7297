"""`python -m netsim` as a person uses it: exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netsim.cli import main

ROOT = Path(__file__).resolve().parent.parent


def netsim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env_path = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "netsim", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_run_tells_the_story_step_by_step() -> None:
    out = netsim("run", "diagrams/margarets-room.yaml")
    assert out.returncode == 0, out.stderr
    assert "[1/24] bob-writes-to-alice" in out.stdout
    assert "seat5 -> flood -> seat3, seat7, seat9" in out.stdout
    assert "ba:11:22:33:44:55 dev seat5 master podman0" in out.stdout
    assert "=> connect: refused" in out.stdout


def test_run_json_has_the_documented_shape() -> None:
    out = netsim("run", "diagrams/margarets-room.yaml", "--json")
    trace = json.loads(out.stdout)
    assert set(trace) == {"scenario", "steps"}
    step = trace["steps"][0]
    shape = {"id", "frames", "fdb", "neigh", "outcome", "seconds", "clock", "links", "routes", "listening"}
    shape |= {"conntrack", "route"}
    assert set(step) == shape | {"resolved", "listener"}
    assert step["clock"] == {"at": 0.0, "observed": 0.0}
    lo = step["links"]["alice"]["lo"]
    assert lo == {
        "kind": "loopback",
        "state": "UP",
        "mac": "00:00:00:00:00:00",
        "addresses": ["127.0.0.1/8"],
        "master": None,
    }
    assert set(step["frames"][0]) == {"bridge", "in_port", "src", "dst", "decision", "out_ports", "carries"}
    outcomes = {s["outcome"] for s in trace["steps"]}
    assert outcomes <= {
        None,
        "connected",
        "refused",
        "host-unreachable",
        "network-unreachable",
        "timeout",
        "deadline",
        "address-not-available",  # bind() refused, or a MAC the kernel will not give a card
        "address-in-use",
    }
    assert all(set(n) == {"mac", "state"} for s in trace["steps"] for t in s["neigh"].values() for n in t.values())


def test_check_accepts_every_scenario_in_diagrams() -> None:
    out = netsim("check")
    assert out.returncode == 0 and "ok  diagrams/margarets-room.yaml" in out.stdout


def test_bad_input_exits_2_with_the_message_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nhosts:\n  a: {interfaces: {eth0: {mac: nope}}}\nsteps: []\n")
    out = netsim("check", str(bad))
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().endswith(
        "bad.yaml:3: hosts.a.interfaces.eth0.mac: 'nope' is not a MAC address (six hex pairs)"
    )


def test_check_plays_the_story_and_refuses_what_the_kernel_refuses_on_the_way(tmp_path: Path) -> None:
    bad = tmp_path / "late.yaml"
    bad.write_text(
        "title: x\n"
        "bridges:\n  br0: {host: h, address: 10.0.0.1/24, ports: {p1: {}}}\n"
        "hosts:\n  h: {}\n  a: {interfaces: {eth0: {address: 10.0.0.10/24, plug: br0.p1}}}\n"
        "steps:\n  - {id: r, route_add: {by: a, to: default, via: 10.9.9.9}}\n"
    )
    out = netsim("check", str(bad))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().endswith(
        "late.yaml:8: steps[0].route_add.via: 10.9.9.9 is on none of a's networks that are up; "
        "the kernel refuses the route (ENETUNREACH, Nexthop has invalid gateway)"
    )


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    out = netsim("run", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "cannot read file" in out.stderr


def test_the_schema_is_generated_from_the_model() -> None:
    schema = json.loads(netsim("schema").stdout)
    host = schema["properties"]["hosts"]["additionalProperties"]
    assert host["additionalProperties"] is False  # unknown keys are errors for editors too
    assert host["properties"]["listeners"]["description"].startswith("TCP sockets listening")
    mac = host["properties"]["interfaces"]["additionalProperties"]["properties"]["mac"]
    assert mac["anyOf"][0]["pattern"]
    assert schema["required"] == ["title", "hosts", "steps"]


def test_a_reader_that_stops_reading_is_not_an_internal_error() -> None:
    """`netsim schema | head -5`: the pipe closes before netsim has written everything."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as after head has exited
    try:
        done = subprocess.run(
            [sys.executable, "-m", "netsim", "schema"],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141  # as a program killed by SIGPIPE


@pytest.mark.parametrize("command", ["guard-pages", "claims"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "page: no such page; expected a Markdown file such as docs/posts/x.md"),
        (
            b"# x\n\xff\n",
            "page.md:2: byte 0xff is not UTF-8; expected a Markdown file such as docs/posts/x.md in UTF-8",
        ),
        (b"---\ntitle: [x\n---\n# x\n", "page.md:2: front matter: not valid YAML: expected ',' or ']'"),
        (b"---\n- a\n---\n# x\n", "page.md:2: front matter: found list; expected a mapping"),
    ],
)
def test_a_page_that_cannot_be_read_is_named_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, content: bytes | None, message: str
) -> None:
    """guard-pages and claims read pages a user names: a directory, bytes that are not UTF-8 or front
    matter that is not a YAML mapping were internal errors (IsADirectoryError, UnicodeDecodeError...)."""
    page = tmp_path / "page.md"
    if content is None:
        page = tmp_path / "page"
        page.mkdir()
    else:
        page.write_bytes(content)
    assert main([command, str(page)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}/{message}"), err
    assert err.count("\n") == 1


@pytest.mark.parametrize("command", ["guard-pages", "claims"])
def test_a_file_that_is_not_a_page_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    """`netsim claims diagrams/x.yaml` audited the scenario as a page with no claims and exited 0."""
    scenario = tmp_path / "x.yaml"
    scenario.write_text("title: x\n", encoding="utf-8")
    assert main([command, str(scenario)]) == 2
    assert (
        capsys.readouterr().err
        == f"error: {scenario}: is not a Markdown page (NAME.md); expected a Markdown file such as docs/posts/x.md\n"
    )


@pytest.mark.parametrize(
    ("scenario", "line"),
    [
        ("listen-broadcast-multicast", "  => listen: address-in-use"),  # bind() of a listen step refused
        ("ssh-forward-port-taken", "  => ssh -L: address-in-use"),  # ssh could not listen
    ],
)
def test_run_names_what_an_outcome_answers(capsys: pytest.CaptureFixture[str], scenario: str, line: str) -> None:
    """A listen or ssh -L step's refused bind() was printed as `=> connect: address-in-use`, by
    `netsim run` and by `netsim lab`'s view of the kernel's trace alike."""
    from netsim.render.text import render
    from netsim.scenario import load_scenario
    from netsim.trace import Trace

    file = ROOT / "tests" / "lab_scenarios" / f"{scenario}.yaml"
    assert main(["run", str(file)]) == 0
    out = capsys.readouterr().out
    assert line in out.splitlines() and "=> connect: address-in-use" not in out
    kept = json.loads((ROOT / "tests" / "kernel_traces" / f"{scenario}.json").read_text(encoding="utf-8"))
    assert line in render(load_scenario(file), Trace.from_json(kept["trace"])).splitlines()


def test_lab_refuses_json_and_compare_together(capsys: pytest.CaptureFixture[str]) -> None:
    """`netsim lab FILE --json --compare` printed the comparison and ignored --json."""
    with pytest.raises(SystemExit) as refused:
        main(["lab", "nope.yaml", "--json", "--compare"])
    assert refused.value.code == 2
    assert "argument --compare: not allowed with argument --json" in capsys.readouterr().err


def test_the_readme_names_every_outcome_a_trace_can_carry() -> None:
    """README.md's account of the JSON trace listed six outcomes; steps end in two more
    (address-in-use, address-not-available), in netsim's traces and the kernel's."""
    import re

    from netsim.tcp import OUTCOMES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = re.search(r"^`outcome` is (.*?) or null\.", readme, re.S | re.M)
    assert sentence, "README.md no longer says what `outcome` is"
    assert set(re.findall(r"`([a-z-]+)`", sentence.group(1))) == set(OUTCOMES)
