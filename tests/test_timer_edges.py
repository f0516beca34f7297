"""What the kernel's timers leave open, and only that: the comparison with the kernel allows a frame
order or a table value that netsim did not have only where a timer's slack (the timer wheel's
rounding, kernel/time/timer.c) or the time the lab spent reading its tables allows it, and says so."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from netsim import plan, timerwheel
from netsim.lab.compare import compare, timer_notes, unordered_runs
from netsim.lab.runner import Lab
from netsim.scenario import load_scenario, parse_scenario
from netsim.simulation import run

ROOT = Path(__file__).resolve().parent.parent
POST_SEVEN = ROOT / "diagrams" / "publishing-a-port.yaml"


def test_the_wheel_granularity_is_the_kernels_table() -> None:
    # kernel/time/timer.c's table for HZ 1000: level 0 1 ms up to 63 ms, level 1 8 ms, level 2 64 ms
    # (from 512 ms), level 3 512 ms (from ~4 s), level 4 4 s (from ~32 s), level 5 32 s (from ~4 min).
    assert [timerwheel.granularity(j) for j in (62, 63, 503, 504, 4031, 4032, 32255, 32256, 300_000)] == [
        1,
        8,
        8,
        64,
        64,
        512,
        512,
        4096,
        32768,
    ]
    assert timerwheel.slack(5.0, 250) == (64 + 1) / 250  # DELAY's 5 s at HZ 250: 1250 jiffies, level 2
    assert timerwheel.slack(5.0) == (512 + 1) / 1000  # unknown HZ: the largest, HZ 1000's level 3


def clock(s, gap: float, waits: dict[str, float]) -> list[tuple[float, float, float]]:
    """A lab clock: steps `gap` apart (a wait step takes its time), tables read 10-20 ms after."""
    out, t = [], 0.0
    for step in s.steps:
        out.append((t, t + 0.01, t + 0.02))
        t += waits.get(step.id, gap)
    return out


WAITS = {"a-quiet-moment": 6.5, "hairpin-without-snat": 7.5, "loopback-without-localnet": 7.5}


def swapped_probes(gap: float) -> tuple[bool, list[str]]:
    """Post seven's quiet moment, with the kernel's first two probe-and-answer pairs the other way round."""
    s = load_scenario(POST_SEVEN)
    trace = run(s, clock(s, gap, WAITS), hz=250)
    kernel = copy.deepcopy(trace.to_json())
    quiet = next(st for st in kernel["steps"] if st["id"] == "a-quiet-moment")
    quiet["frames"][0:2], quiet["frames"][2:4] = quiet["frames"][2:4], quiet["frames"][0:2]
    return compare(trace.to_json(), kernel, trace=trace)


def test_probes_whose_timers_fall_due_within_their_slack_are_compared_as_a_set_and_said() -> None:
    # Steps 50 ms apart: the DELAY timers of the entries they used fall due 5 s later, 50 ms apart,
    # well within the 0.26 s a 5 s timer may fire late at HZ 250.
    agree, lines = swapped_probes(0.05)
    assert agree, "\n".join(lines)
    said = [line for line in lines if "(timer-order)" in line]
    assert len(said) == 1 and "frames 1-8" in said[0] and "0.260 s late" in said[0]
    assert timer_notes(lines) and "timer-order" in timer_notes(lines)[0]


def test_probes_whose_timers_are_further_apart_than_their_slack_keep_their_order() -> None:
    # Steps a second apart: the probes' timers fall due a second apart, beyond any slack: the swap
    # is a disagreement.
    agree, lines = swapped_probes(1.0)
    assert not agree
    assert any(line.strip().startswith("frame 1:") for line in lines)
    assert not timer_notes(lines)


def test_runs_need_timers_a_steps_own_frames_keep_their_order() -> None:
    s = load_scenario(POST_SEVEN)
    trace = run(s, clock(s, 0.05, WAITS), hz=250)
    assert unordered_runs(trace.step("from-the-phone").frames) == []  # a connect: its frames are the step's


# Two hosts on one bridge, nothing else: the topology of the neighbour-timer scenarios below.
TWO_SEATS = """\
bridges:
  br0: {host: h, mac: "02:00:00:00:00:01", ports: {p1: {}, p2: {}}}
hosts:
  h: {}
  a: {interfaces: {eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}}}
  b: {interfaces: {eth0: {mac: "02:00:00:00:00:0b", address: 10.0.0.11/24, plug: br0.p2}}}
steps:
"""

DELAYED = (
    """
