"""A post's Jinja may call the site's macros with literal arguments and nothing else (issue 11)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from sitecopy import copy_small_site, mkdocs_build, stopped_by_warnings

from netsim.pages.macros import Page
from netsim.pages.postguard import PostError, body_offset, check

ALLOWED = [
    "plain prose, no Jinja at all",
    '{{ claim("alice-replies", decision="forward", copies_to=["bob"]) }}',
    '{{ claim("x", links={"portainer": {"lo": "UP"}}, frame=-1, ok=true, none=none) }}',
    '{{ figure("bob-writes-to-alice", view="room", neigh=False) }}',
    '`{{ "{{" }} mac("alice") {{ "}}" }}`',
    "{# a comment #}{% raw %}{{ anything }}{% endraw %}",
]

REFUSED = {
    "{{ cycler.__init__.__globals__.os.system('touch MARK') }}": "'cycler.__init__.__globals__.os.system'",
    "{{ lipsum.__globals__['os'].popen('id').read() }}": "a call of",
    '{% set x = "y" %}': "{% set %}",
    '{{ ip("alice") | upper }}': "the filter 'upper'",
    "{{ self }}": "the name 'self'",
    "{{ claim.__globals__ }}": "attribute access 'claim.__globals__'",
    '{{ claim("x", outcome=ip("alice")) }}': "as an argument of claim()",
    '{{ claim(*["x"]) }}': "*args or **kwargs",
    '{{ claim("x", **{"a": 1}) }}': "*args or **kwargs",
    '{{ claim("x", frame=1 + 1) }}': "a Add expression as an argument",
    '{% import "macros.html" as m %}': "{% import %}",
    '{% from "x.html" import y %}': "{% from ... import %}",
    '{% include "../../etc/passwd" %}': "{% include %}",
    '{% extends "base.html" %}': "{% extends %}",
    "{% for i in range(10) %}x{% endfor %}": "{% for %}",
    "{% if true %}x{% endif %}": "{% if %}",
    "{% macro m() %}x{% endmacro %}": "{% macro %}",
    "{% filter upper %}x{% endfilter %}": "the filter 'upper'",
    "{{ claim('x'][0] }}": "does not parse",
    "{{ range(99999999999) | list }}": "the filter 'list'",
    '{{ "a" ~ "b" }}': "a Concat expression",
}


@pytest.mark.parametrize("body", ALLOWED)
def test_literal_macro_calls_and_text_pass(body: str) -> None:
    check(body, "docs/posts/p.md", 0, Page.MACROS)


@pytest.mark.parametrize(("body", "words"), REFUSED.items())
def test_everything_else_is_refused_with_file_and_line(body: str, words: str) -> None:
    with pytest.raises(PostError) as caught:
        check("line one\nline two\n" + body + "\n", "docs/posts/p.md", 4, Page.MACROS)
    message = str(caught.value)
    assert message.startswith("docs/posts/p.md:7: "), message  # 4 lines of front matter + line 3
    assert words in message, message


def test_the_line_counts_the_front_matter() -> None:
    source = "---\ntitle: x\nscenario: y\n---\n\nprose\n{{ self }}\n"
    body = source.split("---\n", 2)[2]
    assert body_offset(source, body) == 4
    with pytest.raises(PostError, match=r"^p\.md:7: the name 'self'"):
        check(body, "p.md", body_offset(source, body), Page.MACROS)


def test_a_post_that_tries_to_run_code_fails_the_build_and_runs_nothing(tmp_path: Path) -> None:
    root = copy_small_site(tmp_path / "src")  # posts 1-3: the guard is per page
    mark = tmp_path / "MARK"
    post = root / "docs" / "posts" / "margarets-room.md"
    lines = post.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(30, f"{{{{ cycler.__init__.__globals__.os.system('touch {mark}') }}}}\n")
    post.write_text("".join(lines), encoding="utf-8")
    result = mkdocs_build(root, tmp_path / "site")
    assert result.returncode != 0
    expected = "docs/posts/margarets-room.md:31: a call of attribute access 'cycler.__init__.__globals__.os.system'"
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not mark.exists()
    # What make serve shows (a build that is not strict, which writes what this one wrote as it
    # failed on warnings alone): the page is one box saying why, and nothing of the template ran.
    assert stopped_by_warnings(result), result.stderr
    page = (tmp_path / "site" / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    assert "Macro error" in page and "cycler" in html.unescape(page)


def test_a_title_with_jinja_is_checked_too(tmp_path: Path) -> None:
    # mkdocs-macros renders a page's title when it holds Jinja (a page outside the nav takes its
    # title from the front matter), so the title is held to the same rule as the body.
    root = copy_small_site(tmp_path / "src")  # posts 1-3: the guard is per page
    (root / "docs" / "posts" / "extra.md").write_text('---\ntitle: "{{ config.extra }}"\n---\n\nProse.\n', "utf-8")
    result = mkdocs_build(root, tmp_path / "site")
    assert result.returncode != 0
    assert "docs/posts/extra.md:2: attribute access 'config.extra' is not allowed" in result.stderr, result.stderr
    assert stopped_by_warnings(result), result.stderr  # so site/ is what make serve shows
    page = (tmp_path / "site" / "posts" / "extra.html").read_text(encoding="utf-8")
    assert "Macro error" in page and "<title>{{ config.extra }}" in page  # shown as written, never rendered


def test_a_post_cannot_include_a_file_from_outside_the_checkout(tmp_path: Path) -> None:
    root = copy_small_site(tmp_path / "src")  # posts 1-3: the guard is per page
    post = root / "docs" / "posts" / "margarets-room.md"
    secret = tmp_path / "secret.txt"
    secret.write_text("the maintainer's secret\n", encoding="utf-8")
    post.write_text(post.read_text(encoding="utf-8") + f'\n--8<-- "{secret}"\n', encoding="utf-8")
    result = mkdocs_build(root, tmp_path / "site")
    assert result.returncode != 0
    assert "Snippet at path" in result.stderr and "could not be found" in result.stderr, result.stderr
    assert not any("maintainer's secret" in p.read_text("utf-8") for p in (tmp_path / "site").rglob("*.html"))


def _both(body: str) -> tuple[str, str]:
    """(postguard.render's output, Jinja's own), each macro answering with what it was given."""
    import jinja2

    from netsim.pages.postguard import MACROS, render

    env = jinja2.Environment()  # as mkdocs-macros makes it: no autoescape, no finalize
    env.globals.update({name: _answering(name) for name in MACROS})
    tree = check(body, "p.md", 0, MACROS, env)
    variables = {"page": object(), "mac": lambda *a, **k: "a page variable named like a macro wins, as in Jinja"}
    return render(tree, lambda name: variables[name] if name in variables else env.globals[name]), env.from_string(
        body
    ).render(**variables)


def _answering(name: str) -> Any:
    return lambda *args, **kwargs: f"<{name} {args!r} {sorted(kwargs.items())!r}>"


def _site_pages() -> list[Path]:
    root = Path(__file__).resolve().parent.parent
    return sorted((root / "docs").rglob("*.md"))


@pytest.mark.parametrize(
    "body",
    [
        *ALLOWED,
        "text\n",  # Jinja drops the last newline
        "text\n\n",
        "{{ ip('a') -}}\n   after  {{- ip('b') }}\n",  # whitespace control, applied by the lexer
        "{{ 1.5 }} {{ -3 }} {{ none }} {{ true }} {{ [1, 'x', (2, 3)] }} {{ {'k': [None]} }} {{ 'é' }}",
        '{{ claim("x", frame=-1, at=+2, ok=False, when=1e3, copies=("a", "b"), d={"a": {"b": [1]}}) }}',
        "{{ mac('alice') }}",  # a page variable of the same name comes first
        "\u00a0{# note #}x\r\ny\n",
    ],
)
def test_a_passed_template_renders_without_compiling_exactly_as_jinja_does(body: str) -> None:
    ours, jinjas = _both(body)
    assert ours == jinjas


@pytest.mark.parametrize("path", _site_pages(), ids=lambda p: p.name)
def test_every_page_of_the_site_renders_without_compiling_exactly_as_jinja_does(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    body = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
    ours, jinjas = _both(body)
    assert ours == jinjas
