"""One netlink dump, asked and read: the part netsim.lab.sockdiag and netsim.lab.rtlink share (and
one request the kernel acknowledges, command()).

A dump's answers come in as many reads as the kernel needs (netlink_dump() in
net/netlink/af_netlink.c fills one buffer a read), each a run of messages behind a struct nlmsghdr
(include/uapi/linux/netlink.h). It ends with NLMSG_DONE, whose payload is the dump's own return
value: an error met half way (a protocol module that could not be loaded, say) comes there, not
as an NLMSG_ERROR, and is an error here too, as iproute2's rtnl_dump_done() makes it one. A dump the
kernel saw its table change under is flagged NLM_F_DUMP_INTR (nl_dump_check_consistent()) and may
lack an entry: it is asked again.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

from netsim.errors import LabError

NLMSGHDR = struct.Struct("=IHHII")  # nlmsg_len, nlmsg_type, nlmsg_flags, nlmsg_seq, nlmsg_pid
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR = 0x1, 0x4, 0x300, 0x10
NLMSG_ERROR, NLMSG_DONE = 2, 3
ERRNO = struct.Struct("=i")  # the int that starts NLMSG_ERROR's and NLMSG_DONE's payload
TRIES = 10  # an interrupted dump asked again at most this often
# How long a read may wait for the kernel's next part. A dump answers at once (netlink_dump() runs in
# the recvmsg() that asks for more); a read that waits this long will never be answered.
TIMEOUT = 10.0
BUFFER = 65536  # more than one read of a dump holds (netlink_dump(): at most 32 KiB, or the reader's size)


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Turn what a malformed answer makes Python raise (an attribute of the wrong length for
    struct.unpack(), an empty one indexed, an address of the wrong size for inet_ntop()) into a LabError
    that names `what` was asked, as every other fault in an answer is. The kernel does not send such
    answers; a reader that met one should say so, not stop with a bare traceback."""
    try:
        yield
    except (struct.error, ValueError, IndexError, KeyError) as e:
        raise LabError(f"netlink: an answer the lab could not read ({type(e).__name__}: {e}), answering {what}") from e
    except LabError as e:
        if what in str(e):
            raise
        raise LabError(f"{e}, answering {what}") from e


def receive(sock: socket.socket, what: str) -> bytes:
    """One read of the socket: a read cut short (MSG_TRUNC: the message was longer than the buffer),
    no answer within TIMEOUT or the socket's own error (ENOBUFS when the kernel dropped answers) is a
    LabError naming `what` was asked."""
    try:
        data, _ancillary, flags, _address = sock.recvmsg(BUFFER)
    except TimeoutError as e:
        raise LabError(f"netlink: no answer in {TIMEOUT:g} s to {what}") from e
    except OSError as e:
        raise LabError(f"netlink: reading the answer to {what}: {e.strerror or e}") from e
    if flags & socket.MSG_TRUNC:
        raise LabError(f"netlink: an answer longer than {BUFFER} bytes, cut short, to {what}")
    return data


def request(kind: int, body: bytes, seq: int, flags: int = NLM_F_DUMP) -> bytes:
    """A request (a dump unless `flags` say otherwise): the header, then the family's request struct."""
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0) + body


def _messages(data: bytes, what: str) -> Iterator[tuple[int, int, int, bytes]]:
    """The (type, flags, seq, payload) of each message in one read; one that does not fit the read is
    a LabError that names `what` was asked."""
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, kind, flags, seq, _pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size or offset + length > len(data):
            raise LabError(f"netlink: a message of {length} bytes at {offset} of {len(data)}, answering {what}")
        yield kind, flags, seq, data[offset + NLMSGHDR.size : offset + length]
        offset += (length + 3) & ~3  # NLMSG_ALIGN


def _check(kind: int, body: bytes, what: str) -> None:
    """An NLMSG_ERROR's or NLMSG_DONE's payload: an error in it (or an NLMSG_ERROR too short to hold
    one) is a LabError that names `what` was asked; error 0 is an acknowledgement, or a dump's end."""
    error = ERRNO.unpack_from(body)[0] if len(body) >= ERRNO.size else 0
    if error < 0 or (kind == NLMSG_ERROR and len(body) < ERRNO.size):
        said = os.strerror(-error) if error < 0 else "a short error message"
        raise LabError(f"netlink: the kernel answered {said} to {what}")


def parse(data: bytes, seq: int, what: str) -> tuple[list[tuple[int, bytes]], bool, bool]:
    """The (type, payload) of each answer to `seq` in one read, whether the dump ended in it, and
    whether any of its messages (NLMSG_DONE too) says the dump was interrupted. An error the kernel
    answered, or a message that does not fit the read, is a LabError that names `what` was asked."""
    answers: list[tuple[int, bytes]] = []
    interrupted = False
    for kind, flags, got_seq, body in _messages(data, what):
        if got_seq != seq:
            continue  # not an answer to this question
        interrupted |= bool(flags & NLM_F_DUMP_INTR)
        if kind in (NLMSG_ERROR, NLMSG_DONE):
            _check(kind, body, what)
            if kind == NLMSG_DONE:
                return answers, True, interrupted
            continue  # an acknowledgement (error 0), which a dump is not sent
        answers.append((kind, body))
    return answers, False, interrupted


def bodies(answers: list[tuple[int, bytes]], kind: int, size: int, what: str) -> Iterator[bytes]:
    """Each answer's payload, in order, each checked to be a message of type `kind` holding at least
    the family's struct (`size` bytes): any other is a LabError that names `what` was asked."""
    for got, body in answers:
        if got != kind or len(body) < size:
            raise LabError(f"netlink: an answer of type {got} and {len(body)} bytes to {what}")
        yield body


def dump(family: int, protocol: int, kind: int, body: bytes, what: str) -> list[tuple[int, bytes]]:
    """Ask a dump on a new netlink socket of this thread's network namespace (the socket is the
    namespace's it is made in: call it inside netns.inside()) and read it to its end."""
    for seq in range(1, TRIES + 1):
        answers: list[tuple[int, bytes]] = []
        interrupted = done = False
        with socket.socket(socket.AF_NETLINK, family, protocol) as sock:
            sock.settimeout(TIMEOUT)
            sock.sendto(request(kind, body, seq), (0, 0))
            while not done:
                part, done, cut = parse(receive(sock, what), seq, what)
                answers += part
                interrupted |= cut
        if not interrupted:
            return answers
    raise LabError(f"netlink: {what} was interrupted {TRIES} times by changes to the table")


def command(sock_type: int, protocol: int, kind: int, body: bytes, what: str) -> None:
    """Send one request asking for an acknowledgement (NLM_F_ACK) on a new netlink socket of this
    thread's network namespace, and wait for it: NLMSG_ERROR with error 0 (netlink_ack() in
    net/netlink/af_netlink.c), as iproute2's rtnl_talk() waits. An error is a LabError naming `what`."""
    seq = 1
    with socket.socket(socket.AF_NETLINK, sock_type, protocol) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(request(kind, body, seq, NLM_F_ACK), (0, 0))
        while True:
            for got, _flags, got_seq, answer in _messages(receive(sock, what), what):
                if got == NLMSG_ERROR and got_seq == seq:
                    _check(got, answer, what)
                    return
