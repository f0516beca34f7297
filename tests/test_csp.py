"""Every page carries a Content-Security-Policy that the site itself never trips (issue 11).

Served over HTTP, opened from a folder (file://) and under `mkdocs serve` with live reload, no
page reports a violation, and the stepper, the bytes view and search still work; a `<script>`
or an `onerror=` that got into a page anyway is refused.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import prerun
import pytest
from browser import find_chromium, launched, search_of, serve
from sitecopy import copy_site
from test_serve import _fetch, _free_port, _wait_for

from netsim.pages import csp
from netsim.scenario import load_scenario

STEPS = len(load_scenario(Path(__file__).resolve().parent.parent / "diagrams" / "margarets-room.yaml").steps)

CHROMIUM, WHY_NOT = find_chromium()
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason=f"browser tests skipped: {WHY_NOT}")
WATCH = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));"
)
SHIM = Path(__file__).resolve().parent.parent / "docs" / "assets" / "vendor" / "iframe-worker-shim.js"


class Head(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[str, dict[str, str]]] = []
        self.inline: list[str] = []
        self._script: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.order.append((tag, {k: v or "" for k, v in attrs}))
        self._script = self.order[-1][1] if tag == "script" else None

    def handle_data(self, data: str) -> None:
        if self._script is not None and "src" not in self._script and self._script.get("type") != "application/json":
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._script = None


def test_every_page_has_the_policy_before_any_script_and_no_inline_script(built_site: Path) -> None:
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) >= 6
    for page in pages:
        head = Head()
        head.feed(page.read_text(encoding="utf-8"))
        tags = [t for t, _a in head.order]
        policies = [a["content"] for t, a in head.order if a.get("http-equiv") == "Content-Security-Policy"]
        assert len(policies) == 1, page
        assert tags.index("meta") < tags.index("script") if "script" in tags else True
        first_meta_policy = next(i for i, (_t, a) in enumerate(head.order) if a.get("http-equiv"))
        assert first_meta_policy < tags.index("script"), f"{page}: a script comes before the policy"
        assert "'unsafe-inline'" not in policies[0] and "'unsafe-eval'" not in policies[0]
        assert head.inline == [], f"{page.relative_to(built_site)}: inline scripts {head.inline}"


def test_the_shim_bootstrap_hash_is_only_for_the_themes_worker_address() -> None:
    shim = SHIM.read_text(encoding="utf-8")
    good = csp.shim_bootstrap(shim, "../assets/javascripts/workers/search.a7633da7.min.js")
    assert good.startswith("postMessage=function c(") and 'filename:"../assets/javascripts/workers/' in good
    page = '<meta charset="utf-8"><script id="__config" type="application/json">{}</script>'
    hostile = page.replace("{}", '{"search": "x\\"}))});alert(1);//"}')
    with pytest.raises(ValueError, match="unexpected search worker address"):
        csp.add_to_page(hostile, shim)


# --- In Chromium ----------------------------------------------------------------------------

PAGES = [
    "index.html",
    "posts/margarets-room.html",
    "posts/rooms-inside-rooms.html",
    "posts/three-ways-to-say-no.html",
    "about.html",
    "contributing.html",
    "404.html",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with launched() as browser:
        yield browser


def open_page(chromium: object, url: str) -> tuple[object, object, list[str]]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: m.type == "error" and console.append(m.text))
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    page.add_init_script(WATCH)
    page.goto(url)
    page.wait_for_load_state("load")
    return context, page, console


def wait_until(page: object, expression: str, seconds: float = 15) -> None:
    """Poll from Python: Playwright's wait_for_function evaluates a string, which the policy forbids."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if page.evaluate(expression):  # type: ignore[attr-defined]
                return
        except Exception:  # noqa: BLE001 - the page is reloading under us: ask again
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.2)


def search_finds(page: object, word: str) -> int:
    """Type into search until results come (a query typed before the index is ready finds nothing)."""
    field, results = search_of(page)  # mkdocs-material's search or Zensical's (tests/browser.py)
    page.keyboard.press("/")  # type: ignore[attr-defined]  # the theme's shortcut opens search
    for _attempt in range(8):
        page.fill(field, "")  # type: ignore[attr-defined]
        page.keyboard.type(word)  # type: ignore[attr-defined]  # the theme reads the query on keyup
        page.wait_for_timeout(1500)  # type: ignore[attr-defined]
        found = page.locator(results).count()  # type: ignore[attr-defined]
        if found:
            return found
    return 0


