"""The try-it script's own checks before it builds anything: a tool the scenario needs is there,
or the script stops at once with the package to install (netsim/render/labscript.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from netsim.render.labscript import render
from netsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def nft_check(script: str) -> list[str]:
    return [line for line in script.splitlines() if "nft" in line and "command -v" in line]


def test_a_scenario_with_a_firewall_checks_for_nft_before_it_builds_anything(tmp_path: Path) -> None:
    script = render(load_scenario(ROOT / "diagrams" / "publishing-a-port.yaml"))
    (line,) = nft_check(script)
    lines = script.splitlines()
    assert lines.index(line) < lines.index("mkdir -p /run/netns")  # before the first namespace
    # The line as bash runs it: without nft on PATH it stops with the package's name and exit 3.
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(["/bin/bash", "-c", line], env={"PATH": str(empty)}, capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (3, "this scenario needs nft (package nftables)\n")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "nft").write_text("#!/bin/sh\n")
    (tools / "nft").chmod(0o755)
    done = subprocess.run(["/bin/bash", "-c", line], env={"PATH": str(tools)}, capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_scenario_without_a_firewall_asks_for_no_nft() -> None:
    assert nft_check(render(load_scenario(ROOT / "diagrams" / "margarets-room.yaml"))) == []
