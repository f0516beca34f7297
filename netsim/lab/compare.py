"""Compare the kernel's trace with netsim's, step by step, in words a person can act on."""

from __future__ import annotations

import re
from typing import Any

from netsim import sshforward
from netsim.scenario import FIREWALL_FIELDS

# Where netsim or the lab knowingly differs from the kernel, the comparison names it.
SIMPLIFICATIONS = {
    "reachable-time": "the kernel keeps an ARP answer REACHABLE for a time it draws at random per device, "
    "between half and one and a half times the base reachable time (neigh_rand_reach_time()); the lab reads "
    "each draw (`ip ntable show`: reachable) after every step and netsim uses it here, while `netsim run` and "
    "the pages use the base exactly (30 s unless set); the kernel draws anew for every device every 300 s "
    "(neigh_periodic_work()), which may fall inside a step: then netsim puts the new draw in force after the "
    "neighbour timer the comparison names (timer-branch)",
    "arp-step": "an `arp` step uses the entry as an application's first packet would (`ip neigh replace ... "
    "use`, neigh_event_send()), without the packet itself; all frames and tables are the kernel's; the lab "
    "sends that request from its own netlink socket, begins the step as it leaves (after its own `ip route get` "
    "lookup) and times it from there to the kernel's notification that the entry settled (no `ip` process is timed)",
    "open-connections": "connections stay open until the run ends, in the lab as in netsim, so no FIN or RST "
    "from closing them appears in any step",
    "multicast": "netsim floods multicast like broadcast; the lab turns multicast snooping off to match",
    "redirects": "netsim does not model ICMP redirects (ip_rt_send_redirect(), net/ipv4/route.c: a router sending a "
    "packet back out of the interface it came in by, toward the sender's own network, tells the sender of the "
    "shorter way); the lab and the script turn send_redirects off in every namespace to match",
    "timing": "how long a step took is compared within max(0.5 s, 10%): the kernel's timers and the lab's own "
    "Python add a little to the simulated clock; the `ip`, `bridge`, `sysctl` and `nft` commands that configure "
    "the kernel, a crafted frame's sending, `ip route get`, the pauses a script makes before showing its "
    "tables and the wait for a deleted namespace's devices to go (cleanup_net() runs later, in a workqueue) are "
    "not counted in the lab's seconds (netsim counts them as instant; their processes' start-up is the lab's, "
    "and a loaded machine stretches it)",
    "cables": "frames are captured where they cross a bridge (each port and the bridge device); a cable from "
    "one host straight to another (a veth pair with no bridge on it) is not watched, so what crosses it is "
    "compared only by what it leaves behind: the step's outcome and seconds, the neighbour, route and conntrack "
    "tables; a difference in the frames themselves there (an extra SYN-ACK, a missing probe) is not seen",
    "linkwatch": "the kernel acts on a carrier change up to a second late (linkwatch); the lab waits for it "
    "to settle after each link step, netsim acts at once",
    "timers-meet": "when a SYN's last timeout and an ARP failure fall due in the same instant, netsim lets the "
    "SYN's go first (what the kernel did in the lab); the order inside one jiffy is the kernel's timer wheel's",
    "ephemeral-port": "a port from 32768 up (ip_local_port_range) is compared by which frames share it, not "
    "by its number: connect() without a bind lets the kernel pick one from a random offset "
    "(__inet_hash_connect()), netsim numbers its own from 40000",
    "nat-port": "when masquerade (or the null binding a connection without a source rule gets) must change a "
    "source port, the kernel picks a free one from a random offset; "
    "netsim picks one from a hash, so a changed port is compared as 'another port', not by its number",
    "br-netfilter": "netsim models a machine without br_netfilter; the lab and the script switch "
    "bridge-nf-call-iptables off in a firewall's namespace (with it on, as wherever Docker runs, a firewall's "
    "reset leaves by the SYN's own port, past the bridge and the ARP table)",
    "deadline": "an application deadline is a socket timeout on connect() (a poll() that gives up, then close()), "
    "as Go's dialer does it; the lab's Python and a Go program reach the kernel the same way",
    "ports": "every frame's TCP ports are compared; a port from 32768 up (where the kernel picks a connect's "
    "own port at random) is compared by which frames of the step share it, not by its number",
    "resolver": "names are resolved by the real C library (getaddrinfo() for IPv4, in Python) with "
    "`hosts: files dns`, the host's own /etc/hosts and /etc/resolv.conf bound over /etc; a DNS server is "
    "dnsmasq with the scenario's records and NXDOMAIN for the rest (aardvark-dns would ask the host's own "
    "nameservers); DNS frames are compared by question, answers and result code, not by their random id "
    "and port; a resolve step's seconds are getaddrinfo()'s own, and on the lab's clock it begins when getaddrinfo() "
    "did, not when the helper processes started",
    "fdb-gc": "netsim forgets a learned bridge entry the instant it expires and floods the next frame for that "
    "MAC; the kernel forwards to it (br_handle_frame_finish() checks no age) until br_fdb_cleanup() deletes it, "
    "a delayed work armed for the earliest expiry that the timer wheel may run late (a second or more for a long "
    "ageing time), so a frame within that slack is forwarded there and flooded here; the tables are compared "
    "with that slack, the frames are not",
    "empty-flood": "a flood that finds no port to leave by (br_flood() with no eligible port frees the frame) "
    "is compared as a drop: the lab sees only the ports a frame leaves by, and it leaves by none",
    "conntrack": "conntrack is compared by state, tuples and flags (UNREPLIED, ASSURED), not by its countdown; "
    "netsim tracks TCP from a SYN or, picked up mid-stream, a bare ACK (no window tracking beyond the "
    "handshake), and UDP (DNS, which masquerade rewrites too); TCP and UDP entries are compared alike (a UDP "
    "entry has no state: its tuples and flags)",
    "ssh": "netsim models the SSH connection as its TCP handshake and one segment per channel open (the "
    "channel opens when that segment reaches the server; it is resent on TCP's timer from 200 ms plus a "
    "jiffy, doubling, without RFC 6069's revert on the errors of a failed neighbour, and its bytes are not "
    "modelled), a channel as the server's connect, and the server's answer (confirmation or failure) as one "
    "segment back once that connect settles, which ssh's kernel acknowledges at once (ssh hears the answer "
    "when the server sends it; it is not resent); not SSH's other messages (key exchange, window adjust, "
    "channel data): the login's messages stand as one neighbour confirmation at each end's "
    "first hop a jiffy after the handshake (and each router's on the way); so the neighbour entries between "
    "an ssh client and its server are compared by address, not by state (which side spoke last decides "
    "that), the time ssh takes to log in and which socket accepted the login (sshd's) are not "
    "compared; where the SSH connection crosses a watched bridge, its segments after the handshake (SSH's own "
    "messages, their ACKs, ssh's FIN or RST when it exits) are not compared frame by frame, in the lab or in "
    "netsim: only the login's SYN and the server's SYN-ACK or RST are; a knock on sshd's port 22 (not ssh's own "
    "login) is answered by sshd's version banner, one data segment (PSH-ACK) from the accepted socket 10 ms after "
    "the handshake (the lab's captures: 6 to 27 ms, sshd forking and re-executing itself first), confirming the "
    "server's neighbour, and the client's kernel ACKs it at once; the banner is sent once (not retransmitted), and "
    "what sshd does after it (LoginGraceTime's close at 120 s; the check refuses a scenario that waits that long) "
    "is not modelled; a banner relayed by ssh -L to the connection its listener accepted is a read's data, its "
    "segment on that connection is not modelled; "
    "which socket took a connection sshd accepted is not compared (the lab sees only its own listeners); "
    "netsim's own run reads a knock's connection at once, "
    "the lab's read waits up to two seconds after the connect (netsim, replaying the lab's clock, counts what "
    "came until the lab read its tables)",
    "ssh-ipv6": "netsim has no IPv6: the lab turns it off, so ssh's ::1 twin of a loopback listener fails to bind "
    "and only its IPv4 bind lines are compared; the :: twin of a wildcard listener binds and takes a channel "
    "number, which netsim counts, and keeps ssh running when the IPv4 bind is refused; ssh prints a refused bind "
    "only for the last address it tries, the IPv6 twin's when there is one, so the lab runs ssh at LogLevel "
    "VERBOSE to read the IPv4 refusal (the step's outcome) and compares only what the default level prints",
    "localhost": "the server resolves a target 'localhost' to 127.0.0.1 in netsim; the real sshd tries ::1 too",
    "bridge-netfilter": "br_netfilter (built into some kernels, loaded by Docker) would hand frames that only cross "
    "a bridge to the host's own netfilter; netavark does not rely on it and netsim does not model it, so the lab "
    "turns net.bridge.bridge-nf-call-iptables off in each namespace holding a bridge",
    "publish": "a publish step writes netavark's rules for one port (table inet netavark, its DNAT and SETMARK "
    "chains, the masquerade of marked packets), not its per-network masquerade, forward or isolation rules; the "
    "per-network chain's name leaves out the network's ID; IPv4 and TCP only",
}


