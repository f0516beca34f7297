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
from typing import Any

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


def send_frame_program(script: str) -> str:
    """The Python program the script's send_frame() runs (its here-document)."""
    body = script.split("\nsend_frame() {", 1)[1]
    return body.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]


# Every post's scenario that writes a frame by hand (notes, a group-signed note, a broadcast into a
# new cable, SYNs), and ARP questions written by hand, which no post has yet.
FRAME_SCENARIOS = [
    *sorted(p for p in (ROOT / "diagrams").glob("*.yaml") if "send:" in p.read_text() or "sends:" in p.read_text()),
    ROOT / "tests" / "lab_scenarios" / "arp-senders-crafted.yaml",
]


@pytest.mark.parametrize("path", FRAME_SCENARIOS, ids=lambda p: p.stem)
def test_a_frame_the_script_writes_is_the_frame_the_page_shows(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The byte view and the capture show a note as 40 bytes and an ARP packet as 42, as the kernel
    # sends them on a veth cable (it pads nothing there: netif_receive counts a gratuitous ARP as 42
    # bytes). The script once padded every frame it wrote to 60, so a reader's own capture differed.
    import builtins
    import io

    from netsim import plan, wire
    from netsim.simulation import run as simulate

    scenario = load_scenario(path)
    trace = simulate(scenario)
    program = send_frame_program(render(scenario))
    sent: list[bytes] = []

    class Socket:  # AF_PACKET as the program uses it: bind to a device, send one whole frame
        def __init__(self, *args: object) -> None:
            pass

        def bind(self, address: object) -> None:
            pass

        def send(self, frame: bytes) -> int:
            sent.append(frame)
            return len(frame)

    checked = 0
    for step in scenario.steps:
        ops = [op for op in plan.step_ops(scenario, step) if op.argv and op.argv[0] == "send_frame"]
        if not ops:
            continue
        shown = [wire.encode(hop) for hop in trace.step(step.id).frames]
        for op in ops:
            host, dev = op.argv[1], op.argv[2]
            own = trace.step(step.id).links[host][dev]["mac"]

            def fake_open(p: object, *a: Any, own: str = own, real: Any = builtins.open, **k: Any) -> Any:
                return io.StringIO(own + "\n") if str(p).startswith("/sys/") else real(p, *a, **k)

            monkeypatch.setattr(socket, "socket", Socket)
            monkeypatch.setattr(builtins, "open", fake_open)
            monkeypatch.setattr(sys, "argv", ["-", *op.argv[2:]])
            monkeypatch.setenv("START_US", str(time.time_ns() // 1000))  # the script's clock, which it prints
            exec(program, {"__name__": "__main__"})  # noqa: S102
            monkeypatch.undo()
            frame = sent.pop()
            page = [f.hex() for f in shown]
            said = f"{path.stem} {step.id}: the script writes {len(frame)} bytes {frame.hex()}; the page shows {page}"
            assert frame in shown, said
            checked += 1
    assert checked, f"{path.stem}: no step writes a frame by hand"


def test_a_knock_that_connects_keeps_its_connection_open_as_the_lab_does() -> None:
    # The lab holds every connection it makes until the end, so its figures show no FIN. The
    # script's knock once closed a connection it did not read from, and the reader's own capture
    # had a FIN and its answer the figure did not. Now a child process keeps it, as for a read.
    import signal
    import subprocess
    import tempfile

    program = knock_program(render(load_scenario(DOORMAN)))
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    with tempfile.NamedTemporaryFile("r") as kept:
        done = subprocess.run(
            [sys.executable, "-c", program, "127.0.0.1", str(port)],
            env={**os.environ, "KEPT": kept.name, "START_US": str(time.time_ns() // 1000)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.stdout.splitlines()[-1] == f"connect 127.0.0.1:{port} -> connected"
        conn, _ = server.accept()
        conn.settimeout(1.0)
        try:
            with pytest.raises(TimeoutError):  # nothing comes: no FIN while the script runs
                conn.recv(1)
        finally:
            pids = [int(p) for p in kept.read().split()]
            for pid in pids:
                os.kill(pid, signal.SIGTERM)
        assert len(pids) == 1
        conn.settimeout(10)
        assert conn.recv(1) == b""  # and the FIN comes when the script's cleanup ends the keeper
        conn.close()
    server.close()


def listen_program(script: str) -> str:
    """The Python program the script's listen_on() runs (its single-quoted argument)."""
    body = script.split("\nlisten_on() {", 1)[1]
    return body.split("python3 -c '\n", 1)[1].split('\n\' "$2"', 1)[0]


def test_stopping_a_listener_closes_the_doorway_not_what_it_accepted() -> None:
    # The lab's close_on closes the listening socket alone; accepted connections stay open until the
    # end. The script's listener once kept them in its own process, so close_on's kill sent a FIN the
    # figures lack (cold read 8: post one's step 20 on podman0). Now a keeper per connection holds it.
    import signal
    import subprocess
    import tempfile

    program = listen_program(render(load_scenario(DOORMAN)))
    with tempfile.TemporaryDirectory() as tmp, tempfile.NamedTemporaryFile("r") as kept:
        probe = socket.create_server(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        ready = os.path.join(tmp, "said")
        listener = subprocess.Popen(
            [sys.executable, "-c", program, "127.0.0.1", str(port), ready], env={**os.environ, "KEPT": kept.name}
        )
        try:
            for _ in range(600):
                if os.path.exists(ready):
                    break
                time.sleep(0.05)
            assert Path(ready).read_text().strip() == "listening"
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            for _ in range(600):  # the keeper writes its pid once it holds the connection
                if kept.read().strip():
                    break
                kept.seek(0)
                time.sleep(0.05)
            kept.seek(0)
        finally:
            listener.send_signal(signal.SIGTERM)  # close_on's kill
            listener.wait(timeout=30)
        pids = [int(p) for p in kept.read().split()]
        assert len(pids) == 1
        try:
            with pytest.raises(ConnectionRefusedError):  # the doorway is closed: the keeper holds no listener
                socket.create_connection(("127.0.0.1", port), timeout=10)
            client.settimeout(1.0)
            with pytest.raises(TimeoutError):  # and the accepted connection stays: no FIN
                client.recv(1)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGTERM)
        client.settimeout(10)
        assert client.recv(1) == b""  # the FIN comes when the script's cleanup ends the keeper
        client.close()