title: a used entry checked five seconds later
"""
    + TWO_SEATS
    + """  - {id: b-asks, arp: {by: b, target: 10.0.0.10}}    # a learns b: STALE
  - {id: a-uses-it, arp: {by: a, target: 10.0.0.11}} # STALE -> DELAY, its timer due 5 s later
  - {id: later, wait: 4.8}                           # then DELAY -> PROBE, b answers: REACHABLE
  - {id: after, wait: 1}
"""
)


def lab_clock(observed: float, read: float) -> list[tuple[float, float, float]]:
    """a uses its entry at 1.0 s: the DELAY timer falls due at 6.0 s; the last step's tables are read
    from `observed` until `read`."""
    return [(0.0, 0.01, 0.02), (1.0, 1.01, 1.02), (1.1, observed, read), (read + 0.5, read + 1.6, read + 1.61)]


def state_at_the_read(observed: float, read: float, kernel_state: str) -> tuple[bool, list[str], str]:
    """netsim replayed on that clock, against a kernel that showed `kernel_state` for a's entry."""
    s = parse_scenario(DELAYED, "delayed.yaml")
    trace = run(s, lab_clock(observed, read), hz=250)
    ours = trace.to_json()
    kernel = copy.deepcopy(ours)
    kernel["steps"][2]["neigh"]["a"]["10.0.0.11"]["state"] = kernel_state
    agree, lines = compare(ours, kernel, trace=trace)
    return agree, lines, ours["steps"][2]["neigh"]["a"]["10.0.0.11"]["state"]


def test_a_table_read_within_a_timers_slack_may_show_the_state_before_it_and_says_so() -> None:
    agree, lines, netsim = state_at_the_read(6.1, 6.11, "DELAY")  # a 5 s timer may fire 0.26 s late
    assert netsim == "REACHABLE" and agree, "\n".join(lines)
    (said,) = [line for line in lines if "(timer-edge)" in line]
    assert "neigh a 10.0.0.11: netsim 02:00:00:00:00:0b REACHABLE, kernel 02:00:00:00:00:0b DELAY" in said
    assert "due at 6.000 s, may fire up to 0.260 s late" in said
    assert timer_notes(lines) and "timer-edge" in timer_notes(lines)[0]


def test_a_table_read_past_a_timers_slack_must_show_the_state_after_it() -> None:
    agree, lines, netsim = state_at_the_read(6.4, 6.41, "DELAY")
    assert netsim == "REACHABLE" and not agree
    assert any("neigh a 10.0.0.11: netsim 02:00:00:00:00:0b REACHABLE, kernel" in line for line in lines)
    assert not any("(timer-edge)" in line for line in lines)


def test_only_the_state_the_timer_leaves_is_allowed() -> None:
    agree, lines, _ = state_at_the_read(6.1, 6.11, "STALE")  # never what a's entry was: not allowed
    assert not agree


def test_a_timer_due_while_the_tables_were_read_may_have_fired() -> None:
    # Read from 5.9 s to 6.1 s: netsim has the entry in DELAY at 5.9; the kernel may have read it after
    # its timer fired at 6.0 and b answered the probe.
    agree, lines, netsim = state_at_the_read(5.9, 6.1, "REACHABLE")
    assert netsim == "DELAY" and agree, "\n".join(lines)
    assert any("while the tables were read (5.900-6.100 s)" in line for line in lines)
    assert not state_at_the_read(5.9, 5.95, "REACHABLE")[0]  # the reading ended before 6.0


RESEND_AFTER_FLUSH = """
title: a resend makes an entry while the tables are read
bridges:
  br0: {host: h, mac: "02:00:00:00:00:01", ports: {p1: {}, p2: {}}}
hosts:
  h: {}
  laptop:
    interfaces: {wlan0: {mac: "3c:22:fb:00:01:23", address: 10.0.0.23/24, plug: br0.p1}}
    reachable_time: 300
  server:
    interfaces: {eth0: {mac: "52:54:00:00:01:50", address: 10.0.0.50/24, plug: br0.p2}}
    sshd: true
    listeners: ['127.0.0.1:9001']
    reachable_time: 300
steps:
  - {id: tunnel, ssh_forward: {by: laptop, server: 10.0.0.50, forward: '19001:127.0.0.1:9001'}}
  - {id: server-down, link_set: {by: server, dev: eth0, up: false}}
  - {id: through, connect: {by: laptop, to: '127.0.0.1:19001'}}
  - {id: laptop-down, link_set: {by: laptop, dev: wlan0, up: false}}
  - {id: laptop-up, link_set: {by: laptop, dev: wlan0, up: true}}
  - {id: later, wait: 5}
"""


