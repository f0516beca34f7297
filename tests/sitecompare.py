"""What a reader sees in two builds of the same sources, page by page: visible text, figures (by
content hash), claims and links. Used to hold the Zensical build to the MkDocs one."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

FIGURE = re.compile(r"figures/([0-9a-f]{20})\.svg")


class _Article(HTMLParser):
    """The page's article: its text (no scripts, styles or SVG internals), links and claim ticks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # inside <article>
        self.skip = 0  # inside script/style/svg
        self.text: list[str] = []
        self.links: list[str] = []
        self.claims: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "article":
            self.depth += 1
        if not self.depth:
            return
        if tag in ("script", "style", "svg", "template", "noscript"):
            self.skip += 1
        if tag == "a" and a.get("href") and not a.get("class", "").startswith(("headerlink", "ns-open")):
            self.links.append(a["href"] or "")
        if tag == "button" and "ns-claim" in (a.get("class") or ""):
            self.claims.append(a.get("data-tip") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "article" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("script", "style", "svg", "template", "noscript") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip:
            self.text.append(data)


def page_view(html: str) -> dict[str, object]:
    parser = _Article()
    parser.feed(html)
    words = " ".join(unescape("".join(parser.text)).replace("¶", " ").split())
    return {
        "text": words,
        "figures": sorted(set(FIGURE.findall(html))),
        "claims": parser.claims,
        "links": sorted(set(parser.links)),
    }


def differences(a: Path, b: Path) -> dict[str, list[str]]:
    """{page: [what differs, ...]} for every page either site has; empty lists are left out."""
    pages = sorted(
        {p.relative_to(a).as_posix() for p in a.rglob("*.html")}
        | {p.relative_to(b).as_posix() for p in b.rglob("*.html")}
    )
    out: dict[str, list[str]] = {}
    for page in pages:
        pa, pb = a / page, b / page
        if not pa.exists() or not pb.exists():
            out[page] = [f"only in {'the first' if pa.exists() else 'the second'} site"]
            continue
        va, vb = page_view(pa.read_text(encoding="utf-8")), page_view(pb.read_text(encoding="utf-8"))
        found = []
        for key in ("text", "figures", "claims", "links"):
            if va[key] != vb[key]:
                found.append(key + ": " + _first_difference(va[key], vb[key]))
        if found:
            out[page] = found
    return out


def _first_difference(x: object, y: object) -> str:
    if isinstance(x, str) and isinstance(y, str):
        i = next((i for i, (c, d) in enumerate(zip(x, y, strict=False)) if c != d), min(len(x), len(y)))
        return f"...{x[max(0, i - 40) : i + 60]!r} vs ...{y[max(0, i - 40) : i + 60]!r}"
    sx, sy = (set(x), set(y)) if isinstance(x, list) and isinstance(y, list) else ({x}, {y})
    return f"only in the first: {sorted(map(str, sx - sy))[:5]}; only in the second: {sorted(map(str, sy - sx))[:5]}"