# Said when a comparison allowed what the kernel's timers leave open (lines starting with "~").
TIMER_NOTES = {
    "timer-order": "timer-order: frames that kernel timers sent are compared as a set where the timers fall due "
    "within each other's slack: the timer wheel (kernel/time/timer.c, calc_index()) rounds a timer's expiry up "
    "to its level's bucket (1/8 of the delay at most) and fires one bucket's timers in one tick, in no order "
    "of their expiry; netsim fires each on time, in order",
    "timer-branch": "timer-branch: where a step disagreed, netsim was replayed with one timer that fired near it "
    "made late within its slack (just past another timer, a step's start, the lab's reading, or the moment a rate "
    "limit netsim refused would have had its token), one timer at a "
    "time; the first that made every step so far agree is the side of the timer's edge the kernel took, and "
    "netsim follows it in every later step (a late neighbour timer probes later or not at all, a late SYN goes "
    "after another timer's frames, a late SYN finds the ICMP token netsim's on-time one did not); only that "
    "timer is late, and each is named under its step",
    "same-tick": "same-tick: netsim fires timers due at one moment one after another, each with what it sends, in "
    "the order they were armed; the kernel may fire them in one tick of the timer wheel, all before the packets "
    "they sent are received (__run_timers(), kernel/time/timer.c, then NET_RX from the backlog), the most "
    "recently armed first (enqueue_timer() adds at the head of its bucket); where a step disagreed, netsim was "
    "replayed with the timers due at one moment fired so, and it follows that from then on (a router giving up "
    "on a next hop in the tick of the sender's next SYN: its ICMP errors come before that SYN, which then "
    "starts a new resolution); each is named under its step",
    "timer-search": "timer-search: the replay tries one late timer, one redraw or one moment's tick at a time "
    "per step (and a redraw with one late timer); where the kernel's wheel did several of these in one step it "
    "still disagrees: timers of different levels of the wheel meet often (calc_index(), kernel/time/timer.c: "
    "at HZ 250 a 5 s neighbour timer may fire 256 ms late, a 1 s SYN retransmission 32 ms), so a SYN due with "
    "two DELAY timers may go first while those two fire in one tick, and a request sock's SYN-ACK and a SYN "
    "due together at 1 s may also share one; netsim cannot know the kernel's buckets (they depend on the "
    "jiffy each timer was armed in), and the search does not combine them",
    "timer-edge": "timer-edge: a neighbour entry or learned MAC may be shown as netsim had it just before a "
    "timer that the wheel may fire after the read (its slack, at the kernel's HZ), or just after a timer due "
    "while the lab read the tables, or (a MAC) until br_fdb_cleanup()'s delayed work removes it; only those "
    "values, and each is named under its step",
}


def timer_notes(lines: list[str]) -> list[str]:
    """The timer notes for the allowances a comparison's report made."""
    return [f"  {text}" for name, text in TIMER_NOTES.items() if any(f"({name})" in line for line in lines)]


CLOCK_NOTE = (
    "  lab-clock: netsim replays the steps at the moments the lab performed them: each step starts when "
    "the lab's did (a step that configures the kernel when its first `ip`, `bridge` or `sysctl` process "
    "returned, its change in force; a crafted frame's step when the frame left) and its tables are read "
    "when the lab's were (seconds since the first step), so the "
    "time the lab spent between steps (its own commands, a loaded machine) passes on the simulated clock "
    "too, with every timer that falls due in it; a limit the kernel counts in jiffies (TCP's out-of-window "
    "answers, ARP's locktime, the ICMP rate limits' buckets) counts the same ticks, placed on the lab's "
    "clock by the phase the lab read; `netsim run` and the pages play the steps back to back"
)


def measured_clock(scenario: Any, kernel: dict[str, Any]) -> list[tuple[float, float, float]] | None:
    """Each step's (start, tables read, reading done) on the lab's clock, in the scenario's order;
    None when the lab's trace does not give them for every step (then netsim plays the steps back
    to back). A recording from before the lab timed its reading ends it where it began."""
    seen = {s["id"]: s.get("clock") for s in kernel.get("steps", [])}
    clock = [seen.get(step.id) for step in scenario.steps]
    if any(c is None for c in clock):
        return None
    return [(float(c["at"]), float(c["observed"]), float(c.get("read", c["observed"]))) for c in clock if c]


def measured_reachable(scenario: Any, kernel: dict[str, Any]) -> list[dict[str, dict[str, float]]] | None:
    """Each step's REACHABLE lifetimes as the kernel drew them ({host: {dev: seconds}}, read with
    `ip ntable show`), in the scenario's order; None when the lab's trace does not give them."""
    seen = {s["id"]: (s.get("clock") or {}).get("reachable") for s in kernel.get("steps", [])}
    drawn = [seen.get(step.id) for step in scenario.steps]
    return None if any(d is None for d in drawn) else [d for d in drawn if d is not None]


