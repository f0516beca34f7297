"""Finding (or installing) Chromium for the browser tests, and serving a built site to it."""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def find_chromium() -> tuple[str | None, str]:
    """(path, reason): Debian's chromium, installed with apt when we are root and it is missing."""
    path = shutil.which("chromium")
    if path:
        return path, ""
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("\nbrowser tests: installing Debian's chromium with apt-get (first run only)...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                return None, f"could not install chromium with apt-get: {done.stderr.strip()[-200:]}"
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


@contextmanager
def serve(directory: Path, compress: bool = False) -> Iterator[str]:
    handler = functools.partial(type("Handler", (_Quiet,), {"gzip": compress}), directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
