"""A request sock (the server's half-open connection) meeting a SYN that is not its own.

The kernel tells a SYN sent again by the same socket (the same initial sequence number) from a new
socket's SYN on the same four addresses and ports (another number: secure_tcp_seq() adds a 64 ns
clock to a hash). tcp_check_req() answers the first with its SYN-ACK again and the second with a
bare ACK; the client resets, and its SYN goes again two ticks later. The lab agrees
(tests/lab_scenarios/new-syn-meets-old-request.yaml).
"""

from __future__ import annotations

from pathlib import Path

from netsim import tcp
from netsim.frames import Tcp
from netsim.ipv4 import _max_synack_retries
from netsim.netns import Namespace
from netsim.scenario import DnsServer, load_scenario, parse_scenario
from netsim.simulation import run
from netsim.trace import tcp_ports

ROOM = """
title: t
bridges:
  br0: {host: hub, ports: {s1: {}, s2: {}, s3: {}}}
hosts:
  hub: {}
  cli:
    interfaces: {eth0: {mac: '02:00:00:00:00:0c', address: 10.3.0.10/24, plug: br0.s1, duplicate: true}}
    drop_tcp_ports: [40001]
    tcp_syn_retries: 1
  twin:
    interfaces: {eth0: {mac: '02:00:00:00:00:0d', address: 10.3.0.10/24, plug: br0.s3, duplicate: true}}
  srv:
    interfaces: {eth0: {mac: '02:00:00:00:00:05', address: 10.3.0.5/24, plug: br0.s2}}
    listeners: ['0.0.0.0:80']
steps:
  - {id: first, connect: {by: cli, to: '10.3.0.5:80', sport: 40001}}
"""


def flags(step) -> list[str]:
    return [hop.payload.flags for hop in step.frames if hop.bridge == "br0" and tcp_ports(hop.payload)]


def test_a_new_socket_on_the_same_four_is_answered_ack_then_resets_and_connects_two_ticks_later() -> None:
    steps = (
        "  - {id: unblock, firewall_del: {by: cli, rule: drop_tcp_ports, port: 40001}}\n"
        "  - {id: again, connect: {by: cli, to: '10.3.0.5:80', sport: 40001}}\n"
    )
    t = run(parse_scenario(ROOM + steps, "room.yaml"), hz=250)
    first, again = t.step("first"), t.step("again")
    assert first.outcome == "timeout"
    assert flags(again) == ["S", "A", "R", "S", "SA", "A"]
    assert again.outcome == "connected"
    assert again.elapsed < 0.05  # TCP_TIMEOUT_MIN, 8 ms at HZ 250: not the second a timer would take
    syns = [hop.payload for hop in first.frames + again.frames if tcp_ports(hop.payload) and hop.payload.flags == "S"]
    assert len({s.seq for s in syns}) == 2  # each socket keeps its own number; the second's is not the first's
    ack = next(hop.payload for hop in again.frames if tcp_ports(hop.payload) and hop.payload.flags == "A")
    assert ack.ack == syns[0].seq + 1  # the request acknowledges the SYN it was made from


def test_another_host_wearing_the_same_address_meets_the_first_ones_request() -> None:
    steps = "  - {id: twin-knocks, connect: {by: twin, to: '10.3.0.5:80', sport: 40001}}\n"
    t = run(parse_scenario(ROOM + steps, "room.yaml"), hz=250)
    assert flags(t.step("twin-knocks"))[:3] == ["S", "A", "R"]
    assert t.step("twin-knocks").outcome == "connected"


def test_the_same_socket_sending_its_syn_again_gets_the_syn_ack_again() -> None:
    first = run(parse_scenario(ROOM, "room.yaml"), hz=250).step("first")
    assert "A" not in flags(first) and "R" not in flags(first)
    assert flags(first).count("SA") >= 2


def _requests(ns: Namespace, listener: str, count: int, num_timeout: int) -> None:
    for i in range(count):
        key = (f"10.3.{num_timeout}.{i % 250}", 40000 + i, *listener.split(":"))
        ns.half_open[key] = listener
        ns.requests[key] = [num_timeout, 1]


