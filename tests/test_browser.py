"""Post one in a real browser: stepping with buttons and keys, addresses per step, no JavaScript,
instant navigation, phone and desktop widths, no console errors, nothing fetched elsewhere.

Drives Debian's Chromium headless shell (else its `chromium`) through Playwright (`executable_path`,
tests/browser.py); a downloaded browser cannot be fetched here. Screenshots land in build/screenshots/
for a person to look at.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from browser import CHROMIUM_ARGS, find_chromium, search_of, serve

from netsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
POST = "/posts/margarets-room.html"
STEPS = [s.id for s in load_scenario(ROOT / "diagrams" / "margarets-room.yaml").steps]
N = len(STEPS)
ASK = STEPS.index("bob-asks-for-toasters") + 1  # the step with an ARP question in it
CHROMIUM, WHY_NOT = find_chromium()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=f"browser tests skipped: {WHY_NOT}")]


@pytest.fixture(scope="module")
def browser(generated_site: Path) -> Iterator[tuple[object, str]]:
    from playwright.sync_api import sync_playwright

    with serve(generated_site) as base, sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium, base
        finally:
            chromium.close()


@pytest.fixture
def page(browser: tuple[object, str]) -> Iterator[object]:
    chromium, base = browser
    context = chromium.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.base = base  # type: ignore[attr-defined]
    page.problems = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on(
        "request",
        lambda r: (
            r.url.startswith(base)
            or r.url.startswith("data:")
            or page.problems.append(f"request to another host: {r.url}")
        ),
    )
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"HTTP {r.status}: {r.url}"))
    yield page
    assert page.problems == []  # type: ignore[attr-defined]
    context.close()


def visible_step(page: object) -> str:
    return page.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('.ns-stepper .ns-step')]"
        ".filter(f => f.offsetParent !== null).map(f => f.id).join(',')"
    )


def test_buttons_and_keys_step_through_and_the_address_follows(page: object) -> None:
    page.goto(page.base + POST)  # type: ignore[attr-defined]
    count = page.locator(".ns-count")  # type: ignore[attr-defined]
    assert count.inner_text() == f"Step 1 of {N}"
    assert visible_step(page) == "margarets-room-step-1"
    first_table = page.locator("#margarets-room-step-1 table").first.inner_text()  # type: ignore[attr-defined]
    first_svg = page.locator("#margarets-room-step-1 a.ns-open").first.get_attribute("href")  # type: ignore[attr-defined]

    page.click(".ns-next")  # type: ignore[attr-defined]
    assert count.inner_text() == f"Step 2 of {N}"
    assert page.url.endswith("#margarets-room-step-2")  # type: ignore[attr-defined]
    assert visible_step(page) == "margarets-room-step-2"
    assert page.locator("#margarets-room-step-2 table").first.inner_text() != first_table  # type: ignore[attr-defined]
    assert page.locator("#margarets-room-step-2 a.ns-open").first.get_attribute("href") != first_svg  # type: ignore[attr-defined]
    assert page.locator("#margarets-room-step-2 svg:visible").count() == 1  # type: ignore[attr-defined]

    page.focus(".ns-stepper")  # type: ignore[attr-defined]
    page.keyboard.press("ArrowRight")  # type: ignore[attr-defined]
    assert count.inner_text() == f"Step 3 of {N}"
    page.keyboard.press("ArrowLeft")  # type: ignore[attr-defined]
    assert count.inner_text() == f"Step 2 of {N}"
    assert page.locator(".ns-prev").is_enabled()  # type: ignore[attr-defined]

    page.go_back()  # type: ignore[attr-defined]
    page.wait_for_url("**#margarets-room-step-3")  # type: ignore[attr-defined]
    page.wait_for_function(f"() => document.querySelector('.ns-count').textContent === 'Step 3 of {N}'")  # type: ignore[attr-defined]


def test_a_step_link_opens_that_step_on_a_fresh_load(page: object) -> None:
    page.goto(page.base + POST + f"#margarets-room-step-{ASK}")  # type: ignore[attr-defined]
    assert page.locator(".ns-count").inner_text() == f"Step {ASK} of {N}"  # type: ignore[attr-defined]
    assert visible_step(page) == f"margarets-room-step-{ASK}"
    assert page.locator(f"#margarets-room-step-{ASK}").is_visible()  # type: ignore[attr-defined]
    assert "who-has 10.88.0.3" in page.locator(f"#margarets-room-step-{ASK} figcaption").inner_text()  # type: ignore[attr-defined]


def test_the_bytes_of_a_frame_open_with_their_fields_named(page: object) -> None:
    page.goto(page.base + POST + f"#margarets-room-step-{ASK}")  # type: ignore[attr-defined]
    page.click(f"#margarets-room-step-{ASK} .ns-bytes summary")  # type: ignore[attr-defined]
    text = page.locator(f"#margarets-room-step-{ASK} .ns-bytes").inner_text()  # type: ignore[attr-defined]
    assert "opcode" in text and "1 (request)" in text and "ff ff ff ff ff ff" in text
    assert "hardware type" in text and "42 bytes" in text
    frame = page.locator(f"#margarets-room-step-{ASK} .ns-frame").first  # type: ignore[attr-defined]
    lit = (
        f"() => [...document.querySelectorAll('#margarets-room-step-{ASK} .ns-lit')]"
        ".map(e => e.tagName + e.textContent)"
    )
    frame.locator("tr[data-f]").nth(1).hover()  # the source MAC's row lights its six bytes
    shown = page.evaluate(lit)  # type: ignore[attr-defined]
    assert [x for x in shown if x.startswith("SPAN")] == ["SPANba", "SPAN11", "SPAN22", "SPAN33", "SPAN44", "SPAN55"]
    assert [x[:12] for x in shown if x.startswith("TR")] == ["TRsource MAC"]
    frame.locator(".ns-hex span").nth(20).hover()  # byte 20, the opcode's first: its row lights
    rows = [x for x in page.evaluate(lit) if x.startswith("TR")]  # type: ignore[attr-defined]
    assert len(rows) == 1 and "opcode" in rows[0]
    link = frame.locator("tr[data-f] a").first.get_attribute("href")
    assert link is not None and link.endswith("posts/margarets-room.html")


def test_instant_navigation_keeps_the_stepper_working(page: object) -> None:
    page.goto(page.base + "/index.html")  # type: ignore[attr-defined]
    page.click("article a[href$='margarets-room.html']")  # type: ignore[attr-defined]
    page.wait_for_selector(".ns-stepper.ns-js")  # type: ignore[attr-defined]
    page.click(".ns-next")  # type: ignore[attr-defined]
    assert page.locator(".ns-count").inner_text() == f"Step 2 of {N}"  # type: ignore[attr-defined]


@pytest.mark.parametrize("transport", ["http", "file"])
def test_the_stepper_starts_from_a_folder_too(
    browser: tuple[object, str], generated_site: Path, transport: str
) -> None:
    # Opened from the folder the theme's document$ never fires; the stepper must start anyway.
    chromium, base = browser
    root = base if transport == "http" else generated_site.as_uri()
    context = chromium.new_context(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(root + POST)
    assert page.locator(".ns-count").inner_text() == f"Step 1 of {N}"
    page.click(".ns-next")
    page.click(".ns-next")
    assert page.locator(".ns-count").inner_text() == f"Step 3 of {N}"
    assert visible_step(page) == "margarets-room-step-3"
    assert errors == []
    context.close()


@pytest.mark.parametrize("transport", ["http", "file"])
@pytest.mark.parametrize("width", [320, 390, 1280])
def test_a_deep_link_lands_with_the_controls_below_the_header(
    browser: tuple[object, str], generated_site: Path, transport: str, width: int
) -> None:
    chromium, base = browser
    root = base if transport == "http" else generated_site.as_uri()
    context = chromium.new_context(viewport={"width": width, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(root + POST + f"#margarets-room-step-{ASK}", wait_until="load")
    # The browser's own jump to the id comes after load (stepper.js corrects it), and later still
    # on a loaded machine: give it the 200 ms it takes on an idle one, then wait (up to 5 s more)
    # for the stepper to show the step and the controls to be clear of the header, then assert
    # both, so a page that never gets there still fails with what it showed.
    page.wait_for_timeout(200)
    with contextlib.suppress(Exception):
        page.wait_for_function(
            """([want]) => {
              const count = document.querySelector('.ns-count');
              const controls = document.querySelector('.ns-stepper-controls');
              if (!count || !controls || count.textContent.trim() !== want) return false;
              const top = controls.getBoundingClientRect().top;
              return document.querySelector('.md-header').getBoundingClientRect().bottom <= top;
            }""",
            arg=[f"Step {ASK} of {N}"],
            timeout=5000,
        )
    assert page.locator(".ns-count").inner_text() == f"Step {ASK} of {N}"
    header = page.evaluate("() => document.querySelector('.md-header').getBoundingClientRect().bottom")
    box = page.locator(".ns-stepper-controls").bounding_box()
    assert box is not None and header <= box["y"] and box["y"] + box["height"] <= 800, (header, box)
    context.close()


@pytest.mark.parametrize("width", [320, 1280])
@pytest.mark.parametrize("path", ["/index.html", POST, "/posts/three-ways-to-say-no.html"])
def test_the_error_line_is_never_cut_off(browser: tuple[object, str], width: int, path: str) -> None:
    chromium, base = browser
    context = chromium.new_context(viewport={"width": width, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(base + path)
    cut = page.evaluate(
        "() => [...document.querySelectorAll('pre code')].filter(c => c.textContent.includes('connection refused'))"
        ".map(c => c.scrollWidth - c.clientWidth)"
    )
    assert cut and all(c <= 1 for c in cut), f"the error line's code block hides {cut} px at {width} px"
    context.close()


def test_without_javascript_every_step_is_shown(browser: tuple[object, str]) -> None:
    chromium, base = browser
    context = chromium.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(base + POST)
    steps = page.locator(".ns-stepper .ns-step")
    assert steps.count() == N
    assert all(steps.nth(i).is_visible() for i in range(N))
    assert not page.locator(".ns-stepper-controls").is_visible()
    # Each with its drawing: inline, or the file of the same drawing the prose shows inline.
    for i in range(N):
        drawing = steps.nth(i).locator(".ns-diagram :is(svg, img):visible")
        assert drawing.count() == 1, f"step {i + 1}"
        src = drawing.first.get_attribute("src")
        if src is not None:
            assert page.request.get(page.url.rsplit("/", 1)[0] + "/" + src).ok, src
    page.click(f"#margarets-room-step-{ASK} .ns-bytes summary")
    assert page.locator(f"#margarets-room-step-{ASK} .ns-bytes .ns-fields").first.is_visible()
    context.close()


def test_a_step_its_bytes_and_the_script_are_made_only_when_asked_for(page: object) -> None:
    # netsim/pages/lazy.py: the page's live document holds the step on show, not all of them.
    page.goto(page.base + POST)  # type: ignore[attr-defined]
    elements = "() => document.getElementsByTagName('*').length"
    at_first = page.evaluate(elements)  # type: ignore[attr-defined]
    live = page.locator(".ns-stepper > figure.ns-step")  # type: ignore[attr-defined]
    assert live.count() == 1 and page.locator(".ns-frame").count() == 0  # type: ignore[attr-defined]
    assert page.locator("details.example pre").count() == 0  # type: ignore[attr-defined]
    page.click(".ns-next")  # type: ignore[attr-defined]
    assert live.count() == 2
    # Step 2's drawing is also in the prose: the step shows a copy of it, not the file's image.
    assert page.locator("#margarets-room-step-2 .ns-diagram svg:visible").count() == 1  # type: ignore[attr-defined]
    assert page.locator("#margarets-room-step-2 .ns-diagram img").count() == 0  # type: ignore[attr-defined]
    page.click("#margarets-room-step-2 .ns-bytes summary")  # type: ignore[attr-defined]
    assert page.locator("#margarets-room-step-2 .ns-frame").count() >= 1  # type: ignore[attr-defined]
    assert page.locator("#margarets-room-step-1 .ns-frame").count() == 0  # type: ignore[attr-defined]
    page.click("details.example summary")  # type: ignore[attr-defined]
    assert "ip netns add" in page.locator("details.example pre").inner_text()  # type: ignore[attr-defined]
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")  # type: ignore[attr-defined]
    assert live.count() == N
    everything = page.evaluate(elements)  # type: ignore[attr-defined]
    print(f"post one: {at_first} elements on load, {everything} with every step made")
    assert at_first < everything / 2


def test_print_shows_every_step_with_its_drawing(page: object) -> None:
    page.goto(page.base + POST)  # type: ignore[attr-defined]
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    steps = page.locator(".ns-stepper > figure.ns-step")  # type: ignore[attr-defined]
    assert steps.count() == N
    for i in range(N):
        assert steps.nth(i).is_visible(), f"step {i + 1}"
        assert steps.nth(i).locator(".ns-diagram svg:visible").count() == 1, f"step {i + 1}"
    assert not page.locator(".ns-stepper-controls").is_visible()  # type: ignore[attr-defined]


# The published posts: a draft (`draft: true`) is built by `make serve` only.
POSTS = sorted(
    p.stem
    for p in (ROOT / "docs" / "posts").glob("*.md")
    if yaml.safe_load(p.read_text(encoding="utf-8").split("---\n")[1]).get("draft") is not True
)

# Every diagram of the page at once (the stepper's hidden steps shown for the measure), each
# visible text's rendered size (its font size times the SVG's scale on screen) and contrast
# (its fill against the fill of the shape behind it, or the page, alpha composited). Judged in the
# page against the least contrast allowed (the argument): it returns the counts and the words that
# fail, not every word measured, since handing back each of a post's 350-1,900 words cost more than
# measuring them (0.44 s a measure of post four against 0.22 s, on both sides of the browser).
LEAST_CONTRAST = 4.5  # WCAG's AA for text of this size
MEASURE = """(least) => {
  window.dispatchEvent(new Event('beforeprint'));  // the print path makes every waiting step
  document.querySelectorAll('.ns-stepper').forEach(s => s.classList.remove('ns-js'));
  const rgba = c => { const m = c.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3])).concat([1]);
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                     return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const page = rgba(getComputedStyle(document.querySelector('.md-main') || document.body).backgroundColor);
  const pageBg = page[3] ? over(page, [255, 255, 255, 1]) : rgba(getComputedStyle(document.body).backgroundColor);
  const small = parseFloat(getComputedStyle(document.documentElement).fontSize) * 0.64;
  const tiny = [], cut = [], faint = [];
  let count = 0, measured = 0, layouts = new Set();
  for (const svg of document.querySelectorAll('.ns-diagram svg')) {
    if (!svg.getClientRects().length) continue;
    layouts.add(svg.parentElement.classList.contains('ns-wide') ? 'wide' : 'narrow');
    // The filled shapes (not a line or its arrowhead), each styled and measured once per drawing
    // rather than once per word in it.
    const shapes = [];
    for (const el of svg.querySelectorAll('path, polygon, ellipse')) {
      if (el.parentElement.querySelector(':scope > path.nc-f-none')) continue;
      const fill = getComputedStyle(el).fill;
      if (fill !== 'none') shapes.push({fill, b: el.getBBox()});
    }
    for (const t of svg.querySelectorAll('text')) {
      if (!t.textContent.trim()) continue;
      const size = parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a;
      // What the words sit on: the smallest filled shape (not a line or its arrowhead) whose box
      // holds the words' centre, in the drawing's own coordinates, so off-screen ones count too.
      const tb = t.getBBox(), cx = tb.x + tb.width / 2, cy = tb.y + tb.height / 2;
      let bg = null, area = Infinity;
      for (const {fill, b} of shapes) {
        if (cx < b.x || cx > b.x + b.width || cy < b.y || cy > b.y + b.height) continue;
        if (b.width * b.height < area) { area = b.width * b.height; bg = over(rgba(fill), pageBg); }
      }
      const r = t.getBoundingClientRect(), s = svg.getBoundingClientRect();
      const clipped = r.left < s.left - 1 || r.right > s.right + 1 || r.top < s.top - 1 || r.bottom > s.bottom + 1;
      const ink = rgba(getComputedStyle(t).fill);
      const under = bg || pageBg;
      const contrast = ratio(over(ink, under), under);
      count += 1;
      if (bg) measured += 1;
      if (size < small - 0.05) tiny.push([t.textContent, Math.round(size * 10) / 10]);
      if (clipped) cut.push(t.textContent);
      if (contrast < least) faint.push([t.textContent, Math.round(contrast * 100) / 100]);
    }
  }
  document.querySelectorAll('.ns-stepper').forEach(s => s.classList.add('ns-js'));
  return {small, count, measured, tiny, cut, faint, layouts: [...layouts],
          overflow: document.scrollingElement.scrollWidth - innerWidth};
}"""


# Where a link to step 2 of the page's first stepper lands a reader: its controls just below the
# sticky header (docs/assets/stepper.js, land()), as the screenshots show it.
STEP_TWO_IN_VIEW = """() => {
  const controls = document.querySelector('.ns-stepper .ns-stepper-controls');
  const header = document.querySelector('.md-header').getBoundingClientRect().height;
  scrollTo(0, Math.max(0, controls.getBoundingClientRect().top + scrollY - header - 8));
}"""


# Every narrow figure box of the page (the stepper's hidden steps shown, as for print), and how
# far its drawing runs past the box: the box pans sideways by that much.
NARROW = """() => {
  window.dispatchEvent(new Event('beforeprint'));
  document.querySelectorAll('.ns-stepper').forEach(s => s.classList.remove('ns-js'));
  const shown = sel => [...document.querySelectorAll(sel)].filter(b => b.getClientRects().length);
  const boxes = shown('.ns-diagram .ns-narrow'), wide = shown('.ns-diagram .ns-wide').length;
  const wider = boxes.filter(b => b.scrollWidth - b.clientWidth > 1)
    .map(b => [b.closest('figure').id, b.getAttribute('href').split('/').pop(), b.scrollWidth - b.clientWidth]);
  const page = document.scrollingElement.scrollWidth - innerWidth;
  document.querySelectorAll('.ns-stepper').forEach(s => s.classList.add('ns-js'));
  return {boxes: boxes.length, wide, wider, page};
}"""


# The widths a reader's device shows a post at, by kind: a phone (its scrollbars overlay the page,
# touch, the mobile viewport) and a desktop or tablet window (a desktop browser's scrollbars take 15
# px, and Zensical's theme keeps that gutter even where headless Chromium hides the scrollbar). The
# page's layout follows its width by CSS alone (no script of ours reads the width), so one load per
# kind is measured at each of its widths, narrowed as a reader drags a window's edge: half the page loads
# of a load per width, every width still measured in both schemes. Widest first: widened from 768 px
# after a measure, the theme's header left its search field 54 px past the right edge at 1280 px (a
# fresh load at 1280 px has none), which is the theme's resize and not what a reader loads.
DEVICES = {"phone": [390, 320], "desktop": [1280, 768]}
# The loads measured: over http every device in both schemes; from a folder (file://) every device
# in one scheme each, so each scheme is still measured from a folder. Opened from a folder the theme
# never wraps its tables (the table is its own scrolling box, checked in reads_at()); the drawings
# and command outputs lay out by CSS alone, the same over either transport: on 3 December every
# measure here (MEASURE, NARROW, the command outputs) of every post, device, scheme and width came
# out identical over http and from the folder, 64 of 64 on each generator's build. Measuring the
# folder in its second scheme too was a quarter of this test's page loads (237 busy CPU s for the
# test on two workers with it, 198 without) for a result the http load already gives. (Switching a loaded page's
# scheme with the theme's toggle instead of loading it again cost more: about 1 s of restyling a
# page with every step made, against 0.6 s for a fresh context and load.)
LOADS = [(device, scheme, "http") for device in DEVICES for scheme in ("light", "dark")] + [
    ("phone", "light", "file"),
    ("desktop", "dark", "file"),
]


@pytest.mark.parametrize(("device", "scheme", "transport"), LOADS, ids=["-".join(load) for load in LOADS])
@pytest.mark.parametrize("post", POSTS)
def test_every_diagram_reads_at_every_width_in_both_schemes(
    request: pytest.FixtureRequest,
    browser: tuple[object, str],
    generated_site: Path,
    post: str,
    device: str,
    scheme: str,
    transport: str,
) -> None:
    chromium, base = browser
    root = base if transport == "http" else generated_site.as_uri()
    widths = DEVICES[device]
    phone = device == "phone"
    context = chromium.new_context(  # type: ignore[attr-defined]
        viewport={"width": widths[0], "height": 900}, color_scheme=scheme, is_mobile=phone, has_touch=phone
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.goto(f"{root}/posts/{post}.html")
    assert page.evaluate("() => document.body.dataset.mdColorScheme") == ("slate" if scheme == "dark" else "default")
    page.click(".ns-next")
    assert page.locator(".ns-count").inner_text().startswith("Step 2 of ")
    # A person looks at these: build/screenshots/POST-WIDTH-SCHEME.png, of the site MkDocs builds
    # (the one published), step 2 where its link lands. Taken at each width before that width's
    # measure, scrolled there and back: not from a second load of the page. (A measure makes every
    # step and shows them, then hides all but step 2 again: what a reader sees is as it was.) The
    # file has no generator in its name: a pass over Zensical's build would only overwrite it.
    shots = transport == "http" and "zensical" not in request.node.callspec.id
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        if shots:
            SHOTS.mkdir(parents=True, exist_ok=True)
            at = page.evaluate("() => [scrollX, scrollY]")
            page.evaluate(STEP_TWO_IN_VIEW)
            page.screenshot(path=str(SHOTS / f"{post}-{width}-{scheme}.png"))
            page.evaluate("([x, y]) => scrollTo(x, y)", at)
        reads_at(page, post, width, scheme)
    assert errors == []
    context.close()


def reads_at(page: object, post: str, width: int, scheme: str) -> None:
    """Every diagram, table and command output of the page, measured at the page's width now."""
    found = page.evaluate(MEASURE, LEAST_CONTRAST)  # type: ignore[attr-defined]
    assert found["overflow"] <= 1, f"{post} scrolls sideways by {found['overflow']}px at {width}px"
    assert found["count"] > 50
    small = found["tiny"]
    assert not small, f"diagram text under the page's small text ({found['small']:.1f}px) at {width}px: {small[:5]}"
    clipped = found["cut"]
    assert not clipped, f"words drawn past the diagram's edge at {width}px, cut off: {clipped[:5]}"
    # Words outside every shape (a label Graphviz put past the drawing's paper) sit on the page.
    assert found["measured"] > 0.9 * found["count"]
    faint = found["faint"]
    assert not faint, f"diagram text under {LEAST_CONTRAST}:1 in the {scheme} scheme at {width}px: {faint[:5]}"
    if width <= 390:
        assert found["layouts"] == ["narrow"], (width, found["layouts"])
        # The one-column layout a phone gets fits its column: no figure's box pans sideways
        # (graph._stack keeps the lines that go round the column close to it). Measured here, on the
        # load the widths share, rather than on a load of its own per width: the boxes follow the
        # width by CSS alone, and on both generators' builds of every post each width measured
        # exactly as on a fresh load at that width (64 of 64), in both schemes.
        narrow = page.evaluate(NARROW)  # type: ignore[attr-defined]
        assert narrow["boxes"] >= 5 and narrow["wide"] == 0, narrow  # every figure, in the narrow layout
        wider = narrow["wider"]
        assert not wider, f"{post} at {width}px: narrow figures scroll sideways (figure, file, px): {wider}"
    # The MAC, ARP and conntrack tables are the theme's tables; from 390 px every column shows
    # without scrolling.
    tables = page.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('.ns-figure table')]"
        ".filter(t => /^(MAC table of|The notebook of|ARP tables|Connection tracking table)/"
        ".test(t.caption ? t.caption.textContent : ''))"
        ".map(t => { const w = t.closest('.md-typeset__scrollwrap');"
        " const box = w || t; return [t.className, box.scrollWidth - box.clientWidth]; })"
    )
    # (From a folder the theme never wraps its tables: the table itself is the scrolling box then.)
    assert all(cls == "" for cls, _cut in tables), tables
    if width >= 390:
        assert all(cut <= 1 for _cls, cut in tables), f"a table's columns are cut at {width}px: {tables}"
    # A command's output under a figure (ip route get, a lookup's answer) wraps; none of it hidden.
    hidden = page.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('.ns-figure :is(pre.ns-route, pre.ns-resolve) > code')]"
        ".map(c => [c.textContent.split('\\n')[0], c.scrollWidth - c.clientWidth]).filter(x => x[1] > 1)"
    )
    assert not hidden, f"a command's output under a figure is cut at {width}px: {hidden[:3]}"


