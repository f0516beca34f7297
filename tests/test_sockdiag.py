"""The lab's listening sockets, asked over sock_diag, are the ones /proc/net/tcp lists.

After every step the lab lists each namespace's listening TCP sockets. It read /proc/net/tcp inside
the namespace until 2026-12; that walks the machine's whole established hash and cost ~5 ms a
read. It now asks NETLINK_SOCK_DIAG for TCPF_LISTEN only (netsim.lab.sockdiag). Here both are asked
in a network namespace of the test's own, with sockets of every kind the lab meets and some it
should not list, and must name the same sockets; /proc/net/tcp is the referee."""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
import subprocess
import sys
import textwrap

import pytest

from netsim.errors import LabError
from netsim.lab import sockdiag
from netsim.lab.netns import missing_requirement

REASON = missing_requirement()

# In a namespace of its own: a wildcard listener, listeners on one address and on a port two
# sockets share (SO_REUSEPORT), a connection on both ends, a socket bound and not listening, one
# that listened and closed, an IPv6 listener (not IPv4's), and 600 more listeners, so that the dump
# takes more than one read.
SOCKETS = textwrap.dedent(
    """
    import json, socket, subprocess
    from netsim.lab import sockdiag

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    keep = []
    def listener(address, port, family=socket.AF_INET, reuseport=False):
        s = socket.socket(family)
        if reuseport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((address, port))
        s.listen()
        keep.append(s)
        return s
    listener("0.0.0.0", 22)
    door = listener("127.0.0.1", 8080)
    listener("127.0.0.2", 9001, reuseport=True)
    listener("127.0.0.2", 9001, reuseport=True)
    client = socket.create_connection(("127.0.0.1", 8080))
    keep += [client, door.accept()[0]]
    bound = socket.socket()
    bound.bind(("127.0.0.1", 5555))
    keep.append(bound)
    listener("127.0.0.1", 7777).close()
    listener("::", 7000, socket.AF_INET6)
    for port in range(20000, 20600):
        listener("127.0.0.3", port)
    asked = sorted([str(a), p] for a, p in sockdiag.listening_sockets())
    inodes = sorted([str(a), p, i] for a, p, i in sockdiag.listener_inodes(sockdiag._dump()))
    with open("/proc/thread-self/net/tcp") as f:
        proc = f.read()
    print(json.dumps({"asked": asked, "inodes": inodes, "proc": proc}))
    """
)


def proc_listeners(text: str, inodes: bool = False) -> list[list[object]]:
    """The (address, port) of each LISTEN socket in /proc/net/tcp's text, as tcp4_seq_show() prints
    them (net/ipv4/tcp_ipv4.c): the address is a __be32 printed as a host-order number, `st` 0A;
    with `inodes`, each socket's inode too (the tenth column, sock_i_ino())."""
    found = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if int(fields[3], 16) == sockdiag.TCP_LISTEN:
            address, _, port = fields[1].partition(":")
            where = (str(ipaddress.IPv4Address(int(address, 16).to_bytes(4, sys.byteorder))), int(port, 16))
            found.add((*where, int(fields[9])) if inodes else where)
    return sorted(list(f) for f in found)


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_sock_diag_lists_the_listeners_proc_net_tcp_lists() -> None:
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", SOCKETS], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    expected = proc_listeners(read["proc"])
    assert len(expected) == 3 + 600, expected[:5]  # 22, 8080, 9001 once, and the 600
    assert read["asked"] == expected
    with_inodes = proc_listeners(read["proc"], inodes=True)
    assert len(with_inodes) == 4 + 600  # 9001's two sockets, each its own
    assert read["inodes"] == with_inodes


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_a_listener_is_owned_by_the_processes_that_hold_it_and_no_other() -> None:
    # The lab's wait for ssh's forward: ssh's own listener, not another process's on the same port.
    script = textwrap.dedent(
        """
        import os, socket, subprocess, sys, time
        from netsim.lab import sockdiag
        mine = socket.socket(); mine.bind(("127.0.0.1", 19001)); mine.listen()
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        held = os.fork()
        if held == 0:  # a child that inherits the listener holds it too
            time.sleep(30)
            os._exit(0)
        try:
            print(
                sockdiag.owns_listener("127.0.0.1", 19001),
                sockdiag.owns_listener("127.0.0.1", 19001, os.getpid()),
                sockdiag.owns_listener("127.0.0.1", 19001, held),
                sockdiag.owns_listener("127.0.0.1", 19001, other.pid),
                sockdiag.owns_listener("0.0.0.0", 19001),
                sockdiag.owns_listener("127.0.0.1", 19002, os.getpid()),
                sockdiag.owns_listener("127.0.0.1", 19001, 2**22 + 1),
            )
        finally:
            other.kill(); os.kill(held, 9)
        """
    )
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True", "False", "False", "False", "False"]


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_a_listener_in_another_namespace_is_not_listed() -> None:
    script = textwrap.dedent(
        """
        import socket, subprocess, sys
        from netsim.lab import sockdiag
        s = socket.socket(); s.bind(("0.0.0.0", 4444)); s.listen()
        out = subprocess.run(["unshare", "--net", sys.executable, "-c",
                              "from netsim.lab import sockdiag; print(sorted(sockdiag.listening_sockets()))"],
                             capture_output=True, text=True, check=True).stdout.strip()
        print(out, sorted((str(a), p) for a, p in sockdiag.listening_sockets()))
        """
    )
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] [('0.0.0.0', 4444)]"


def diag_msg(family: int, state: int, address: str, port: int) -> bytes:
    """An inet_diag_msg: family, state, timer, retrans, then sport, dport, src[4], dst[4], if, cookie."""
    head = struct.pack("=BBBB", family, state, 0, 0) + port.to_bytes(2, "big") + bytes(2)
    return head + ipaddress.IPv4Address(address).packed + bytes(12 + 16 + 4 + 8 + 20)


def test_the_question_asks_for_ipv4_tcp_listeners_only() -> None:
    # Asking for every state would list the same listeners (the answers are filtered too), but the
    # kernel would walk the whole established hash again: what the change was for.
    asked = sockdiag.request()
    assert len(asked) == 56  # struct inet_diag_req_v2
    assert asked[:8] == struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 1 << 10)
    assert asked[8:] == bytes(48)


def test_answers_are_read_by_their_fields() -> None:
    answers = [
        (sockdiag.SOCK_DIAG_BY_FAMILY, diag_msg(socket.AF_INET, sockdiag.TCP_LISTEN, "10.0.0.2", 9001)),
        (sockdiag.SOCK_DIAG_BY_FAMILY, diag_msg(socket.AF_INET, 1, "10.0.0.2", 40000)),  # ESTABLISHED
        (sockdiag.SOCK_DIAG_BY_FAMILY, diag_msg(socket.AF_INET6, sockdiag.TCP_LISTEN, "10.0.0.3", 22)),
    ]
    assert sockdiag.listeners(answers) == {(ipaddress.IPv4Address("10.0.0.2"), 9001)}
    inode = answers[0][1][:68] + struct.pack("=I", 424242) + answers[0][1][72:]
    assert sockdiag.listener_inodes([(sockdiag.SOCK_DIAG_BY_FAMILY, inode)]) == [
        (ipaddress.IPv4Address("10.0.0.2"), 9001, 424242)
    ]
    with pytest.raises(LabError, match="an answer of type 16 and 20 bytes to a sock_diag dump"):
        sockdiag.listeners([(16, bytes(20))])
