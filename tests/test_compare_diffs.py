"""The lab's comparison reports every kind of difference between netsim's step and the kernel's.

netsim/lab/compare.py's `_step_diffs()` is the check that holds netsim to the kernel: a difference
it fails to report, or reports unreadably, is a disagreement nobody sees. The recorded traces
(test_kernel_traces) only show that it finds no difference where there is none; here each kind of
difference is planted in one copy of a step and must come back as its own line. (A 5% mutation
sample of compare.py, 1 December, left 27 of 100 mutants alive: most of them here.)
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from netsim import sshforward
from netsim.lab import compare

LINK = {"kind": "veth", "state": "UP", "mac": "aa:00:00:00:00:01", "addresses": ["10.0.0.1/24"], "master": "br0"}
CONN = {
    "proto": "tcp",
    "state": "ESTABLISHED",
    "original": "src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80",
    "reply": "src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000",
    "flags": ["ASSURED"],
}


def step() -> dict[str, Any]:
    """One step as both sides write it (netsim's trace JSON, the lab's recording), with no frames."""
    return {
        "outcome": "connected",
        "frames": [],
        "fdb": {"br0": {"aa:00:00:00:00:02": "seat2"}},
        "links": {"a": {"eth0": dict(LINK)}},
        "routes": {"a": ["10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.1"]},
        "listening": {"a": ["0.0.0.0:80", "127.0.0.1:22"]},
        "listener": "0.0.0.0:80",
        "resolved": None,
        "route": None,
        "conntrack": {"a": [dict(CONN)]},
        "neigh": {"a": {"10.0.0.2": {"mac": "aa:00:00:00:00:02", "state": "REACHABLE"}}},
        "ssh_log": [],
    }


def diffs(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    return compare._step_diffs(ours, theirs, set())


def test_the_same_step_on_both_sides_has_no_difference() -> None:
    assert diffs(step(), step()) == []


def test_a_namespace_on_one_side_only_is_named_as_absent_on_the_other() -> None:
    ours, theirs = step(), step()
    ours["links"]["b"] = {"eth0": dict(LINK)}
    assert diffs(ours, theirs) == ["namespace b: netsim exists, kernel absent"]
    assert diffs(theirs, ours) == ["namespace b: netsim absent, kernel exists"]


def test_a_link_that_differs_is_shown_whole_on_both_sides() -> None:
    ours, theirs = step(), step()
    theirs["links"]["a"]["eth0"]["master"] = None
    theirs["links"]["a"]["eth1"] = {**LINK, "kind": "bridge", "addresses": []}
    assert diffs(ours, theirs) == [
        "link a eth0: netsim veth UP aa:00:00:00:00:01 10.0.0.1/24 master br0, "
        "kernel veth UP aa:00:00:00:00:01 10.0.0.1/24",
        "link a eth1: netsim (none), kernel bridge UP aa:00:00:00:00:01 no address master br0",
    ]


def test_routes_listening_sockets_and_the_listener_that_answered_are_compared() -> None:
    ours, theirs = step(), step()
    theirs["routes"]["a"] = ["default via 10.0.0.254 dev eth0", *theirs["routes"]["a"]]
    theirs["listening"]["a"] = ["127.0.0.1:22"]
    theirs["listener"] = "127.0.0.1:22"
    assert diffs(ours, theirs) == [
        f"routes a: netsim {ours['routes']['a']}, kernel {theirs['routes']['a']}",
        "listening a: netsim ['0.0.0.0:80', '127.0.0.1:22'], kernel ['127.0.0.1:22']",
        "listener that answered: netsim 0.0.0.0:80, kernel 127.0.0.1:22",
    ]


def test_a_mac_table_line_that_differs_is_named_by_its_bridge_and_mac() -> None:
    ours, theirs = step(), step()
    theirs["fdb"]["br0"]["aa:00:00:00:00:02"] = "seat3"
    theirs["fdb"]["br0"]["aa:00:00:00:00:09"] = "seat9"
    assert diffs(ours, theirs) == [
        "fdb br0 aa:00:00:00:00:02: netsim seat2, kernel seat3",
        "fdb br0 aa:00:00:00:00:09: netsim (none), kernel seat9",
    ]


def test_listening_sockets_in_another_order_are_the_same_sockets() -> None:
    theirs = step()
    theirs["listening"]["a"].reverse()  # ss lists them in its hash's order
    assert diffs(step(), theirs) == []


def test_what_ssh_printed_is_compared_line_for_line() -> None:
    ours, theirs = step(), step()
    theirs["ssh_log"] = ["channel 2: open failed: connect failed: Connection refused"]
    assert diffs(ours, theirs) == [
        "ssh said: netsim [], real ssh ['channel 2: open failed: connect failed: Connection refused']"
    ]


def test_a_conntrack_table_on_one_side_only_shows_the_other_as_empty() -> None:
    ours, theirs = step(), step()
    theirs["conntrack"] = {}
    (said,) = diffs(ours, theirs)
    assert said.startswith("conntrack a: netsim ['ESTABLISHED src=10.0.0.1 ") and said.endswith(", kernel []")


def test_a_neighbour_entry_on_one_side_only_reads_no_entry_on_the_other() -> None:
    ours, theirs = step(), step()
    ours["neigh"]["b"] = {"10.0.0.9": {"mac": None, "state": "FAILED"}}
    theirs["neigh"]["a"]["10.0.0.2"]["state"] = "STALE"
    assert diffs(ours, theirs) == [
        "neigh a 10.0.0.2: netsim aa:00:00:00:00:02 REACHABLE, kernel aa:00:00:00:00:02 STALE",
        "neigh b 10.0.0.9: netsim - FAILED, kernel (no entry)",
    ]


def hop(**fields: Any) -> dict[str, Any]:
    base = {"bridge": "br0", "in_port": "seat1", "src": "a", "dst": "b", "decision": "forward", "out_ports": ["seat2"]}
    return {**base, **fields}


def test_a_dns_answer_that_differs_is_a_different_frame() -> None:
    ours, theirs = step(), step()
    ours["frames"] = [hop(carries="DNS", dns="answer web 10.0.0.2")]
    theirs["frames"] = [hop(carries="DNS", dns="answer web 10.0.0.3")]
    (said,) = diffs(ours, theirs)
    assert said.startswith("frame 1: netsim br0 seat1 a>b [answer web 10.0.0.2] DNS forward -> seat2; kernel ")
    assert "[answer web 10.0.0.3]" in said


def test_an_ip_header_is_shown_with_its_addresses_ports_and_ttl() -> None:
    ours, theirs = step(), step()
    ip, tcp = {"src": "10.0.0.1", "dst": "10.0.0.2", "ttl": 64}, {"sport": 80, "dport": 9001}
    ours["frames"] = [hop(carries="SYN", ip=ip, tcp=tcp)]
    theirs["frames"] = [hop(carries="SYN", ip={**ip, "ttl": 63}, tcp=tcp)]
    assert diffs(ours, theirs) == [
        "frame 1: netsim br0 seat1 a>b [IP 10.0.0.1:80 > 10.0.0.2:9001 ttl 64] SYN forward -> seat2; "
        "kernel br0 seat1 a>b [IP 10.0.0.1:80 > 10.0.0.2:9001 ttl 63] SYN forward -> seat2"
    ]
    no_ip = compare._show_hop(compare._hop_key(hop(carries="ARP")))
    assert no_ip == "br0 seat1 a>b ARP forward -> seat2"  # no IP header: nothing where it would be


@pytest.mark.parametrize(("port", "named"), [(32767, False), (32768, True), (60999, True)])
def test_ports_from_the_first_ephemeral_one_up_are_compared_by_which_frames_share_them(port: int, named: bool) -> None:
    # ip_local_port_range's default is 32768-60999 (inet_init_net(), net/ipv4/af_inet.c): 32768 is the first.
    key = compare._hop_key(hop(ip={"src": "10.0.0.1", "dst": "10.0.0.2", "ttl": 64}, tcp={"sport": port, "dport": 80}))
    (renamed,) = compare._ephemeral([key])
    assert renamed[6][3] == (("port#1" if named else port), 80)


@pytest.mark.parametrize(
    ("carries", "sport", "dport", "compared"),
    [("SYN", 40000, 22, True), ("SYN-ACK", 22, 40000, True), ("RST", 22, 40000, True), ("ACK", 40000, 22, False)],
)
def test_of_an_ssh_connection_the_login_s_handshake_is_compared_and_its_messages_are_not(
    carries: str, sport: int, dport: int, compared: bool
) -> None:
    assert sshforward.SSH_PORT == 22
    ip = {"src": "10.0.0.1", "dst": "10.0.0.2", "ttl": 64}
    segment = hop(carries=carries, ip=ip, tcp={"sport": sport, "dport": dport})
    assert compare._ssh_message(segment, {"10.0.0.1", "10.0.0.2"}) is not compared


def test_a_step_copied_is_compared_equal_whatever_its_key_order() -> None:
    theirs = step()
    theirs["neigh"]["a"] = dict(reversed(list(theirs["neigh"]["a"].items())))
    assert diffs(step(), theirs) == []


def test_ip_route_get_and_getaddrinfo_answers_are_compared() -> None:
    ours, theirs = step(), step()
    ours["route"], theirs["route"] = "10.0.0.2 dev eth0 src 10.0.0.1", "10.0.0.2 via 10.0.0.254 dev eth0 src 10.0.0.1"
    ours["resolved"], theirs["resolved"] = ["10.0.0.2"], []
    assert diffs(ours, theirs) == [
        "getaddrinfo: netsim ['10.0.0.2'], kernel []",
        "ip route get: netsim 10.0.0.2 dev eth0 src 10.0.0.1, kernel 10.0.0.2 via 10.0.0.254 dev eth0 src 10.0.0.1",
    ]


def test_an_ssh_link_s_neighbour_is_compared_by_its_mac_not_its_state() -> None:
    # Named simplification "ssh": between an ssh client and its server the entry's state depends on
    # SSH's own messages, which netsim does not model; its MAC does not.
    ours, theirs = step(), step()
    theirs["neigh"]["a"]["10.0.0.2"]["state"] = "STALE"
    loose = {("a", "10.0.0.2")}
    assert compare._step_diffs(ours, theirs, loose) == []
    theirs["neigh"]["a"]["10.0.0.2"]["mac"] = "aa:00:00:00:00:09"
    assert compare._step_diffs(ours, theirs, loose) == [
        "neigh a 10.0.0.2: netsim aa:00:00:00:00:02 REACHABLE, kernel aa:00:00:00:00:09 STALE"
    ]


# The timer searches run only when netsim and the kernel disagree, so no recording that agrees at once
# reaches their lines; each is called here on a made-up trace.


def timer(n: int, name: str, due: float, late: float = 0.0, slack: float = 0.1) -> Any:
    return SimpleNamespace(n=n, name=name, due=due, late=late, slack=slack)


def test_a_redraw_names_the_timers_of_the_hosts_whose_draw_changed() -> None:
    trace = SimpleNamespace(
        fired=[
            timer(1, "a's neighbour entry for 10.0.0.2 (neigh_timer_handler())", 2.0, 0.004),
            timer(2, "b's neighbour entry for 10.0.0.1 (neigh_timer_handler())", 3.0),
            timer(3, "a's neighbour entry for 10.0.0.3 (neigh_timer_handler())", 9.0),  # after the reading
        ]
    )
    clock = [(0.0, 0.5, 0.6), (1.0, 5.0, 5.1)]
    # a's eth0 drew anew; c is new in this step (no draw before it); b's draw held.
    before = {"a": {"eth0": 20.0}, "b": {"eth0": 25.0}}
    after = {"a": {"eth0": 31.5}, "b": {"eth0": 25.0}, "c": {"eth0": 17.0}}
    found = compare.redraw_candidates(trace, 1, clock, [before, after])
    assert [round(at, 4) for at, _ in found] == [2.004, 5.0]
    assert "after a's neighbour entry for 10.0.0.2" in found[0][1] and "a's eth0 20.0 -> 31.500 s" in found[0][1]
    assert "c's eth0 None -> 17.000 s" in found[1][1] and "b's" not in found[1][1]
    assert compare.redraw_candidates(trace, 1, clock, [after, after]) == []


def test_timers_due_in_one_tick_are_named_the_most_recently_armed_first() -> None:
    popped = [
        (2.0, 3, "the third armed"),
        (2.0, 7, "the seventh armed"),
        (2.0, 5, "the fifth armed"),
        (4.0, 8, "alone"),
    ]
    trace = SimpleNamespace(popped=popped, fired=[timer(n, name, when) for when, n, name in popped])
    ((when, said),) = compare.tick_candidates(trace, 0, [(0.0, 5.0, 5.1)], ())
    assert when == 2.0
    assert "the seventh armed; the fifth armed; the third armed, the most recently armed first" in said


def test_a_timer_is_made_late_only_past_where_it_already_is_and_within_its_slack() -> None:
    fired = [timer(1, "c's SYN retransmission", 2.0, slack=0.05), timer(2, "r's neighbour timer", 2.03)]
    trace = SimpleNamespace(fired=fired, refills=[(2.0, "a bucket held a token again")], deadlines=[])
    clock = [(0.0, 3.0, 3.1)]
    found = compare.branch_candidates(trace, 0, clock, {})
    assert [(n, round(late, 4)) for n, late, _ in found] == [(1, 0.03)]  # not at its own due moment
    assert "after r's neighbour timer, due at 2.030 s" in found[0][2]
    assert compare.branch_candidates(trace, 0, clock, {1: 0.03}) == []  # already that late: nothing further
    # An event at the very end of the slack is past what the wheel may do: no candidate.
    trace.fired[1].due = 2.05
    assert compare.branch_candidates(trace, 0, clock, {}) == []


def test_a_recording_that_did_not_time_its_reading_ends_it_where_it_began() -> None:
    scenario = SimpleNamespace(steps=[SimpleNamespace(id="one"), SimpleNamespace(id="two")])
    kernel = {
        "steps": [
            {"id": "one", "clock": {"at": 0.5, "observed": 0.75}},
            {"id": "two", "clock": {"at": 1.0, "observed": 1.25, "read": 1.5}},
        ]
    }
    assert compare.measured_clock(scenario, kernel) == [(0.5, 0.75, 0.75), (1.0, 1.25, 1.5)]
    del kernel["steps"][1]["clock"]
    assert compare.measured_clock(scenario, kernel) is None


def test_a_bridge_entry_may_age_out_only_in_a_run_as_long_as_its_ageing_time() -> None:
    scenario = SimpleNamespace(bridges={"br0": SimpleNamespace(ageing_time=3.0)}, steps=[])
    steps = [{"seconds": 0}, {"seconds": None}, {"seconds": 0}, {"seconds": 0}]  # instant steps count nothing
    assert not compare._entries_may_expire(scenario, {"steps": steps})
    assert compare._entries_may_expire(scenario, {"steps": [*steps, {"seconds": 3}]})


def test_a_redraw_after_every_timer_names_each_changed_device_of_a_host() -> None:
    before = {"a": {"eth0": 20.0, "eth1": 22.0}}
    after = {"a": {"eth0": 31.5, "eth1": 17.25}}
    (found,) = compare.redraw_candidates(
        SimpleNamespace(fired=[]), 1, [(0.0, 0.5, 0.6), (1.0, 5.0, 5.1)], [before, after]
    )
    assert "a's eth0 20.0 -> 31.500 s, eth1 22.0 -> 17.250 s as the lab read them" in found[1]


def test_a_tick_already_followed_is_not_offered_again_and_says_why_in_the_kernel_s_words() -> None:
    popped = [(2.0, 3, "one"), (2.0, 5, "two")]
    trace = SimpleNamespace(popped=popped, fired=[timer(n, name, when) for when, n, name in popped])
    ((_, said),) = compare.tick_candidates(trace, 0, [(0.0, 5.0, 5.1)], ())
    assert said.endswith(
        "every timer of a tick runs before the packets it sent are received (__run_timers(), "
        "kernel/time/timer.c, before NET_RX takes them from the backlog)"
    )
    assert compare.tick_candidates(trace, 0, [(0.0, 5.0, 5.1)], (2.0,)) == []
    assert len(compare.tick_candidates(trace, 0, [(0.0, 5.0, 5.1)], (-2.0,))) == 1


def test_the_least_late_candidate_comes_first() -> None:
    # Timer 1 is due first but the event after it is later (0.04 s late); timer 2's is 0.01 s after it.
    fired = [timer(1, "first", 2.0, slack=0.05), timer(2, "second", 3.0, slack=0.05)]
    trace = SimpleNamespace(fired=fired, refills=[(2.04, "a bucket"), (3.01, "another")], deadlines=[])
    found = compare.branch_candidates(trace, 0, [(0.0, 4.0, 4.1)], {})
    assert [(n, round(late, 3)) for n, late, _ in found] == [(2, 0.01), (1, 0.04)]


def test_one_timer_s_frames_are_one_burst_and_two_timers_that_may_swap_are_one_run() -> None:
    def frame(t: Any) -> Any:
        return SimpleNamespace(timer=t)

    one, two = (2.0, 0.036, 1), (2.01, 0.036, 2)
    assert compare.unordered_runs([frame(one), frame(one), frame(one)]) == []  # a probe and its answers
    assert compare.unordered_runs([frame(None), frame(None)]) == []  # no timer sent them: in order
    (run,) = compare.unordered_runs([frame(one), frame(one), frame(two)])
    assert run == (
        0,
        3,
        "timers due at 2.000, 2.010 s, each of which the timer wheel may fire up to 0.036 s late "
        "(kernel/time/timer.c), sent them: the kernel keeps no order among them",
    )
