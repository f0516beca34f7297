"""The site built by Zensical (`make build-zensical`) against the MkDocs build, page by page.

mkdocs-material, the theme and generator this site is built with, ends its maintenance in 2027.
Its authors' successor, Zensical, reads mkdocs.yml; netsim's page layer talks to either through
an adapter (netsim/pages/zensical.py) and writes what MkDocs hooks would (netsim/pages/sitefiles.py).
These tests build with both and compare what a reader sees: the visible text of every page, the
figures by content hash, the claims with their sentences, and the links. KNOWN lists any
difference that remains, with why; today there is none. The browser tests (test_browser.py,
test_decoder_browser.py, test_csp.py) run on both builds through the `generated_site` fixture.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sitecompare import differences, page_view

ROOT = Path(__file__).resolve().parent.parent
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


def test_search_offers_only_pages_the_site_has(zensical_site: Path) -> None:
    """Zensical indexes every page it builds, drafts too; site-files drops what MkDocs left out."""
    data = json.loads((zensical_site / "search.json").read_text(encoding="utf-8"))
    pages = {item["location"].split("#")[0] for item in data["items"]}
    assert "posts/margarets-room.html" in pages
    missing = sorted(p for p in pages if not (zensical_site / p).is_file())
    assert not missing, f"search offers pages the site does not have: {missing}"
    script = (zensical_site / "search.js").read_text(encoding="utf-8")  # what a folder's reader searches
    assert script.startswith("var __index = ") and json.loads(script[len("var __index = ") : -1]) == data


def test_search_leaves_out_the_figures_the_steps_and_the_scripts(zensical_site: Path) -> None:
    """MkDocs indexes a page while its figures are set aside; Zensical, with nothing set aside, is told to
    skip them (`data-search-exclude`). Without that, every step's drawings, bytes and escaped HTML and
    every script were indexed as text: search.json was 4.5 MB with eight posts, against 0.25 MB."""
    data = json.loads((zensical_site / "search.json").read_text(encoding="utf-8"))
    text = "\n".join(item["text"] for item in data["items"])
    for inside in ("&lt;figure", "ns-later", "Step 1 of", "(destination learned on"):
        assert inside not in text, f"the search index holds {inside!r}: a figure's, a step's or a script's inside"
    assert "Margaret" in text  # the posts' own words are there


def test_a_post_with_jinja_beyond_a_macro_call_is_refused_before_zensical_runs(tmp_path: Path) -> None:
    """Zensical's Jinja is not the guarded one: `make build-zensical` checks every page first."""
    bad = tmp_path / "probe.md"
    bad.write_text("---\ntitle: Probe\n---\n# Probe\n\n{% for x in range(3) %}{{ x }}{% endfor %}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "netsim", "guard-pages", str(bad)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert f"{bad}:6" in result.stderr and "is not allowed" in result.stderr, result.stderr
