"""The figure cache serves exactly what a fresh render would, and nothing stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from netsim.pages.book import Book
from netsim.pages.macros import Page

ROOT = Path(__file__).resolve().parent.parent


def render_all(book: Book) -> list[str]:
    page = Page(book, "docs/posts/test.md", "", "margarets-room")
    _, trace = book.get("margarets-room")
    out = [page.figure(step.id) for step in trace.steps] + [page.stepper()]
    for marker, inner in page.set_aside.items():  # as the site's on_post_page hook does
        out = [html.replace(marker, inner) for html in out]
    return out


def test_a_warm_cache_gives_byte_identical_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETSIM_CACHE_DIR", str(tmp_path / "cache"))
    cold = Book(ROOT)
    first = render_all(cold)
    assert cold.figures.misses > 0 and cold.figures.hits == 0
    warm = Book(ROOT)
    assert render_all(warm) == first
    assert warm.figures.misses == 0 and warm.figures.hits == cold.figures.misses
    monkeypatch.setenv("NETSIM_CACHE_DIR", "off")
    assert render_all(Book(ROOT)) == first


def test_an_edited_scenario_is_rendered_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETSIM_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "site"
    (root / "diagrams").mkdir(parents=True)
    original = (ROOT / "diagrams" / "margarets-room.yaml").read_text()
    (root / "diagrams" / "margarets-room.yaml").write_text(original)
    before = render_all(Book(root))
    (root / "diagrams" / "margarets-room.yaml").write_text(original.replace("label: Carlos", "label: Carla"))
    book = Book(root)
    after = render_all(book)
    assert book.figures.misses > 0
    assert any("Carla" in html for html in after) and not any("Carla" in html for html in before)


def test_make_serve_simulates_a_scenario_again_only_when_its_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Books sharing `traces` (macros.py's, between make serve's rebuilds) reuse a trace while the
    scenario file is byte for byte what was simulated, and simulate the edited file afresh."""
    import shutil

    import netsim.simulation

    root = tmp_path / "site"
    shutil.copytree(ROOT / "diagrams", root / "diagrams")
    runs: list[str] = []
    real = netsim.simulation.run
    monkeypatch.setattr(netsim.simulation, "run", lambda s, *a, **k: runs.append(s.name) or real(s, *a, **k))
    traces: dict = {}
    first = Book(root, traces).get("margarets-room")
    again = Book(root, traces).get("margarets-room")
    assert again[0] is first[0] and again[1] is first[1] and runs == ["margarets-room"]
    path = root / "diagrams" / "margarets-room.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("label: Carlos", "label: Carla"), encoding="utf-8")
    scenario, _trace = Book(root, traces).get("margarets-room")
    assert runs == ["margarets-room"] * 2
    assert "Carla" in {h.label for h in scenario.hosts.values()}
    assert Book(root).get("margarets-room")[1] is not Book(root).get("margarets-room")[1]  # no traces: each its own


def test_make_serve_checks_a_figure_once_and_reports_its_fault_on_every_rebuild(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A figure's read-back check (figfacts) is kept with the figure between make serve's rebuilds
    (Book's memo): checked once, its fault is still reported by every page and rebuild that shows it."""
    from netsim.errors import FigureError
    from netsim.render import figfacts

    calls: list[str] = []
    monkeypatch.setattr(figfacts, "check", lambda *args: calls.append("checked") or ["drawn wrong (planted)"])
    memo: dict = {}
    for _rebuild in range(2):
        page = Page(Book(ROOT, {}, memo), "docs/posts/test.md", "", "margarets-room")
        page.figure("bob-writes-to-alice")
        assert [str(e) for e in page.errors if isinstance(e, FigureError) and "planted" in str(e)], page.errors
    assert calls == ["checked", "checked"]  # the wide and the narrow layout, in the first rebuild only
