"""What a page keeps out of the live document until a reader asks for it.

A post's stepper holds every step of its scenario, each with two layouts of its diagram and the
bytes of its frames: thousands of elements that a browser would parse, style and lay out on
first load, though a reader sees one step at a time. So only the first step is live; every
other step, and every step's bytes, sits in a `<noscript class="ns-later">`:

- without JavaScript the browser parses a noscript's inside as ordinary HTML, so every step and
  every byte is shown, as before;
- with JavaScript it is one inert text node, never styled or laid out; docs/assets/stepper.js
  turns it into elements when the reader steps to it, opens its bytes, or prints the page.

No request is made for any of it (the site also works opened from a folder).

A step whose diagram the post already drew inline (the same drawing, so the same file name)
does not carry it twice: stepper.js copies the inline one, and without JavaScript the step shows
the drawing's own file as an image.
"""

from __future__ import annotations

import re

from netsim.render import escape

# One layout of a diagram as the page ships it (macros._inline, its root already filled in).
SHIPPED_SVG = re.compile(
    r'<a class="ns-open ns-(wide|narrow)" href="([^"]*figures/([0-9a-f]{20})\.svg)">(<svg\b.*?</svg>)</a>', re.S
)
_SIZE = re.compile(r'<svg\b[^>]*? width="(\d+)" height="(\d+)"[^>]*? aria-label="([^"]*)"')
_BYTES = re.compile(r'(<details class="ns-bytes"><summary>.*?</summary>)(.*?)(</details>)', re.S)


# The attribute that keeps an element out of a generator's search index (Zensical's and mkdocs-material's).
UNSEARCHED = " data-search-exclude"


def later(inner: str, ident: str, unsearched: bool = False) -> str:
    """`inner` kept as text until needed (shown as it is without JavaScript).

    `unsearched`: marked `data-search-exclude`, for a generator whose search would otherwise index
    the inside as one long text (Zensical; under MkDocs the inside is set aside while it indexes)."""
    check(inner, ident)
    mark = UNSEARCHED if unsearched else ""
    return f'<noscript class="ns-later" data-id="{escape.html(ident)}"{mark}>{inner}</noscript>'


def check(inner: str, ident: str) -> None:
    """A noscript's inside ends at the first `</noscript`: escaping makes one impossible in a
    figure or a script, but a page that would end it early is refused rather than shipped."""
    if END.search(inner):
        raise ValueError(f"{ident}: a part shown later contains '</noscript', which would end it early")


END = re.compile(r"</noscript", re.I)


def bytes_later(inner: str, ident: str) -> str:
    """The frames of a live figure's bytes view kept as text until the reader opens it."""
    return _BYTES.sub(lambda m: m.group(1) + later(m.group(2), ident) + m.group(3), inner)


def shared_diagrams(inner: str, drawn: set[str]) -> str:
    """Each diagram of `inner` that the page already draws inline (by file name) as a pointer to it.

    The pointer is the drawing's file as an image, at the drawing's size, so the step still shows
    it without JavaScript; stepper.js puts a copy of the page's inline drawing in its place.
    """

    def point(match: re.Match[str]) -> str:
        layout, href, name, svg = match.groups()
        if name not in drawn:
            return match.group(0)
        size = _SIZE.search(svg)
        if size is None:
            raise ValueError(f"figures/{name}.svg: the inline drawing states no size or text alternative")
        width, height, alt = size.groups()
        return (
            f'<a class="ns-open ns-{layout} ns-shared" href="{href}">'
            f'<img src="{href}" width="{width}" height="{height}" alt="{alt}" loading="lazy" decoding="async"></a>'
        )

    return SHIPPED_SVG.sub(point, inner)


def drawn_inline(html: str) -> set[str]:
    """The file names of the diagrams drawn inline in `html`."""
    return {m.group(3) for m in SHIPPED_SVG.finditer(html)}
