"""The lab fuzzer's generator, without root: the same seed writes the same scenario, and every
scenario it writes passes `netsim check` or is refused with a netsim error, never a crash."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import labfuzz  # noqa: E402


@pytest.mark.parametrize("family", ["lan", "nat"])
def test_a_seed_writes_the_same_scenario_every_time(family: str) -> None:
    generate = labfuzz.families()[family]
    for seed in (1, 7, 16):
        assert labfuzz.dump(seed, generate(seed)) == labfuzz.dump(seed, generate(seed))
    assert generate(1) != generate(2)


@pytest.mark.parametrize("family", ["lan", "nat"])
def test_every_generated_scenario_is_checked_or_refused_never_a_crash(family: str, tmp_path: Path) -> None:
    passed = 0
    for seed in range(1, 31):
        text = labfuzz.dump(seed, labfuzz.families()[family](seed))
        assert text.startswith(labfuzz.SCHEMA_LINE + "\n# ")
        assert yaml.safe_load(text)["title"] == f"Fuzz case {seed}"
        path = tmp_path / f"fuzz-{seed}.yaml"
        path.write_text(text)
        if labfuzz.check(path) is None:  # a NetsimError is a refusal; anything else raises here
            passed += 1
    assert passed >= 15, "the generator should mostly write scenarios netsim accepts"


def test_without_root_it_says_so_and_exits_2(monkeypatch, capsys) -> None:
    monkeypatch.setattr(labfuzz.os, "geteuid", lambda: 1000)
    assert labfuzz.main(["--count", "1"]) == 2
    assert "needs root" in capsys.readouterr().err


def _checked(family: str, tmp_path: Path) -> tuple[int, set[str], set[str]]:
    """Seeds 1-30 of a family, each written and checked: how many netsim accepts, and the step actions
    drawn in all of them and in the accepted ones. A NetsimError is a refusal; anything else raises."""
    generate = labfuzz.families()[family]
    passed, drawn, accepted = 0, set(), set()
    for seed in range(1, 31):
        scenario = generate(seed)
        actions = {next(k for k in step if k not in ("id", "title")) for step in scenario["steps"]}
        drawn |= actions
        path = tmp_path / f"fuzz-{family}-{seed}.yaml"
        path.write_text(labfuzz.dump(seed, scenario))
        if labfuzz.check(path) is None:
            passed += 1
            accepted |= actions
    return passed, drawn, accepted


def test_the_names_family_is_deterministic_and_never_crashes_netsim(tmp_path: Path) -> None:
    import labfuzz_names

    generate = labfuzz.families()["names"]
    assert generate is labfuzz_names.generate
    assert generate(5) == generate(5) and generate(5) != generate(6)
    passed, drawn, _ = _checked("names", tmp_path)
    assert passed >= 25, "the names family should mostly write scenarios netsim accepts"
    assert {"resolve", "ssh_forward", "connect"} <= drawn


def test_the_rooms_family_builds_and_takes_apart_rooms_and_never_crashes_netsim(tmp_path: Path) -> None:
    import labfuzz_rooms

    generate = labfuzz.families()["rooms"]
    assert generate is labfuzz_rooms.generate
    assert generate(5) == generate(5) and generate(5) != generate(6)
    passed, _, accepted = _checked("rooms", tmp_path)
    assert passed >= 20, "the rooms family should mostly write scenarios netsim accepts"
    # Among the accepted ones, every way a room is made and unmade, with traffic between.
    assert {"netns_add", "veth_add", "link_move", "link_rename", "link_del", "netns_del", "connect"} <= accepted
