"""Graphviz layouts are cached under the graph's own text (netsim/render/layout.py, issue 23):
the same text gives the same drawing without running Graphviz again, whatever scenario asked;
changed text runs it again."""

from __future__ import annotations

from pathlib import Path

import pygraphviz as pgv
import pytest

from netsim.render import graph, layout
from netsim.scenario import load_scenario
from netsim.simulation import run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty layout cache on disk and in memory, with counters from zero."""
    monkeypatch.setenv("NETSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NETSIM_LAYOUT_CACHE_DIR", raising=False)  # the tests' own (tests/conftest.py)
    monkeypatch.setattr(layout, "_MEMORY", {})
    monkeypatch.setattr(layout, "STATS", {"hits": 0, "misses": 0})
    return tmp_path / "cache"


def room(label: str) -> pgv.AGraph:
    g = pgv.AGraph(directed=True)
    g.add_edge("a", "b", label=label)
    return g


def test_the_same_text_is_laid_out_once_and_changed_text_again(fresh: Path) -> None:
    first = layout.svg(room("frame 1"))
    assert layout.STATS == {"hits": 0, "misses": 1}
    assert layout.svg(room("frame 1")) == first  # another graph object, the same text
    assert layout.STATS == {"hits": 1, "misses": 1}
    changed = layout.svg(room("frame 2"))
    assert layout.STATS == {"hits": 1, "misses": 2}
    assert "frame 2" in changed and "frame 2" not in first
    layout._MEMORY.clear()  # a later process: read back from disk, as Graphviz drew it
    assert layout.svg(room("frame 2")) == changed == room("frame 2").draw(format="svg", prog="dot").decode()
    assert layout.STATS == {"hits": 2, "misses": 2}


def test_off_runs_graphviz_every_time(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETSIM_CACHE_DIR", "off")
    layout.svg(room("x"))
    layout.svg(room("x"))
    assert layout.STATS == {"hits": 0, "misses": 2}
    assert not fresh.exists()


def test_a_layout_folder_of_its_own_keeps_layouts_with_the_figure_cache_off(
    fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the tests run with (tests/conftest.py): figures rendered afresh, layouts kept by their text.
    monkeypatch.setenv("NETSIM_CACHE_DIR", "off")
    monkeypatch.setenv("NETSIM_LAYOUT_CACHE_DIR", str(tmp_path / "layouts"))
    first = layout.svg(room("x"))
    layout._MEMORY.clear()  # a later process: from the folder
    assert layout.svg(room("x")) == first
    assert layout.STATS == {"hits": 1, "misses": 1}
    assert not fresh.exists()


def test_a_scenario_edit_lays_out_only_what_it_changes_in_a_drawing(fresh: Path, tmp_path: Path) -> None:
    """The figure cache is keyed by the scenario file, so any edit to it renders every figure
    afresh; the layouts are keyed by what is drawn. A step title (in the caption, not the drawing)
    reuses every layout, and the drawing is the same; a host's label lays every step out again."""
    original = (ROOT / "diagrams" / "margarets-room.yaml").read_text(encoding="utf-8")
    edits = {
        "as-is": original,
        "step-title": original.replace("title: Alice writes back", "title: Alice answers"),
        "label": original.replace("label: Alice", "label: Alicia"),
    }
    assert len(set(edits.values())) == 3
    drawn, stats = {}, {}
    for name, text in edits.items():
        path = tmp_path / name / "diagrams" / "margarets-room.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
        scenario = load_scenario(path)
        before = dict(layout.STATS)
        drawn[name] = [graph.room(scenario, step) for step in run(scenario).steps]
        stats[name] = {k: layout.STATS[k] - before[k] for k in before}
    steps = len(drawn["as-is"])
    assert steps > 3 and stats["as-is"] == {"hits": 0, "misses": steps}, stats
    assert stats["step-title"] == {"hits": steps, "misses": 0}, stats
    assert drawn["step-title"] == drawn["as-is"]
    assert stats["label"] == {"hits": 0, "misses": steps}, stats
    assert all("Alicia" in svg for svg in drawn["label"])


def test_only_geometry_is_rounded_to_whole_points_as_python_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """graph._svg rounds the numbers of geometry attributes (half to even, as float formatting
    does), keeps an attribute with no fraction as it is, and never touches the words or a font's size."""
    drawn = (
        '<?xml version="1.0"?>\n<svg width="62pt" height="44pt"\n viewBox="0.00 0.00 62.40 44.50">\n'
        '<g id="graph0" class="graph" transform="scale(1 1) rotate(0) translate(4 40.5)">\n'
        '<polygon fill="none" stroke="none" points="-4,4 -4,-40.5 58.4,-40.5 13.5,4 -0.4,4"/>\n'
        '<text text-anchor="middle" x="27.5" y="-14.3" font-size="14.00">at 1.5</text>\n'
        "</g>\n</svg>\n"
    )
    monkeypatch.setattr(layout, "svg", lambda g: drawn)
    svg = graph._svg(pgv.AGraph())
    assert 'viewBox="0 0 62 44"' in svg  # 62.40 down, 44.50 to the even 44
    assert 'transform="scale(1 1) rotate(0) translate(4 40)"' in svg  # 40.5 to the even 40
    assert 'points="-4,4 -4,-40 58,-40 14,4 -0,4"' in svg  # 13.5 up to the even 14; -0.4 is "-0"
    assert 'x="28" y="-14" font-size="14.00">at 1.5</text>' in svg  # 27.5 to 28; words kept
