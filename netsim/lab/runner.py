"""Build a scenario out of real kernel objects, play its steps, and record what the kernel did.

Runs inside the lab's private namespaces (see netsim.lab.cli). What it does to the kernel is
the scenario's plan (netsim.plan), the same operations the reader's try-it script runs. The
result has the same JSON shape as `python -m netsim run --json`.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from netsim import plan, sshforward, tcp, wire
from netsim.errors import LabError
from netsim.frames import ETH_P_TEST, Tcp
from netsim.lab import brfdb, neightbl, rtaddr, rtlink, rtneigh, rtroute
from netsim.lab.capture import Watch, hops
from netsim.lab.neighwatch import NeighWatch
from netsim.lab.netns import (
    NETNS_DIR,
    batch,
    batch_safe,
    end_processes,
    inside,
    ip,
    netns_batch,
    ns_name,
    processes_in,
    run,
    sysctl_inside,
)
from netsim.lab.openssh import OpenSSH
from netsim.lab.routetext import route_text
from netsim.lab.sockdiag import listening_sockets
from netsim.neighbour import address_order, trace_key
from netsim.plan import ETC_DIR, NSSWITCH, Op, dns_name, resolve_argv
from netsim.scenario import Scenario, Step
from netsim.timerwheel import kernel_hz, tick_nsec

LINK_STEPS = ("link_set", "link_move", "link_del", "netns_del", "nomaster")  # carrier may change

# The kernel's errno -> the trace's outcome, from the one table in netsim.tcp.
ERRNO_OUTCOME = {getattr(errno, name): outcome for outcome, name in tcp.ERRNO_NAME.items() if name}


# One namespace's neighbour table in the trace's shape: key -> {"mac": ..., "state": ...}.
Neigh = dict[str, dict[str, str | None]]
Draws = dict[str, float]  # one namespace's REACHABLE lifetimes: device -> seconds
Links = dict[str, dict[str, Any]]  # one namespace's interfaces: name -> kind, state, mac, addresses, master


class Lab:
    def __init__(self, scenario: Scenario, progress: bool = True) -> None:
        self.s = scenario
        self.progress = progress
        self._host_of = {ns_name(host): host for host in scenario.hosts}  # each host by its namespace's name
        # Listening sockets by (host, address, port): two or more with SO_REUSEPORT share one (a group in
        # the kernel, reuseport_add_sock()); closing one leaves the others listening.
        self.listeners: dict[tuple[str, str, str], list[socket.socket]] = {}
        # Connections stay open until the lab ends, as in netsim: closing them would put FIN and
        # RST segments on the wire that no step narrates.
        self.connections: list[socket.socket] = []
        self.watch = Watch()
        self._nonce = 0
        self.present: set[str] = set()  # hosts whose namespace exists now
        self._route: dict[str, Any] | None = None  # what a route_get step's `ip route get` said
        self._resolved: dict[str, Any] | None = None  # what a resolve step's getaddrinfo() gave
        self._resolve_seconds = 0.0  # how long getaddrinfo() itself took
        self._resolve_started = 0.0  # when it began, on the machine's monotonic clock
        self._sent_at: float | None = None  # when a step's first packet left (a crafted frame, an arp step's request)
        # Interfaces' own MACs read this step: a `sends` step's frames then leave back to back, as netsim
        # sends them (an `ip` process per frame spread eight SYNs over 0.3 s, and their retransmissions
        # with them). No step both changes a MAC and sends a frame, so a step's reading stays true.
        self._macs: dict[tuple[str, str], str] = {}
        self._applied_at: float | None = None  # when a step's first configuring command (`ip`, ...) returned
        self.dns: list[subprocess.Popen[bytes]] = []  # dnsmasq processes, ended by close()
        self._step: Step | None = None
        self.openssh: OpenSSH | None = None  # made when a scenario runs sshd or ssh
        self._reads: str | None = None  # what a connect step's read got
        self._ssh_log: list[str] = []  # what ssh logged during the step
        self._untimed = 0.0  # seconds of the step spent waiting on programs, not on the network
        self._doomed: list[int] = []  # pidfds of processes in namespaces a step deleted (close() ends them)

    def say(self, text: str) -> None:
        if self.progress:
            print(f"lab: {text}", file=sys.stderr, flush=True)

    # --- executing the plan ------------------------------------------------------------------

    def build(self) -> None:
        run("mkdir", "-p", NETNS_DIR)
        self.present = {h for h, host in self.s.hosts.items() if not host.absent}
        settle = plan.settle()
        setup = plan.setup(self.s)
        # The setup's namespaces, made by one `ip -batch` where the plan makes the first of them: a
        # namespace's existence touches nothing in another, so making the later ones a few commands
        # early changes nothing they hold (netns_batch()).
        made = [host for host in map(self._made_by, setup) if host is not None]
        pending: list[Op] = []  # `ip -n NS` commands in a row for one namespace: one `ip -batch`
        for op in setup:
            if op.show or not op.argv:
                # What the script prints for the reader or a heading of its: nothing for the lab to
                # do, and no reason to end a run of one namespace's commands (two processes a run).
                continue
            if self._made_by(op) is not None:
                if made:
                    netns_batch("add", made)
                    made = []
                continue
            if pending and not (_batchable(op) and op.argv[2] == pending[0].argv[2]):
                self._configure(pending)
                pending = []
            if _batchable(op):
                pending.append(op)
            elif op == settle:
                # The script sleeps SETTLE seconds; the lab watches the links instead and goes on
                # as soon as linkwatch has acted on every one (about a second saved a scenario).
                self._settle_links(limit=float(plan.SETTLE))
            else:
                self.execute(op)
        if pending:
            self._configure(pending)
        dynamic = self.s.dynamic_ports()
        for name, br in self.s.bridges.items():
            self.watch.add(br.host, name, name)
            for port in br.ports:
                if (name, port) not in dynamic:
                    self.watch.add(br.host, name, port)

    def _made_by(self, op: Op) -> str | None:
        """The host whose namespace the operation makes (`ip netns add lab-HOST`), or None."""
        argv = op.argv
        return self._host_of.get(argv[3]) if len(argv) == 4 and argv[:3] == ("ip", "netns", "add") else None

    def _configure(self, ops: list[Op]) -> None:
        """Setup commands for one namespace, in order: one `ip -n NS -batch -` for two or more (about
        fifteen processes fewer a scenario), the command itself for one. Setup is not timed."""
        if len(ops) == 1 or ops[0].argv[2] not in self._host_of:
            for op in ops:
                self.execute(op)
        else:
            batch("ip", self._host_of[ops[0].argv[2]], (), [list(op.argv[3:]) for op in ops])

    def execute(self, op: Op) -> str | None:
        """Perform one operation of the plan; a TCP connect returns its outcome."""
        if op.show or not op.argv:
            return None  # what the script prints for the reader; the lab reads the tables itself
        name, args = op.argv[0], op.argv[1:]
        if name in CONFIGURING:
            # A command that configures the kernel: netsim counts it as instant, and how long the
            # process takes to start and finish (much longer on a loaded machine) is not the
            # network's time, so the step's seconds leave it out (named: timing).
            with self._aside():
                if not self._sysctl(op.argv) and not self._lo_up(op.argv):
                    run(*op.argv, stdin="".join(f"{text}\n" for text in op.stdin) if op.stdin else None)
            if self._applied_at is None:
                # The change is in force by the time the process returns (netlink answers it at once),
                # and most of the process's time went before it (exec, libraries): play() begins the
                # step here, not before the process started (see there).
                self._applied_at = time.monotonic()
            return None
        if name == "sleep":
            if float(args[0]) >= 1:
                self.say(f"waiting {args[0]} s of real time")
            if self._step is not None and self._step.action != "wait":
                # A pause the script makes for the kernel to settle before it shows the tables (after
                # an `arp` step, a link going up): the lab's observing, not the step's network time.
                with self._aside():
                    time.sleep(float(args[0]))
                return None
            time.sleep(float(args[0]))
            return None
        if name not in plan.HELPERS:
            raise LabError(f"the plan asked for {name!r}, which the lab does not know")
        helper: Callable[..., str | None] = getattr(self, f"_helper_{name}")
        if name in INSTANT:
            with self._aside():
                return helper(*args)
        return helper(*args)

    def _sysctl(self, argv: tuple[str, ...]) -> bool:
        """`ip netns exec NS sysctl -qw ...` (or -qew) of a host's namespace, written from this process
        (sysctl_inside()): two processes fewer for each, 26 of a four-host scenario's 124. False for
        any other command, which the caller runs."""
        hosts = self._host_of
        if len(argv) < 6 or argv[:3] != ("ip", "netns", "exec") or argv[3] not in hosts or argv[4] != "sysctl":
            return False
        if argv[5] not in ("-qw", "-qew"):
            return False
        sysctl_inside(hosts[argv[3]], argv[6:], missing_ok=argv[5] == "-qew")
        return True

    def _lo_up(self, argv: tuple[str, ...]) -> bool:
        """`ip -n NS link set lo up`, as the setup brings each namespace's lo up, asked over rtnetlink
        from this process (rtlink.set_up(), the request `ip` sends): a process fewer a namespace.
        False for any other command, which the caller runs."""
        if len(argv) != 7 or argv[:2] != ("ip", "-n") or argv[2] not in self._host_of:
            return False
        if argv[3:] != ("link", "set", "lo", "up"):
            return False
        with inside(self._host_of[argv[2]]):
            rtlink.set_up("lo")
        return True

    @contextmanager
    def _aside(self) -> Iterator[None]:
        """Time the lab spends on its own processes, not on the network: left out of the step's seconds."""
        began = time.monotonic()
        try:
            yield
        finally:
            self._untimed += time.monotonic() - began

    def play(self) -> dict[str, Any]:
        steps = []
        first: float | None = None  # when the first step began: the lab's clock starts there, as netsim's does
        pauses = _pauses()
        # The draws in force as the first step begins: the periodic redraw (every 300 s) may fall
        # inside it, and --compare then needs what held before (redraw_candidates()).
        drawn_before = self.reachable()
        for n, step in enumerate(self.s.steps, 1):
            if step.id in pauses:  # a test standing in for a loaded machine (NETSIM_LAB_PAUSE)
                self.say(f"pausing {pauses[step.id]:g} s before {step.id}, as a loaded machine might")
                time.sleep(pauses[step.id])
            self.say(f"[{n}/{len(self.s.steps)}] {step.id} ({step.action})")
            known, unlearning, ages = self.before_step()  # the bridges as the step begins
            self._step = step
            self.watch.start()
            started = time.monotonic()
            first = started if first is None else first
            outcome = None
            self._route = None
            self._listener: str | None = None
            self._reads, self._ssh_log, self._untimed = None, [], 0.0
            self._resolved = None
            self._sent_at = None
            self._applied_at = None
            self._macs = {}
            before = self._link_names() if step.netns_del and self._has_cables_out(step.netns_del) else {}
            if step.netns_del:
                # `ip netns del` only drops the name: a process left in the namespace keeps it alive, and
                # close() could no longer find it by name. Its pidfd is taken now and used then.
                self._doomed += processes_in([step.netns_del])
            ops = plan.step_ops(self.s, step)
            for op in ops:
                outcome = self.execute(op) or outcome
            if step.netns_del:
                self.present.discard(step.netns_del)
                if before:  # the kernel's workqueue and the lab's `ip` processes, watched: not the step's own time
                    with self._aside():
                        self._wait_for_cleanup(before, step.netns_del)
            elapsed = time.monotonic() - started - self._untimed
            if self._resolved is not None:  # the C library's own time, not the helper processes' start-up
                elapsed = self._resolve_seconds
                started = self._resolve_started  # the question left then: netsim's step begins there too
            if self._sent_at is not None:
                # A crafted frame (or an `arp` step's request) leaves when the lab has found the interface
                # and entered the namespace, an `ip` process later (a second on a loaded machine): netsim
                # sends it at the step's start, so the step begins when it left. Two frames a second apart decide
                # ARP's locktime (outsider's 85: the lab's gap and the kernel's differed by 0.5 s).
                started = self._sent_at
            elif self._applied_at is not None and _configures_first(ops):
                # A step that configures the kernel begins when its first `ip` (`bridge`, `sysctl`)
                # process returned, with its change in force: netsim makes the change at the step's
                # start, and the process's start-up (a few ms idle, a third of a second at load) came
                # before it. A link put up as the laptop's retransmission fell due went up after it
                # in the kernel (lifecycle-tunnel-end-moved-away-and-back, stop 41's CI); a bridge's
                # ageing set at load aged its entries that much later (ageing-short-with-delay-neigh).
                # The step's seconds left the process out already (_aside()).
                started = self._applied_at
            if n == 1:
                first = started  # the lab's clock starts where netsim's does: when the first step's packet left
            if self.openssh is not None:
                self._ssh_log += self.openssh.new_lines()
            if step.action in LINK_STEPS:
                self._settle_links()  # observation waiting for the kernel; not the step's own time
            seen = self.watch.stop()
            observed = time.monotonic()  # the tables below are read now (a few milliseconds)
            if step.netns_add:
                self.present.add(step.netns_add)
            for bridge, dev in self._unplugged(step):
                self.watch.remove(bridge, dev)  # no longer a way into the bridge
            if step.link_set and step.link_set.master:  # a new port: watch it from the next step on
                for bridge, br in self.s.bridges.items():
                    if br.host == step.link_set.by:  # it left any other bridge (do_set_master()); once only
                        self.watch.remove(bridge, step.link_set.dev)
                self.watch.add(step.link_set.by, step.link_set.master, step.link_set.dev)
            # The tables timers change first, then the time their reading ended: a timer due until
            # then may show in them (--compare allows it: timer-edge); the rest after.
            # Conntrack's entries expire on timers too, and are read from /proc in this process (no `ip`
            # to start): with the first group, so the read's time covers them. Read after the `ip`
            # processes below, a loaded machine read them a second past that time, and an entry due
            # 0.7 s after it was already gone (natport-syn-sent-entry-expires, with eight labs at once).
            neigh, links, draws, routes = self.after_step()
            fdb, conntrack = self.fdb(), self.conntrack()
            read = time.monotonic()
            listening = self.listening()
            result = {
                "id": step.id,
                "frames": [self._ordered(hop) for hop in hops(seen, known, unlearning, ages)],
                "fdb": fdb,
                "neigh": neigh,
                "outcome": outcome,
                "seconds": round(elapsed, 3),
                # When the step began and when its tables were read (from, until), on the lab's
                # clock: a loaded machine stretches the time between steps, and --compare replays it.
                "clock": {
                    # To the microsecond: a limit kept in jiffies is decided by which 4 ms tick each
                    # moment fell in (tick_phase, below).
                    "at": round(started - first, 6),
                    "observed": round(observed - first, 6),
                    "read": round(read - first, 6),
                    "reachable": draws,  # the kernel's random REACHABLE lifetimes (neighbour.py)
                    **({"reachable_before": drawn_before} if n == 1 else {}),
                },
                "links": links,
                "routes": routes,
                "listening": listening,
                "conntrack": conntrack,
                "route": self._route,
                "listener": self._listener,
                "resolved": self._resolved,
                **({"reads": self._reads} if self._reads is not None else {}),
                **({"ssh_log": self._ssh_log} if self._ssh_log else {}),
            }
            if step.ssh_forward:
                del result["seconds"]  # how long ssh takes to log in is not the network's time
                del result["listener"]  # sshd accepts the login, not one of the lab's sockets: not seen
            steps.append(result)
        # The kernel's HZ sets how late its timers may fire (netsim.timerwheel); None when unknown.
        hz = kernel_hz()
        out: dict[str, Any] = {"scenario": self.s.name, "steps": steps, "hz": hz}
        if hz is not None and first is not None:
            # Where the jiffies ticked on the lab's clock: the kernel's ticks fall where CLOCK_MONOTONIC
            # (Python's time.monotonic()) is a multiple of TICK_NSEC (tick_init_jiffy_update(),
            # kernel/time/tick-sched.c), so the tick count at t seconds into the run is
            # floor(t / TICK_NSEC + tick_phase) plus a constant (Simulation.passed_at()).
            tick = tick_nsec(hz)
            out["tick_phase"] = round((round(first * 1e9) % tick) / tick, 6)
        return out

    # --- the helpers: what the script's shell functions do, here in Python ------------------

    def _helper_send_frame(self, host: str, dev: str, dst: str, src: str, *arp: str) -> None:
        own = self._mac_of(host, dev)  # the interface's own MAC, as the kernel reports it
        src = own if src == "self" else src
        if arp[:1] == ("syn",):  # syn SRC-IP SRC-PORT DST-IP DST-PORT: a TCP SYN written by hand
            _, sip, sport, dip, dport = arp
            self._raw(
                host, dev, _mac(dst) + _mac(src) + b"\x08\x00" + wire.tcp_ip(Tcp(sip, dip, int(sport), int(dport), "S"))
            )
            return
        if arp:  # OP SENDER-MAC SENDER-IP TARGET-MAC TARGET-IP: an ARP packet crafted by hand
            op, sender_mac, sender_ip, target_mac, target_ip = arp
            sender_mac = own if sender_mac == "self" else sender_mac
            self._raw(
                host,
                dev,
                _mac(dst) + _mac(src) + b"\x08\x06" + arp_packet(op, sender_mac, sender_ip, target_mac, target_ip),
            )
            return
        self._nonce += 1
        step_id = self._step.id if self._step else ""
        payload = f"netsim {self.s.name} {step_id} {self._nonce}".encode().ljust(46, b"\0")
        self._raw(host, dev, _mac(dst) + _mac(src) + ETH_P_TEST.to_bytes(2, "big") + payload)

    def _helper_set_address(self, host: str, dev: str, mac: str) -> str | None:
        """`ip link set dev DEV address MAC`; the step's outcome is the kernel's refusal, if any."""
        return _refusal(["ip", "-n", ns_name(host), "link", "set", "dev", dev, "address", mac])

    def _helper_add_veth(self, host: str, name: str, mac: str, peer: str, peer_mac: str) -> str | None:
        """`ip link add` of a veth pair with these MACs; the step's outcome is the kernel's refusal, if any."""
        ends = ["name", name, "address", mac, "type", "veth", "peer", "name", peer, "address", peer_mac]
        return _refusal(["ip", "-n", ns_name(host), "link", "add", *ends])

    def _helper_ask_arp(self, host: str, target: str) -> None:
        # As an application's first packet does, without the packet: `ip neigh ... use` (NTF_USE)
        # makes the kernel call neigh_event_send() on the entry. A known entry stays as it is (or
        # goes STALE -> DELAY); an unknown one goes INCOMPLETE and the kernel itself asks, retries
        # and gives up, exactly as for a connect(). The request goes from the lab's own netlink
        # socket and the kernel's notifications say when the entry settled (netsim.lab.neighwatch):
        # only the kernel's time is timed, no `ip` process's start-up.
        with self._aside():  # finding the device is the lab's lookup; what follows is the network's time
            found = run("ip", "-n", ns_name(host), "-j", "route", "get", target, check=False)
            way = json.loads(found)[0] if found.strip() else {}
            if way.get("type", "unicast") != "unicast" or "dev" not in way:
                return  # no route, its own address (lo), a broadcast: nobody to ask, as in netsim
            with inside(host):
                watch = NeighWatch(way["dev"])
            hop = way.get("gateway", target)  # a packet for an address off the host's networks uses the gateway
        if self._sent_at is None:
            # The step begins when the request leaves, not before the lookup above: an `ip` process that
            # takes a loaded machine a third of a second would put the entry's change (and with it ARP's
            # locktime) that much later in the kernel than in netsim (garp-within-locktime, CI at load 12).
            self._sent_at = time.monotonic()
        try:
            if watch.use(hop) == "INCOMPLETE":
                watch.settled(hop, limit=10)
        except OSError as exc:
            raise LabError(f"`ip -n {ns_name(host)} neigh replace {hop} dev {way['dev']} use`: {exc}") from exc
        finally:
            watch.close()

    def _helper_route_get(self, host: str, addr: str) -> None:
        """`ip -j route get`, kept in the trace's shape (netsim.routing.route_get)."""
        done = subprocess.run(
            ["ip", "-n", ns_name(host), "-j", "route", "get", addr], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            self._route = {"error": done.stderr.strip().removeprefix("RTNETLINK answers: ")}
            return
        r = json.loads(done.stdout)[0]
        self._route = {
            "type": r.get("type", "unicast"),
            "dst": r["dst"],
            "gateway": r.get("gateway"),
            "dev": r["dev"],
            "prefsrc": r.get("prefsrc"),
        }

    def _helper_start_sshd(self, host: str) -> None:
        self.openssh = self.openssh or OpenSSH()
        self.openssh.start_sshd(host)

    def _helper_ssh_forward(self, host: str, server: str, spec: str, gateway: str) -> str | None:
        """ssh -N -L from the host's namespace; the step's outcome is bind()'s refusal, if any."""
        self.openssh = self.openssh or OpenSSH()
        forward = sshforward.parse(spec)
        if forward is None:
            raise LabError(f"the plan asked for the forward {spec!r}, which is not [BIND:]PORT:HOST:HOSTPORT")
        addr, _ = sshforward.bind_addresses(forward, gateway == "-g")
        started = time.monotonic()
        connect_limit = tcp.syn_timeout(self.s.hosts[host].tcp_syn_retries)
        lines = self.openssh.forward(host, server, spec, gateway == "-g", (addr, forward.port), connect_limit)
        failed = self.openssh.clients[-1].connect_failure()
        if failed is None:
            # Logging in (key exchange, authentication) is ssh's own time, which netsim does not model;
            # a connect() that failed is the network's time, and the step's (outsider3's 55, 59).
            self._untimed += time.monotonic() - started
        ours = f"bind [{addr}]:{forward.port}: "
        printed = sshforward.refusal_printed(forward)  # ssh runs at LogLevel VERBOSE: keep what INFO shows
        self._ssh_log += [line for line in lines if printed or not line.startswith(ours)]
        if failed is not None:
            errors = {text: outcome for outcome, text in sshforward.STRERROR.items()}
            return errors.get(failed, f"ssh: {failed}")
        refused = {text: outcome for outcome, text in sshforward.BIND_STRERROR.items()}
        for line in lines:
            if line.startswith(ours):
                return refused.get(line.split(": ", 1)[1], line)
        return None

    # --- names: each host's /etc files, DNS servers, getaddrinfo() --------------------------------

    def _etc(self, host: str, name: str) -> str:
        if not plan.HOST_NAME_RE.fullmatch(host) or name not in ("hosts", "resolv.conf", "nsswitch.conf", "host.conf"):
            raise LabError(f"refusing to write {host}/{name}")
        return os.path.join(ETC_DIR, host, name)

    def _helper_etc_files(self, host: str) -> None:
        os.makedirs(os.path.dirname(self._etc(host, "hosts")), exist_ok=True)
        files = (
            ("nsswitch.conf", NSSWITCH + "\n"),
            ("host.conf", plan.HOST_CONF + "\n"),
            ("hosts", ""),
            ("resolv.conf", ""),
        )
        for name, text in files:
            with open(self._etc(host, name), "w") as f:
                f.write(text)

    def _helper_etc_hosts(self, host: str, address: str, *names: str) -> None:
        line = "\t".join([str(ipaddress.IPv4Address(address)), " ".join(dns_name(n) for n in names)])
        with open(self._etc(host, "hosts"), "a") as f:
            f.write(line + "\n")

    def _helper_etc_nameserver(self, host: str, address: str) -> None:
        with open(self._etc(host, "resolv.conf"), "a") as f:
            f.write(f"nameserver {ipaddress.IPv4Address(address)}\n")

    def _helper_dns_server(self, host: str, listen: str, *program: str) -> None:
        """dnsmasq in the host (plan.dnsmasq_argv), on LISTEN:53 only; it dies with the lab."""
        if not program or program[0] != "dnsmasq":
            raise LabError(f"the plan asked to run {program[:1]} as a DNS server")
        argv = ["ip", "netns", "exec", ns_name(host), *program]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_lab)
        self.dns.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until port 53 is taken on that address: it listens
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                # The status too: an empty stderr with a negative status is a signal from outside.
                raise LabError(f"dnsmasq in {host} exited (status {proc.returncode}): {err.strip()}")
            with inside(host):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind((listen, 53))
            except OSError:
                return
            finally:
                probe.close()
            time.sleep(0.05)
        raise LabError(f"dnsmasq in {host} did not start listening on {listen}:53")

    def _helper_resolve_name(self, host: str, name: str) -> None:
        """getaddrinfo() by the real C library inside the host, with the host's own /etc files."""
        done = subprocess.run(resolve_argv(host, name), capture_output=True, text=True, check=False, timeout=60)
        if done.returncode != 0 or not done.stdout.strip():
            raise LabError(f"resolving {name} in {host} failed: {done.stderr.strip()}")
        said = json.loads(done.stdout)
        self._resolved = {k: said[k] for k in ("name", "address", "error")}
        self._resolve_seconds = float(said["seconds"])
        self._resolve_started = float(said["started"])

    def _helper_knock(
        self, host: str, addr: str, port: str, sport: str = "0", ttl: str = "0", deadline: str = "0", read: str = ""
    ) -> str:
        # An application deadline is a timeout on the connect itself, as Go's Dialer sets one (a
        # socket timeout: a non-blocking connect() and a poll() that gives up); without one, a
        # limit well past the kernel's own SYN timeout.
        patience = float(deadline)
        limit = patience or tcp.syn_timeout(self.s.hosts[host].tcp_syn_retries) + 5
        with inside(host):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if int(sport):  # a chosen source port, as the script's knock binds it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("0.0.0.0", int(sport)))
            except OSError as exc:  # `check` refuses such a step first; never an "internal error" here
                sock.close()
                return ERRNO_OUTCOME.get(exc.errno or 0, f"errno {exc.errno}: {exc.strerror}")
        if int(ttl):
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(ttl))
        sock.settimeout(limit)
        try:
            sock.connect((addr, int(port)))
        except TimeoutError as exc:
            sock.close()  # in SYN_SENT, close() sends nothing and stops the retransmissions
            # Python raises TimeoutError for its own socket timeout (no errno) and for the kernel's
            # ETIMEDOUT alike: the SYNs ran out first (tcp_write_timeout() -> tcp_write_err(),
            # net/ipv4/tcp_timer.c, sets sk_err), before a longer deadline. Only the first is the deadline.
            if exc.errno == errno.ETIMEDOUT:
                return "timeout"
            return "deadline" if patience else "timeout"
        except OSError as exc:
            sock.close()
            return ERRNO_OUTCOME.get(exc.errno or 0, f"errno {exc.errno}: {exc.strerror}")
        self.connections.append(sock)
        # connect() returns on the SYN-ACK; the listener's queue gets the connection when the
        # ACK is processed, a moment later: wait for it, and note which listener took it.
        waited = time.monotonic()
        deadline = waited + 1.0
        while not (took := self._accept_all()) and time.monotonic() < deadline:
            time.sleep(0.01)
        # The lab's own bookkeeping, not the network's time: through an ssh -L tunnel no socket of
        # the lab's takes the connection (ssh's does), and this wait runs out.
        self._untimed += time.monotonic() - waited
        if took:
            self._listener = f"{took[0][1]}:{took[0][2]}"
        if read == "read":
            # netsim reads at once. No socket of the lab's took the connection (ssh's -L listener did):
            # the second it waited above already let ssh's channel be answered, so one more is enough,
            # and the read ends well before an ARP that fails (3 s) closes the connection (outsider's 43).
            self._reads = self._read(sock, 2.0 if took else 1.0)
        return "connected"

    def _read(self, sock: socket.socket, limit: float = 2.0) -> str:
        """One read(): b'' is end-of-file; nothing within `limit` seconds means the connection waits."""
        started = time.monotonic()
        sock.settimeout(limit)
        try:
            data = sock.recv(1)
            said = "eof" if data == b"" else "data"
        except TimeoutError:
            said = "waiting"
        except ConnectionResetError:
            said = "reset"
        self._untimed += time.monotonic() - started
        return said

    def _accept_all(self) -> list[tuple[str, str, str]]:
        """Take finished handshakes off every listener's queue, so closing it resets nothing.
        Returns the listeners (host, address, port) that had one."""
        took = []
        for key, group in self.listeners.items():
            for listener in group:
                listener.setblocking(False)
                while True:
                    try:
                        conn, _ = listener.accept()
                    except (BlockingIOError, OSError):
                        break
                    self.connections.append(conn)
                    took.append(key)
        return took

    def _helper_listen_on(self, host: str, addr: str, port: str, reuseport: str = "") -> str | None:
        with inside(host):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((addr, int(port)))
            sock.listen(tcp.LISTEN_BACKLOG)
        except OSError as exc:  # a step that shows bind() refusing (may_fail)
            sock.close()
            return ERRNO_OUTCOME.get(exc.errno or 0, f"errno {exc.errno}: {exc.strerror}")
        self.listeners.setdefault((host, addr, port), []).append(sock)
        return None

    def _helper_close_all(self, host: str) -> None:
        """Close a host's listening sockets: a socket holds its namespace alive after `ip netns del`."""
        for key in [k for k in self.listeners if k[0] == host]:
            for sock in self.listeners.pop(key):
                sock.close()

    def _helper_close_on(self, host: str, addr: str, port: str) -> None:
        group = self.listeners.get((host, addr, port))
        if group:
            group.pop().close()  # one of a reuseport group: the others still listen
        if not group:
            self.listeners.pop((host, addr, port), None)

    def _mac_of(self, host: str, dev: str) -> str:
        """The MAC the kernel gave the interface (the lab pinned it from the scenario), read once a step."""
        if (host, dev) not in self._macs:
            self._macs[host, dev] = json.loads(ip(host, "-j", "link", "show", "dev", dev))[0]["address"]
        return self._macs[host, dev]

    def _raw(self, host: str, dev: str, frame: bytes) -> None:
        with inside(host):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            sock.bind((dev, 0))
            if self._sent_at is None:
                self._sent_at = time.monotonic()  # the step's first frame leaves now (play())
            sock.send(frame)
        finally:
            sock.close()

    # --- observing ------------------------------------------------------------------------

    def _bridges_by_host(self) -> dict[str, list[str]]:
        """The scenario's bridges, grouped by the namespace each lives in, in the scenario's order."""
        hosts: dict[str, list[str]] = {}
        for name, br in self.s.bridges.items():
            hosts.setdefault(br.host, []).append(name)
        return hosts

    def fdb(self) -> dict[str, dict[str, str]]:
        """Each bridge's learned entries, read over rtnetlink (_bridge_tables(); a `bridge -batch` a
        namespace until 2026-12)."""
        read: dict[str, list[dict[str, Any]]] = {}
        for host, names in self._bridges_by_host().items():
            links, entries = self._bridge_tables(host)
            read.update((name, _fdb_of(host, name, links, entries)) for name in names)
        out: dict[str, dict[str, str]] = {}
        for name in self.s.bridges:
            # Learned entries only: `master` lines that are not permanent (see linux-facts.md).
            learned = {
                e["mac"]: e["ifname"]
                for e in read[name]
                if e.get("master") == name and "permanent" not in (e.get("state") or "") and "vlan" not in e
            }
            out[name] = dict(sorted(learned.items()))
        return out

    def _unplugged(self, step: Step) -> list[tuple[str, str]]:
        """(bridge, port) pairs a step takes out of their bridge."""
        if step.nomaster:
            return [(b, step.nomaster.dev) for b, br in self.s.bridges.items() if br.host == step.nomaster.by]
        if step.link_move:  # a port moved out of its bridge's namespace leaves the bridge (br_del_if())
            m = step.link_move
            return [(b, m.dev) for b, br in self.s.bridges.items() if br.host == m.by]
        if step.link_del:
            gone = [(step.link_del.by, step.link_del.dev)]
            return [(b, dev) for b, br in self.s.bridges.items() for host, dev in gone if br.host == host]
        if step.netns_del:
            return [
                (b, p)
                for b in self.s.bridges
                for p in self.s.bridges[b].ports
                if (self.s.host_at(b, p) or ("",))[0] == step.netns_del  # its cable's far end went with it
            ]
        return []

    def before_step(self) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, tuple[int, dict[str, int]]]]:
        """What capture.hops() needs to tell how each bridge treated a frame, read as a step begins.

        For each namespace with bridges, its bridges' entries (the learned ones, the ports' own MACs
        and how long ago each learned entry was refreshed) and its links (every bridge port's learning
        flag, each port kept by its master, each bridge's ageing time), read over rtnetlink by this
        process (_bridge_tables()). Until 2026-12 this was a `bridge -s -d -batch` a namespace and the
        ageing time from the `ip -d -batch` after the step before, before that three processes a
        bridge, and six before that.

        - `known`: learned MACs and the ports' own (local) ones: a frame to either leaves by one
          port. Read afresh: entries age out between steps too (br_fdb_cleanup()).
        - `unlearning`: the ports that learn no source MAC: learning off (BR_LEARNING), or every
          port when the ageing time is 0 (br_fdb_update() returns at once, net/bridge/br_fdb.c). A
          port not forwarding yet may forward within the step (its bridge coming up), so it counts.
        - `ages`: the ageing time and when each learned entry was last refreshed, in ns on the
          capture's clock (CLOCK_REALTIME): an entry ages out in the middle of a step too
          (br_fdb_cleanup()). `-s` gives how many whole seconds ago (ndm_updated); the middle of
          that second is taken.
        """
        known: dict[str, set[str]] = {}
        unlearning: dict[str, set[str]] = {}
        ages: dict[str, tuple[int, dict[str, int]]] = {}
        for host, names in self._bridges_by_host().items():
            present = host in self.present
            now = time.time_ns()
            links, entries = self._bridge_tables(host)
            for name in names:
                mine = _fdb_of(host, name, links, entries)
                # Learned entries: `master` lines that are not permanent (see linux-facts.md), as fdb() keeps.
                learned = [e for e in mine if "permanent" not in (e.get("state") or "")]
                own = {e["mac"] for e in mine if "permanent" in (e.get("state") or "") and e.get("ifname") != name}
                known[name] = {e["mac"] for e in learned if "vlan" not in e} | own
                if not present:
                    continue
                index = _bridge_index(host, name, links)
                centis = next(link.ageing for link in links if link.index == index)  # IFLA_BR_AGEING_TIME
                ports = [link for link in links if link.master == index]
                unlearning[name] = {p.name for p in ports if centis == 0 or p.learning is False}
                if centis is not None:
                    refreshed = {e["mac"]: now - int((e["updated"] + 0.5) * 1e9) for e in learned if "updated" in e}
                    ages[name] = (centis * 10_000_000, refreshed)
        return known, unlearning, ages

    @staticmethod
    def _bridge_tables(host: str) -> tuple[list[rtlink.Link], list[brfdb.Entry]]:
        """A namespace's links and every bridge's entries in it, over rtnetlink from this process: the
        dumps `bridge link show` and `bridge fdb show` send (netsim.lab.brfdb), without their processes."""
        with inside(host):
            return rtlink.links(), brfdb.entries()

    def _settle_links(self, limit: float = 1.5) -> None:
        """Wait until the kernel has acted on every carrier change (linkwatch, up to a second late).

        A carrier change reaches the bridge (br_port_carrier_check()) and the neighbour table
        (neigh_carrier_down()) only when linkwatch runs it, which also sets the operstate; so
        wait until every interface's operstate agrees with its carrier.
        """
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if all(self._settled(host) for host in self.present):
                return
            time.sleep(0.02)

    def _has_cables_out(self, host: str) -> bool:
        """Whether a veth end in `host` has its peer in another namespace (it would go too)."""
        return any("link_netnsid" in e for e in json.loads(ip(host, "-j", "link", "show") or "[]"))

    def _link_names(self, skip: str = "") -> dict[str, set[str]]:
        """Each present namespace's link names but `skip`'s, over rtnetlink (polled every 20 ms by
        _wait_for_cleanup(), as _settled() polls: an `ip -j link show` a namespace each time before)."""
        out: dict[str, set[str]] = {}
        for host in self.present - {skip}:
            with inside(host):
                out[host] = {link.name for link in rtlink.links()}
        return out

    def _wait_for_cleanup(self, before: dict[str, set[str]], gone: str, limit: float = 3.0) -> None:
        """`ip netns del` only drops the name; cleanup_net() destroys the namespace's devices (and
        the far ends of their cables) a moment later, in a workqueue. Wait for the far ends to go."""
        far = {h: names for h, names in before.items() if h != gone}
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            now = {h: names for h, names in self._link_names(skip=gone).items() if h in far}
            if any(now[h] != far[h] for h in now):
                return
            time.sleep(0.02)

    def _settled(self, host: str) -> bool:
        """Whether linkwatch has acted on every carrier change in the host (rtlink.settled()). Asked
        over rtnetlink by this process, which polls every 20 ms: an `ip -j -d link show` each time was
        ~2.5 ms of CPU a namespace."""
        with inside(host):
            return rtlink.settled(rtlink.links())

    def after_step(self) -> tuple[dict[str, Neigh], dict[str, Links], dict[str, Draws], dict[str, list[str]]]:
        """The neighbour tables, links, REACHABLE draws and routes, asked over rtnetlink by this process
        inside each namespace (_tables()). Until 2026-12 these were one `ip -j -d -batch` a namespace
        (`neigh show`, `addr show`, `ntable show`, `route show`), and before that three processes a
        namespace and one a bridge. Each namespace's neighbour table is asked first, nearest the
        step's end (a later namespace's after the earlier ones' whole reads, well under a millisecond
        each; `read`, the edge --compare allows a timer until, is taken after them all). The routes
        are written in the words `ip route show` prints (netsim.lab.routetext)."""
        read = {host: self._tables(host) for host in sorted(self.present)}
        hosts = [h for h in self.s.hosts if h in self.present]
        neigh = {h: self._neigh_table(read[h][0]) for h in hosts}
        links = {h: self.links(read[h][1], read[h][2]) for h in hosts}
        routes = {h: [route_text(r) for r in read[h][4]] for h in hosts}
        return neigh, links, {h: read[h][3] for h in sorted(self.present)}, routes

    @staticmethod
    def _tables(
        host: str,
    ) -> tuple[list[dict[str, Any]], list[rtlink.Link], list[rtaddr.Address], Draws, list[dict[str, Any]]]:
        """One namespace's tables after a step, in the words `ip -j -d` printed them where the reads go
        by them: its neighbour entries as `ip neigh show` lists them (netsim.lab.rtneigh), its links and
        IPv4 addresses (rtlink, rtaddr), each device's REACHABLE draw in seconds by name (neightbl,
        named as `ip ntable show` names them) and its main table's routes (netsim.lab.rtroute)."""
        with inside(host):
            answers = rtneigh.dump()  # first: nearest the step's end
            links = rtlink.links()
            neigh = rtneigh.parse_entries(answers, links)
            addresses = rtaddr.addresses()
            drawn = neightbl.draws("arp_cache")
            routes = rtroute.routes(links)
        return neigh, links, addresses, _named_draws(drawn, links), routes

    @staticmethod
    def links(links: list[rtlink.Link], addresses: list[rtaddr.Address]) -> Links:
        """One namespace's links in the trace's shape: each one's kind (`loopback` for lo, else its
        IFLA_INFO_KIND), whether it is up (IFF_UP, the UP of `ip addr show`), its MAC, its IPv4
        addresses in the kernel's order, and the name of its master."""
        names = {link.index: link.name for link in links}
        table = {
            link.name: {
                "kind": "loopback" if link.type == rtlink.ARPHRD_LOOPBACK else link.kind,
                "state": "UP" if link.up else "DOWN",
                "mac": link.address,
                "addresses": [f"{a.local}/{a.prefixlen}" for a in addresses if a.index == link.index],
                "master": None if link.master is None else names.get(link.master, f"if{link.master}"),
            }
            for link in links
        }
        return dict(sorted(table.items()))

    def listening(self) -> dict[str, list[str]]:
        """Every namespace's IPv4 TCP sockets in LISTEN (what `ss -4 -Hltn` lists), as sorted
        'ADDR:PORT': asked over sock_diag from inside the namespace, by this process rather than by
        an `ss` started in it per step, and not read from /proc/net/tcp, which walks the machine's
        whole established hash as well (netsim.lab.sockdiag)."""
        out: dict[str, list[str]] = {}
        for host in self.s.hosts:
            if host in self.present:
                with inside(host):
                    found = listening_sockets()
                out[host] = [f"{address}:{port}" for address, port in sorted(found)]
        return out

    def conntrack(self) -> dict[str, list[dict[str, Any]]]:
        """Each namespace's connection tracking table, from /proc/net/nf_conntrack read inside it."""
        out: dict[str, list[dict[str, Any]]] = {}
        for host in self.s.hosts:
            if host not in self.present:
                continue
            text = read_inside(host, CONNTRACK_PROC)
            entries = [e for e in (parse_conntrack(line) for line in text.splitlines()) if e is not None]
            if entries:
                out[host] = entries
        return out

    def reachable(self) -> dict[str, dict[str, float]]:
        """Each device's REACHABLE lifetime as the kernel drew it (parms->reachable_time, between half
        and one and a half times the base: neigh_rand_reach_time()), asked over rtnetlink as `ip
        ntable show name arp_cache` asks it (netsim.lab.neightbl; an `ip` process a namespace until
        2026-12)."""
        out: dict[str, dict[str, float]] = {}
        for host in sorted(self.present):
            with inside(host):
                links = rtlink.links()
                drawn = neightbl.draws("arp_cache")
            out[host] = _named_draws(drawn, links)
        return out

    @staticmethod
    def _neigh_table(entries: list[dict[str, Any]]) -> Neigh:
        """One namespace's `ip -j neigh show`, in the trace's shape and netsim's order."""
        held = [SimpleNamespace(ip=e["dst"], dev=e["dev"]) for e in entries]
        ordered = sorted(entries, key=lambda e: (address_order(e["dst"]), e["dev"]))
        return {
            trace_key(e["dst"], e["dev"], held): {"mac": e.get("lladdr"), "state": (e.get("state") or ["NONE"])[0]}
            for e in ordered
        }

    def _ordered(self, hop: dict[str, Any]) -> dict[str, Any]:
        """Out ports in the scenario's order, the bridge itself last, as netsim lists them."""
        order = list(self.s.bridges[hop["bridge"]].ports)  # a port a step plugged in from elsewhere: after them

        def rank(port: str) -> tuple[bool, int]:
            return port == hop["bridge"], order.index(port) if port in order else len(order)

        return {**hop, "out_ports": sorted(hop["out_ports"], key=rank)}

    def close(self) -> None:
        if self.openssh is not None:
            self.openssh.close()
        for proc in self.dns:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sock in [*(s for group in self.listeners.values() for s in group), *self.connections]:
            sock.close()
        self.watch.close()
        ended = end_processes([*self._doomed, *processes_in(sorted(self.present))])
        self._doomed = []
        if ended:
            self.say(f"ended {ended} process(es) the lab's programs had left in its namespaces")
        netns_batch("del", sorted(self.present), check=False)