def measured_reachable_before(kernel: dict[str, Any]) -> dict[str, dict[str, float]] | None:
    """The REACHABLE lifetimes the lab read as the first step began (None in older recordings)."""
    steps = kernel.get("steps") or [{}]
    return (steps[0].get("clock") or {}).get("reachable_before")


def ssh_link_neighbours(scenario: Any) -> set[tuple[str, str]]:
    """(host, neighbour address) pairs between each ssh client and its server: both directions.

    The server's pairs name every address of the client, on its subnet or not: their addresses are
    also the SSH connections' ends (_ssh_message()), and a client behind a router talks to sshd from
    an address on no subnet of the server's, where a pair names no neighbour entry and loosens none.
    """
    import ipaddress

    pairs: set[tuple[str, str]] = set()
    for step in scenario.steps:
        f = step.ssh_forward
        if f is None:
            continue
        server_ip = ipaddress.IPv4Address(f.server)
        pairs.add((f.by, f.server))
        for host in scenario.hosts:
            if any(server_ip == a.ip for a in scenario.addresses(host)):
                pairs |= {(host, str(a.ip)) for a in scenario.addresses(f.by)}
    return pairs


def within(netsim_seconds: float, kernel_seconds: float) -> bool:
    return abs(netsim_seconds - kernel_seconds) <= max(0.5, 0.1 * netsim_seconds)


def _host_to_host_cable(scenario: Any) -> bool:
    """Whether a cable runs from one host to another with no bridge on it: plugged so from the start, or
    made by a `link_add` step (both ends in one namespace, one moved or plugged later)."""
    plugged = (
        iface.plug.partition(".")[0] in scenario.hosts
        for h in scenario.hosts.values()
        for iface in h.interfaces.values()
        if iface.plug
    )
    return any(plugged) or any(s.action == "link_add" for s in scenario.steps)


def _entries_may_expire(scenario: Any, netsim: dict[str, Any] | None) -> bool:
    """Whether a learned bridge entry can outlive its ageing time in the run: the run lasts that long."""
    ageing = [br.ageing_time for br in scenario.bridges.values()]
    ageing += [s.set_bridge.ageing_time for s in scenario.steps if s.set_bridge]
    ageing = [a for a in ageing if a > 0]
    if not ageing:
        return False
    if netsim is None:
        return any(s.set_bridge for s in scenario.steps)
    return sum(step["seconds"] or 0 for step in netsim["steps"]) >= min(ageing)


def notes_for(scenario: Any, netsim: dict[str, Any] | None = None) -> list[str]:
    """The named simplifications that apply to this scenario (and netsim's trace of it), one line each."""
    names = ["open-connections", "ports"] if any(s.connect for s in scenario.steps) else []
    if netsim is not None and any(_empty_flood(h) for step in netsim["steps"] for h in step["frames"]):
        names.append("empty-flood")
    if any(s.arp for s in scenario.steps):
        names.append("arp-step")
    if _entries_may_expire(scenario, netsim):
        names.append("fdb-gc")
    changed = [s.reachable_time.seconds for s in scenario.steps if s.reachable_time]
    shortest = min([h.reachable_time for h in scenario.hosts.values()] + changed, default=30.0)
    if any(s.wait is not None and s.wait >= shortest / 2 for s in scenario.steps):
        names.append("reachable-time")
    if any(s.action in ("link_set", "link_move", "link_del", "netns_del", "nomaster") for s in scenario.steps):
        names.append("linkwatch")
    if _host_to_host_cable(scenario):
        names.append("cables")
    if any(s.connect for s in scenario.steps) and any(h.tcp_syn_retries < 3 for h in scenario.hosts.values()):
        names.append("timers-meet")
    if any(any(getattr(h, k) for k in FIREWALL_FIELDS) for h in scenario.hosts.values()):
        names.append("br-netfilter")
    if any(s.connect and s.connect.deadline for s in scenario.steps):
        names.append("deadline")
    names.append("multicast")
    if scenario.forwarding_hosts():
        names.append("redirects")
    names.append("timing")
    if scenario.needs_resolver() or scenario.needs_dnsmasq():
        names.append("resolver")
    if any(h.masquerade for h in scenario.hosts.values()) or any(s.masquerade or s.publish for s in scenario.steps):
        names += ["conntrack", "nat-port", "bridge-netfilter"]
    if any(s.publish for s in scenario.steps):
        names.append("publish")
    if scenario.needs_ssh():
        names += ["ssh", "ssh-ipv6", "localhost"]
    return [f"  {name}: {SIMPLIFICATIONS[name]}" for name in names]


def compare(
    netsim: dict[str, Any],
    kernel: dict[str, Any],
    loose: set[tuple[str, str]] | None = None,
    trace: Any = None,
    branches: dict[str, list[str]] | None = None,
) -> tuple[bool, list[str]]:
    """(agree, report lines). `loose` neighbour entries are compared by address and MAC, not state.

    With netsim's `trace` (a Trace replayed on the kernel's clock), what the kernel's timers leave
    open is allowed and said, each on a line starting with "~" under its step: frames that timers
    due within each other's slack sent (compared as a set: timer-order), and the tables at a timer's
    edge (timer-edge). Without it every frame is compared in order and every table at the read.
    `branches` are the lines compare_with_kernel() says under a step where netsim took the kernel's
    side of a timer's edge (timer-branch).
    """
    lines: list[str] = []
    agree = True
    for n, ours in enumerate(netsim["steps"], 1):
        diffs, allowed = _compare_step(ours, kernel, loose, trace)
        if diffs is None:
            lines.append(f"✗ [{n}] {ours['id']}: the kernel run has no such step")
            agree = False
            continue
        mark = "✓" if not diffs else "✗"
        lines.append(f"{mark} [{n}] {ours['id']}" + ("" if diffs else f": {_summary(ours)}"))
        for d in diffs:
            lines.append(f"    {d}")
        for a in [*(branches or {}).get(ours["id"], []), *allowed]:
            lines.append(f"    ~ {a}")
        agree = agree and not diffs
    return agree, lines


def _compare_step(
    ours: dict[str, Any], kernel: dict[str, Any], loose: set[tuple[str, str]] | None, trace: Any
) -> tuple[list[str] | None, list[str]]:
    """(differences, allowances) of one of netsim's steps against the kernel's; None: no such step."""
    theirs = next((s for s in kernel["steps"] if s["id"] == ours["id"]), None)
    if theirs is None:
        return None, []
    traced = next((s for s in trace.steps if s.id == ours["id"]), None) if trace is not None else None
    allowed: list[str] = []
    return _step_diffs(ours, theirs, loose or set(), traced, allowed), allowed


EPSILON = 1e-6  # how far past the event it now follows a postponed timer fires
MAX_PAIRS = 400  # a redraw and a late timer together: at most this many replays for one step