@pytest.mark.browser  # left out of make check, like tests/test_browser.py
@needs_browser
@pytest.mark.parametrize("where", ["http", "file"])
def test_no_page_trips_the_policy_and_search_still_works(chromium: object, generated_site: Path, where: str) -> None:
    with serve(generated_site) as base:
        root = base if where == "http" else generated_site.resolve().as_uri()
        for path in PAGES if where == "http" else PAGES[:-1]:  # 404.html is for a server: absolute paths
            context, page, console = open_page(chromium, f"{root.rstrip('/')}/{path}")
            if path == "posts/margarets-room.html":
                if where == "http":  # the stepper's controls (on file:// every step is simply shown)
                    page.click(".ns-next")  # type: ignore[attr-defined]
                    assert page.locator(".ns-count").inner_text() == f"Step 2 of {STEPS}"  # type: ignore[attr-defined]
                page.locator(".ns-bytes summary:visible").first.click()  # type: ignore[attr-defined]
                assert page.locator(".ns-bytes[open] table:visible").count() >= 1  # type: ignore[attr-defined]
                assert search_finds(page, "notebook") >= 1  # the worker, in an iframe on file://
            page.wait_for_timeout(200)  # type: ignore[attr-defined]
            violations = page.evaluate("window.__csp")  # type: ignore[attr-defined]
            assert violations == [] and console == [], f"{where} {path}: {violations} {console}"
            context.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def injected_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A post that carries markup escaping would have stopped: the policy is the second wall."""
    root = copy_site(tmp_path_factory.mktemp("src"))
    post = root / "docs" / "posts" / "margarets-room.md"
    text = post.read_text(encoding="utf-8")
    attack = (
        "\n<script>window.__inline = 1</script>\n\n"
        '<img src="missing.png" onerror="window.__handler = 1" alt="">\n\n'
        '<a id="js-link" href="javascript:window.__link = 1">a link</a>\n\n'
    )
    post.write_text(text.replace("# Margaret's room\n", "# Margaret's room\n" + attack, 1), encoding="utf-8")
    site = root / "site"
    built = prerun.python(
        ["-m", "mkdocs", "build", "-d", str(site)], cwd=root, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    )
    assert built.returncode == 0, built.stderr
    return site


@pytest.mark.browser  # left out of make check, like tests/test_browser.py
@needs_browser
@pytest.mark.parametrize("where", ["http", "file"])
def test_an_injected_script_handler_or_link_does_not_run(chromium: object, injected_site: Path, where: str) -> None:
    with serve(injected_site) as base:
        root = base if where == "http" else injected_site.resolve().as_uri()
        context, page, _console = open_page(chromium, f"{root}/posts/margarets-room.html")
        page.click("#js-link")  # type: ignore[attr-defined]
        page.wait_for_timeout(300)  # type: ignore[attr-defined]
        ran = page.evaluate("[window.__inline, window.__handler, window.__link]")  # type: ignore[attr-defined]
        assert ran == [None, None, None], f"{where}: injected code ran: {ran}"
        refused = " ".join(page.evaluate("window.__csp"))  # type: ignore[attr-defined]
        assert refused.count("script-src") >= 3, refused  # the script, the handler and the link
        context.close()  # type: ignore[attr-defined]


@pytest.mark.browser  # left out of make check, like tests/test_browser.py
@needs_browser
def test_live_reload_runs_under_the_policy(chromium: object, tmp_path: Path) -> None:
    root = copy_site(tmp_path / "src")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "serve.py", "-a", f"127.0.0.1:{port}", "--livereload"],  # what `make serve` runs
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: "Margaret" in _fetch(base), "the first build")
        context, page, console = open_page(chromium, base + "/posts/margarets-room.html")
        assert "'nonce-" in page.evaluate(  # type: ignore[attr-defined]
            "document.querySelector('meta[http-equiv=Content-Security-Policy]').content"
        )
        page.wait_for_timeout(500)  # type: ignore[attr-defined]
        post = root / "docs" / "posts" / "margarets-room.md"
        time.sleep(0.2)
        post.write_text(post.read_text(encoding="utf-8").replace("notebook", "ledger"), encoding="utf-8")
        wait_until(page, "document.body.textContent.includes('ledger')", seconds=40)
        violations = page.evaluate("window.__csp")  # type: ignore[attr-defined]
        assert violations == [] and console == [], f"{violations} {console}"
        context.close()  # type: ignore[attr-defined]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
