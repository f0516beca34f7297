"""The comparison names what the lab cannot see: a cable from host to host is not captured."""

from __future__ import annotations

from pathlib import Path

from netsim.lab.compare import notes_for
from netsim.scenario import load_scenario

LAB = Path(__file__).resolve().parent / "lab_scenarios"


def named(path: Path) -> set[str]:
    return {line.split(":", 1)[0].strip() for line in notes_for(load_scenario(path))}


def test_a_cable_from_host_to_host_is_named_as_not_watched() -> None:
    # The lab captures on bridges only (netsim/lab/capture.py): a third outsider's 93 showed a stray
    # SYN-ACK on such a cable passing as "0 frame(s)" on both sides, with nothing said about it.
    assert "cables" in named(LAB / "route-del-falls-back.yaml")  # plugged host to host from the start
    assert "cables" in named(LAB / "link-move-up-addressed.yaml")


def test_a_room_where_every_cable_reaches_a_bridge_names_no_unwatched_cable() -> None:
    assert "cables" not in named(LAB / "ip-keywords-as-names.yaml")
    assert "cables" not in named(LAB / "ageing.yaml")