def compare_with_kernel(
    scenario: Any,
    kernel: dict[str, Any],
    loose: set[tuple[str, str]] | None = None,
    act_late: dict[int, float] | None = None,
) -> tuple[bool, list[str], Any, bool]:
    """Replay `scenario` on the lab's clock and compare it with the kernel's trace, step by step:
    (agree, report lines, netsim's trace, whether the lab's clock was replayed).

    Where a step disagrees, the kernel may have taken the other side of a timer's edge: the timer
    wheel fires a timer up to its slack late (calc_index(), kernel/time/timer.c), so it may have
    fired after another timer, a step's start or the lab's reading of its tables where netsim fired
    it before. Each timer that fired near the step (due from the previous step's start to the end of
    this step's reading) is tried late, just past each such event within its slack, one at a time,
    the earliest first; netsim is replayed from scratch with it, and the first that makes every step
    so far agree is the branch netsim follows from then on, said under the step with the timer, its
    due time, how late and its source (timer-branch). Nothing else is allowed: a step no single late
    timer explains disagrees. `act_late` (step index -> seconds) has steps' actions take effect that
    long after the lab began them (tests/races.py: what a program's latency would change).
    """
    from netsim.simulation import run as simulate

    clock = measured_clock(scenario, kernel)
    hz, drawn = kernel.get("hz"), measured_reachable(scenario, kernel)
    drawn_before = measured_reachable_before(kernel) if drawn is not None else None
    phase = kernel.get("tick_phase") if clock is not None else None  # where the jiffies ticked on the lab's clock

    def replay(postpone: dict[int, float], redraws: dict[int, float], ticks: tuple[float, ...]) -> Any:
        return simulate(
            scenario,
            clock,
            hz=hz,
            drawn=drawn,
            postpone=postpone,
            redraws=redraws,
            ticks=ticks,
            tick_phase=phase,
            drawn_before=drawn_before,
            act_late=act_late if clock is not None else None,
        )

    # A step whose action took effect late (act_late) acted then, not when the lab began it: the moments
    # a late timer is tried past.
    acted = [(at + (act_late or {}).get(k, 0.0), obs, read) for k, (at, obs, read) in enumerate(clock or [])]
    postpone: dict[int, float] = {}
    redraws: dict[int, float] = {}
    ticks: tuple[float, ...] = ()
    trace = replay(postpone, redraws, ticks)
    said: dict[str, list[str]] = {}
    if clock is not None:
        for i in range(len(scenario.steps)):
            if _agree_until(trace, kernel, loose, i):
                continue
            found = None
            candidates = branch_candidates(trace, i, acted, postpone)
            late = [({**postpone, n: t}, why) for n, t, why in candidates]
            late += bucket_candidates(trace, candidates, postpone)
            redrawn = [({**redraws, i: at}, why) for at, why in redraw_candidates(trace, i, clock, drawn, drawn_before)]
            tries = [(p, redraws, ticks, [why]) for p, why in late]
            tries += [(postpone, r, ticks, [why]) for r, why in redrawn]
            tries += [(postpone, redraws, (*ticks, t), [why]) for t, why in tick_candidates(trace, i, clock, ticks)]
            # A redraw inside the step and one late timer together (the redraw moved the timers);
            # a late timer alone or a redraw alone is tried first.
            tries += [(p, r, ticks, [rw, lw]) for r, rw in redrawn for p, lw in late][:MAX_PAIRS]
            for late_timers, redrawn_at, one_tick, whys in tries:
                tried = replay(late_timers, redrawn_at, one_tick)
                if _agree_until(tried, kernel, loose, i):
                    found = late_timers, redrawn_at, one_tick, whys, tried
                    break
            if found is None:
                # No late timer, redraw or tick explains it: the step disagrees. When timers met near
                # it, say what the search left untried (timer-search).
                met = sorted({round(t, 3) for t, _ in tick_candidates(trace, i, clock, ticks)})
                if met:
                    said.setdefault(scenario.steps[i].id, []).append(
                        f"timers fell due together at {', '.join(f'{t:.3f}' for t in met)} s near this step; "
                        f"no one of them fired as one tick, no one timer fired late and no redraw explains it "
                        "(timer-search)"
                    )
                break
            postpone, redraws, ticks, whys, trace = found
            said.setdefault(scenario.steps[i].id, []).extend(whys)
    agree, lines = compare(trace.to_json(), kernel, loose, trace if clock else None, said)
    return agree, lines, trace, clock is not None


def _agree_until(trace: Any, kernel: dict[str, Any], loose: set[tuple[str, str]] | None, last: int) -> bool:
    ours = trace.to_json()["steps"]
    return all(_compare_step(ours[k], kernel, loose, trace)[0] == [] for k in range(last + 1))


def redraw_candidates(
    trace: Any,
    i: int,
    clock: list[tuple[float, float, float]],
    drawn: list[dict[str, dict[str, float]]] | None,
    before: dict[str, dict[str, float]] | None = None,
) -> list[tuple[float, str]]:
    """(moment, what to say) at which the kernel may have drawn step `i`'s REACHABLE lifetimes anew
    during the step, when the lab read another draw after it than after the step before: the
    periodic redraw (neigh_periodic_work(), net/core/neighbour.c: every 300 s, for every device of
    every namespace at once) falls anywhere in a step, so each neighbour timer of a host whose draw
    changed may have met the old lifetime: just after each such timer, the earliest first."""
    previous = drawn[i - 1] if drawn and i > 0 else before  # the first step: what the lab read before it
    if not drawn or previous is None or drawn[i] == previous:
        return []
    at, observed, _ = clock[i]
    changed: dict[str, list[str]] = {}
    for host, devs in drawn[i].items():
        for dev, seconds in sorted(devs.items()):
            old = previous.get(host, {}).get(dev)
            if old != seconds:
                changed.setdefault(host, []).append(f"{dev} {old if old is None else round(old, 3)} -> {seconds:.3f} s")
    out = []
    for timer in trace.fired:
        owner = next((h for h in changed if timer.name.startswith(f"{h}'s neighbour ")), None)
        if owner is None or not at <= timer.due + timer.late <= observed:
            continue
        out.append(
            (
                timer.due + timer.late + EPSILON,
                f"the kernel drew the REACHABLE times anew during the step, and netsim follows it (timer-branch): "
                f"{owner}'s {', '.join(changed[owner])} as the lab read them before and after it; the periodic redraw "
                f"(neigh_periodic_work(), net/core/neighbour.c, every 300 s for every device) came after "
                f"{timer.name}, due at {timer.due:.3f} s, so that timer met the old time",
            )
        )
    if changed:
        # Or after every timer of the step: the old draw held throughout it. Its timers, armed for the
        # old lifetime, are not among those netsim fired with the new one (a lifetime past the step's end).
        hosts = "; ".join(f"{host}'s {', '.join(devs)}" for host, devs in changed.items())
        out.append(
            (
                observed,
                f"the kernel drew the REACHABLE times anew during the step, and netsim follows it (timer-branch): "
                f"{hosts} as the lab read them before and after it; the periodic redraw (neigh_periodic_work(), "
                f"net/core/neighbour.c, every 300 s for every device) came after every neighbour timer of the step",
            )
        )
    return sorted(out)