# Every change of the body's colour scheme, with whether the post had begun to arrive: watched
# from before the page's first script runs.
SCHEME_WATCH = """
window.__schemes = [];
new MutationObserver(records => records.forEach(r => {
  const now = r.target.getAttribute(r.attributeName);
  if (r.target === document.body && now !== r.oldValue)
    window.__schemes.push([now, !!document.querySelector('.md-main')]);
})).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                       attributeFilter: ['data-md-color-scheme']});
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_readers_scheme_is_there_before_the_post_and_a_switch_still_works(
    browser: tuple[object, str], scheme: str
) -> None:
    # docs/assets/scheme.js: with no palette chosen, the one the reader's system asks for is on the
    # body before the post arrives, so a dark-scheme reader never sees the post drawn light first
    # (the theme's bundle, at the end of the page, used to make that change). The toggle still
    # switches both ways, and the choice then made is kept for the next page.
    chromium, base = browser
    mine, other = ("slate", "default") if scheme == "dark" else ("default", "slate")
    context = chromium.new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme)  # type: ignore[attr-defined]
    context.add_init_script(SCHEME_WATCH)
    page = context.new_page()
    page.goto(base + POST)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # the bundle's palette component has run
    body = "() => document.body.dataset.mdColorScheme"
    assert page.evaluate(body) == mine
    changes = page.evaluate("() => window.__schemes")
    assert changes == ([["slate", False]] if scheme == "dark" else []), changes
    toggle = "form[data-md-component=palette] label:not([hidden])"
    page.click(toggle)
    page.wait_for_function(f"() => document.body.dataset.mdColorScheme === '{other}'")
    page.click(toggle)
    page.wait_for_function(f"() => document.body.dataset.mdColorScheme === '{mine}'")
    page.click(toggle)  # chosen now, and kept over the system's scheme on the next page
    page.wait_for_function(f"() => document.body.dataset.mdColorScheme === '{other}'")
    page.reload()
    page.wait_for_load_state("load")
    assert page.evaluate(body) == other
    context.close()


# Every figure's box, measured as the page loads with nothing scrolled, against its box once it is on
# screen. A figure that skips layout while out of sight (content-visibility: auto) stands in at a
# guessed height; accessibility checkers measure the page as it loads, so they found a step's caption
# lying over the footer and failed its contrast (Lighthouse: accessibility 96 on two posts).
LAID_OUT = """() => [...document.querySelectorAll('.ns-figure')].filter(f => f.getClientRects().length).map(f => {
  const before = f.getBoundingClientRect().height;
  f.scrollIntoView();
  return [f.id || f.querySelector('img, svg')?.getAttribute('src') || '?', before, f.getBoundingClientRect().height];
}).filter(([, a, b]) => Math.abs(a - b) > 1)"""


@pytest.mark.parametrize("post", POSTS)
def test_every_figure_is_laid_out_as_the_page_loads(browser: tuple[object, str], post: str) -> None:
    chromium, base = browser
    context = chromium.new_context(viewport={"width": 1350, "height": 940})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{base}/posts/{post}.html")
    moved = page.evaluate(LAID_OUT)
    context.close()
    assert not moved, f"{post}: figures whose height changes once they are on screen (figure, px, px): {moved}"


BUDGET = 200_000  # bytes transferred on a post's first load (issue 14; audit/run.py's BYTE_BUDGET)
# Both generators' themes ask for their whole search index as a page starts (mkdocs-material's
# search/search_index.json, about 60 KB gzipped; Zensical 0.0.73's search.json, about 70 KB):
# docs/assets/lazy-search.js holds either back until the reader reaches for search. Under Zensical
# the three heaviest posts still come to 213-220 KB, because its theme's own script is 57 KB on the
# wire against mkdocs-material 9.8.2's 35 KB (the pages themselves are the same bytes within 0.2%):
# such a post is an expected failure only while the theme's script is the whole excess.
MATERIAL_SCRIPT = 35_100  # mkdocs-material 9.8.2's assets/javascripts/bundle.*.min.js, gzipped, with headers
# How each generator's theme names its search index.
SEARCH_INDEX = {"mkdocs": "/search/search_index.json", "zensical": "/search.json"}


@pytest.mark.parametrize("post", POSTS)
def test_a_post_loads_under_200_kb_on_a_phone(
    request: pytest.FixtureRequest, browser: tuple[object, str], generated_site: Path, post: str
) -> None:
    # What a phone downloads opening the post with nothing cached, served gzipped as a static host
    # serves it: every response's bytes on the wire (headers and encoded body) until the network
    # is quiet. A figure not yet shown costs nothing here only if it is really not fetched.
    generator = "zensical" if "zensical" in request.node.callspec.id else "mkdocs"
    chromium, _ = browser
    with serve(generated_site, compress=True) as base:
        context = chromium.new_context(  # type: ignore[attr-defined]
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        done: list[object] = []
        page.on("requestfinished", lambda r: done.append(r))
        page.goto(f"{base}/posts/{post}.html", wait_until="networkidle")
        page.wait_for_timeout(1500)  # Zensical asked for its index a moment after the page was quiet
        wire = sorted(
            ((s["responseBodySize"] + s["responseHeadersSize"], r.url[len(base) :]) for r in done for s in [r.sizes()]),
            reverse=True,
        )
        html = next(r for r in done if r.url.endswith(f"/posts/{post}.html"))
        assert html.response().headers.get("content-encoding") == "gzip"  # measured as a host sends it
        total = sum(n for n, _url in wire)
        print(f"{post}: {total / 1000:.1f} KB in {len(wire)} responses on first load; largest {wire[:3]}")
        index = SEARCH_INDEX[generator]
        assert not [url for _n, url in wire if url.endswith(index)], f"{index} was fetched as the page loaded"
        with page.expect_response(lambda r: r.url.endswith(index)):  # the index held back comes when search is used
            page.click("label.md-header__button[for='__search']")  # the phone's search button
        context.close()
        script = sum(n for n, url in wire if url.startswith("/assets/javascripts/bundle."))
        if generator == "zensical" and total >= BUDGET and total - script + MATERIAL_SCRIPT < BUDGET:
            pytest.xfail(f"{post}: {total / 1000:.1f} KB, of which Zensical 0.0.73's theme script is {script} bytes")
        assert total < BUDGET, f"{post}: {total / 1000:.1f} KB on first load (> 200 KB); largest: {wire[:4]}"


@pytest.mark.parametrize("transport", ["http", "file"])
def test_a_tap_opens_the_diagram_full_screen(browser: tuple[object, str], generated_site: Path, transport: str) -> None:
    chromium, base = browser
    root = base if transport == "http" else generated_site.as_uri()
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(root + POST + "#margarets-room-step-2")
    page.tap("#margarets-room-step-2 .ns-diagram a.ns-open:visible")
    dialog = page.locator("dialog.ns-full")
    assert dialog.is_visible()
    box = dialog.bounding_box()
    assert box is not None and box["width"] >= 389 and box["height"] >= 843
    # The wide layout at its natural size: its words at 10pt, 13.3 px on screen.
    scale = page.evaluate("() => document.querySelector('dialog.ns-full svg text').getScreenCTM().a")
    assert abs(scale - 4 / 3) < 0.01
    assert page.url.endswith("#margarets-room-step-2")  # no navigation away
    page.click(".ns-full-close")
    assert page.locator("dialog.ns-full").count() == 0
    context.close()


def test_a_tick_is_a_touch_target_that_says_what_was_checked(browser: tuple[object, str]) -> None:
    chromium, base = browser
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(base + POST)
    ticks = page.locator(".ns-claim")
    assert ticks.count() > 20
    for i in range(ticks.count()):
        box = ticks.nth(i).bounding_box()
        assert box is not None and box["width"] >= 44 and box["height"] >= 44, box
        tip = ticks.nth(i).get_attribute("data-tip") or ""
        assert tip.startswith("Checked: in the simulation, ") and tip.endswith("."), tip
        # A program's own line is quoted as it prints it (ssh's "bind [10.88.0.1]:19001: ..."); the
        # tooltip's own words around it must not read like code.
        words = re.sub(r"‘[^’]*’", "‘…’", tip)
        assert not any(c in words for c in "={}[]'_"), f"the tooltip reads like code: {tip}"
    assert "floods the frame; copies go to Alice, Carlos and the Portainer container" in " ".join(
        ticks.nth(i).get_attribute("data-tip") or "" for i in range(ticks.count())
    )
    tick = ticks.nth(3)
    tick.scroll_into_view_if_needed()
    shown = "el => getComputedStyle(el, '::after').display"
    assert tick.evaluate(shown) == "none"
    tick.tap()
    assert tick.evaluate(shown) == "block"
    tip = tick.evaluate("el => getComputedStyle(el, '::after').getPropertyValue('content')")
    assert tip.strip('"') == tick.get_attribute("data-tip")
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the open tooltip scrolls the page sideways by {overflow}px"
    context.close()


# Zensical 0.0.73's search has no per-page boost (its index items carry none and its worker ranks
# by title, text and path alone), so hooks.SEARCH_BOOST cannot put the posts first there: for
# "netfilter" it ranks about.html's first section above every post. (It was "ARP" until About's
# list of what netsim models was rewritten: a post now happens to rank first for that word.)
NO_BOOST = pytest.mark.xfail(
    strict=True, reason="Zensical 0.0.73's search ranks without the posts' boost (hooks.SEARCH_BOOST)"
)


@pytest.mark.parametrize("word", ["ARP", "bridge", "namespace", "refused", "netfilter"])
def test_search_finds_a_post_first_for_the_series_own_words(
    request: pytest.FixtureRequest, browser: tuple[object, str], word: str
) -> None:
    if word == "netfilter" and "zensical" in request.node.callspec.id:
        request.applymarker(NO_BOOST)
    chromium, base = browser
    context = chromium.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(base + "/index.html")
    field, results = search_of(page)
    page.click(".md-search__input")  # both themes open their search from the header's field
    # The whole word in one input event: typed a key at a time, a loaded machine can show the
    # results for "re" (with the link already saying ?h=refused) before those for "refused".
    # Then one key that changes nothing: mkdocs-material reads the field on keyup (or when its
    # index becomes ready), never on input, so a fill alone after the index is ready finds nothing.
    page.locator(field).first.fill(word)
    page.locator(field).first.press("End")
    first = page.locator(results).first
    first.wait_for(state="attached", timeout=15000)
    href = first.get_attribute("href") or ""
    assert "/posts/" in href or href.startswith("posts/"), f"{word!r}: the first result is {href}"
    context.close()


# --- Frames that move (docs/assets/motion.js) ------------------------------------------------

# The replay frozen and walked every 40 ms: where each shown frame is, how far from the nearest
# point of a frame's line (on screen), and how many frames are shown at once.
WALK = """(id) => {
  const anims = document.getAnimations();
  anims.forEach(a => a.pause());
  const fig = document.getElementById(id);
  const svg = [...fig.querySelectorAll('.ns-diagram svg')].find(s => s.getClientRects().length);
  const dots = [...svg.querySelectorAll('.ns-dot')];
  const lines = [...svg.querySelectorAll('g.ns-sends, g.ns-in, g.ns-out, g.ns-deliver, g.ns-knock')].map(e => {
    const p = e.querySelector('path'), m = p.getScreenCTM(), n = p.getTotalLength(), pts = [];
    for (let k = 0; k <= 200; k++) { const q = p.getPointAtLength(n * k / 200);
      pts.push([m.a * q.x + m.c * q.y + m.e, m.b * q.x + m.d * q.y + m.f]); }
    return pts;
  });
  const samples = [], together = [], rows = [];
  const row = fig.querySelector('tr.ns-row-new');
  for (let t = 0; t <= 6000; t += 40) {
    anims.forEach(a => { a.currentTime = t; });
    let shown = 0;
    for (const dot of dots) {
      if (parseFloat(getComputedStyle(dot).opacity) < 0.6) continue;
      shown += 1;
      const r = dot.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
      let off = Infinity;
      for (const pts of lines) for (const [a, b] of pts) off = Math.min(off, Math.hypot(a - x, b - y));
      samples.push({t, x: Math.round(x), y: Math.round(y), off});
    }
    together.push(shown);
    if (row) rows.push(parseFloat(getComputedStyle(row).opacity));
  }
  const crosses = svg.querySelectorAll('.ns-cross').length;
  return {dots: dots.length, lines: lines.length, samples, together, rows, crosses,
          outs: svg.querySelectorAll('g.ns-out').length};
}"""


# The replay's animations (the theme animates its buttons too).
OURS = (
    "() => document.getAnimations().filter(a => a.effect && a.effect.target"
    " && a.effect.target.closest && a.effect.target.closest('.ns-figure')).length"
)


def _step_to(page: object, n: int) -> str:
    """Step with the Next button to step n (from 1), or to 1 by Next then Previous: as a reader does.

    The last click and a pause of every animation run in one task of the page's, so WALK reads the
    replay from its start however late the test gets to it: on a loaded machine (a clean-clone CI) a
    notebook row's fade, which holds its start only until it ends, had ended before WALK looked."""
    buttons = [".ns-next", ".ns-prev"] if n == 1 else [".ns-next"] * (n - 1)
    for button in buttons[:-1]:
        page.click(button)  # type: ignore[attr-defined]
    page.locator(buttons[-1]).scroll_into_view_if_needed()  # type: ignore[attr-defined]
    page.evaluate(  # type: ignore[attr-defined]
        "(b) => { document.querySelector(b).click(); document.getAnimations().forEach(a => a.pause()); }", buttons[-1]
    )
    return f"margarets-room-step-{n}"


