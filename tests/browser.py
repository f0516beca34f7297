"""Finding (or installing) Chromium for the browser tests, and serving a built site to it."""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netsim.lab.netns import apt_install

SHELL = "chromium-headless-shell"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@functools.cache
def find_chromium(shell: bool = True) -> tuple[str | None, str]:
    """(path, reason): the Chromium the tests drive, installed with apt when we are root and it is missing.

    Debian's `chromium-headless-shell` first: Chromium's headless shell, the same Blink and V8 without
    the full browser around them, and what Playwright itself launches for headless Chromium. The mkdocs
    half of the browser tests (136) took 330 CPU s of the machine with `chromium` and 165 with it, on
    the same two cores (most of that CPU is Chromium's own, never counted as the tests'). Where the
    shell cannot be had, Debian's `chromium`, said on stderr. `shell=False`: `chromium` only (the
    audit's Lighthouse wants the full browser)."""
    if shell:
        if shutil.which(SHELL) is not None or apt_install(SHELL):
            return shutil.which(SHELL), ""
        print(f"{SHELL} is missing and apt cannot install it here: driving chromium (twice the CPU)", file=sys.stderr)
    if shutil.which("chromium") is None and apt_install("chromium") is False and os.geteuid() == 0:
        return None, "could not install chromium with apt-get (Debian package `chromium`)"
    path = shutil.which("chromium")
    if path:
        return path, ""
    return None, "Chromium is not installed (Debian package `chromium`) and cannot be installed without root and apt"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves the built site; with `gzip`, compresses text as every static host does."""

    gzip = False

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def send_head(self):  # noqa: ANN201 - the base class's signature
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        wants = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (self.gzip and wants and path.is_file() and path.suffix in COMPRESSIBLE):
            return super().send_head()
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


COMPRESSIBLE = {".html", ".css", ".js", ".json", ".svg", ".xml", ".txt"}


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A browser that moves on while a file is still being sent closes its connection: normal,
        and not worth a traceback in the test log. Any other error is printed as before."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve(directory: Path, compress: bool = False) -> Iterator[str]:
    handler = functools.partial(type("Handler", (_Quiet,), {"gzip": compress}), directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextmanager
def launched() -> Iterator[object]:
    """Chromium through Playwright, closed afterwards (the caller has checked find_chromium())."""
    from playwright.sync_api import sync_playwright

    path, why = find_chromium()
    assert path is not None, why
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# The theme's search, as a reader types into it: mkdocs-material's form and result list, or the
# dialog Zensical 0.0.73 opens in an open shadow root (Playwright's CSS selectors reach into it).
SEARCH = {
    "mkdocs": ("input.md-search__input", ".md-search-result__list a"),
    "zensical": ("dialog[open] input[role=combobox]", "dialog[open] ol[role=listbox] a[role=option]"),
}


def search_of(page: object) -> tuple[str, str]:
    """(input, result link) selectors of the search on this page, by the generator that built it."""
    generator = page.evaluate(  # type: ignore[attr-defined]
        "() => (document.querySelector('meta[name=generator]') || {content: ''}).content"
    )
    return SEARCH["zensical" if generator.startswith("zensical") else "mkdocs"]