def test_an_entry_a_timer_makes_while_the_tables_are_read_may_be_shown() -> None:
    # The channel open waits (the server is down) and TCP resends it 200 ms after it was sent; the
    # laptop's link went down and up meanwhile, which flushed its entries (neigh_ifdown()), so the
    # resend makes a new INCOMPLETE entry. Read from 0.2 s to 0.3 s, the kernel may show it though
    # netsim, at 0.2 s, has none: an entry a timer creates is allowed as one it changes is.
    trace = run(parse_scenario(RESEND_AFTER_FLUSH, "resend.yaml"), CLOCK_ACROSS_RESEND, hz=250)
    ours = trace.to_json()
    assert ours["steps"][4]["neigh"].get("laptop") == {}
    kernel = copy.deepcopy(ours)
    kernel["steps"][4]["neigh"]["laptop"] = {"10.0.0.50": {"mac": None, "state": "INCOMPLETE"}}
    agree, lines = compare(ours, kernel, trace=trace)
    assert agree, "\n".join(lines)
    assert any("neigh laptop 10.0.0.50: netsim (no entry), kernel - INCOMPLETE" in line for line in lines)
    kernel["steps"][4]["neigh"]["laptop"] = {"10.0.0.50": {"mac": None, "state": "FAILED"}}
    assert not compare(ours, kernel, trace=trace)[0]  # only what the resend makes


# The steps' (start, end, end of the reading): the channel open leaves at 0.06 s, its resend falls due
# at about 0.26 s, inside laptop-up's reading.
CLOCK_ACROSS_RESEND = [
    (0.0, 0.01, 0.02),
    (0.03, 0.04, 0.05),
    (0.06, 0.07, 0.08),
    (0.1, 0.11, 0.12),
    (0.13, 0.2, 0.3),
    (0.4, 5.4, 5.41),
]


def test_without_a_replayed_clock_nothing_is_allowed() -> None:
    s = parse_scenario(DELAYED, "delayed.yaml")
    trace = run(s, lab_clock(6.1, 6.11), hz=250)
    kernel = copy.deepcopy(trace.to_json())
    kernel["steps"][2]["neigh"]["a"]["10.0.0.11"]["state"] = "DELAY"
    assert not compare(trace.to_json(), kernel)[0]  # no trace given: every table as read


def test_the_labs_configuring_commands_are_not_counted_in_a_steps_seconds() -> None:
    """A step's seconds in the lab leave out the `ip`/`nft` processes that configure the kernel (netsim
    counts them as instant; a loaded machine stretches their start-up): execute() sets them aside."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is not installed")
    lab = Lab(parse_scenario(DELAYED, "delayed.yaml"), progress=False)
    lab.execute(plan.Op(("ip", "-V")))  # harmless anywhere: prints iproute2's version
    assert lab._untimed > 0
    lab._untimed = 0.0
    lab.execute(plan.Op(("sleep", "0.01")))  # a wait is the step's own time
    assert lab._untimed == 0.0
    # A helper netsim counts as instant (a crafted frame, `ip route get`) is set aside too; one whose
    # time is the network's (a connect) is not.
    lab._helper_route_get = lambda *args: lab.execute(plan.Op(("sleep", "0.01")))  # type: ignore[method-assign]
    lab._helper_knock = lambda *args: lab.execute(plan.Op(("sleep", "0.01")))  # type: ignore[method-assign]
    lab.execute(plan.Op(("knock", "a", "10.0.0.11", "80")))
    assert lab._untimed == 0.0
    lab.execute(plan.Op(("route_get", "a", "10.0.0.11")))
    assert lab._untimed >= 0.01
    # The pause an `arp` step's script makes before showing the tables is the lab's observing; a
    # `wait` step's sleep is that step's own time.
    steps = {step.action: step for step in parse_scenario(ARP_THEN_WAIT, "arp.yaml").steps}
    for action, untimed in (("arp", True), ("wait", False)):
        lab._step, lab._untimed = steps[action], 0.0
        lab.execute(plan.Op(("sleep", "0.01")))
        assert (lab._untimed >= 0.01) is untimed, action


ARP_THEN_WAIT = """
title: an arp step, then a wait
bridges:
  br0: {host: h, mac: "02:00:00:00:00:01", ports: {p1: {}}}
hosts:
  h: {}
  a: {interfaces: {eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}}}
steps:
  - {id: a-asks, arp: {by: a, target: 10.0.0.11}}
  - {id: later, wait: 1}