def test_a_frame_travels_along_the_lines_it_takes_and_its_notebook_line_appears(page: object) -> None:
    page.goto(page.base + POST)  # type: ignore[attr-defined]
    found = page.evaluate(WALK, _step_to(page, 2))  # type: ignore[attr-defined]
    # Alice's reply: from Alice to her seat, into the bridge, out to seat 5, to Bob: four moves.
    assert found["dots"] == found["lines"] == 4, found["dots"]
    samples = found["samples"]
    assert len(samples) > 20
    worst = max(s["off"] for s in samples)
    assert worst < 3, f"a frame was drawn {worst:.1f} px away from every line it takes"
    assert len({(s["x"], s["y"]) for s in samples}) > 15  # it moves
    assert max(found["together"]) == 1  # one frame, one copy at a time
    # Alice's line in the notebook is written as her frame reaches the bridge, not before.
    rows = found["rows"]
    assert rows[0] == 0 and rows[-1] == 1, rows
    appears = next(k for k, o in enumerate(rows) if o == 1) * 40
    arrives = [s["t"] for s in samples]
    assert min(arrives) < appears < max(arrives)  # after the frame left Alice, before it reached Bob


def test_copies_fan_out_on_a_flood_and_a_cross_marks_a_drop(page: object) -> None:
    page.goto(page.base + POST)  # type: ignore[attr-defined]
    flood = page.evaluate(WALK, _step_to(page, 1))  # type: ignore[attr-defined]
    assert flood["outs"] == 3  # flooded to seats 3, 7 and 9
    assert max(flood["together"]) == 3  # three copies travel at once
    assert max(s["off"] for s in flood["samples"]) < 3
    assert flood["crosses"] == 0
    # A person looks at this one: the three copies on their way (build/screenshots/).
    at = next(k for k, n in enumerate(flood["together"]) if n == 3) * 40 + 80
    page.evaluate(f"() => document.getAnimations().forEach(a => {{ a.currentTime = {at}; }})")  # type: ignore[attr-defined]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#margarets-room-step-1 .ns-diagram").screenshot(path=str(SHOTS / "motion-flood.png"))  # type: ignore[attr-defined]
    page.goto(page.base + POST)  # type: ignore[attr-defined]
    drop = page.evaluate(WALK, _step_to(page, STEPS.index("group-badge-note") + 1))  # type: ignore[attr-defined]
    assert drop["crosses"] == 1 and drop["outs"] == 1


