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

import html as _html
import re
from urllib.parse import quote

from pygments import highlight
from pygments.formatters import HtmlFormatter
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
    """A code block as Material's own highlighter writes it; Pygments escapes every token."""
    formatter = HtmlFormatter(wrapcode=True, cssclass=f"language-{language} highlight")
    return highlight(text, get_lexer_by_name(language), formatter).rstrip("\n")
