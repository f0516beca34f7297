"""Shared helpers: small scenarios written inline, beside the tests that use them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netsim.scenario import Scenario, parse_scenario
from netsim.simulation import run
from netsim.trace import Trace

# A room with three seats and the host's own seat: the smallest world most tests need.
ROOM = """
title: test room
bridges:
  br0:
    host: host
    mac: 02:00:00:00:00:01
    address: 10.0.0.1/24
    ageing_time: {ageing}
    ports:
      p1: {{{p1}}}
      p2: {{}}
      p3: {{}}
hosts:
  host: {{listeners: [{listeners}]}}
  a:
    interfaces: {{eth0: {{mac: 02:00:00:00:00:0a, address: 10.0.0.10/24, plug: br0.p1}}}}
    gateway: 10.0.0.1
  b:
    interfaces: {{eth0: {{mac: 02:00:00:00:00:0b, address: 10.0.0.11/24, plug: br0.p2}}}}
  c:
    interfaces: {{eth0: {{mac: 02:00:00:00:00:0c, address: 10.0.0.12/24, plug: br0.p3}}}}
steps:
{steps}
"""

ROOT = Path(__file__).resolve().parent.parent
MAC = {"a": "02:00:00:00:00:0a", "b": "02:00:00:00:00:0b", "c": "02:00:00:00:00:0c", "br0": "02:00:00:00:00:01"}


def room(steps: str, *, ageing: int = 300, p1: str = "", listeners: str = "") -> Scenario:
    text = ROOM.format(
        steps=textwrap.indent(textwrap.dedent(steps).strip(), "  "), ageing=ageing, p1=p1, listeners=listeners
    )
    return parse_scenario(text, "room.yaml")


def simulate(steps: str, **kwargs: object) -> Trace:
    return run(room(steps, **kwargs))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `mkdocs build --strict` writes it, built once per test run."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def margaret() -> Trace:
    from netsim.scenario import load_scenario

    return run(load_scenario("diagrams/margarets-room.yaml"))