# Counts the animations motion.js makes inside a figure from the moment it is installed: what a step
# started, even when the page was slow to be asked and the motion had already ended and been stopped
# (motion.js stops it 1.3 s after its end; a clean-clone CI under load asked later than that once).
COUNT_MADE = """() => {
  window.__nsMade = 0;
  if (window.__nsCounting) return;
  window.__nsCounting = true;
  const animate = Element.prototype.animate;
  Element.prototype.animate = function (...args) {
    if (this.closest && this.closest(".ns-figure")) window.__nsMade += 1;
    return animate.apply(this, args);
  };
}"""


def test_every_step_with_frames_or_a_knock_moves_in_every_post(browser: tuple[object, str]) -> None:
    chromium, base = browser
    context = chromium.new_context(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page = context.new_page()
    for post in POSTS:
        page.goto(f"{base}/posts/{post}.html")
        total = int(page.locator(".ns-count").inner_text().split(" of ")[1])
        for n in range(2, total + 1):
            page.evaluate(COUNT_MADE)
            page.click(".ns-next")
            page.wait_for_function(f"() => document.querySelector('.ns-count').textContent.startsWith('Step {n} ')")
            marked = page.evaluate(
                "() => { const f = document.querySelector('.ns-step.ns-current');"
                " const s = [...f.querySelectorAll('.ns-diagram svg')].find(s => s.getClientRects().length);"
                " return s.querySelectorAll('g.ns-in, g.ns-knock, g.ns-packet').length; }"
            )
            moving = page.evaluate("() => window.__nsMade")
            assert (moving > 0) == (marked > 0), f"{post} step {n}: {marked} marked, {moving} animations made"
    context.close()


@pytest.mark.parametrize("transport", ["http", "file"])
def test_reduced_motion_keeps_the_figure_still(
    browser: tuple[object, str], generated_site: Path, transport: str
) -> None:
    chromium, base = browser
    root = base if transport == "http" else generated_site.as_uri()
    context = chromium.new_context(reduced_motion="reduce")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(root + POST)
    page.evaluate(COUNT_MADE)
    page.click(".ns-next")
    assert page.evaluate("() => window.__nsMade") == 0
    assert page.locator(".ns-dot").count() == 0
    context.close()
    context = chromium.new_context(reduced_motion="no-preference")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(root + POST)
    page.evaluate(COUNT_MADE)
    page.click(".ns-next")
    assert page.evaluate("() => window.__nsMade") > 0  # the same step moves otherwise (counted as made)
    # and when the replay is over, the figure is the static one again
    page.wait_for_function(f"() => !document.querySelector('.ns-dot') && !({OURS})()", timeout=15000)
    context.close()
