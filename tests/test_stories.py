"""The story lines of rare paths, word for word: what a figure's caption and `netsim run` say happened.

A step's events are its story (netsim.render.words puts the first three in the figure's caption).
Most are pinned by the posts' captions and the golden figures; these are the lines of paths only
the lab's edge cases reach, where a 5% mutation sample (1 December) found a line could be lost or
garbled and no test would say so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netsim.scenario import load_scenario
from netsim.simulation import run
from netsim.trace import Trace

LAB = Path(__file__).resolve().parent / "lab_scenarios"


def trace(name: str) -> Trace:
    # Simulated afresh for each case, never kept at module level: mutmut forks each mutant's run from
    # a process that has run the tests unmutated, and a kept trace would be the unmutated one.
    return run(load_scenario(LAB / f"{name}.yaml"))


@pytest.mark.parametrize(
    ("scenario", "step", "line"),
    [
        # netfilter.hook(): a `reject with tcp reset` rule answers (nf_send_reset()).
        (
            "broadcast-syns-tracked",
            "broadcast-to-reset-port",
            "laptop's firewall rejects TCP 10.88.0.12:45004 > 10.88.255.255:8081 SYN with a TCP reset",
        ),
        # ...but never for a packet to a broadcast address (nf_send_reset(): RTN_LOCAL only).
        (
            "broadcast-syns-tracked",
            "broadcast-to-reset-port",
            "laptop sends no TCP 10.88.255.255:8081 > 10.88.0.12:45004 RST: its packet was for 10.88.255.255, "
            "a group address",
        ),
        # ipv4._deliver_broadcast(): delivered, and nothing answers it.
        (
            "broadcast-syns-tracked",
            "to-subnet-broadcast",
            "laptop drops a packet for 10.88.255.255: nothing here answers a broadcast or multicast address",
        ),
        # netfilter._destination_rules(): a published port's DNAT, marked for masquerade (Podman's hairpin).
        (
            "filter-publish-rule-which-port",
            "cli-published-address",
            "laptop sends what comes for 192.168.1.23:9000 to 10.88.0.3:80 and marks it for masquerade",
        ),
        # netfilter._conntrack_in(): tcp_in_window() says INVALID, and the packet goes on untracked.
        (
            "ctstate-client-reset-unreplied",
            "forged-syn-to-one",
            "conntrack finds TCP 10.88.0.2:41000 > 192.168.1.77:8080 RST invalid for src=10.88.0.2 "
            "dst=192.168.1.77 sport=41000 dport=8080: it goes on untracked",
        ),
        # tcp_v4_rcv(): a segment in a frame not addressed to this host's MAC is dropped (PACKET_BROADCAST).
        (
            "corners-host-is-subnet-broadcast",
            "c-to-a",
            "c's TCP drops TCP 10.0.0.2:80 > 10.0.0.3:40000 SYN-ACK: it came in a broadcast frame",
        ),
        # ipv4.output(): __icmp_send() answers nothing that came in a frame not addressed to this host.
        (
            "reject-rule-broadcast-frame",
            "unreachable-in-broadcast-frame",
            "laptop sends no ICMP 10.88.0.1 > 10.88.0.12 port unreachable: its packet came in a broadcast frame",
        ),
        # ipv4._forward(): ip_forward() drops a packet from a broadcast frame (after ip_error() spent its token).
        (
            "no-route-errors-spent-by-broadcast-frames",
            "in-broadcast-frames",
            "r does not forward TCP 10.1.0.10:45000 > 10.99.0.5:80 SYN: it came in a broadcast frame",
        ),
        # netfilter.hook(): a reset rule drops a reset without answering it (nf_reject_ip_tcphdr_get()).
        (
            "reset-rule-catches-the-answer-to-its-own-port",
            "from-the-rejected-port",
            "b's firewall drops TCP 10.1.0.10:80 > 10.1.0.11:41000 RST: a reset rule answers no reset",
        ),
        # ipv4._forward(): no route, and no error about an ICMP error (__icmp_send()).
        ("no-error-about-an-error", "forged-from-nowhere", "r sends no ICMP about it: it is an ICMP error itself"),
        # ipv4.output(): OUTPUT's DNAT sent the host's own SYN to a network whose route went down.
        ("twobr-publish-to-downed-network", "host-knocks", "h has no route to 10.2.0.11: the packet is dropped"),
        # ipv4.output(): the local route still points at lo, which is down (__dev_queue_xmit()).
        (
            "lo-down-syn-still-tracked",
            "knock-lo-down",
            "box sends TCP 127.0.0.1:41002 > 127.0.0.1:7000 SYN through lo, which is down: it is dropped",
        ),
        # udp.receive(): a query to a port nobody listens on.
        ("dns-nameserver-zero", "b-asks-zero", "nobody in b listens on UDP 127.0.0.1:53: port unreachable"),
        # udp.error(): IP_RECVERR hands the resolver any ICMP error, in words.
        (
            "dns-nameserver-net-unreachable",
            "lookup",
            "h's resolver hears an ICMP error about 10.99.0.53 (network unreachable): it asks no more there",
        ),
        # sshforward.answer(): the far end failed after sshd had accepted the channel.
        (
            "ctfix-ssh-late-failure-assures",
            "failed",
            "ssh says: channel 1: open failed: connect failed: No route to host; it closes the connection it had "
            "accepted",
        ),
        # netfilter.hook(): `reject with icmpx admin-prohibited`, here unanswered (a broadcast frame).
        (
            "reject-rule-broadcast-frame",
            "prohibited-in-broadcast-frame",
            "laptop's firewall rejects TCP 10.88.0.12:45001 > 10.88.0.1:8083 SYN with ICMP admin prohibited",
        ),
        # tcp.receive(): a SYN_SENT socket answers an ACK for a SYN it never sent with RST
        # (tcp_rcv_synsent_state_process(), reset_and_undo).
        (
            "ctstate-forged-syn-then-client",
            "client-connects",
            "client's connecting socket hears an ACK for a SYN it never sent: it answers RST",
        ),
        # tcp.receive(): a socket in SYN_RECV after a simultaneous open hears the SYN-ACK it waited for.
        ("self-connect", "self-eth0", "ann's socket hears the SYN-ACK of its simultaneous open: established"),
        # simulation._step_ip_forward(): the sysctl's story, both ways.
        ("forwarding-off", "switch-on", "router now forwards packets for others"),
        # simulation.connection_reset(): ssh's connection reset takes its forward's listener with it.
        (
            "impostor-resets-the-tunnel",
            "through-again",
            "ssh's SSH connection is reset: ssh exits, and its listener on 127.0.0.1:19001 closes",
        ),
    ],
    ids=[
        "reset-rule",
        "no-reset-to-a-group",
        "broadcast-unanswered",
        "dnat-marked",
        "ct-invalid",
        "broadcast-frame",
        "no-icmp-to-a-broadcast-frame",
        "no-forwarding-from-a-broadcast-frame",
        "no-reset-to-a-reset",
        "no-error-about-an-error",
        "dnat-to-a-network-gone",
        "lo-down",
        "udp-port-unreachable",
        "resolver-hears-net-unreachable",
        "ssh-late-channel-failure",
        "admin-prohibited",
        "ack-for-a-syn-never-sent",
        "simultaneous-open-established",
        "forwarding-switched-on",
        "ssh-session-reset",
    ],
)
def test_a_rare_path_tells_its_story_in_these_words(scenario: str, step: str, line: str) -> None:
    events = trace(scenario).step(step).events
    assert line in events, events


def test_a_reset_rule_answers_a_syn_ack_with_a_bare_rst_at_its_ack() -> None:
    """nf_reject_ip_tcphdr_put() (net/ipv4/netfilter/nf_reject_ipv4.c): to a segment with ACK, the reset
    carries that ACK as its sequence number and acknowledges nothing (ack 0, no ACK flag), as the bytes
    view shows it; only a segment without ACK (a SYN) gets RST|ACK."""
    frames = trace("filter-client-rejects-synack-behind-masquerade").step("synack-reset").frames
    synack, reset = frames[7].payload, frames[8].payload
    assert (synack.flags, reset.flags) == ("SA", "R")
    assert (reset.seq, reset.ack) == (synack.ack, 0)


def test_an_ssh_channel_open_tells_each_ack_of_the_ssh_connection_once() -> None:
    """A channel open over an SSH connection, line by line: sshd's TCP acknowledges ssh's segment and
    ssh's TCP acknowledges sshd's answer, each said once by the end that hears the data (ssh_segment());
    the bare ACKs that carry those acknowledgements are not told again as data acknowledged."""
    events = trace("ssh-session-crosses-a-bridge").step("through-it").events
    assert events == [
        "laptop sends TCP 127.0.0.1:40001 > 127.0.0.1:19001 SYN through lo",
        "laptop's listener on 127.0.0.1:19001 answers SYN-ACK",
        "laptop sends TCP 127.0.0.1:19001 > 127.0.0.1:40001 SYN-ACK through lo",
        "laptop sends TCP 127.0.0.1:40001 > 127.0.0.1:19001 ACK through lo",
        "laptop completes the handshake",
        "server's sshd hears from ssh over the SSH connection; its TCP acknowledges",
        "ssh opens channel 1: the server connects to 127.0.0.1:9001",
        "server sends TCP 127.0.0.1:40002 > 127.0.0.1:9001 SYN through lo",
        "server's listener on 127.0.0.1:9001 answers SYN-ACK",
        "server sends TCP 127.0.0.1:9001 > 127.0.0.1:40002 SYN-ACK through lo",
        "server sends TCP 127.0.0.1:40002 > 127.0.0.1:9001 ACK through lo",
        "server completes the handshake",
        "server's sshd answers the channel open over the SSH connection",
        "laptop's ssh hears sshd's answer; its TCP acknowledges",
    ]
