"""Numbers a post quotes from the lab's real kernel are read back from the recorded kernel trace, so a
re-recorded trace that changes them fails here instead of leaving the sentence stale."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_post_three_quotes_the_lab_kernels_give_up_time_and_tick_rate() -> None:
    recorded = json.loads((ROOT / "tests" / "kernel_traces" / "three-ways-to-say-no.json").read_text())["trace"]
    seconds = next(s["seconds"] for s in recorded["steps"] if s["id"] == "patient-silence")
    text = " ".join((ROOT / "docs" / "posts" / "three-ways-to-say-no.md").read_text(encoding="utf-8").split())
    said = re.search(r"Its kernel gave up after ([\d.]+) seconds", text)
    assert said is not None, "post three no longer quotes the lab kernel's give-up time"
    assert said.group(1) == f"{seconds:.1f}", (said.group(1), seconds)
    assert f"the lab's kernel, which ticks {recorded['hz']} times a second" in text
