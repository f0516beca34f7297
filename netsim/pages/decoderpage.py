"""The error decoder's page: a paste box, its data, and the same words as a static reference.

The paste box and the data are HTML set aside from Markdown (docs/assets/decoder.js reads the
data and explains a pasted line without a request to anywhere, so it works from a folder). The
reference below it is Markdown, so its headings are in the table of contents and the search,
and its links to the posts are checked by the strict build. Every "on the wire" sentence is the
checked facts of a scenario step, written by the same words as a claim's tick.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from netsim import decoder as dec
from netsim.errors import ScenarioError
from netsim.render import escape, ticks

if TYPE_CHECKING:
    from netsim.pages.macros import Page

# Lines a reader can try with one click: each the exact words a real program prints.
EXAMPLES = (
    ("Go", 'Get "https://host.containers.internal:19001/ping": dial tcp 10.88.0.1:19001: connect: connection refused'),
    ("curl", "curl: (7) Failed to connect to 127.0.0.1 port 9001 after 0 ms: Couldn't connect to server"),
    ("Python", "OSError: [Errno 113] No route to host"),
    ("Node", "Error: connect ECONNREFUSED 10.88.0.1:19001"),
)


def render(page: Page) -> str:
    root = page.book.root
    try:
        data = dec.load(root)
    except ScenarioError as exc:
        return page._fail(exc)
    problems = dec.check(data, page.book)
    for problem in problems:
        page._fail(problem)
    if problems:
        return ""
    titles = {p.stem: _title(p) for p in (root / "docs" / "posts").glob("*.md")}
    site_root = page._root()

    def href(post: str, anchor: str = "") -> str:
        return f"{site_root}posts/{escape.url(post)}.html" + (f"#{escape.url(anchor)}" if anchor else "")

    blob = {
        "entries": [
            {
                "id": e.id,
                "kind": e.kind,
                "token": e.token,
                "match": list(e.match),
                "layer": e.layer,
                "meaning": e.meaning,
                "wire": [_wire(page, s) for s in e.shown_by],
                "causes": [{"cause": c, "check": k} for c, k in e.causes],
                "post": {"title": titles[e.post], "href": href(e.post, e.anchor)},
            }
            for e in data.entries
        ],
        "addresses": [
            {"prefix": str(n.prefix), "says": n.says, "post": {"title": titles[n.post], "href": href(n.post)}}
            for n in data.addresses
        ],
    }
    # Inside <script type="application/json">: data, never run; "<" written as \u003c so no text in
    # it can close the element.
    payload = json.dumps(blob, ensure_ascii=True, sort_keys=True).replace("<", "\\u003c")
    examples = "".join(
        f'<button type="button" class="md-button ns-decoder-example" data-line="{escape.html(line)}">'
        f"{escape.html(who)}</button>"
        for who, line in EXAMPLES
    )
    box = page._set_aside(
        '<div class="ns-decoder">'
        '<label for="ns-decoder-input">Paste an error line</label>'
        '<textarea id="ns-decoder-input" rows="3" spellcheck="false" autocomplete="off" '
        'placeholder="dial tcp 10.88.0.1:19001: connect: connection refused"></textarea>'
        f'<p class="ns-decoder-examples">Or try a real one: {examples}</p>'
        '<div id="ns-decoder-output" aria-live="polite"></div>'
        f'<script type="application/json" id="ns-decoder-data">{payload}</script>'
        "</div>"
    )
    parts = [
        box,
        "",
        "<noscript><p>The paste box needs JavaScript; every word it knows is explained below.</p></noscript>",
        "",
        # Out of the site's search: a reader searching "refused" wants the post that explains it, and
        # this reference repeats every word of the series (the page itself stays findable).
        "## Every word the decoder knows { data-search-exclude }",
        "",
    ]
    for kind, heading in (("outcome", "What the kernel answered"), ("wording", "How each program says it")):
        parts += [f"### {heading} {{ data-search-exclude }}", ""]
        for e in (e for e in data.entries if e.kind == kind):
            parts += _entry_markdown(page, e, titles)
    parts += ["### Addresses { data-search-exclude }", "", "| address | what it is | explained in |", "|---|---|---|"]
    for n in data.addresses:
        link = f"[{escape.markdown(titles[n.post])}](posts/{n.post}.md)"
        parts.append(f"| <code>{escape.html(n.prefix)}</code> | {escape.markdown(n.says)} | {link} |")
    return "\n".join(parts) + "\n"


def _wire(page: Page, shown: dec.Shown) -> str:
    """The checked facts in the claim's own words, said as what the simulation showed."""
    name, _, _step = shown.step.partition("/")
    scenario, _trace = page.book.get(name)
    said = ticks.sentence(scenario, dict(shown.facts)).removeprefix("Checked: in the simulation, ")
    return f"in the simulation (checked at every build), {said}"


def _entry_markdown(page: Page, e: dec.Entry, titles: dict[str, str]) -> list[str]:
    lines = [
        f'<h4 id="token-{e.id}" data-search-exclude><code>{escape.html(e.token)}</code></h4>',
        "",
        f"**Who says it:** {escape.markdown(e.layer)}. {escape.markdown(e.meaning)}",
        "",
    ]
    for shown in e.shown_by:
        sentence = escape.markdown(_wire(page, shown))
        lines += [f'**On the wire:** {sentence} <span class="ns-claim" aria-hidden="true">✓</span>', ""]
    if e.causes:
        lines += ["**Likely causes, in the order I would check them:**", ""]
        lines += [
            f"{n}. {escape.markdown(cause)} <code>{escape.html(check)}</code>"
            for n, (cause, check) in enumerate(e.causes, 1)
        ]
        lines.append("")
    anchor = f"#{e.anchor}" if e.anchor else ""
    lines += [f"**Explained in:** [{escape.markdown(titles[e.post])}](posts/{e.post}.md{anchor})", ""]
    return lines


def _title(path: Path) -> str:
    from netsim.pages.macros import split_front_matter

    meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
    return str(meta.get("title", path.stem))
