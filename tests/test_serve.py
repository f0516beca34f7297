"""`mkdocs serve` as a writer uses it: edits to a post, a scenario or netsim show on reload."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sitecopy import copy_small_site

PAGE = "/posts/margarets-room.html"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch(base: str) -> str:
    with urllib.request.urlopen(base + PAGE, timeout=5) as response:  # noqa: S310 - our own server
        return response.read().decode("utf-8")


# How long an edit may take to show: a deadline for a server that missed the edit, not a measure of
# speed (`make bench` measures a rebuild). A netsim edit re-renders every post's figures, ~8 CPU s;
# on two cores shared with other work (load 20) that took over 40 s of wall time, failing the test
# with the server still rebuilding. The wait ends as soon as the page shows the edit.
DEADLINE = 300


def _wait_for(check: Callable[[], bool], what: str, seconds: float = DEADLINE) -> None:
    started = time.monotonic()
    while time.monotonic() < started + seconds:
        try:
            if check():
                print(f"{what}: shown after {time.monotonic() - started:.1f} s, load {os.getloadavg()[0]:.1f}")
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} ({seconds} s, load {os.getloadavg()[0]:.1f})")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str, subprocess.Popen[str]]]:
    # Post one and the cheapest other (tests/sitecopy.py; the decoder needs a post of its words): a
    # netsim edit re-renders every page, and what a reload shows does not depend on how many there are.
    root = copy_small_site(tmp_path / "src", ("margarets-room", "a-name-for-the-host"))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    port = _free_port()
    # The server's log goes to a file: a pipe nobody reads fills up (64 KiB) and blocks the server
    # mid-rebuild once a page logs enough warnings.
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "serve.py", "-a", f"127.0.0.1:{port}", "--livereload"],  # what `make serve` runs
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
        # Its temporary site in a folder of the test's, to see it removed when the server is stopped.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "TMPDIR": str(temporary)},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: "Margaret" in _fetch(base), "the first build")
        yield root, base, proc
        assert list(temporary.glob("mkdocs_*")), "the served site is not where TMPDIR says"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()
    # SIGTERM ends serve.py as Ctrl-C does: mkdocs removes its temporary site (in /dev/shm, memory).
    assert not list(temporary.glob("mkdocs_*"))


def _edit(root: Path, name: str, old: str, new: str) -> None:
    """A save as an editor that renames makes it, the new file written beside the site, outside
    the watched folders: one event, so one rebuild however slowly a loaded machine writes."""
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    time.sleep(0.2)
    saved = root.parent / "saved"
    saved.write_text(text.replace(old, new), encoding="utf-8")
    os.replace(saved, path)


def _rebuilds(root: Path) -> int:
    return (root.parent / "serve.log").read_text(encoding="utf-8").count("Detected file changes")


def test_edits_to_netsim_a_scenario_and_a_post_show_without_a_restart(
    served: tuple[Path, str, subprocess.Popen[str]],
) -> None:
    root, base, proc = served
    _edit(root, "netsim/render/words.py", '"forward": "forwarded to"', '"forward": "walked straight to"')
    _wait_for(lambda: "walked straight to" in _fetch(base), "the netsim edit")

    _edit(root, "diagrams/margarets-room.yaml", "label: Carlos", "label: Carla")
    _wait_for(lambda: re.search(r"Carla(&#x27;|&#39;|')s test frame", _fetch(base)) is not None, "the scenario edit")

    _edit(root, "docs/posts/margarets-room.md", "an old acquaintance", "an old friend")
    _wait_for(lambda: "an old friend" in _fetch(base), "the prose edit")

    # A false claim while serving: a red box in the page, and the server keeps running.
    _edit(
        root,
        "docs/posts/margarets-room.md",
        'claim("alice-replies", decision="forward", copies_to=["bob"])',
        'claim("alice-replies", decision="flood", copies_to=["bob"])',
    )
    _wait_for(lambda: 'class="ns-error"' in _fetch(base), "the error box")
    assert proc.poll() is None

    # One rebuild for each save: what a rebuild reads or writes is not heard as an edit (serve.py's
    # EDITS); when it was, each rebuild asked for the next, for ever.
    time.sleep(2)
    assert _rebuilds(root) == 4
