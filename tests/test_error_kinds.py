"""Errors by kind, once, where they are: every mistake in a post is one labelled, located error in
the log and one box in the page at the place of the mistake, safe in code spans and attributes."""

from __future__ import annotations

import os
import re
from html import unescape
from pathlib import Path

import prerun
from sitecopy import copy_small_site

from netsim.errors import MacroError, UnclaimedStep, UnknownName
from netsim.pages.book import Book
from netsim.pages.macros import check_page

ROOT = Path(__file__).resolve().parent.parent

PAGE = """---
scenario: two-seats
---
Ann's card is `{{ mac("anne") }}`.
{{ figure("ann-writes-to-ben") }}
[a link]({{ ip("ben") }} "{{ seat("nobody") }}")
{{ figure("ann-knocks", colour="red") }}
{{ claim("ann-knocks", outcome="connected") }}
"""


def errors_of(tmp_path: Path, text: str) -> list:
    page = tmp_path / "docs" / "posts" / "page.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text)
    return check_page(page, tmp_path, Book(ROOT))


def test_each_mistake_has_its_kind_its_line_and_the_names_there_are(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, PAGE)
    by_line = {e.line: e for e in errors}
    assert isinstance(by_line[4], UnknownName) and by_line[4].kind == "Unknown name"
    assert str(by_line[4]) == (
        "docs/posts/page.md:4: mac(): no host 'anne' in two-seats; expected one of: ann, ben, laptop"
    )
    assert str(by_line[6]).startswith("docs/posts/page.md:6: seat(): no host 'nobody'")
    assert isinstance(by_line[7], MacroError) and by_line[7].kind == "Macro error"
    assert "docs/posts/page.md:7: figure(): " in str(by_line[7]) and "colour" in str(by_line[7])
    assert isinstance(by_line[5], UnclaimedStep) and by_line[5].kind == "Claim is missing"
    assert len(errors) == 4


def test_one_bad_scenario_is_one_error_however_often_the_page_asks(tmp_path: Path) -> None:
    text = "---\nscenario: no-such\n---\n" + "".join(f'{{{{ ip("a{n}") }}}}\n' for n in range(6))
    (error,) = errors_of(tmp_path, text)  # the cause is the front matter's line, named once
    assert error.kind == "Unknown name" and str(error).startswith("docs/posts/page.md:2: no scenario 'no-such'")
    assert "expected one of: " in str(error) and "margarets-room" in str(error)


def test_in_the_built_page_each_box_is_where_its_mistake_is(tmp_path: Path) -> None:
    root = copy_small_site(tmp_path / "src")  # posts 1-3 (tests/sitecopy.py): the boxes are per page
    post = root / "docs" / "posts" / "margarets-room.md"
    text = post.read_text(encoding="utf-8")
    text = text.replace("# Margaret's room\n", '# Margaret\'s room\n\nA badge: `{{ mac("zoe") }}` here.\n', 1)
    text = text.replace('{{ claim("bob-writes-again", decision="forward", copies_to=["alice"], learns={}) }}', "", 1)
    post.write_text(text, encoding="utf-8")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = prerun.python(["-m", "mkdocs", "build", "-d", str(tmp_path / "site")], cwd=root, env=env)
    assert built.returncode == 0, built.stderr
    log = [line for line in built.stderr.splitlines() if line.startswith("WARNING")]
    unknown = [line for line in log if "Unknown name: docs/posts/margarets-room.md:" in line]
    assert len(unknown) == 1 and "no host 'zoe'" in unknown[0] and "expected one of: alice, bob" in unknown[0]
    html = (tmp_path / "site" / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    # In the code span the box is HTML, not its source shown as code.
    assert re.search(r'<code><span class="ns-error" role="alert"><strong>✗ Unknown name\.</strong>', html)
    assert "&lt;span class" not in html and "nsmark" not in html
    # A figure whose claim was removed: the box right below that figure, labelled.
    text_only = unescape(re.sub(r"<[^>]+>", " ", html))
    assert "✗ Claim is missing. docs/posts/margarets-room.md:" in re.sub(r"\s+", " ", text_only)
    assert html.count('class="ns-error"') == 2