"""


def test_an_arp_step_begins_when_its_request_leaves_not_before_the_labs_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab finds the device with an `ip route get` process first, which a loaded machine stretches
    (a third of a second at load 12): the step, and with it the moment the entry changed that ARP's
    locktime counts from, begins when the netlink request leaves. Stamped before the lookup instead,
    a CI run at load 12 had c's answer 1.1 s after b's in netsim and 0.8 s in the kernel
    (garp-within-locktime: netsim took it, the kernel kept b's)."""
    import contextlib
    import json
    import time

    from netsim.lab import runner

    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])

    def slow_route_get(*argv: str, **_: object) -> str:
        now[0] += 0.3  # the lookup's process, on a loaded machine
        return json.dumps([{"dst": "10.0.0.11", "dev": "eth0", "prefsrc": "10.0.0.10"}])

    used: list[float] = []

    class Watch:
        def __init__(self, dev: str) -> None:
            assert dev == "eth0"

        def use(self, hop: str) -> str:
            used.append(now[0])  # the request leaves
            now[0] += 0.001  # the kernel asks, b answers
            return "REACHABLE"

        def close(self) -> None:
            pass

    monkeypatch.setattr(runner, "run", slow_route_get)
    monkeypatch.setattr(runner, "inside", lambda host: contextlib.nullcontext())
    monkeypatch.setattr(runner, "NeighWatch", Watch)
    lab = Lab(parse_scenario(ARP_THEN_WAIT, "arp.yaml"), progress=False)
    lab._step, lab._untimed, lab._sent_at = lab.s.steps[0], 0.0, None
    lab.execute(plan.Op(("ask_arp", "a", "10.0.0.11")))
    assert used == [100.3]
    assert lab._sent_at == 100.3  # play() starts the step's clock here
    assert lab._untimed == pytest.approx(0.3)  # and the lookup is not in the step's seconds either


LINK_UP_THEN_CONNECT = """
title: a link put up, then a connect
bridges:
  br0: {host: h, mac: "02:00:00:00:00:01", ports: {p1: {}, p2: {}}}
hosts:
  h: {}
  a: {interfaces: {eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}}}
  b: {interfaces: {eth0: {mac: "02:00:00:00:00:0b", address: 10.0.0.11/24, plug: br0.p2}}, listeners: ["0.0.0.0:80"]}
steps:
  - {id: down, link_set: {by: a, dev: eth0, up: false}}
  - {id: up, link_set: {by: a, dev: eth0, up: true}}
  - {id: knock, connect: {by: a, to: "10.0.0.11:80"}}
"""


def test_a_step_that_configures_the_kernel_begins_when_its_command_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    """An `ip` process takes a few ms to start on an idle machine and a third of a second at load, and
    its change is in force when it returns: the step begins there (Lab.play()), not before the process
    started, since netsim makes the change at the step's start. Stamped before it, a CI run at load had
    a link go up after the laptop's retransmission fell due in the kernel and before it in netsim
    (lifecycle-tunnel-end-moved-away-and-back, stop 41)."""
    import time

    from netsim.lab import runner

    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])

    def slow_ip(*argv: str, **_: object) -> str:
        now[0] += 0.3  # the process's start-up on a loaded machine; the netlink request at its end
        return ""

    monkeypatch.setattr(runner, "run", slow_ip)
    lab = Lab(parse_scenario(LINK_UP_THEN_CONNECT, "up.yaml"), progress=False)
    lab._step, lab._untimed, lab._applied_at = lab.s.steps[1], 0.0, None
    ops = plan.step_ops(lab.s, lab.s.steps[1])
    commands = [op for op in ops if op.argv and not op.show and op.argv[0] == "ip"]
    assert commands and runner._configures_first(ops)
    for op in commands:
        lab.execute(op)
    assert lab._applied_at == pytest.approx(100.3)  # the first command's return: play() starts the step here
    assert lab._untimed == pytest.approx(0.3 * len(commands))  # and none of it is in the step's seconds
    # A step whose first operation is the lab's own (a connect: timed from before it) is not moved.
    assert not runner._configures_first(plan.step_ops(lab.s, lab.s.steps[2]))


