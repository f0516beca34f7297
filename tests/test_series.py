"""The series holds together: every post in nav, numbers 1..N once each, no post from the future
unless it is a draft, every post's scenario there. A slip is an error with file and line, in the
log (strict builds fail) and in the page."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import date, timedelta
from html import unescape
from pathlib import Path

import prerun
from sitecopy import copy_small_site, stopped_by_warnings

from netsim.scaffold import new_post

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
TOMORROW = date.today() + timedelta(days=1)


def build(root: Path, out: Path, *strict: str) -> subprocess.CompletedProcess[str]:
    return prerun.python(["-m", "mkdocs", "build", *strict, "-d", str(out)], cwd=root, env=ENV)


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (name, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def text_of(html_file: Path) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html_file.read_text(encoding="utf-8")))


def test_the_series_as_it_stands_holds_together(built_site: Path) -> None:
    assert "Series error" not in (built_site / "index.html").read_text()


def test_each_slip_is_one_located_error_in_the_log_and_in_its_page(tmp_path: Path) -> None:
    root = copy_small_site(tmp_path / "src")  # posts 1-3 (tests/sitecopy.py): the checks are per post
    edit(root, "mkdocs.yml", '  - "3. Three ways to say no": posts/three-ways-to-say-no.md\n', "")  # out of nav
    edit(root, "docs/posts/rooms-inside-rooms.md", "number: 2", "number: 1")  # post one's number, and no 2
    edit(root, "docs/posts/margarets-room.md", "date: 2026-11-", f"date: {TOMORROW.isoformat()}\nold: 2026-11-")
    edit(root, "docs/posts/rooms-inside-rooms.md", "scenario: rooms-inside-rooms", "scenario: rooms")
    strict = build(root, tmp_path / "strict", "--strict")
    assert stopped_by_warnings(strict), strict.stderr  # so strict/ is what make serve shows
    log = [line for line in strict.stderr.splitlines() if line.startswith("WARNING")]
    expected = [
        "docs/posts/three-ways-to-say-no.md:2: this post is not in `nav` in mkdocs.yml, so readers cannot reach it",
        "docs/posts/rooms-inside-rooms.md:7: number: 1 is also the number of posts/margarets-room.md",
        "number: 3; the posts are numbered 1, 3, expected 1, 2 (no post 2)",  # on the last post
        f"docs/posts/margarets-room.md:6: date: {TOMORROW} is in the future; publish on that day, or mark the post "
        "`draft: true`",
        "docs/posts/rooms-inside-rooms.md:8: scenario: no diagrams/rooms.yaml; expected one of: ",
    ]
    for message in expected:
        assert sum(message in line for line in log) == 1, (message, log)
    # What make serve shows: the site, with the errors in it.
    assert "is in the future" in text_of(tmp_path / "strict" / "posts" / "margarets-room.html")
    assert "not in `nav`" in text_of(tmp_path / "strict" / "posts" / "three-ways-to-say-no.html")
    assert "no diagrams/rooms.yaml" in text_of(tmp_path / "strict" / "posts" / "rooms-inside-rooms.html")


def draft_post(tmp_path: Path) -> Path:
    """A copy of the small site (posts 1-3, tests/sitecopy.py) with the next post from `netsim new`,
    dated tomorrow and marked a draft."""
    root = copy_small_site(tmp_path / "src")
    new_post(root, "next-post", "Next post", today=TOMORROW)
    number = re.search(r"^number: \d+\n", (root / "docs/posts/next-post.md").read_text(), re.M).group(0)  # type: ignore[union-attr]
    edit(root, "docs/posts/next-post.md", number, number + "draft: true\n")
    return root


def test_a_draft_from_the_future_is_left_out_of_the_build_the_index_and_the_feed(tmp_path: Path) -> None:
    root = draft_post(tmp_path)
    built = build(root, tmp_path / "site", "--strict")
    assert built.returncode == 0, built.stderr
    site = tmp_path / "site"
    assert (site / "posts" / "three-ways-to-say-no.html").exists()
    assert not (site / "posts" / "next-post.html").exists()
    for page in ("index.html", "feed.xml", "sitemap.xml", "posts/three-ways-to-say-no.html"):  # nor a footer link
        assert "next-post" not in (site / page).read_text(), page


def test_make_serve_shows_drafts_marked_as_drafts(tmp_path: Path) -> None:
    root = draft_post(tmp_path)
    code = (  # mkdocs serve's own start-up and build, without the server: serve says "serve" to on_startup
        "import sys\n"
        "from mkdocs.config import load_config\n"
        "from mkdocs.commands.build import build\n"
        f"config = load_config(config_file={str(root / 'mkdocs.yml')!r}, site_dir={str(tmp_path / 'served')!r})\n"
        "config.plugins.on_startup(command='serve', dirty=False)\n"
        "build(config, serve_url='http://127.0.0.1:8000/')\n"
    )
    served = prerun.python(["-c", code], cwd=root, env=ENV)
    assert served.returncode == 0, served.stderr
    page = text_of(tmp_path / "served" / "posts" / "next-post.html")
    assert "draft: not published" in page and "Series error" not in page
    assert "Next post" in text_of(tmp_path / "served" / "index.html")


def test_site_files_run_twice_gives_each_post_one_byline(tmp_path: Path) -> None:
    """`python -m netsim site-files SITE` (after a Zensical build) put a post's byline under its
    title on every run: a second run on the same site showed it twice."""
    from netsim.pages.sitefiles import write_series

    root = Path(__file__).resolve().parent.parent
    site = tmp_path / "site"
    (site / "posts").mkdir(parents=True)
    (site / "index.html").write_text("<h1>The Bottom Six</h1>", encoding="utf-8")
    post = site / "posts" / "margarets-room.html"
    post.write_text("<h1>Margaret's room</h1><p>text</p>", encoding="utf-8")
    write_series(site, root)
    once = post.read_text(encoding="utf-8")
    write_series(site, root)
    assert once.count('class="ns-byline"') == 1
    assert post.read_text(encoding="utf-8") == once
