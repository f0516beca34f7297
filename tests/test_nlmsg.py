"""Reading a netlink dump (netsim.lab.nlmsg): answers by sequence, the end, errors, interruptions."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest

from netsim.errors import LabError
from netsim.lab import nlmsg


def message(kind: int, seq: int, body: bytes, flags: int = 2) -> bytes:
    length = nlmsg.NLMSGHDR.size + len(body)
    return nlmsg.NLMSGHDR.pack(length, kind, flags, seq, 0) + body + bytes(-length % 4)


def test_answers_to_this_question_are_kept_in_order_and_the_end_is_seen() -> None:
    data = (
        message(20, 5, b"one")
        + message(20, 4, b"old")
        + message(20, 5, b"two")
        + message(nlmsg.NLMSG_DONE, 5, bytes(4))
    )
    answers, done, interrupted = nlmsg.parse(data, 5, "a test")
    assert answers == [(20, b"one"), (20, b"two")] and done and not interrupted
    assert nlmsg.parse(data[: -nlmsg.NLMSGHDR.size - 4], 5, "a test")[1] is False


@pytest.mark.parametrize("kind", [nlmsg.NLMSG_ERROR, nlmsg.NLMSG_DONE])
def test_an_error_the_kernel_answers_is_a_lab_error_at_the_end_too(kind: int) -> None:
    # A dump that fails half way (tcp_diag could not be loaded) says so in NLMSG_DONE's payload.
    with pytest.raises(LabError, match="No such file or directory to a test"):
        nlmsg.parse(message(kind, 1, struct.pack("=i", -2)), 1, "a test")


def test_a_short_error_and_a_message_longer_than_the_read_are_lab_errors() -> None:
    with pytest.raises(LabError, match="short error message"):
        nlmsg.parse(message(nlmsg.NLMSG_ERROR, 1, b""), 1, "a test")
    whole = message(20, 1, bytes(8))
    with pytest.raises(LabError, match="message of 64 bytes at 0 of 24, answering a test"):
        nlmsg.parse(struct.pack("=I", 64) + whole[4:], 1, "a test")


def test_an_interrupted_dump_is_flagged_even_on_its_end() -> None:
    done = message(nlmsg.NLMSG_DONE, 1, bytes(4), flags=2 | nlmsg.NLM_F_DUMP_INTR)
    assert nlmsg.parse(message(20, 1, b"x") + done, 1, "a test")[2] is True


class FakeSocket:
    """A netlink socket whose dumps are interrupted `cuts` times, then answered whole in two reads."""

    asked: list[bytes] = []
    cuts = 0

    def __init__(self, *args: Any) -> None:
        self.reads: list[bytes] = []

    def __enter__(self) -> FakeSocket:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def settimeout(self, seconds: float) -> None:
        self.timeout = seconds

    def recvmsg(self, size: int) -> tuple[bytes, list[Any], int, Any]:
        return self.recv(size), [], 0, None

    def sendto(self, data: bytes, address: object) -> None:
        FakeSocket.asked.append(data)
        seq = nlmsg.NLMSGHDR.unpack_from(data)[3]
        flags = 2 | (nlmsg.NLM_F_DUMP_INTR if FakeSocket.cuts else 0)
        FakeSocket.cuts = max(0, FakeSocket.cuts - 1)
        self.reads = [message(20, seq, b"a"), message(20, seq, b"b") + message(nlmsg.NLMSG_DONE, seq, bytes(4), flags)]

    def recv(self, size: int) -> bytes:
        return self.reads.pop(0)


def test_a_dump_is_read_to_its_end_and_asked_again_when_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", FakeSocket)
    FakeSocket.asked, FakeSocket.cuts = [], 2
    assert nlmsg.dump(socket.SOCK_RAW, 0, 18, b"req", "a test") == [(20, b"a"), (20, b"b")]
    assert len(FakeSocket.asked) == 3
    assert FakeSocket.asked[0] == nlmsg.NLMSGHDR.pack(19, 18, nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_DUMP, 1, 0) + b"req"
    FakeSocket.asked, FakeSocket.cuts = [], nlmsg.TRIES
    with pytest.raises(LabError, match="interrupted 10 times"):
        nlmsg.dump(socket.SOCK_RAW, 0, 18, b"req", "a test")


class AckSocket(FakeSocket):
    """A netlink socket that answers a request with `answers`, one read each."""

    sent: list[bytes] = []
    answers: list[bytes] = []

    def sendto(self, data: bytes, address: object) -> None:
        AckSocket.sent.append(data)

    def recv(self, size: int) -> bytes:
        return AckSocket.answers.pop(0)


def test_a_command_asks_for_an_acknowledgement_and_waits_for_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", AckSocket)
    # Another request's acknowledgement, and another message of this one, come first: neither ends the wait.
    AckSocket.sent = []
    AckSocket.answers = [
        message(nlmsg.NLMSG_ERROR, 7, bytes(4)) + message(16, 1, b"x"),
        message(nlmsg.NLMSG_ERROR, 1, bytes(20)),
    ]
    nlmsg.command(socket.SOCK_RAW, 0, 16, b"body", "a test")
    assert AckSocket.sent == [nlmsg.NLMSGHDR.pack(20, 16, nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK, 1, 0) + b"body"]
    assert AckSocket.answers == []
    AckSocket.answers = [message(nlmsg.NLMSG_ERROR, 1, struct.pack("=i", -19) + bytes(16))]
    with pytest.raises(LabError, match="^netlink: the kernel answered No such device to a test$"):
        nlmsg.command(socket.SOCK_RAW, 0, 16, b"body", "a test")
    AckSocket.answers = [message(nlmsg.NLMSG_ERROR, 1, b"")]
    with pytest.raises(LabError, match="a short error message to a test"):
        nlmsg.command(socket.SOCK_RAW, 0, 16, b"body", "a test")
    AckSocket.answers = [nlmsg.NLMSGHDR.pack(40, nlmsg.NLMSG_ERROR, 0, 1, 0) + bytes(4)]
    with pytest.raises(LabError, match="a message of 40 bytes at 0 of 20, answering a test"):
        nlmsg.command(socket.SOCK_RAW, 0, 16, b"body", "a test")


def test_a_read_that_waits_too_long_is_cut_short_or_fails_is_a_lab_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No answer within TIMEOUT, an answer longer than the buffer (MSG_TRUNC) and the socket's own error
    (ENOBUFS: the kernel dropped answers) each end the read with a LabError naming what was asked."""

    class Silent(FakeSocket):
        def recvmsg(self, size: int) -> tuple[bytes, list[Any], int, Any]:
            assert self.timeout == nlmsg.TIMEOUT  # the read waits no longer than this
            raise TimeoutError

    class Long(FakeSocket):
        def recvmsg(self, size: int) -> tuple[bytes, list[Any], int, Any]:
            return bytes(size), [], socket.MSG_TRUNC, None

    class Dropped(FakeSocket):
        def recvmsg(self, size: int) -> tuple[bytes, list[Any], int, Any]:
            raise OSError(105, "No buffer space available")

    for fake, said in (
        (Silent, "no answer in 10 s to a test"),
        (Long, "an answer longer than 65536 bytes, cut short, to a test"),
        (Dropped, "reading the answer to a test: No buffer space available"),
    ):
        monkeypatch.setattr(socket, "socket", fake)
        FakeSocket.cuts = 0
        with pytest.raises(LabError, match=f"^netlink: {said}$"):
            nlmsg.dump(socket.SOCK_RAW, 0, 18, b"req", "a test")
