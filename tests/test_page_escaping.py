"""Pages escape what they did not write: hostile scenario text is shown, never obeyed (issue 11).

Every free-text field of a scenario (its title and description, every host, bridge and port
label, every step title) gets a payload that tries each way out of each context a macro writes
into: HTML text and attributes, Markdown prose, a code fence, a Graphviz label (plain or HTML),
and Jinja. The site is built with the posts as they are, so every macro runs on the payloads, and
the built HTML and SVG are parsed: no element, attribute, script or link may come from a payload,
and the payload must still be there as text, so it was escaped and not dropped.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import prerun
import pytest
import yaml
from sitecopy import copy_site

# One line each: free text is one line (a scenario with a line break in a label is refused).
ESCAPES = [
    "</svg><script>alert(1)</script>",  # HTML text, an inline SVG's end
    '"><img src=x onerror=alert(2)>',  # out of a quoted attribute
    "'><b onmouseover=alert(3)>b</b>",  # out of a single-quoted attribute
    "```</code></pre><i>fence</i>",  # out of a code block or a Markdown fence
    "[a](javascript:alert(4)) *em* `tick`",  # Markdown link, emphasis, code span
    "{{ 7*7 }}{% if 1 %}",  # Jinja (macro output is never rendered again)
    "\\N\\G &amp; &#60;u&#62;",  # Graphviz escapes and ready-made entities
]


def payload(n: int) -> str:
    """Starts with '<' and ends with '>', as Graphviz's HTML labels do; carries one way out."""
    return f"<xss-{n}>{ESCAPES[n % len(ESCAPES)]}</xss-{n}>"


def hostile(data: dict[str, Any]) -> dict[str, str]:
    """Put a payload into every free-text field of a scenario; return {field: payload}."""
    used: dict[str, str] = {}

    def give(field: str) -> str:
        used[field] = payload(len(used))
        return used[field]

    data["title"] = give("title")
    data["description"] = give("description")
    for bname, bridge in data.get("bridges", {}).items():
        bridge["label"] = give(f"bridges.{bname}.label")
        for pname, port in bridge.get("ports", {}).items():
            port["label"] = give(f"bridges.{bname}.ports.{pname}.label")
    for hname, host in data.get("hosts", {}).items():
        host["label"] = give(f"hosts.{hname}.label")
    for n, step in enumerate(data.get("steps", [])):
        step["title"] = give(f"steps[{n}].title")
    return used


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def assert_no_markup_from(page: Page, where: str) -> None:
    for tag, attrs in page.tags:
        assert not tag.startswith("xss"), f"{where}: a payload's <{tag}> became an element"
        handlers = [a for a in attrs if a.startswith("on")]
        assert not handlers, f"{where}: <{tag}> has an event handler {handlers}"
        for name in ("href", "src"):
            assert not attrs.get(name, "").strip().lower().startswith("javascript:"), f"{where}: {tag} {attrs}"
        assert not (tag == "img" and attrs.get("src") == "x"), f"{where}: a payload's <img> became an element"
    for script in page.scripts:  # no inline script but the theme's JSON configuration
        assert script.strip().startswith(THEME_SCRIPTS), f"{where}: an inline <script> {script[:80]!r}"


THEME_SCRIPTS = ("{",)  # the theme's configuration, JSON; its scripts are files (netsim/pages/csp.py)