def test_the_arp_steps_netlink_messages_are_read_as_the_kernel_writes_them() -> None:
    """netsim.lab.neighwatch parses RTM_NEWNEIGH as include/uapi/linux/neighbour.h lays it out: a
    notification for our device names the address and state; another device's is not ours."""
    import socket as sock
    import struct

    from netsim.lab import neighwatch as nw

    def message(ifindex: int, state: int, seq: int = 0) -> bytes:
        body = nw.NDMSG.pack(sock.AF_INET, 0, 0, ifindex, state, 0, 1)
        body += struct.pack("=HH", 8, nw.NDA_DST) + sock.inet_aton("10.0.0.11")
        return nw.NLMSGHDR.pack(nw.NLMSGHDR.size + len(body), nw.RTM_NEWNEIGH, 0, seq, 0) + body

    ack = nw.NLMSGHDR.pack(nw.NLMSGHDR.size + 4, nw.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", 0)
    watch = object.__new__(nw.NeighWatch)
    watch.ifindex = 3
    data = message(3, 0x20) + message(4, 0x02) + ack + message(3, 0x01, seq=2)
    assert list(watch._messages(data)) == [
        (0, None, "10.0.0.11", "FAILED"),
        (0, None, None, None),  # device 4 is not the one asked on
        (1, 0, None, None),  # the request's ACK
        (2, None, "10.0.0.11", "INCOMPLETE"),  # the answer to RTM_GETNEIGH
    ]


ANSWERED = (
    """
title: an answer kept for the kernel's random time
"""
    + TWO_SEATS
    + """  - {id: a-asks, arp: {by: a, target: 10.0.0.11}}   # b answers: REACHABLE
  - {id: twenty-seconds, wait: 20}
"""
)


def test_netsim_keeps_an_answer_for_the_kernels_own_draw_when_it_has_it() -> None:
    """neigh_rand_reach_time() drew 16 s for a's eth0 (the lab reads it: `ip ntable show`): the entry is
    STALE after 20 s, as the kernel's was; with the base 30 s (no draw known) it is still REACHABLE."""
    s = parse_scenario(ANSWERED, "answered.yaml")
    drawn = [{"a": {"eth0": 16.0}}, {"a": {"eth0": 16.0}}]
    assert run(s, drawn=drawn).step("twenty-seconds").neigh["a"]["10.0.0.11"]["state"] == "STALE"
    assert run(s).step("twenty-seconds").neigh["a"]["10.0.0.11"]["state"] == "REACHABLE"
    assert run(s, drawn=[{"a": {"eth0": 44.0}}] * 2).step("twenty-seconds").neigh["a"]["10.0.0.11"]["state"] == (
        "REACHABLE"
    )


def late_probe(observed: float, kernel_frames: int, at_next: float | None = None) -> tuple[bool, list[str]]:
    """a's DELAY timer (due 6.0 s) sends a probe and b answers. The kernel's step `later`, read from
    `observed`, has the first `kernel_frames` of those; its step `after` (when it begins at `at_next`)
    has the rest, or else they fell between the two steps."""
    s = parse_scenario(DELAYED, "delayed.yaml")
    times = lab_clock(observed, observed + 0.01)
    if at_next is not None:
        times[3] = (at_next, at_next + 1.1, at_next + 1.11)
    trace = run(s, times, hz=250)
    ours = trace.to_json()
    kernel = copy.deepcopy(ours)
    # The probe and its answer, as netsim sends them when the timer fires inside the step.
    probe = run(s, lab_clock(6.05, 6.06), hz=250).to_json()["steps"][2]["frames"]
    assert [h["carries"] for h in probe] == ["ARP request", "ARP reply"]
    kernel["steps"][2]["frames"] = probe[:kernel_frames]
    kernel["steps"][3]["frames"] = probe[kernel_frames:] if at_next is not None else []
    kernel["steps"][2]["neigh"]["a"]["10.0.0.11"]["state"] = "DELAY" if kernel_frames == 0 else "REACHABLE"
    return compare(ours, kernel, trace=trace)


def test_a_late_timers_frames_may_fall_after_the_watch_stopped_and_into_the_next_step() -> None:
    # netsim fires the timer at 6.0 inside the step read at 6.05; the kernel's fired after 6.05 (within
    # its 0.26 s): the step has none of its frames and the entry is still DELAY.
    agree, lines = late_probe(6.05, 0)
    assert agree, "\n".join(lines)
    assert any("due at 6.000 s sent are not in the kernel's step" in line for line in lines)
    assert any("(timer-edge)" in line and "DELAY" in line for line in lines)
    # netsim fires it between the steps (read at 5.95, next step at 6.05); the kernel's came after 6.05.
    agree, lines = late_probe(5.95, 0, at_next=6.05)
    assert agree, "\n".join(lines)
    assert any("first 2 frame(s) came from timers due at 6.000 s, before the step began" in line for line in lines)


def test_a_timer_cannot_be_later_than_its_slack() -> None:
    assert not late_probe(6.4, 0)[0]  # 0.4 s late: beyond the 0.26 s a 5 s timer may be
    assert not late_probe(5.95, 0, at_next=6.4)[0]