def tick_candidates(
    trace: Any, i: int, clock: list[tuple[float, float, float]], ticks: tuple[float, ...]
) -> list[tuple[float, str]]:
    """(moment, what to say) for each moment near step `i` at which two timers or more fell due
    together, which netsim fired one after another, each with its consequences: the kernel fires
    them in one tick, all before what they sent is received (same-tick); the earliest first."""
    from netsim.simulation import TICK_EPSILON

    lo, hi = (clock[i - 1][0] if i else 0.0), clock[i][2]
    # Every timer that came due counts, a stale one too: a timer another one due at the same moment
    # re-armed (a retransmitted SYN re-arms the request sock's) was still pending in that tick.
    moments: dict[float, list[tuple[float, int, str]]] = {}
    for when, n, name in trace.popped:
        if lo <= when <= hi and not any(abs(when - t) < TICK_EPSILON for t in ticks):
            key = next((m for m in moments if abs(m - when) < TICK_EPSILON), when)
            moments.setdefault(key, []).append((when, n, name))
    fired = {t.n for t in trace.fired}
    out = []
    for when, timers in sorted(moments.items()):
        if len(timers) < 2 or not any(n in fired for _, n, _ in timers):
            continue
        names = "; ".join(name for _, _, name in sorted(timers, key=lambda t: -t[1]))
        out.append(
            (
                when,
                f"the kernel fired the timers due at {when:.3f} s in one tick, and netsim follows it (same-tick): "
                f"{names}, the most recently armed first (enqueue_timer() adds at the head of the bucket); "
                "every timer of a tick runs before the packets it sent are received (__run_timers(), "
                "kernel/time/timer.c, before NET_RX takes them from the backlog)",
            )
        )
    return out


def branch_candidates(
    trace: Any, i: int, clock: list[tuple[float, float, float]], postpone: dict[int, float]
) -> list[tuple[int, float, str]]:
    """(timer, seconds late, what to say) for each timer that fired near step `i` and might have
    fired after an event that netsim put after it: another timer due no earlier (which netsim fired
    after it), or a step's start or reading, within the timer's slack; the least late first."""
    lo, hi = (clock[i - 1][0] if i else 0.0), clock[i][2]
    marks = {}
    for k, (at, observed, read) in enumerate(clock, 1):
        marks.setdefault(at, f"the lab began step {k} at {at:.3f} s")
        marks.setdefault(observed, f"the lab read step {k}'s tables at {observed:.3f} s")
        marks.setdefault(read, f"the lab's reading of step {k}'s tables ended at {read:.3f} s")
    out = []
    fired = trace.fired
    for k, x in enumerate(fired):
        if x.due > hi or x.due + x.slack <= lo:
            continue
        # A timer already made late may be later still, within its slack: the least late choice
        # that made an earlier step agree may leave a later one disagreeing (the kernel fired it
        # after the next step began, not only after the last reading: bridge-down at load).
        since = x.due + postpone.get(x.n, 0.0)
        events = {y.due: f"{y.name}, due at {y.due:.3f} s" for y in reversed(fired[k + 1 :]) if y.due >= x.due}
        events.update({t: why for t, why in marks.items() if t not in events})
        # A limit in time netsim refused that allowed again within this timer's slack: fired that late,
        # what it sent passed (an ICMP bucket's token: icmpv4_xrlim_allow(), net/ipv4/icmp.c, ip_error(),
        # route.c; tcp_oow_rate_limited(), tcp_input.c; ARP's locktime, neigh_update(), neighbour.c).
        events.update({t: f"the moment {what}" for t, what in trace.refills if t not in events})
        # An application's deadline (a poll() timing out on an hrtimer, to the microsecond): a timer due
        # just before it fired after it (a neighbour's failure: the SYN's error then finds no socket).
        events.update({t: f"the moment {what}" for t, what in trace.deadlines if t not in events})
        for t, what in events.items():
            if since < t < x.due + x.slack:  # since >= x.due: a timer is never late before it is due
                late = t - x.due + EPSILON
                out.append(
                    (
                        x.n,
                        late,
                        f"the kernel fired a timer late, and netsim follows it from here (timer-branch): {x.name}, "
                        f"due at {x.due:.3f} s, fired {late:.3f} s late, after {what}; the timer wheel may fire it "
                        f"up to {x.slack:.3f} s late (calc_index(), kernel/time/timer.c)",
                    )
                )
    return sorted(out, key=lambda c: c[1])


def bucket_candidates(
    trace: Any, late: list[tuple[int, float, str]], postpone: dict[int, float]
) -> list[tuple[dict[int, float], str]]:
    """Each late timer of `late` with the timers in its bucket of the wheel late alike: timers due in
    the same instant with the same slack were armed together with the same delay, so calc_index()
    (kernel/time/timer.c) files them in one bucket, and the kernel fires them in one tick: when one
    of them is late, all of them are (two hosts' DELAY timers armed by one exchange). Tried after each
    timer alone."""
    from netsim.simulation import TICK_EPSILON

    by_n = {x.n: x for x in trace.fired}
    out = []
    for n, t, why in late:
        x = by_n[n]
        mates = [
            y.n for y in trace.fired if y.n != n and abs(y.due - x.due) < TICK_EPSILON and abs(y.slack - x.slack) < 1e-9
        ]
        if mates:
            names = "; ".join(by_n[m].name for m in mates)
            out.append(
                ({**postpone, n: t, **{m: t for m in mates}}, f"{why}; with it the timers of its bucket: {names}")
            )
    return out


def unordered_runs(frames: list[Any]) -> list[tuple[int, int, str]]:
    """Runs of frames (start, end, why) whose order the kernel does not fix: each timer's frames
    (the probe and what answers it) are a burst; a burst and the next are in one run when the
    earlier timers may fire as late as the next one's due time (their slack, netsim.timerwheel).
    The timer wheel fires timers of one bucket in one tick, in its list's order, on either CPU."""
    bursts: list[tuple[int, int, Any]] = []  # (start, end, timer) with timer = (due, slack, n) or None
    for i, hop in enumerate(frames):
        if bursts and bursts[-1][2] is not None and hop.timer == bursts[-1][2]:
            bursts[-1] = (bursts[-1][0], i + 1, hop.timer)
        else:
            bursts.append((i, i + 1, hop.timer))
    runs: list[tuple[int, int, str]] = []
    k = 0
    while k < len(bursts):
        m, latest = k, -1.0
        while m + 1 < len(bursts) and bursts[m][2] is not None and bursts[m + 1][2] is not None:
            due, slack, _ = bursts[m][2]
            latest = max(latest, due + slack)
            if latest <= bursts[m + 1][2][0]:
                break
            m += 1
        if m > k:
            dues = ", ".join(f"{b[2][0]:.3f}" for b in bursts[k : m + 1])
            slack = max(b[2][1] for b in bursts[k : m + 1])
            why = (
                f"timers due at {dues} s, each of which the timer wheel may fire up to {slack:.3f} s late "
                "(kernel/time/timer.c), sent them: the kernel keeps no order among them"
            )
            runs.append((bursts[k][0], bursts[m][1], why))
        k = m + 1
    return runs


