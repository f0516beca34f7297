"""Post one in a real browser: stepping with buttons and keys, addresses per step, no JavaScript,
instant navigation, phone and desktop widths, no console errors, nothing fetched elsewhere.

Drives Debian's Chromium through Playwright (`executable_path`); a downloaded browser cannot be
fetched here. Screenshots land in build/screenshots/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import CHROMIUM_ARGS, find_chromium, serve

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
POST = "/posts/margarets-room.html"
CHROMIUM, WHY_NOT = find_chromium()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=f"browser tests skipped: {WHY_NOT}")]


@pytest.fixture(scope="module")
def browser(built_site: Path) -> Iterator[tuple[object, str]]:
    from playwright.sync_api import sync_playwright

    with serve(built_site) as base, sync_playwright() as p:
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
    assert count.inner_text() == "Step 1 of 19"
    assert visible_step(page) == "margarets-room-step-1"
    first_table = page.locator("#margarets-room-step-1 table").first.inner_text()  # type: ignore[attr-defined]
    first_svg = page.locator("#margarets-room-step-1 a.ns-open").first.get_attribute("href")  # type: ignore[attr-defined]

    page.click(".ns-next")  # type: ignore[attr-defined]
    assert count.inner_text() == "Step 2 of 19"
    assert page.url.endswith("#margarets-room-step-2")  # type: ignore[attr-defined]
    assert visible_step(page) == "margarets-room-step-2"
    assert page.locator("#margarets-room-step-2 table").first.inner_text() != first_table  # type: ignore[attr-defined]
    assert page.locator("#margarets-room-step-2 a.ns-open").first.get_attribute("href") != first_svg  # type: ignore[attr-defined]
    assert page.locator("#margarets-room-step-2 svg:visible").count() == 1  # type: ignore[attr-defined]

    page.focus(".ns-stepper")  # type: ignore[attr-defined]
    page.keyboard.press("ArrowRight")  # type: ignore[attr-defined]
    assert count.inner_text() == "Step 3 of 19"
    page.keyboard.press("ArrowLeft")  # type: ignore[attr-defined]
    assert count.inner_text() == "Step 2 of 19"
    assert page.locator(".ns-prev").is_enabled()  # type: ignore[attr-defined]

    page.go_back()  # type: ignore[attr-defined]
    page.wait_for_url("**#margarets-room-step-3")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('.ns-count').textContent === 'Step 3 of 19'")  # type: ignore[attr-defined]


def test_a_step_link_opens_that_step_on_a_fresh_load(page: object) -> None:
    page.goto(page.base + POST + "#margarets-room-step-7")  # type: ignore[attr-defined]
    assert page.locator(".ns-count").inner_text() == "Step 7 of 19"  # type: ignore[attr-defined]
    assert visible_step(page) == "margarets-room-step-7"
    assert page.locator("#margarets-room-step-7").is_visible()  # type: ignore[attr-defined]
    assert "who-has 10.88.0.3" in page.locator("#margarets-room-step-7 figcaption").inner_text()  # type: ignore[attr-defined]


def test_the_bytes_of_a_frame_open_with_their_fields_named(page: object) -> None:
    page.goto(page.base + POST + "#margarets-room-step-7")  # type: ignore[attr-defined]
    page.click("#margarets-room-step-7 .ns-bytes summary")  # type: ignore[attr-defined]
    text = page.locator("#margarets-room-step-7 .ns-bytes").inner_text()  # type: ignore[attr-defined]
    assert "opcode" in text and "1 (request)" in text and "ff ff ff ff ff ff" in text


def test_instant_navigation_keeps_the_stepper_working(page: object) -> None:
    page.goto(page.base + "/index.html")  # type: ignore[attr-defined]
    page.click("article a[href$='margarets-room.html']")  # type: ignore[attr-defined]
    page.wait_for_selector(".ns-stepper.ns-js")  # type: ignore[attr-defined]
    page.click(".ns-next")  # type: ignore[attr-defined]
    assert page.locator(".ns-count").inner_text() == "Step 2 of 19"  # type: ignore[attr-defined]


@pytest.mark.parametrize("transport", ["http", "file"])
def test_the_stepper_starts_from_a_folder_too(browser: tuple[object, str], built_site: Path, transport: str) -> None:
    # Opened from the folder the theme's document$ never fires; the stepper must start anyway.
    chromium, base = browser
    root = base if transport == "http" else built_site.as_uri()
    context = chromium.new_context(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(root + POST)
    assert page.locator(".ns-count").inner_text() == "Step 1 of 19"
    page.click(".ns-next")
    page.click(".ns-next")
    assert page.locator(".ns-count").inner_text() == "Step 3 of 19"
    assert visible_step(page) == "margarets-room-step-3"
    assert errors == []
    context.close()


@pytest.mark.parametrize("transport", ["http", "file"])
@pytest.mark.parametrize("width", [320, 390, 1280])
def test_a_deep_link_lands_with_the_controls_below_the_header(
    browser: tuple[object, str], built_site: Path, transport: str, width: int
) -> None:
    chromium, base = browser
    root = base if transport == "http" else built_site.as_uri()
    context = chromium.new_context(viewport={"width": width, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(root + POST + "#margarets-room-step-7", wait_until="load")
    page.wait_for_timeout(200)  # the browser's own jump to the id comes after load
    assert page.locator(".ns-count").inner_text() == "Step 7 of 19"
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
    assert steps.count() == 19
    assert all(steps.nth(i).is_visible() for i in range(19))
    assert not page.locator(".ns-stepper-controls").is_visible()
    context.close()


@pytest.mark.parametrize("post", sorted(p.name for p in (ROOT / "docs" / "posts").glob("*.md")))
def test_every_post_fits_a_phone_and_its_stepper_works(browser: tuple[object, str], post: str) -> None:
    chromium, base = browser
    context = chromium.new_context(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/posts/" + post.replace(".md", ".html"))
    page.click(".ns-next")
    assert page.locator(".ns-count").inner_text().startswith("Step 2 of ")
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{post} scrolls sideways by {overflow}px on a phone"
    assert errors == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{post.replace('.md', '')}-phone.png"))
    context.close()


@pytest.mark.parametrize(
    ("name", "width", "height", "scheme"),
    [
        ("desktop", 1280, 900, "light"),
        ("desktop-dark", 1280, 900, "dark"),
        ("phone", 390, 844, "light"),
    ],
)
def test_screenshots_at_phone_and_desktop_widths(
    browser: tuple[object, str], name: str, width: int, height: int, scheme: str
) -> None:
    chromium, base = browser
    context = chromium.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(base + POST + "#margarets-room-step-7")
    assert page.locator(".ns-count").inner_text() == "Step 7 of 19"
    page.click(".ns-next")
    assert page.locator(".ns-count").inner_text() == "Step 8 of 19"
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px at {width}px"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"post-one-{name}.png"))
    context.close()