def test_a_listener_more_than_half_full_prunes_its_old_requests() -> None:
    """reqsk_timer_handler(): above half the backlog (qlen << 1 > max(8, backlog)) tcp_synack_retries
    (5) falls by one per doubling of the young requests still not above qlen, down to 2. The lab's
    listeners call listen(128); a DNS server's TCP socket is dnsmasq's, listen(32)
    (tests/lab_scenarios/limits-dns-synq-half-full-prunes.yaml)."""
    ns = Namespace("srv", "srv")
    _requests(ns, "0.0.0.0:80", 64, 2)
    assert _max_synack_retries(ns, "0.0.0.0:80") == 5  # exactly half full: no pruning
    _requests(ns, "0.0.0.0:80", 1, 0)
    assert _max_synack_retries(ns, "0.0.0.0:80") == 2  # 65 of 128, one young: 65 >= 2, 4 and 8
    _requests(ns, "0.0.0.0:80", 40, 0)  # 105 in all, 41 young: 105 >= 82, < 164
    assert _max_synack_retries(ns, "0.0.0.0:80") == 4
    dns = Namespace("dns", "dns")
    dns.dns_servers["10.3.0.5"] = DnsServer(listen="10.3.0.5")
    _requests(dns, "10.3.0.5:53", 17, 1)
    assert _max_synack_retries(dns, "10.3.0.5:53") == 2  # 17 of dnsmasq's 32, none young
    assert _max_synack_retries(ns, "10.3.0.5:53") == 5  # another listener's requests do not count


def test_a_full_syn_queue_answers_cookies_and_a_cookie_ack_connects() -> None:
    """tcp_conn_request(): more request socks than the backlog (dnsmasq's 32) and tcp_syncookies 1: a new
    SYN gets a cookie SYN-ACK and no request sock, so a copy of it gets another cookie (not a rate-limited
    retransmission); a real client's ACK to its cookie completes the handshake (cookie_v4_check())
    (tests/lab_scenarios/limits-dns-synq-full-cookie.yaml)."""
    text = (
        "title: t\n"
        "bridges:\n  br0: {host: hub, ports: {s1: {}, s2: {}, s3: {}}}\n"
        "hosts:\n  hub: {}\n"
        "  cli:\n    interfaces: {eth0: {mac: '02:00:00:00:00:0c', address: 10.3.0.10/24, plug: br0.s1}}\n"
        f"    drop_tcp_ports: [{', '.join(str(5001 + i) for i in range(40))}]\n"
        "  cat:\n    interfaces: {eth0: {mac: '02:00:00:00:00:0d', address: 10.3.0.12/24, plug: br0.s3}}\n"
        "  srv:\n    interfaces: {eth0: {mac: '02:00:00:00:00:05', address: 10.3.0.5/24, plug: br0.s2}}\n"
        "    dns_servers: [{listen: 10.3.0.5}]\n"
        "steps:\n"
    )
    for batch in range(4):  # 32 request socks, from ports cli's firewall keeps the SYN-ACKs from
        text += f"  - id: b{batch}\n    sends:\n      frames:\n"
        for port in range(5001 + 8 * batch, 5009 + 8 * batch):
            text += f"        - {{by: cat, dst: srv, syn: {{src: '10.3.0.10:{port}', dst: '10.3.0.5:53'}}}}\n"
    text += (
        "  - id: last\n    sends:\n      frames:\n"
        "        - {by: cat, dst: srv, syn: {src: '10.3.0.10:5033', dst: '10.3.0.5:53'}}\n"
        + "        - {by: cat, dst: srv, syn: {src: '10.3.0.10:5034', dst: '10.3.0.5:53'}}\n" * 3
        + "  - {id: real, connect: {by: cli, to: '10.3.0.5:53'}}\n"
    )
    t = run(parse_scenario(text, "room.yaml"), hz=250)
    last = [hop.payload for hop in t.step("last").frames if tcp_ports(hop.payload) and hop.payload.flags == "SA"]
    assert [seg.dport for seg in last] == [5033, 5034, 5034, 5034]
    assert t.step("real").outcome == "connected"
    assert "S" in flags(t.step("real")) and "R" not in flags(t.step("real"))