SCENARIOS = ("margarets-room", "rooms-inside-rooms")


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, str]]]:
    root = copy_site(tmp_path_factory.mktemp("src"))
    used = {}
    for name in SCENARIOS:
        path = root / "diagrams" / f"{name}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        used[name] = hostile(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    site = root / "site"
    # With the run's figure cache and page store (tests/conftest.py): the pages whose scenarios
    # carry the payloads, and their figures, are keyed by that text and so rendered here; the
    # pages that read neither scenario replay what the tests' shared build (built_site) stored.
    result = prerun.python(
        ["-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=root,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return site, used


POSTS = {"margarets-room": "posts/margarets-room.html", "rooms-inside-rooms": "posts/rooms-inside-rooms.html"}


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_payload_becomes_markup_and_every_payload_is_shown(
    hostile_site: tuple[Path, dict[str, dict[str, str]]], name: str
) -> None:
    site, used = hostile_site
    html = (site / POSTS[name]).read_text(encoding="utf-8")
    assert "<!--netsim:" not in html  # every set-aside part was put back
    page = parse(html)
    assert_no_markup_from(page, POSTS[name])
    shown = "".join(page.text) + "".join(v for _tag, attrs in page.tags for v in attrs.values())
    shown += "".join(diagram_texts(site, html))
    missing = [f for f, p in used[name].items() if p not in shown and f != "description"]  # not on pages
    assert not missing, f"{POSTS[name]}: payloads neither shown as text nor in an attribute: {missing}"


def diagram_texts(site: Path, html: str) -> list[str]:
    files = sorted(set(re.findall(r'href="\.\./(figures/[0-9a-f]{20}\.svg)"', html)))
    roots = [ET.fromstring((site / f).read_text(encoding="utf-8")) for f in files]
    return [t.text or "" for root in roots for t in root.iter() if t.tag.endswith("text")]


@pytest.mark.parametrize("name", SCENARIOS)
def test_diagrams_draw_payloads_as_plain_text(hostile_site: tuple[Path, dict[str, dict[str, str]]], name: str) -> None:
    site, used = hostile_site
    html = (site / POSTS[name]).read_text(encoding="utf-8")
    files = sorted(set(re.findall(r'href="\.\./(figures/[0-9a-f]{20}\.svg)"', html)))
    assert files
    for file in files:
        for element in ET.fromstring((site / file).read_text(encoding="utf-8")).iter():
            local = element.tag.rsplit("}", 1)[-1]
            assert local in SVG_ELEMENTS, f"{file}: <{local}> in a diagram"
            assert not [a for a in element.attrib if a.startswith("on")], f"{file}: an event handler"
    drawn = set(diagram_texts(site, html))
    # Every host is drawn with its label as one line of text; as an HTML label it would lose its tags.
    hosts = {f: p for f, p in used[name].items() if f.startswith("hosts.")}
    missing = [f for f, p in hosts.items() if p.replace("&amp;", "&") not in drawn]
    assert not missing, f"{name}: host labels not drawn as plain text: {missing}"


# "style": the palette a diagram file brings along when opened on its own (netsim.render.palette)
SVG_ELEMENTS = {"svg", "g", "title", "polygon", "path", "text", "ellipse", "polyline", "a", "style"}


def test_the_try_it_script_and_commands_are_escaped_code_blocks(hostile_site: tuple[Path, Any]) -> None:
    site, _used = hostile_site
    for file in POSTS.values():
        page = parse((site / file).read_text(encoding="utf-8"))
        tags = [t for t, _a in page.tags]
        assert "details" in tags and "pre" in tags and "code" in tags


# The free-text fields hostile() fills, by the dataclass that declares them.
FILLED = {
    ("Scenario", "title"),
    ("Scenario", "description"),
    ("Bridge", "label"),
    ("Port", "label"),
    ("Host", "label"),
    ("Step", "title"),
}


def _free_text_fields() -> set[tuple[str, str]]:
    """Every field the schema types as free text (Text or LongText): the only fields markup may reach."""
    import dataclasses
    import typing

    from netsim import scenario
    from netsim.schema import LongText, Text

    found: set[tuple[str, str]] = set()
    for obj in vars(scenario).values():
        if not (dataclasses.is_dataclass(obj) and isinstance(obj, type) and obj.__module__ == scenario.__name__):
            continue
        for name, hint in typing.get_type_hints(obj, include_extras=True).items():
            if Text in typing.get_args(hint) or LongText in typing.get_args(hint) or hint in (Text, LongText):
                found.add((obj.__name__, name))
    return found


def test_every_free_text_field_of_the_schema_gets_a_payload() -> None:
    """A free-text field added to the schema must join hostile() above, so its page output is checked."""
    declared = _free_text_fields()
    assert declared, "found no Text or LongText field in netsim.scenario: the schema walk is broken"
    assert declared <= FILLED, f"free-text fields with no payload in hostile(): {sorted(declared - FILLED)}"
