"""The lab's capture threads stop before their sockets close (no "Bad file descriptor" traceback).

A lab interrupted mid-step (Ctrl-C, a failed command) closes its Watch while the reading thread
is still in select(). Closing the sockets under it made the thread die with a traceback. This
needs no root: any socket stands in for an AF_PACKET one, and a writer keeps the reader busy.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from netsim.lab.capture import Watch


class PacketLike(socket.socket):
    """One end of a socket pair that answers recvmsg() with an AF_PACKET-shaped address."""

    def recvmsg(self, *args: int) -> tuple:  # type: ignore[override]
        data, ancdata, flags, _ = super().recvmsg(*args)
        return data, ancdata, flags, ("p0", 3, 0, 1, b"")  # PACKET_HOST: arriving, not outgoing


def packet_pair() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    return PacketLike(fileno=ours.detach()), theirs


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Exceptions that escaped any thread (what threading prints as a traceback)."""
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


def test_closing_a_watch_mid_step_stops_its_reader_first(thread_errors: list[BaseException]) -> None:
    for _ in range(5):
        watch = Watch()
        pairs = [packet_pair() for _ in range(3)]
        for n, (ours, _theirs) in enumerate(pairs):
            ours.setblocking(False)
            watch.sockets[ours] = ("br0", f"p{n}")
        writing = threading.Event()
        writing.set()

        def write(pairs: list = pairs, writing: threading.Event = writing) -> None:
            while writing.is_set():
                for _, theirs in pairs:
                    try:
                        theirs.send(b"\xff" * 60)
                    except OSError:
                        return
                time.sleep(0.001)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        watch.start()
        time.sleep(0.05)  # the reader is in its loop, reading
        reader = watch._thread
        watch.close()  # as Lab.close() does when a step is interrupted
        time.sleep(0.1)  # a reader left running would now trip over the closed sockets
        writing.clear()
        writer.join()
        for _, theirs in pairs:
            theirs.close()
        assert reader is not None and not reader.is_alive()
        assert all(sock.fileno() == -1 for sock, _ in pairs)
    assert thread_errors == []