def _summary(step: dict[str, Any]) -> str:
    parts = [f"{len(step['frames'])} frame(s)"]
    if step["outcome"]:
        parts.append(f"connect {step['outcome']}")
    resolved = step.get("resolved")
    if resolved:
        parts.append(f"{resolved['name']} -> {resolved['address'] or resolved['error']}")
    return ", ".join(parts)


def _empty_flood(hop: dict[str, Any]) -> bool:
    return hop["decision"] == "flood" and not hop["out_ports"]


def _nat_ports(step: dict[str, Any]) -> set[int]:
    """Source ports masquerade chose in this step's connections (a reply port not the original's)."""
    out = set()
    for entries in step.get("conntrack", {}).values():
        for e in entries:
            original = dict(kv.split("=", 1) for kv in e["original"].split())
            reply = dict(kv.split("=", 1) for kv in e["reply"].split())
            if reply["dport"] != original["sport"]:
                out.add(int(reply["dport"]))
    return out


def _nat_ports_seen(frames: list[dict[str, Any]]) -> set[int]:
    """Source ports a NAT changed on the way, from the frames: a segment forwarded with another source
    address (one hop less TTL, same destination, same kind) and another source port. An entry the same
    step killed (a picked-up ACK answered by a reset, nf_ct_kill_acct()) is in no table when the step
    ends, but its port was picked all the same (nf_nat_l4proto_unique_tuple(), from a random offset)."""
    out = set()
    for n, h in enumerate(frames):
        ip, tcp = h.get("ip"), h.get("tcp")
        if not ip or not tcp:
            continue
        for g in frames[n + 1 :]:
            gip, gtcp = g.get("ip"), g.get("tcp")
            if not gip or not gtcp or gip["src"] == ip["src"] or gip["ttl"] != ip["ttl"] - 1:
                continue
            if (gip["dst"], gtcp["dport"], g.get("carries")) == (ip["dst"], tcp["dport"], h.get("carries")):
                if gtcp["sport"] != tcp["sport"]:
                    out.add(gtcp["sport"])
                break
    return out


ARP_FIELDS = ("sender_mac", "sender_ip", "target_mac", "target_ip")
# A recording made before frames kept their ARP addresses still names some in its words for the
# frame (netsim.lab.capture.describe(), read from the same bytes): a request's two IPs ("who-has
# TARGET tell SENDER"), a reply's sender IP and MAC ("SENDER is-at MAC"); those are compared there.
ARP_IN_WORDS = {"ARP request": ("sender_ip", "target_ip"), "ARP reply": ("sender_ip", "sender_mac")}
WHO_HAS = re.compile(r"ARP who-has (?P<target_ip>\S+) tell (?P<sender_ip>\S+)$")
IS_AT = re.compile(r"ARP (?P<sender_ip>\S+) is-at (?P<sender_mac>\S+)$")


def _arp_key(hop: dict[str, Any], every_field: bool) -> tuple | None:
    """What an ARP frame's payload says (RFC 826's sender and target addresses), as compared: every
    field where both traces keep them, else those the recording's words for the frame name."""
    said = hop.get("what", "")
    words = WHO_HAS.match(said) or IS_AT.match(said)
    arp = hop.get("arp") or (words.groupdict() if words else None)
    if arp is None:
        return None
    kind = hop.get("carries") or ("ARP request" if said.startswith("ARP who-has") else "ARP reply")
    return tuple((f, arp.get(f)) for f in (ARP_FIELDS if every_field else ARP_IN_WORDS[kind]))


def _ssh_message(hop: dict[str, Any], ends: set[str]) -> bool:
    """A segment of an SSH connection after its handshake: not compared frame by frame (named: ssh).

    `ends` are the SSH connections' addresses: those of the neighbour entries between each ssh
    client and its server (ssh_link_neighbours(), the comparison's `loose`). A TCP segment between
    two of them with port 22 on one side is compared when it is the login's SYN, the server's
    SYN-ACK or the server's RST (no sshd there); any other carries SSH's own messages (version
    lines, key exchange, channel opens, their ACKs) or ssh's exit (a FIN, or a RST when bytes were
    left unread: tcp_close(), net/ipv4/tcp.c), whose number, sizes and timing depend on OpenSSH's
    version and keys, which netsim does not model: its one segment per channel open, and the server's
    one segment answering it, are compared by their effects.
    """
    ip, tcp = hop.get("ip"), hop.get("tcp")
    if not ip or not tcp or sshforward.SSH_PORT not in (tcp["sport"], tcp["dport"]):
        return False
    if ip["src"] not in ends or ip["dst"] not in ends:
        return False
    what = hop.get("carries")
    return not (what == "SYN" or (tcp["sport"] == sshforward.SSH_PORT and what in ("SYN-ACK", "RST")))


def _is_arp(hop: dict[str, Any]) -> bool:
    """Every ARP frame's words start so, in netsim's trace and in the lab's capture, with or without
    the frame's ARP fields (recordings from before the lab kept them have only the words)."""
    return str(hop.get("what", "")).startswith("ARP ")


def _hop_key(
    hop: dict[str, Any],
    chosen: frozenset[int] = frozenset(),
    ports: bool = True,
    carries: bool = True,
    arp: bool = True,
) -> tuple:
    ip = hop.get("ip")
    tcp = hop.get("tcp") if ports else None
    pair = tuple("another-port" if p in chosen else p for p in (tcp["sport"], tcp["dport"])) if tcp else None
    header = (ip["src"], ip["dst"], ip["ttl"], pair) if ip else None
    return (
        hop["bridge"],
        hop["in_port"],
        hop["src"],
        hop["dst"],
        "drop" if _empty_flood(hop) else hop["decision"],  # named: empty-flood
        tuple(sorted(hop["out_ports"])),
        header,
        hop.get("carries") if carries else "",
        hop.get("dns"),
        _arp_key(hop, arp),
    )


EPHEMERAL = 32768  # ip_local_port_range starts here: a connect without a source port gets one at random


def _ephemeral(keys: list[tuple]) -> list[tuple]:
    """Ports from EPHEMERAL up, by the order they first appear in the step ("port#1", ...): the
    kernel picks a connect's own port at random, so only which frames share one is compared."""
    seen: dict[int, str] = {}

    def name(port: Any) -> Any:
        if isinstance(port, int) and port >= EPHEMERAL:
            return seen.setdefault(port, f"port#{len(seen) + 1}")
        return port

    out = []
    for key in keys:
        header = key[6]
        if header is not None and header[3] is not None:
            header = (*header[:3], tuple(name(p) for p in header[3]))
        out.append((*key[:6], header, *key[7:]))
    return out


