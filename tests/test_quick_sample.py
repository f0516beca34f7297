"""make check's sample of the lab's corpus (tests/conftest.py, corpus()): every post's scenario,
every eighth edge case, and every case a contributor changed; make test takes them all."""

from __future__ import annotations

import subprocess
from pathlib import Path

import conftest
import pytest

ROOT = Path(__file__).resolve().parent.parent
POSTS = sorted((ROOT / "diagrams").glob("*.yaml"))
LAB = sorted((ROOT / "tests" / "lab_scenarios").glob("*.yaml"))


def test_make_test_takes_every_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "_quick", False)
    assert conftest.corpus(POSTS + LAB) == POSTS + LAB


def test_make_check_takes_the_posts_an_eighth_and_what_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "_quick", True)
    monkeypatch.setattr(conftest, "changed_cases", lambda: frozenset({LAB[3].stem}))
    taken = conftest.corpus(POSTS + LAB)
    assert taken[: len(POSTS)] == POSTS  # in their order, the posts first as given
    assert set(taken) == set(POSTS) | set(LAB[:: conftest.CORPUS_STRIDE]) | {LAB[3]}
    assert len(LAB) // conftest.CORPUS_STRIDE <= len(taken) - len(POSTS) - 1 <= len(LAB) // conftest.CORPUS_STRIDE + 1


def test_a_recording_is_sampled_by_its_scenario_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # A post's recording is always replayed: its name is its scenario's.
    monkeypatch.setattr(conftest, "_quick", True)
    monkeypatch.setattr(conftest, "changed_cases", lambda: frozenset())
    recordings = sorted((ROOT / "tests" / "kernel_traces").glob("*.json"))
    taken = {p.stem for p in conftest.corpus(recordings)}
    assert {p.stem for p in POSTS} <= taken


def test_git_names_a_new_and_an_edited_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (tmp_path / "tests" / "lab_scenarios").mkdir(parents=True)
    (tmp_path / "tests" / "lab_scenarios" / "old.yaml").write_text("a\n")
    (tmp_path / "tests" / "lab_scenarios" / "kept.yaml").write_text("a\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    subprocess.run([*git, "checkout", "-qb", "mine"], check=True)
    (tmp_path / "tests" / "lab_scenarios" / "committed.yaml").write_text("a\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    (tmp_path / "tests" / "lab_scenarios" / "old.yaml").write_text("b\n")
    (tmp_path / "tests" / "lab_scenarios" / "new.yaml").write_text("a\n")
    monkeypatch.setattr(conftest, "ROOT", tmp_path)
    conftest.changed_cases.cache_clear()
    try:
        assert conftest.changed_cases() == {"old", "new", "committed"}
    finally:
        conftest.changed_cases.cache_clear()
