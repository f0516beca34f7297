"""The site built by Zensical (`make build-zensical`) against the MkDocs build, page by page.

mkdocs-material, the theme and generator this site is built with, ends its maintenance in 2027.
Its authors' successor, Zensical, reads mkdocs.yml; netsim's page layer talks to either through
an adapter (netsim/pages/zensical.py) and writes what MkDocs hooks would (netsim/pages/sitefiles.py).
These tests build with both and compare what a reader sees: the visible text of every page, the
figures by content hash, the claims with their sentences, and the links. KNOWN lists any
difference that remains, with why; today there is none.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import find_chromium, launched
from sitecompare import differences, page_view

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site-zensical"
pytestmark = pytest.mark.generator
KNOWN: dict[str, list[str]] = {}  # page -> differences still expected, each with its reason in a comment


def test_both_generators_show_a_reader_the_same_pages(built_site: Path, zensical_site: Path) -> None:
    assert differences(built_site, zensical_site) == KNOWN


def test_the_comparison_sees_a_missing_figure_a_changed_word_and_a_lost_claim(
    built_site: Path, zensical_site: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "site"
    shutil.copytree(zensical_site, copy)
    post = copy / "posts" / "margarets-room.html"
    html = post.read_text(encoding="utf-8")
    view = page_view(html)
    figure = view["figures"][0]  # type: ignore[index]
    html = html.replace(f"figures/{figure}.svg", "figures/00000000000000000000.svg")
    html = html.replace("I had a laptop", "I had a tablet", 1)
    html = html.replace('class="ns-claim"', 'class="ns-gone"', 1)
    post.write_text(html, encoding="utf-8")
    found = differences(built_site, copy)["posts/margarets-room.html"]
    assert [line.split(":")[0] for line in found] == ["text", "figures", "claims"]


def test_every_figure_a_zensical_page_shows_is_there(zensical_site: Path) -> None:
    for page in zensical_site.rglob("*.html"):
        for name in page_view(page.read_text(encoding="utf-8"))["figures"]:  # type: ignore[union-attr]
            assert (zensical_site / "figures" / f"{name}.svg").is_file(), (page, name)
    assert (zensical_site / "feed.xml").read_text(encoding="utf-8").count("<item>") >= 4
    assert (zensical_site / "scripts" / "margarets-room.sh").is_file()


def test_a_post_with_jinja_beyond_a_macro_call_is_refused_before_zensical_runs(tmp_path: Path) -> None:
    """Zensical's Jinja is not the guarded one: `make build-zensical` checks every page first."""
    bad = tmp_path / "probe.md"
    bad.write_text("---\ntitle: Probe\n---\n# Probe\n\n{% for x in range(3) %}{{ x }}{% endfor %}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "netsim", "guard-pages", str(bad)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert f"{bad}:6" in result.stderr and "is not allowed" in result.stderr, result.stderr


CHROMIUM, WHY_NOT = find_chromium()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip(f"browser checks of the Zensical build skipped: {WHY_NOT}")
    with launched() as browser:
        yield browser


def test_the_step_through_and_the_decoder_work_in_the_zensical_build(zensical_site: Path, chromium: object) -> None:
    page = chromium.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: r.url.startswith(("file:", "data:")) or problems.append(f"request: {r.url}"))
    page.goto((zensical_site / "posts" / "margarets-room.html").as_uri())
    stepper = page.locator(".ns-stepper").first
    stepper.locator(".ns-next").click()
    assert stepper.locator(".ns-count").inner_text().startswith("Step 2 of")
    page.goto((zensical_site / "decoder.html").as_uri())
    page.fill("#ns-decoder-input", "dial tcp 10.88.0.1:19001: connect: connection refused")
    assert page.locator(".ns-decoder-token").count() == 4
    assert problems == []