class Stack:
    """What tcp.receive() asks of the simulation on a SYN and an ACK: a word for the log, an ISN."""

    now = 0.0

    def event(self, text: str) -> None:
        pass

    def initial_sequence(self, *four: object) -> int:
        return 7000

    def answered_by(self, listener: str) -> None:
        pass


def test_a_cookie_is_taken_only_by_the_listener_that_sent_it() -> None:
    """cookie_v4_check() (net/ipv4/syncookies.c) runs on the listener tcp_v4_rcv() finds when the ACK
    comes, and takes a cookie only where the SYN queue overflowed lately (tcp_synq_no_recent_overflow()).
    With that listener gone, or a more specific one bound since, the ACK meets no cookie: RST."""

    def cookie_then_ack(change: str) -> list[str]:
        ns = Namespace("srv", "srv")
        ns.listeners.add(("0.0.0.0", 80))
        _requests(ns, "0.0.0.0:80", 129, 0)  # above listen(128): the queue is full
        syn = tcp.receive(Stack(), ns, Tcp("10.3.0.10", "10.3.0.5", 41000, 80, "S", 100))  # type: ignore[arg-type]
        assert [seg.flags for seg in syn.replies] == ["SA"] and not syn.request  # a cookie: no request sock
        if change == "closed":
            ns.listeners.discard(("0.0.0.0", 80))
        elif change == "narrower":
            ns.listeners.add(("10.3.0.5", 80))
        ack = Tcp("10.3.0.10", "10.3.0.5", 41000, 80, "A", 101, syn.replies[0].seq + 1)
        answer = tcp.receive(Stack(), ns, ack)  # type: ignore[arg-type]
        connected = ("10.3.0.5", 80, "10.3.0.10", 41000) in ns.established
        return [seg.flags for seg in answer.replies] + (["connected"] if connected else [])

    assert cookie_then_ack("") == ["connected"]
    assert cookie_then_ack("closed") == ["R"]
    assert cookie_then_ack("narrower") == ["R"]


def test_a_new_socket_on_an_old_four_never_shares_its_number_even_at_one_instant() -> None:
    """secure_tcp_seq() adds a 64 ns clock: two sockets on one four are never made in the same tick in
    the kernel, though netsim's steps run back to back at one instant. b, wearing a's old address and
    port, connects to h, who still holds a's connection: h's challenge ACK acknowledges a's number, not
    b's, so b resets it and its next SYN connects, as in the lab
    (tests/lab_scenarios/lifecycle-address-moves-to-neighbour.yaml). With b reusing a's number, b took
    the challenge ACK for an answer to its own SYN and waited 131 s for nothing."""
    path = Path(__file__).parent / "lab_scenarios" / "lifecycle-address-moves-to-neighbour.yaml"
    trace = run(load_scenario(path))
    assert trace.step("b-connects-same-four").outcome == "connected"
    assert trace.step("b-connects-same-four").time < 1


def test_a_reset_socket_leaves_no_pending_confirmation_behind() -> None:
    """tcp_reset() -> tcp_done() destroys the socket, and its sk_dst_pending_confirm with it: a later
    socket on the same four starts with none, so its first segment confirms no neighbour."""
    resets: list[tuple[str, int, str, int]] = []

    class Resetting(Stack):
        def connection_reset(self, ns: Namespace, four: tuple[str, int, str, int]) -> None:
            resets.append(four)

    ns = Namespace("srv", "srv")
    four = ("10.3.0.5", 80, "10.3.0.10", 41000)
    ns.established[four] = float("-inf")
    ns.rcv_nxt[four] = 501
    ns.dst_pending_confirm.add(four)
    other = ("10.3.0.5", 80, "10.3.0.11", 41000)
    ns.dst_pending_confirm.add(other)
    answer = tcp.receive(Resetting(), ns, Tcp("10.3.0.10", "10.3.0.5", 41000, 80, "R", 501))  # type: ignore[arg-type]
    assert answer.replies == () and resets == [four]
    assert four not in ns.established and four not in ns.rcv_nxt
    assert ns.dst_pending_confirm == {other}  # only the reset socket's is gone
