"""A try-it script's highlighted block is highlighted in sections (netsim.render.escape.code), each
kept for the next script: the block must be the very bytes one whole Pygments highlight gives, for
every scenario's script, and every section must still be escaped by Pygments, whatever its text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, corpus

from netsim.render import escape
from netsim.render.labscript import render
from netsim.scenario import load_scenario

SCENARIOS = sorted(ROOT.glob("diagrams/*.yaml")) + sorted((ROOT / "tests" / "lab_scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", corpus(SCENARIOS), ids=lambda p: p.stem)
def test_a_script_highlighted_in_sections_is_the_whole_highlight_byte_for_byte(path: Path) -> None:
    text = render(load_scenario(path))
    assert escape.code(text, "bash") == escape._whole(text, "bash")


@pytest.mark.parametrize(
    "text",
    [
        "\n\nx=1\n\n\n",  # newlines around the text: Pygments strips them from the whole block
        "echo 'a\nb'\necho\n",  # a quoted line break before a section
        "f() {\n  :\n}\n# --- a\necho\necho x\n",
    ],
)
def test_odd_texts_are_the_whole_highlight_too(text: str) -> None:
    assert escape.code(text, "bash") == escape._whole(text, "bash")


def test_a_section_that_starts_inside_a_quote_is_still_escaped() -> None:
    # A scenario's words reach a script only through shlex.quote; were a quoted line to look like a
    # section's start, the colours could differ from one whole highlight, the escaping never.
    hostile = "echo '<script>alert(1)</script>\necho\n</code></pre><img src=x onerror=alert(1)>'\n"
    made = escape.code(hostile, "bash")
    assert made != escape._whole(hostile, "bash")  # the colours differ here (the quote spans a section's start)
    markup = re.sub(r'</?(?:div|pre|code|span)(?: class="[a-z -]+")?>', "", made)
    assert "<" not in markup and ">" not in markup  # only Pygments' own tags; every < and > of the text escaped
    assert "&lt;script&gt;" in made and "&lt;/code&gt;&lt;/pre&gt;&lt;img" in made
