"""The try-it script's output lines stay whole: every program that writes to the script's output
writes a line in one write(), and ssh's own messages are shown between the script's lines, never
at the moment ssh writes them (they once ran onto a knock's "read -> eof" under load: issue 12)."""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from netsim.render.labscript import render
from netsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
DOORMAN = ROOT / "diagrams" / "the-doormans-address.yaml"


def knock_program(script: str) -> str:
    """The Python program the script's knock() runs (its here-document)."""
    body = script.split("\nknock() {", 1)[1]
    return body.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]


class WriteThrough:
    """sys.stdout as PYTHONUNBUFFERED makes it (write_through): each write() call is its own write()."""

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks

    def write(self, text: str) -> int:
        self.chunks.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_a_knock_writes_each_line_in_one_write_even_unbuffered(monkeypatch: pytest.MonkeyPatch) -> None:
    # A doorman that closes what it accepts: the knock connects, then reads end-of-file.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept()[0].close(), daemon=True).start()
    chunks: list[str] = []
    monkeypatch.setattr(sys, "stdout", WriteThrough(chunks))
    monkeypatch.setattr(os, "write", lambda fd, data: chunks.append(data.decode()) or len(data))
    monkeypatch.setattr(os, "fork", lambda: 1)  # the parent's side: it exits; no child keeps the socket
    monkeypatch.setattr(sys, "argv", ["-", "127.0.0.1", str(port), "0", "0", "0", "read"])
    monkeypatch.setenv("START_US", str(time.time_ns() // 1000 - 2_500_000))  # the script began 2.5 s ago
    with pytest.raises(SystemExit):
        exec(knock_program(render(load_scenario(DOORMAN))), {"__name__": "__main__"})  # noqa: S102
    server.close()
    mark, *said = chunks
    found = re.fullmatch(r"# at (\d+\.\d{6}) s: first packet leaves\n", mark)  # when the SYN left
    assert found and 2.5 <= float(found.group(1)) < 60, mark
    assert said == [f"connect 127.0.0.1:{port} -> connected\n", "read -> eof\n"]


def test_sshs_messages_go_to_its_file_and_are_shown_between_lines() -> None:
    script = render(load_scenario(DOORMAN))
    assert "tee" not in script  # nothing copies ssh's standard error onto the script's output as it comes
    forward = script.split("\nssh_forward() {", 1)[1].split("\n}\n", 1)[0]
    assert '-L "$3" "root@$2" 2>"$log" &' in forward
    assert forward.rstrip().splitlines()[-5].strip().startswith("ssh_said")
    knock = script.split("\nknock() {", 1)[1].split("\n}\n", 1)[0]
    assert knock.splitlines()[-1].strip() == "ssh_said"  # after the knock's lines, before the step's tables
