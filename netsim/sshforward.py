"""ssh -L: where the client's listener stands, and what it does with each connection it accepts.

Read from OpenSSH's channels.c (channel_fwd_bind_addr(), channel_setup_fwd_listener_tcpip(),
channel_input_open_failure()) and ssh(1). The client binds a listener; for every connection it
accepts it opens a "direct-tcpip" channel inside the SSH connection, and the *server* connects
to the target. When that connect fails, the server answers the channel open with a failure, the
client logs `channel N: open failed: connect failed: REASON` and closes the accepted socket: the
program that connected sees end-of-file, never the refusal itself.

Written against netsim.stack.Stack: the simulation lends it a way to connect from a namespace
and to close an accepted connection; it never sees the Simulation itself.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from netsim.netns import Namespace, Settled
    from netsim.stack import Stack

# How long after the handshake sshd's version banner (netsim.frames.SSH_BANNER) leaves: the listener
# forks and re-executes sshd for the connection first (the lab's captures: 6 to 27 ms on a loaded
# machine; netsim takes one value).
BANNER_DELAY = 0.010
# sshd's LoginGraceTime (OpenSSH's default; the lab's sshd_config, netsim.lab.openssh, sets none): a
# connection that has not logged in by then is closed by sshd (grace_alarm_handler(), sshd.c).
LOGIN_GRACE_TIME = 120.0
# sshd's MaxStartups start value (OpenSSH's default 10:30:100, which the lab keeps): with this many
# connections not yet logged in, sshd drops each new one with a probability of 30%, rising to 100% at
# 100 (drop_connection() in sshd.c): at random, so netsim refuses a scenario that gets there.
MAX_STARTUPS = 10
LOOPBACK = "127.0.0.1"
WILDCARD = "0.0.0.0"
SSH_PORT = 22

# [BIND:]PORT:HOST:HOSTPORT with BIND empty, '*', 'localhost' or an IPv4 address, and HOST
# 'localhost' or an IPv4 address. IPv6 forms ([::1]:...) and host names are not modelled.
_IPV4 = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
# Digits are ASCII ones: Python's \d (and int()) would take a port written in other scripts' digits.
_SPEC = re.compile(
    rf"(?:(?P<bind>{_IPV4}|localhost|\*)?(?P<colon>:))?(?P<port>[0-9]+):(?P<host>[^:]+):(?P<hostport>[0-9]+)"
)

# strerror() of the errno a failed connect() gets, as the server puts it in its open-failure message.
STRERROR = {
    "refused": "Connection refused",
    "host-unreachable": "No route to host",
    "network-unreachable": "Network is unreachable",
    "timeout": "Connection timed out",
}

BIND_STRERROR = {"address-not-available": "Cannot assign requested address", "address-in-use": "Address already in use"}


@dataclass(frozen=True)
class Forward:
    """One -L forward as ssh parses it: the bind address as written (None when left out)."""

    bind: str | None
    port: int
    host: str
    hostport: int

    def text(self) -> str:
        lead = "" if self.bind is None else f"{self.bind}:"
        return f"{lead}{self.port}:{self.host}:{self.hostport}"


def parse(text: str) -> Forward | None:
    """'10.88.0.1:19001:localhost:9001' -> Forward, or None when it is not that shape."""
    m = _SPEC.fullmatch(text)
    if m is None:
        return None
    bind = m.group("bind") if m.group("colon") else None
    if bind is None and m.group("colon"):
        bind = ""  # ':19001:...' is an empty bind address, which ssh reads as the wildcard
    port, hostport = int(m.group("port")), int(m.group("hostport"))
    if not (0 < port < 65536 and 0 < hostport < 65536):
        return None
    # BIND may also be empty or '*' (every address); HOST is where sshd connects: '*' names no host
    # (getaddrinfo() fails on it), so it is not taken there.
    for addr, wildcards in ((bind, (None, "", "*")), (m.group("host"), ())):
        if addr not in (*wildcards, "localhost"):
            try:
                ipaddress.IPv4Address(addr)
            except ValueError:
                return None
    return Forward(bind, port, m.group("host"), hostport)


def bind_addresses(forward: Forward, gateway_ports: bool) -> tuple[str, int]:
    """(IPv4 address the listener binds, how many IPv6 listeners ssh adds beside it).

    channel_fwd_bind_addr() for the client: no address -> the wildcard with GatewayPorts (-g),
    else loopback; '' or '*' -> the wildcard; 'localhost' -> loopback whatever -g says (ssh
    deliberately passes NULL so getaddrinfo() gives every loopback, 127.0.0.1 and ::1); any
    other address -> exactly that address. The IPv6 twin (:: for the wildcard, ::1 for loopback)
    is counted, not modelled: netsim has no IPv6, and the lab turns IPv6 off, where binding ::1
    fails (no ::1 on lo) but binding :: still succeeds.
    """
    bind = forward.bind
    if bind is None:
        return (WILDCARD, 1) if gateway_ports else (LOOPBACK, 0)
    if bind in ("", "*"):
        return WILDCARD, 1
    if bind == "localhost":
        return LOOPBACK, 0
    return bind, 0


def refusal_printed(forward: Forward) -> bool:
    """Whether ssh prints, at its default LogLevel, the kernel's refusal of the IPv4 bind.

    channel_setup_fwd_listener_tcpip() tries every address getaddrinfo() gives and logs a failed bind
    with error() only for the last one, verbose() (not shown at LogLevel INFO) for the others. Only an
    explicit IPv4 address is a list of one; loopback comes as 127.0.0.1 then ::1, the wildcard as
    0.0.0.0 then :: (outsider4's F5, F8: the lab saw both lines at LogLevel VERBOSE, in that order), so
    the line printed is the IPv6 one, which netsim does not model.
    """
    return forward.bind not in (None, "", "*", "localhost")


def exits_on_refusal(forward: Forward, gateway_ports: bool) -> bool:
    """Whether a refused IPv4 bind leaves ssh with no listener at all, so ExitOnForwardFailure ends it.
    The :: twin of a wildcard still binds (the IPv4 socket held the port, not the IPv6 one): ssh stays,
    listening on :: only. The ::1 twin of loopback fails in the lab (no ::1 there)."""
    return bind_addresses(forward, gateway_ports)[1] == 0


def target_address(forward: Forward) -> str:
    """The target as the server resolves it: 'localhost' is 127.0.0.1 (its ::1 is not modelled)."""
    return LOOPBACK if forward.host == "localhost" else forward.host


@dataclass
class Tunnel:
    """One running `ssh -N -L ...`: its listener in the client's room, its channels, its log."""

    client: str  # the namespace the listener stands in
    server: str  # the namespace sshd connects from
    forward: Forward
    listen: tuple[str, int]
    channels: list[bool] = field(default_factory=list)  # channel id -> in use (listeners count too)
    # The SSH connection itself: (client ip, port, server ip, 22). A channel opens only when its
    # SSH_MSG_CHANNEL_OPEN crosses it: a TCP segment from the client, retransmitted on TCP's timer
    # until the server's ACK comes (tcp_retransmit_timer()); openings sent but not yet heard by the
    # server wait, in order, and those heard are the server's to connect.
    session: tuple[str, int, str, int] | None = None
    waiting: list[Opening] = field(default_factory=list)
    arrived: list[Opening] = field(default_factory=list)
    unacked: bool = False  # data sent that the server has not acknowledged: the RTO timer runs
    rto: float = 0.0  # the retransmission timeout the timer was armed with last
    reached: bool = False  # the server heard the last segment sent
    gone: bool = False  # the SSH connection was reset: ssh exited, its listener with it
    # Each open channel's two sockets: the server's connection to the target -> the accepted one here
    # (a close of the target's end reaches the accepted one: sshd relays the EOF, ssh shuts it down).
    relays: dict[tuple[str, int, str, int], tuple[str, int, str, int]] = field(default_factory=dict)

    def new_channel(self) -> int:
        """channel_new(): the lowest free slot in the channel table."""
        for i, used in enumerate(self.channels):
            if not used:
                self.channels[i] = True
                return i
        self.channels.append(True)
        return len(self.channels) - 1

    def free_channel(self, n: int) -> None:
        self.channels[n] = False


@dataclass(frozen=True)
class Opening:
    """A channel whose open is on its way: its number, and the accepted connection's ends."""

    n: int
    ends: tuple[str, int, str, int]


@dataclass(frozen=True)
class Accepted:
    """What happened to one connection the tunnel's listener accepted."""

    channel: int
    outcome: str  # the server's connect to the target: connected, refused, ...
    log: tuple[str, ...]  # what ssh printed on its standard error
    four: tuple[str, int, str, int] | None = None  # the server's socket to the target, once connected


def answer(stack: Stack, tunnel: Tunnel, server: Namespace, n: int, heard: Callable[[Accepted], None]) -> None:
    """The server has channel n's open: it connects to the target, and ssh hears the answer (`heard`)
    when the kernel decides that connect, in whatever step is running then.

    sshd's connect is non-blocking (connect_next() in channels.c): a refusal or a connection comes
    back at once, an address nobody holds only when its ARP gives up (neigh_timer_handler(),
    net/core/neighbour.c: mcast_solicit 3 x retrans_time 1 s, then EHOSTUNREACH). On failure the
    server sends SSH2_MSG_CHANNEL_OPEN_FAILURE with reason "connect failed" and strerror(); the client
    logs it (logit, so it shows at the default LogLevel INFO) and frees the channel, which closes the
    accepted socket (channel_input_open_failure(), chan_mark_dead()).
    """
    target = target_address(tunnel.forward)
    stack.event(f"ssh opens channel {n}: the server connects to {target}:{tunnel.forward.hostport}")

    def settled(done: Settled) -> None:
        outcome = done.outcome
        if outcome == "connected":
            heard(Accepted(n, outcome, (), done.four))
            return
        tunnel.free_channel(n)
        # A connect() that failed itself (no route: no SYN left) leaves connect_next() with no address to
        # try, and connect_to_helper() returns -1 without an errmsg: server_input_channel_open()
        # (serverloop.c) sends "open failed". A failure the kernel reports later (a refusal, an ICMP error,
        # a timeout) reaches channel_post_connecting() (channels.c), which sends strerror() of it.
        why = "open failed" if done.at_once else STRERROR.get(outcome, outcome)
        line = f"channel {n}: open failed: connect failed: {why}"
        stack.event(f"ssh says: {line}; it closes the connection it had accepted")
        heard(Accepted(n, outcome, (line,)))

    stack.start_connection(server, target, tunnel.forward.hostport, settled)