# Read with this thread inside the namespace: /proc/thread-self/net is the calling thread's network
# namespace (proc_tgid_net_lookup() takes the task's nsproxy), as `ip netns exec ... cat` saw it.
CONNTRACK_PROC = "/proc/thread-self/net/nf_conntrack"


USER_HZ = os.sysconf("SC_CLK_TCK")  # the unit of ndm_updated (jiffies_to_clock_t()), as iproute2's get_user_hz()


def _bridge_index(host: str, bridge: str, links: list[rtlink.Link]) -> int:
    """The bridge's ifindex among the namespace's links; a bridge that is not there is an error, as
    `bridge fdb show br BRIDGE` made it."""
    index = next((link.index for link in links if link.name == bridge), None)
    if index is None:
        raise LabError(f"the bridge {bridge} is not in {ns_name(host)}")
    return index


def _fdb_of(host: str, bridge: str, links: list[rtlink.Link], entries: list[brfdb.Entry]) -> list[dict[str, Any]]:
    """The bridge's entries (its NDA_MASTER ones) in the words `bridge -j -s fdb show br BRIDGE` printed
    them, which the reads around a step go by: `mac`, the port's `ifname`, `state` ("permanent" for
    NUD_PERMANENT, state_n2a() in bridge/fdb.c), `vlan` when it has one, and `updated` in whole seconds
    (ndm_updated / hz, as `-s` printed it)."""
    name_of = {link.index: link.name for link in links}
    index = _bridge_index(host, bridge, links)
    return [
        {
            "mac": e.mac,
            "ifname": name_of.get(e.port, str(e.port)),
            "master": bridge,
            "state": "permanent" if e.permanent else "",
            **({"vlan": e.vlan} if e.vlan is not None else {}),
            **({"updated": e.updated // USER_HZ} if e.updated is not None else {}),
        }
        for e in entries
        if e.master == index
    ]


# The setup commands that go into an `ip -batch`: they make and configure, and rename, move or
# delete nothing, so iproute2's cache of interface names in a batch (ll_map.c) never holds a stale one.
BATCHED = {("link", "add"), ("link", "set"), ("addr", "add"), ("route", "add"), ("neigh", "add")}
RENAMES = {"name", "netns"}  # `ip link set dev X name Y` renames it, `... netns NS` moves it away


def _batchable(op: Op) -> bool:
    """An `ip -n NS OBJECT add|set ...` setup command with no input, whose words a batch line can hold."""
    argv = op.argv
    return (
        not op.show
        and not op.stdin
        and len(argv) > 5
        and argv[:2] == ("ip", "-n")
        and argv[2].startswith("lab-")
        and (argv[3], argv[4]) in BATCHED
        and not (argv[3:5] == ("link", "set") and RENAMES & set(argv[5:]))
        and batch_safe(argv[3:])
    )


def _named_draws(drawn: dict[int, int], links: list[rtlink.Link]) -> Draws:
    """REACHABLE draws in ms by ifindex (neightbl.draws()) in seconds by device name, each device named
    as iproute2 names it (ll_index_to_name(): "if7" for one gone)."""
    names = {link.index: link.name for link in links}
    return {names.get(index, f"if{index}"): ms / 1000 for index, ms in drawn.items()}


def read_inside(host: str, path: str) -> str:
    """A /proc/net file of the host's namespace; empty when the namespace has none (nf_conntrack
    is not loaded, or no table was made in it yet)."""
    with inside(host):
        try:
            with open(path, encoding="ascii") as f:
                return f.read()
        except FileNotFoundError:
            return ""


# Helpers that netsim counts as instant (a crafted frame leaves at once, `ip route get` only asks):
# their time, an `ip` process or two (much longer on a loaded machine), is left out of the step's seconds.
INSTANT = ("send_frame", "route_get")
CONFIGURING = ("ip", "bridge", "sysctl")  # programs that configure the kernel and return (Lab.execute())


def _configures_first(ops: list[Op]) -> bool:
    """Whether a step's first operation (not counting what the script shows) configures the kernel."""
    first = next((op for op in ops if op.argv and not op.show), None)
    return first is not None and first.argv[0] in CONFIGURING


PAUSE_ENV = "NETSIM_LAB_PAUSE"  # "STEP=SECONDS,...": sleep before those steps (tests of the replayed clock)


def _pauses() -> dict[str, float]:
    """NETSIM_LAB_PAUSE, read once: the test's stand-in for a machine too loaded to keep up."""
    text = os.environ.get(PAUSE_ENV, "").strip()
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        step, _, seconds = item.partition("=")
        try:
            out[step] = float(seconds)
        except ValueError:
            raise LabError(f"{PAUSE_ENV}: {item!r} is not STEP=SECONDS") from None
        if not 0 <= out[step] <= 60:
            raise LabError(f"{PAUSE_ENV}: {item!r}: expected 0 to 60 seconds")
    return out


def parse_conntrack(line: str) -> dict[str, Any] | None:
    """One line of /proc/net/nf_conntrack (or `conntrack -L`) in the trace's shape; TCP and UDP.

    `ipv4 2 tcp 6 431999 ESTABLISHED src=.. dst=.. sport=.. dport=.. src=.. dst=.. sport=.. dport=..
    [ASSURED] mark=0 zone=0 use=2`: the first four key=value pairs are the original direction. A UDP
    line (`ipv4 2 udp 17 29 src=.. [UNREPLIED] src=.. mark=0 ...`) has no state: its entry has none
    (nf_conntrack_proto_udp.c), and the trace's UDP entry has no "state" key.
    """
    words = line.split()
    proto = next((p for p in ("tcp", "udp") if p in words), None)
    if proto is None:
        return None
    rest = words[words.index(proto) + 3 :]  # after "tcp 6 TIMEOUT" or "udp 17 TIMEOUT"
    pairs = [w.split("=", 1) for w in rest if "=" in w and w.split("=", 1)[0] in ("src", "dst", "sport", "dport")]
    if len(pairs) < 8:
        return None
    first, second = dict(pairs[:4]), dict(pairs[4:8])
    show = "src={src} dst={dst} sport={sport} dport={dport}"
    flags = [w.strip("[]") for w in rest if w in ("[UNREPLIED]", "[ASSURED]")]
    original, reply = show.format(**first), show.format(**second)
    if proto == "udp":
        return {"proto": "udp", "original": original, "reply": reply, "flags": flags}
    return {"proto": "tcp", "state": rest[0], "original": original, "reply": reply, "flags": flags}


def _die_with_lab() -> None:
    """PR_SET_PDEATHSIG in the child: a DNS server never outlives the lab, however the lab ends."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def arp_packet(op: str, sender_mac: str, sender_ip: str, target_mac: str, target_ip: str) -> bytes:
    """An Ethernet/IPv4 ARP packet (RFC 826), padded to Ethernet's 46-byte minimum payload."""
    code = 1 if op == "request" else 2
    header = bytes([0, 1, 8, 0, 6, 4, 0, code])  # htype 1, ptype 0x0800, hlen 6, plen 4, op
    body = _mac(sender_mac) + socket.inet_aton(sender_ip) + _mac(target_mac) + socket.inet_aton(target_ip)
    return (header + body).ljust(46, b"\0")


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def _refusal(command: list[str]) -> str | None:
    """Run an `ip` command whose refusal is the step's outcome: None when the kernel accepted it."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return None
    said = done.stderr.strip().removeprefix("RTNETLINK answers: ")
    return "address-not-available" if said == "Cannot assign requested address" else f"refused: {said}"
