"""Escaping at the writer: scenario text reaches a page only through one of these functions.

A scenario comes from a stranger's pull request, so every label, title and name in it is data,
never markup. Each function is for one context a macro writes into:

- `html`: text or a double-quoted attribute value in HTML that Markdown never reads (figures,
  tables and code blocks are set aside from Markdown and put back into the finished page);
- `markdown`: text in the middle of a post's prose, which Markdown parses after the macro ran;
- `url`: a path segment inside an href;
- `code_line`: one line inside a code block the post itself opened (``connect_error``);
- `code`: a whole code block, highlighted, as escaped `<pre><code>`.

Graphviz labels have their own rules and their own function, `graph._text`.
"""

from __future__ import annotations

import functools
import html as _html
import re
from urllib.parse import quote

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def html(value: object) -> str:
    """Text for HTML: `<`, `>`, `&` and both quotes become entities, so it is safe in a quoted attribute too."""
    return _html.escape(str(value), quote=True)


def markdown(value: object) -> str:
    """Text that Markdown will read: nothing in it may become markup, a link, emphasis or a new block.

    Every character but letters, digits and single inner spaces becomes a numeric character
    reference, which Markdown passes through and the browser shows as the character itself.
    """
    text = str(value)
    out = []
    for i, ch in enumerate(text):
        inner_space = ch == " " and 0 < i < len(text) - 1 and text[i - 1] != " "
        out.append(ch if ch.isalnum() or inner_space else f"&#{ord(ch)};")
    return "".join(out)


def url(value: object) -> str:
    """A path segment for an href: percent-encoded, then HTML-escaped for the attribute."""
    return html(quote(str(value), safe=""))


def code_line(value: object) -> str:
    """One line of text placed inside a code block the page opened: a line break could close the fence."""
    text = str(value)
    if _CONTROL.search(text):
        raise ValueError(f"{text!r}: a line inside a code block may not contain a line break or control character")
    return text


def code(text: str, language: str) -> str:
    """A code block as Material's own highlighter writes it; Pygments escapes every token.

    A try-it script (bash) is highlighted in sections, each kept for the next script: about 350 of
    a script's 400-650 lines are its helpers, the same in every script (netsim.render.labscript),
    and Pygments took ~17 ms a script, all of it again for every post. The sections begin where a
    script's top-level parts begin (a helper's definition, a `# --- ` heading, a step's `echo`), where
    Pygments' bash lexer is back in its root state, so the blocks are the same bytes as one whole
    highlight; tests/test_highlight.py checks that for every scenario's script. Each section is
    still Pygments' output, every token escaped, whatever the text (a section boundary in an odd
    place could change a colour, never the escaping).
    """
    if language == "bash" and "\r" not in text and not text.startswith("\ufeff"):
        text = text.strip("\n") + "\n"  # what Pygments does to the whole text first (stripnl, ensurenl)
        head, tail = _wrapping(language)
        return head + "".join(_section(part) for part in _SECTIONS.split(text) if part) + tail
    return _whole(text, language)


# The starts of a try-it script's top-level parts (see code()).
_SECTIONS = re.compile(r"^(?=[a-z_]+\(\) \{|# --- |echo$)", re.M)


def _whole(text: str, language: str) -> str:
    formatter = HtmlFormatter(wrapcode=True, cssclass=f"language-{language} highlight")
    return highlight(text, get_lexer_by_name(language), formatter).rstrip("\n")


@functools.cache
def _wrapping(language: str) -> tuple[str, str]:
    """What Pygments' HTML puts before a block's first line and after its last."""
    made = _whole("x\n", language)
    at = made.index("<code>") + len("<code>")
    end = made.rindex("</code>")
    return made[:at], made[end:]


@functools.cache
def _bash() -> tuple[Lexer, HtmlFormatter]:
    """Pygments' bash lexer, stripping no newline of a section, and the block's formatter (both
    keep no state between texts; looking the lexer up by name cost more than a short section)."""
    return get_lexer_by_name("bash", stripnl=False), HtmlFormatter(wrapcode=True, cssclass="language-bash highlight")


@functools.lru_cache(maxsize=2048)
def _section(part: str) -> str:
    """One section's lines as Pygments writes them inside a bash block (no newline stripped)."""
    made = highlight(part, *_bash()).rstrip("\n")
    head, tail = _wrapping("bash")
    if not (made.startswith(head) and made.endswith(tail)):
        raise ValueError("Pygments wrapped a bash block otherwise than expected")
    return made[len(head) : len(made) - len(tail)]
