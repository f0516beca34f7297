"""The narrow face of the simulation that protocol modules see: the clock, the wire, the log.

ipv4, tcp, arp and forwarding are written against this Protocol, never against Simulation, so
the data flows one way: the simulation calls into the protocols, and they answer through it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from netsim.frames import Frame, Icmp, Tcp, Udp
    from netsim.netfilter import Skb
    from netsim.netns import Connection, Namespace, Settled


class Stack(Protocol):
    now: float

    def transmit(self, ns: Namespace, dev: str, frame: Frame) -> None:
        """Put a frame on an interface; it arrives after the current work is done."""

    def schedule(self, delay: float, callback: Callable[[], bool | None], name: str = "a timer") -> None:
        """Run `callback` after `delay` simulated seconds (`name` says which timer, for the comparison)."""

    def event(self, text: str) -> None:
        """Say what happened, in words, for the step's story."""

    def passed_at(self, since: float, seconds: float, *, after: bool = False) -> float:
        """The first moment the kernel counts `seconds` as passed since `since`: a limit kept in jiffies
        (tcp_oow_rate_limited()) compares whole ticks, so this is a tick of the kernel's clock where the
        lab's tick phase is known, else simply since + seconds. `after`: strictly later (time_after(),
        ARP's locktime), one tick more."""

    def tick_at(self, t: float) -> float:
        """What the kernel's `jiffies` says at `t`, as a moment: its last tick at or before `t` where the
        lab's tick phase is known, else `t` itself."""

    def refill(self, at: float, what: str) -> None:
        """A limit in time refused (an ICMP bucket, TCP's out-of-window answers, ARP's locktime): at `at`
        it would have allowed. What a timer the kernel fired late past that moment sent would have
        passed (the comparison's timer-branch)."""

    def initial_sequence(self, own_ip: str, own_port: int, peer_ip: str, peer_port: int) -> int:
        """secure_tcp_seq() for a socket or request sock with these addresses and ports (its own first):
        the machine's keyed hash plus a clock, so a later one on the same four gets another number."""

    def isn_of(self, own_ip: str, own_port: int, peer_ip: str, peer_port: int) -> int:
        """The initial sequence number of the newest socket or request sock on this four, its own end
        first (what initial_sequence() gave it): an established connection's segments count from it."""

    def connection_reset(self, ns: Namespace, four: tuple[str, int, str, int]) -> None:
        """An established socket here (its own address and port first) was reset (tcp_reset()): its program
        hears ECONNRESET; the ssh or sshd of an SSH connection exits."""

    def loopback(self, ns: Namespace, packet: Tcp | Icmp | Udp, skb: Skb | None = None) -> None:
        """Hand a packet to the namespace's own lo; `skb`, what it carried out (its connection)."""

    def unreachable(self, ns: Namespace, packets: list[object]) -> None:
        """The neighbour never answered: tell the senders of these waiting packets."""

    def rearm_syn(self, ns: Namespace, conn: Connection, jiffies: int) -> None:
        """inet_csk_reset_xmit_timer() on a connecting socket: its SYN goes again `jiffies` ticks from now,
        and its later retransmissions keep their spacing after that."""

    def answered_by(self, listener: str) -> None:
        """A listening socket (ADDR:PORT) completed a handshake: record which one, for the step's trace."""

    def rewrite(self, host: str, hook: str, before: Tcp | Icmp | Udp, after: Tcp | Icmp | Udp) -> None:
        """NAT changed a packet's header at a netfilter hook: record before and after."""

    def data_read(self, ns: Namespace, four: tuple[str, int, str, int]) -> None:
        """Data reached the socket `four` (local end first): a program that relays it passes it on."""

    def ssh_segment(self, ns: Namespace, seg: Tcp) -> Tcp | None:
        """A segment of an SSH connection reached one of its ends: what that end sends back."""

    def start_connection(self, ns: Namespace, dst_ip: str, dport: int, settled: Callable[[Settled], None]) -> None:
        """A non-blocking connect() from a namespace: `settled(what)` runs when the kernel decides it, at once
        (connect() itself failed) or on an answer or a later timer. The connection stays open if it connected
        (as the lab keeps it)."""

    def acceptor(self, four: tuple[str, int, str, int]) -> Namespace | None:
        """The namespace whose socket answered the connection `four` (the connecting end's view: its own
        address and port first): a request sock or an established socket there has its ends."""
