"""The error decoder in a real browser: the page's JavaScript matcher gives exactly the Python
matcher's answers, a pasted line is explained word by word with links to the posts, and it all
works from a folder (file://) with nothing fetched from anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import find_chromium, launched, serve
from test_decoder import CORPUS, DATA, ROOT

from netsim import decoder

CHROMIUM, WHY_NOT = find_chromium()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=f"browser tests skipped: {WHY_NOT}")]
# Lines the two matchers must agree on beyond the corpus: overlaps, case, odd addresses, markup.
EXTRA = [
    "CONNECTION REFUSED by 10.88.0.1:19001 and 10.88.0.1 again",
    "dial tcp 999.1.1.1:80: connect: connection timed out (i/o timeout)",
    "<script>alert(1)</script> 127.0.0.1:8080 errno 111",
    "version 1.2.3.4.5 0.0.0.0:9001 169.254.1.2 172.17.0.1:2375",
    "",
]


@pytest.fixture(scope="module")
def browser(generated_site: Path) -> Iterator[tuple[object, str]]:
    with serve(generated_site) as base, launched() as chromium:
        yield chromium, base


def _open(browser: tuple[object, str], url: str) -> tuple[object, list[str]]:
    chromium, base = browser
    context = chromium.new_context(viewport={"width": 390, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "request",
        lambda r: r.url.startswith((base, "file:", "data:")) or problems.append(f"request to another host: {r.url}"),
    )
    page.goto(url)
    page.wait_for_function("() => window.nsDecode !== undefined")
    return page, problems


@pytest.mark.parametrize("transport", ["http", "file"])
def test_the_page_matcher_agrees_with_netsim_on_every_line(
    browser: tuple[object, str], generated_site: Path, transport: str
) -> None:
    url = f"{browser[1]}/decoder.html" if transport == "http" else (generated_site / "decoder.html").as_uri()
    page, problems = _open(browser, url)
    shown = decoder.published(DATA, ROOT)  # the page carries the words of published posts only
    for line in [*CORPUS, *EXTRA]:
        expected = [[t.start, t.end, t.id, t.note] for t in decoder.decode(line, shown)]
        got = page.evaluate("(l) => window.nsDecode(l).map(t => [t.start, t.end, t.id, t.note])", line)
        assert got == expected, line
    # Words that overlap in every way the tie-break must settle: same start (longer wins), nested,
    # and an address inside a word.
    words = [("a", ["time"]), ("b", ["timeout"]), ("c", ["out was"]), ("d", ["was reached 10.0"])]
    data = decoder.Decoder("test", tuple(_entry(i, m) for i, m in words), DATA.addresses)
    js = {
        "entries": [{"id": i, "match": m} for i, m in words],
        "addresses": [{"prefix": str(a.prefix)} for a in data.addresses],
    }
    for line in ["Timeout was reached 10.0.0.1", "time out was reached", "timeouttime 10.88.0.1:1"]:
        expected = [[t.start, t.end, t.id, t.note] for t in decoder.decode(line, data)]
        got = page.evaluate(
            "([l, d]) => window.nsDecodeWith(l, d).map(t => [t.start, t.end, t.id, t.note])", [line, js]
        )
        assert got == expected, line
    assert problems == []


def _entry(ident: str, match: list[str]) -> decoder.Entry:
    return decoder.Entry(ident, "wording", ident, tuple(match), "", "", (), (), "", "", 0)


def test_a_pasted_line_is_explained_word_by_word_with_links(browser: tuple[object, str], generated_site: Path) -> None:
    page, problems = _open(browser, f"{browser[1]}/decoder.html")
    line = "dial tcp 10.88.0.1:19001: connect: <b>connection refused</b>"
    page.fill("#ns-decoder-input", line)
    items = page.locator(".ns-decoder-token")
    assert [items.nth(i).get_attribute("data-id") for i in range(items.count())] == [
        "go-dial",
        "address",
        "go-connect",
        "refused",
    ]
    refused = items.nth(3)
    assert "1 SYN and 1 RST" in refused.inner_text()
    assert refused.locator("a").get_attribute("href") == "posts/three-ways-to-say-no.html#no-the-kernel-slams-the-door"
    assert (generated_site / "posts" / "three-ways-to-say-no.html").exists()
    assert page.locator("#ns-decoder-output b").count() == 0  # pasted markup stays text
    page.click(".ns-decoder-example >> text=Python")
    assert page.input_value("#ns-decoder-input") == "OSError: [Errno 113] No route to host"
    assert "host-unreachable" in [items.nth(i).get_attribute("data-id") for i in range(items.count())]
    # Two words of one entry in a line: the entry is explained once, at the first; the second points there.
    page.fill("#ns-decoder-input", "socket.gaierror: [Errno -5] No address associated with hostname")
    assert [items.nth(i).get_attribute("data-id") for i in range(items.count())] == ["no-address", "no-address"]
    assert "Who says it" in items.nth(0).inner_text()
    assert "Who says it" not in items.nth(1).inner_text()
    assert "Another way of saying number 1" in items.nth(1).inner_text()
    page.screenshot(path=str(Path(__file__).resolve().parent.parent / "build" / "screenshots" / "decoder-390.png"))
    assert problems == []