def _as_sets(a: list[tuple], b: list[tuple], step: Any, allowed: list[str]) -> list[tuple]:
    """The kernel's frames, with each run whose order it does not fix (unordered_runs()) taken in
    netsim's order when the two hold the same frames; each such run is named in `allowed`."""
    if step is None or len(a) != len(b):
        return b
    out = list(b)
    for start, end, why in unordered_runs(step.frames):
        if a[start:end] != b[start:end] and sorted(map(repr, a[start:end])) == sorted(map(repr, b[start:end])):
            out[start:end] = a[start:end]
            allowed.append(f"frames {start + 1}-{end} came in another order, compared as a set (timer-order): {why}")
    return out


def _late_timers(a: list[tuple], b: list[tuple], step: Any, allowed: list[str], key: Any) -> list[tuple] | None:
    """netsim's frames as the kernel's late timers would have them, when that is what the kernel saw:
    the frames of timers netsim fired before the lab's watch stopped but the wheel may fire after
    (dropped, latest first), and those of timers netsim fired before the step began that the wheel
    may fire after the watch started (leading). None when no such reading matches."""
    if step is None:
        return None
    late: dict[int, list[int]] = {}  # timer -> indices of its frames, for timers that may fire after the read
    for i, hop in enumerate(step.frames):
        if hop.timer is not None and hop.timer[0] + hop.timer[1] > step.time:
            late.setdefault(hop.timer[2], []).append(i)
    order = sorted(late, key=lambda n: step.frames[late[n][0]].timer[0], reverse=True)
    lead = [key(h) for h in step.may_lead]
    for n_lead in range(len(lead) + 1):
        for n_late in range(len(order) + 1):
            gone = {i for n in order[:n_late] for i in late[n]}
            if lead[:n_lead] + [k for i, k in enumerate(a) if i not in gone] != b:
                continue
            if n_lead:
                timers = sorted({h.timer[0] for h in step.may_lead[:n_lead] if h.timer})
                allowed.append(
                    f"the kernel's first {n_lead} frame(s) came from timers due at "
                    f"{', '.join(f'{t:.3f}' for t in timers)} s, before the step began, which the timer wheel "
                    "fired late, after the lab's watch started (timer-edge)"
                )
            if n_late:
                timers = sorted(step.frames[late[n][0]].timer for n in order[:n_late])
                allowed.append(
                    f"the frames netsim's timers due at {', '.join(f'{t[0]:.3f}' for t in timers)} s sent are not "
                    f"in the kernel's step: the timer wheel may fire them up to {max(t[1] for t in timers):.3f} s "
                    f"late, after the watch stopped at {step.time:.3f} s (timer-edge)"
                )
            return b
    return None


def _edge(
    edges: dict[tuple[str, str], list[tuple[Any, str]]],
    key: tuple[str, str],
    kernel: Any,
    allowed: list[str],
    what: str,
) -> bool:
    """Whether the kernel's value is one netsim's trace allows at a timer's edge; said in `allowed`."""
    for value, why in edges.get(key, []) if edges else []:
        if value == kernel:
            allowed.append(
                f"{what}: the kernel showed what netsim had just before or after the read (timer-edge): {why}"
            )
            return True
    return False


def _step_diffs(
    ours: dict[str, Any],
    theirs: dict[str, Any],
    loose: set[tuple[str, str]],
    step: Any = None,
    allowed: list[str] | None = None,
) -> list[str]:
    allowed = [] if allowed is None else allowed
    diffs = []
    if ours["outcome"] != theirs["outcome"]:
        diffs.append(f"outcome: netsim {ours['outcome']}, kernel {theirs['outcome']}")
    if ours.get("reads") != theirs.get("reads"):
        diffs.append(f"read after connect: netsim {ours.get('reads')}, kernel {theirs.get('reads')}")
    if ours.get("ssh_log", []) != theirs.get("ssh_log", []):
        diffs.append(f"ssh said: netsim {ours.get('ssh_log', [])}, real ssh {theirs.get('ssh_log', [])}")
    if "seconds" in ours and "seconds" in theirs and not within(ours["seconds"], theirs["seconds"]):
        diffs.append(f"seconds: netsim {ours['seconds']:g}, kernel {theirs['seconds']:g} (beyond the tolerance)")
    # Ports masquerade chose are compared as "another port" (nat-port), every other port as it is;
    # a trace recorded before frames carried their ports, or what they carry (tests/kernel_traces),
    # is compared without them; every live lab run has both.
    mine = frozenset(_nat_ports(ours) | _nat_ports_seen(ours["frames"]))
    kernels = frozenset(_nat_ports(theirs) | _nat_ports_seen(theirs["frames"]))
    ports = any("tcp" in h for h in theirs["frames"]) == any("tcp" in h for h in ours["frames"])
    carries = all("carries" in h for h in theirs["frames"])
    arp = all("arp" in h for h in theirs["frames"] if _is_arp(h))  # every ARP field, or those its words name
    ends = {addr for _, addr in loose}  # the SSH connections' addresses
    ours_frames = [h for h in ours["frames"] if not _ssh_message(h, ends)]
    theirs_frames = [h for h in theirs["frames"] if not _ssh_message(h, ends)]

    def ours_key(hop: dict[str, Any]) -> tuple:  # one key for netsim's frames, as run and as re-run late
        return _hop_key(hop, mine, ports, carries, arp)

    a = _ephemeral([ours_key(h) for h in ours_frames])
    b = _ephemeral([_hop_key(h, kernels, ports, carries, arp) for h in theirs_frames])
    b = _as_sets(a, b, step, allowed) if a != b else b
    if a != b and step is not None:
        later = _late_timers(a, b, step, allowed, lambda hop: _ephemeral([ours_key(hop.to_json())])[0])
        a = later if later is not None else a
    if a != b:
        for i in range(max(len(a), len(b))):
            x = _show_hop(a[i]) if i < len(a) else "(none)"
            y = _show_hop(b[i]) if i < len(b) else "(none)"
            if x != y:
                diffs.append(f"frame {i + 1}: netsim {x}; kernel {y}")
    if ours["fdb"] != theirs["fdb"]:
        for bridge in sorted(set(ours["fdb"]) | set(theirs["fdb"])):
            x, y = ours["fdb"].get(bridge, {}), theirs["fdb"].get(bridge, {})
            for mac in sorted(set(x) | set(y)):
                if x.get(mac) != y.get(mac):
                    said = f"fdb {bridge} {mac}: netsim {x.get(mac, '(none)')}, kernel {y.get(mac, '(none)')}"
                    if not _edge(step.fdb_edges if step else {}, (bridge, mac), y.get(mac), allowed, said):
                        diffs.append(said)
    for host in sorted(set(ours.get("links", {})) | set(theirs.get("links", {}))):
        x, y = ours.get("links", {}).get(host), theirs.get("links", {}).get(host)
        if x is None or y is None:
            diffs.append(
                f"namespace {host}: netsim {'exists' if x is not None else 'absent'}, "
                f"kernel {'exists' if y is not None else 'absent'}"
            )
            continue
        for dev in sorted(set(x) | set(y)):
            if x.get(dev) != y.get(dev):
                diffs.append(f"link {host} {dev}: netsim {_show_link(x.get(dev))}, kernel {_show_link(y.get(dev))}")
    # A namespace on one side only is named above; the hosts both sides have are compared. (netsim's
    # trace always has both tables; a recording older than their comparison has neither.)
    if "routes" in theirs:
        for host, y in sorted(theirs["routes"].items()):
            x = ours["routes"].get(host)
            if x is not None and x != y:
                diffs.append(f"routes {host}: netsim {x}, kernel {y}")
    if "listening" in theirs:
        for host, y in sorted(theirs["listening"].items()):
            x = ours["listening"].get(host)
            if x is not None and sorted(x) != sorted(y):  # ss lists in its hash's order
                diffs.append(f"listening {host}: netsim {x}, kernel {y}")
    sshd = f"{sshforward.WILDCARD}:{sshforward.SSH_PORT}"
    if ours.get("listener") == sshd and "listener" in theirs and theirs["listener"] is None:
        # named simplification "ssh": sshd's own socket took it, which the lab's accept() never sees
        allowed.append(f"listener: netsim sshd's {sshd}, which the lab does not see (ssh)")
    elif "listener" in theirs and ours.get("listener") != theirs["listener"]:  # not in older recordings
        diffs.append(f"listener that answered: netsim {ours.get('listener')}, kernel {theirs.get('listener')}")
    if ours.get("resolved") != theirs.get("resolved"):
        diffs.append(f"getaddrinfo: netsim {ours.get('resolved')}, kernel {theirs.get('resolved')}")
    if ours.get("route") != theirs.get("route"):
        diffs.append(f"ip route get: netsim {ours.get('route')}, kernel {theirs.get('route')}")
    x, y = _conntrack(ours.get("conntrack", {})), _conntrack(theirs.get("conntrack", {}))
    if x != y:
        for host in sorted(set(x) | set(y)):
            if x.get(host) != y.get(host):
                diffs.append(f"conntrack {host}: netsim {x.get(host, [])}, kernel {y.get(host, [])}")
    for host in sorted(set(ours["neigh"]) | set(theirs["neigh"])):
        x, y = ours["neigh"].get(host, {}), theirs["neigh"].get(host, {})
        for addr in sorted(set(x) | set(y)):
            if (host, addr) in loose and addr in x and addr in y and x[addr]["mac"] == y[addr]["mac"]:
                continue  # named simplification "ssh": the state depends on SSH's own messages
            if x.get(addr) != y.get(addr):
                said = f"neigh {host} {addr}: netsim {_show_n(x.get(addr))}, kernel {_show_n(y.get(addr))}"
                if not _edge(step.neigh_edges if step else {}, (host, addr), y.get(addr), allowed, said):
                    diffs.append(said)
    return diffs


