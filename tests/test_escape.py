"""Escaping at the writer (netsim/render/escape.py): each function's promise, one context each.

The pages' tests show that hostile scenario text never becomes markup in a built page; here each
function is held to what its docstring promises, so a fault in one is caught by the fast tests
too (a 5% mutation sample, 1 December: url() returning the same text for every value survived).
"""

from __future__ import annotations

import html
from urllib.parse import unquote

import pytest

from netsim.render import escape

HOSTILE = ['a"b', "<script>", "x&y", "it's", "a b/c?d#e", "ünï", "%41"]
PLAIN = [f"text{n}" for n in range(len(HOSTILE))]  # short ids: the texts themselves hold quotes and `<`


@pytest.mark.parametrize("text", HOSTILE, ids=PLAIN)
def test_url_is_one_percent_encoded_path_segment_safe_in_an_attribute(text: str) -> None:
    out = escape.url(text)
    assert unquote(html.unescape(out)) == text  # what the browser asks for is the text itself
    assert not set(out) & set("/?#<>\"' ")  # one segment, nothing that ends the attribute or the path
    assert escape.url("margarets-room.pcap") == "margarets-room.pcap"  # a plain name reads as itself


@pytest.mark.parametrize("text", HOSTILE, ids=PLAIN)
def test_html_text_reads_back_as_itself_and_cannot_end_a_quoted_attribute(text: str) -> None:
    out = escape.html(text)
    assert html.unescape(out) == text
    assert not set(out) & set("<>\"'")


@pytest.mark.parametrize("text", [*HOSTILE, "*em* [l](u) `c`", " lead", "two  spaces", "trail "], ids=range(11))
def test_markdown_text_keeps_only_letters_digits_and_single_inner_spaces(text: str) -> None:
    out = escape.markdown(text)
    assert html.unescape(out) == text
    bare = out.replace("&#", "").replace(";", "")
    assert all(ch.isalnum() or ch == " " for ch in bare), out
    assert "  " not in out and not out.startswith(" ") and not out.endswith(" ")


def test_plain_words_stay_as_they_are_in_markdown() -> None:
    assert escape.markdown("two words 42") == "two words 42"  # nothing to escape: the page's source reads plainly


def test_a_line_in_a_code_block_may_not_break_it() -> None:
    assert escape.code_line("dial tcp 10.88.0.1:19001") == "dial tcp 10.88.0.1:19001"
    for bad in ("a\nb", "a\rb", "a\x00b", "a\x7fb"):
        with pytest.raises(ValueError, match="line break or control character"):
            escape.code_line(bad)