def _show_hop(key: tuple) -> str:
    bridge, in_port, src, dst, decision, out, header, what, dns, arp = key
    ports = header[3] if header else None
    where = (
        (f"{header[0]}:{ports[0]} > {header[1]}:{ports[1]}" if ports else f"{header[0]} > {header[1]}")
        if header
        else ""
    )
    ip = f" [IP {where} ttl {header[2]}]" if header else ""
    said = f" [{dns}]" if dns else ""
    said += f" [ARP {' '.join(f'{k} {v}' for k, v in arp)}]" if arp else ""
    return f"{bridge} {in_port} {src}>{dst}{ip}{said} {what} {decision} -> {', '.join(out) or 'nowhere'}"


def _show_link(link: dict[str, Any] | None) -> str:
    if link is None:
        return "(none)"
    master = f" master {link['master']}" if link["master"] else ""
    return f"{link['kind']} {link['state']} {link['mac']} {' '.join(link['addresses']) or 'no address'}{master}"


def _conntrack(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Entries as comparable lines; a reply port that NAT changed reads 'another port' (nat-port),
    and a port from EPHEMERAL up reads "port#1", "port#2", ... (ports): the kernel picked it at
    random for a connect without a bind, so which entries share it is compared, not its number.
    They are numbered in the order of the entries with those ports left out, which is the same
    on both sides when the entries are."""
    out = {}
    split = {
        host: [
            (e, *(dict(kv.split("=", 1) for kv in e[way].split()) for way in ("original", "reply"))) for e in entries
        ]
        for host, entries in tables.items()
    }
    # A port one host's NAT picked (nf_nat_l4proto_unique_tuple(), random in 1024-65535) is the original
    # source port of the next host's entry when a second NAT is further on (a container in a VM): that
    # host's entries name it as a picked port too.
    nat = {r["dport"] for rows in split.values() for _, o, r in rows if r["dport"] != o["sport"]}
    for host, rows in split.items():
        parsed = []
        for e, original, reply in rows:
            if reply["dport"] != original["sport"]:
                reply["dport"] = "another-port"
            parsed.append((e, original, reply))
        # TCP entries first, as before UDP entries were read (their ports keep their names); a UDP entry
        # has no state (nf_conntrack_proto_udp.c) and reads "udp" in its place.
        parsed.sort(
            key=lambda p: (_kind(p[0]) == "udp", _kind(p[0]), _blind(p[1], nat), _blind(p[2], nat), p[0]["flags"])
        )
        names: dict[str, str] = {}
        lines = []
        for e, original, reply in parsed:
            there, back = (
                " ".join(f"{k}={_port_name(k, v, names, nat)}" for k, v in d.items()) for d in (original, reply)
            )
            lines.append(f"{_kind(e)} {there} | {back} {' '.join(f'[{f}]' for f in e['flags'])}".strip())
        if lines:
            out[host] = sorted(lines)
    return out


def _kind(entry: dict[str, Any]) -> str:
    """A TCP entry's state, or "udp" for a UDP entry (which has none)."""
    return "udp" if entry.get("proto") == "udp" else entry["state"]


def _picked(key: str, value: str, nat: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether a tuple's field is a port the kernel may have picked at random (ephemeral-port), or one
    a NAT picked (`nat`, nat-port)."""
    return key in ("sport", "dport") and value.isdigit() and (int(value) >= EPHEMERAL or value in nat)


def _port_name(key: str, value: str, names: dict[str, str], nat: frozenset[str] | set[str] = frozenset()) -> str:
    return names.setdefault(value, f"port#{len(names) + 1}") if _picked(key, value, nat) else value


def _blind(tuple_: dict[str, str], nat: frozenset[str] | set[str] = frozenset()) -> list[tuple[str, str]]:
    """A conntrack tuple with its picked ports (from EPHEMERAL up, or a NAT's) left out, to order entries by."""
    return [(k, "*" if _picked(k, v, nat) else v) for k, v in tuple_.items()]


def _show_n(entry: dict[str, Any] | None) -> str:
    return "(no entry)" if entry is None else f"{entry['mac'] or '-'} {entry['state']}"
