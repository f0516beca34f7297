"""Run a scenario: wire veth cables and bridges, play each step, record the trace.

Frames move through one FIFO queue, so causes come before effects in the trace; timers
(ARP retries, SYN retransmissions, neighbour probes) fire in time order on a simulated clock.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import heapq
import ipaddress
import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

from netsim import arp, conntrack, dns, forwarding, ipv4, netfilter, resolver, routing, sshforward, tcp, timerwheel, udp
from netsim.addresses import (
    BROADCAST,
    LOOPBACK_NET,
    ZERO_MAC,
    derived_mac,
    normalise_mac,
    prefix_routed,
    refuses_as_address,
)
from netsim.bridge import Bridge, Decision, PortFlags
from netsim.conntrack import ORIGINAL, REPLY, tuple_of
from netsim.errors import ScenarioError
from netsim.frames import (
    ARP_REPLY,
    ARP_REQUEST,
    DNS_NXDOMAIN,
    DNS_PORT,
    Arp,
    Dns,
    Frame,
    Icmp,
    Tcp,
    Udp,
    initial_sequence,
)
from netsim.neighbour import NeighbourTable
from netsim.netfilter import Masquerade, PortForward, Skb
from netsim.netns import Connection, Iface, Namespace, Settled
from netsim.plan import ns as ns_name
from netsim.routing import RouteEntry
from netsim.scenario import (
    AddrAdd,
    AddrDel,
    Connect,
    FirewallDel,
    Forwarding,
    Host,
    LinkDel,
    LinkMove,
    LinkRename,
    LinkSet,
    NameLookup,
    Publish,
    ReachableTime,
    Resolve,
    Route,
    RouteAdd,
    RouteDel,
    RouteGet,
    RouteLocalnet,
    Scenario,
    Send,
    Sends,
    SetBridge,
    SetPort,
    Socket,
    SshForward,
    Step,
    Unplug,
    VethAdd,
    declared_port_flags,
)
from netsim.scenario import Masquerade as MasqueradeStep
from netsim.schema import error_at
from netsim.trace import Arrival, Hop, Rewrite, StepTrace, Trace


def application_deadline(connect: Connect) -> float | None:
    """How long the program behind a connect() waits before it gives up itself, if it sets a limit."""
    return connect.deadline


# The kernel lets a bridge port carry an address, but its own stack never sees a frame that
# arrives on it (br_handle_frame(), the port's rx_handler, hands every one to the bridge), while
# what it sends leaves by the port: the two sides' neighbour tables drift apart (an outsider's
# edge case). netsim does not model that; a scenario puts the address on the bridge instead.
_PORT_ADDRESS = (
    "{dev} is a port of {master}; netsim does not model an address on a bridge port (the kernel allows it, "
    "but br_handle_frame() hands every frame arriving there to {master}, so the port's own stack never "
    "sees an answer); expected the address on {master}"
)


TICK_EPSILON = 1e-9  # timers due within this of each other are due at one moment

# What inetdev_event(NETDEV_UP) (net/ipv4/devinet.c) gives lo each time it comes up.
LOOPBACK_ADDRESS = ipaddress.IPv4Interface("127.0.0.1/8")


@dataclass(frozen=True)
class FiredTimer:
    """A timer that fired and did something (a cancelled one is not listed): which one (its order
    of arming, `n`), when it was due, how late the kernel's wheel may fire it, what it is, and when
    netsim fired it (`late` after `due` when a branch postponed it)."""

    n: int
    due: float
    slack: float
    name: str
    late: float = 0.0


# What `ip link` says when a namespace has an interface of that name already (dev_get_valid_name(),
# or __dev_change_net_namespace(), net/core/dev.c: EEXIST).
EEXIST = "; the kernel refuses a second one (EEXIST, RTNETLINK answers: File exists)"


def _still_queued(ns: Namespace, syn: Tcp) -> bool:
    """Whether a copy of `syn` waits in one of this namespace's arp_queues (an INCOMPLETE entry)."""
    return any(p.packet == syn for entry in ns.neigh.entries.values() for p in entry.parked)


def _bindable(ns: Namespace, addr: str) -> set[str]:
    """The addresses tcp.bind_error() takes: the host's own, its broadcast routes' and, for `addr` inside a
    prefix put on lo, `addr` itself: inet_bind() (net/ipv4/af_inet.c) asks inet_addr_type_table(), and the
    local table says RTN_LOCAL for the whole prefix (fib_add_ifaddr()), lo up or down."""
    local = {str(a) for a in [*ns.local_addresses(), *ns.broadcast_addresses()]}
    if ns.on_lo(ipaddress.IPv4Address(addr)):
        local.add(addr)
    if not ns.local_table:
        # A namespace that never had an address has no local table yet: __inet_dev_addr_type()
        # (net/ipv4/fib_frontend.c) starts from RTN_BROADCAST and answers that without one, so any address binds.
        local.add(addr)
    return local


def _source(ns: Namespace, hop: routing.NextHop, dst_ip: str) -> str:
    """The source address of a socket bound to none, as the route to `dst_ip` gives it.

    ip_route_output_key_hash_rcu() (net/ipv4/route.c): to a local address the source is the local
    route's preferred source, its subnet's primary (fib_add_ifaddr() adds it with `src PRIMARY`: a
    secondary's is the primary, 127.0.0.0/8's is 127.0.0.1); anything else takes the matched route's
    preferred source (fib_select_path(): a connected route's is its subnet's primary), else the
    device's own address toward the route's gateway, or its first with none (fib_result_prefsrc()
    -> inet_select_addr(dev, nh->fib_nh_gw4), net/ipv4/fib_semantics.c: a device route's gateway is 0).
    """
    if hop.kind != "local":
        return hop.src or ns.source_address(hop.dev, hop.toward)
    return ns.local_source(dst_ip)


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        hz: int | None = None,
        postpone: dict[int, float] | None = None,
        ticks: tuple[float, ...] = (),
        tick_phase: float | None = None,
    ) -> None:
        self.scenario = scenario
        # Where the kernel's jiffies ticked on the lab's clock: at t with t / TICK_NSEC + tick_phase
        # whole (the lab's trace, "tick_phase"); None when not compared with a recorded run.
        self.tick_phase = tick_phase
        # Moments at which the kernel fired the timers due together in one tick (same-tick), which
        # the comparison found; netsim otherwise fires them one after another.
        self.ticks = ticks
        self.hz = hz  # the kernel's HZ when compared with one (timerwheel.slack()); None: any
        # Timers (by order of arming) the kernel fired this many seconds late, within their slack:
        # the side of a timer's edge the kernel took, which the comparison found (netsim.lab.compare).
        self.postpone = dict(postpone or {})
        self.fired: list[FiredTimer] = []
        # Every timer that came due, with what it found (a stale one does nothing): (when, n, name)
        self.popped: list[tuple[float, int, str]] = []
        self.refills: list[tuple[float, str]] = []  # (moment, what): a refused rate limit's bucket allows again
        # (moment, what): an application stopped waiting (a connect's deadline). Its poll() times out on an
        # hrtimer, to the microsecond; a kernel timer due just before it may fire after it (the wheel's slack).
        self.deadlines: list[tuple[float, str]] = []
        self._armed: dict[int, tuple[float, float, str]] = {}  # n -> (due, slack, name)
        self.now = 0.0
        self.bridges: dict[str, Bridge] = {}
        self.namespaces: dict[str, Namespace] = {}
        # The backlog (netif_rx()): what arrives waits here, with the timer whose firing sent it
        self._queue: deque[tuple[Callable[[], None], tuple[float, float, int] | None]] = deque()
        # (due, order, callback, slack): slack is how late the kernel's timer wheel may fire it
        self._timers: list[tuple[float, int, Callable[[], None], float]] = []
        self._seq = count()
        self._firing: tuple[float, float, int] | None = None  # the timer firing now: (due, slack, n)
        # While a step runs on a replayed clock: the time its tables are read, and the tables as they
        # were before each timer that the kernel might not have fired yet by then.
        self._read_at: float | None = None
        self._unclaimed: str | None = None  # a listener that completed a handshake no connect step took
        self._unfired: list[tuple[float, float, dict[str, Any]]] = []
        self._between: list[Hop] = []  # frames timers sent between two steps (no step records them)
        self._redraw: tuple[float, dict[str, dict[str, float]]] | None = None  # (when, the kernel's draws)
        self._ports = count(40000)  # ephemeral source ports, deterministic
        # The ports the story's connects choose: the kernel's random pick (inet_hash_connect()) all but never
        # takes one of them before its step, so netsim's deterministic one must not either (_ephemeral()).
        self._named_sports = {st.connect.sport for st in scenario.steps if st.connect is not None and st.connect.sport}
        self._current: StepTrace | None = None
        self._step: Step | None = None
        self._frame: Send | None = None  # the frame of a `sends` step being sent: errors point at it
        self._talked: set[str] = set()  # hosts with an open TCP connection (the lab keeps them open)
        # (host, src, sport, dst, dport) of each connection made from a chosen sport -> its step's id
        self._chosen: dict[tuple[str, str, int, str, int], str] = {}
        # The ISN of the last socket opened on each four (addresses and ports, in any namespace), and when.
        self._isns: dict[tuple[str, int, str, int], tuple[int, float]] = {}
        self._port_order: dict[str, dict[str, int]] = {}  # the scenario's order, for the trace
        self.tunnels: dict[tuple[str, str, int], sshforward.Tunnel] = {}  # (client, addr, port) -> ssh -L
        # Non-blocking connects the kernel has not decided yet (start_connection()), and their owners.
        self._connecting: list[tuple[Namespace, Connection, Callable[[Settled], None]]] = []
        self._settling = False
        self._banners: set[tuple[str, int, str, int]] = set()  # knocks on sshd whose banner is on its way
        self._logins: set[tuple[str, int, str, int]] = set()  # ssh's own connections to sshd, as ssh sees them
        # A channel's socket on the server (its four, local first) whose target sshd's banner ssh -L relays,
        # when it comes, to the connection its listener accepted (those ends): data_read().
        self._relaying: dict[tuple[str, int, str, int], tuple[str, int, str, int]] = {}
        self._reading: Connection | None = None  # a connect step's connection that reads until the step ends
        # What ssh logged while no step ran (between two steps on the lab's clock): the next step's.
        self._ssh_said: list[str] = []
        # The tunnels whose channel's connect is being served now: a forward met again leads back to itself.
        self._chain: list[sshforward.Tunnel] = []
        self._deleted: dict[str, str] = {}  # host -> the id of the step that deleted its namespace
        # (bridge, port) of each port that has forwarded since it was plugged in: the first time a
        # port starts forwarding is not "again"
        self._forwarded: set[tuple[str, str]] = set()
        self._build()

    # --- topology ---------------------------------------------------------------------

    def _build(self) -> None:
        s = self.scenario
        for name, host in s.hosts.items():
            if not host.absent:
                self._add_namespace(name, lo_up=True)
        for name, br in s.bridges.items():
            bridge = Bridge(name, s.bridge_mac(name), br.ageing_time)
            self.bridges[name] = bridge
            addrs = [ipaddress.IPv4Interface(br.address)] if br.address else []
            self.namespaces[br.host].ifaces[name] = Iface(name, bridge.mac, addrs, "bridge", ns=br.host)
        dynamic = s.dynamic_ports()
        for name, br in s.bridges.items():
            owner = self.namespaces[br.host]
            self._port_order[name] = {p: i for i, p in enumerate([*br.ports, name])}
            for pname in s.plug_order(name):
                port = br.ports[pname]
                if (name, pname) in dynamic:
                    continue  # plugged in by a later step
                flags = PortFlags(port.learning, port.flood, port.mcast_flood, port.bcast_flood, port.hairpin)
                self.bridges[name].add_port(pname, s.port_mac(name, pname), flags)
                owner.ifaces[pname] = Iface(pname, s.port_mac(name, pname), [], "veth", ns=br.host, master=name)
        for name, host in s.hosts.items():
            if host.absent:
                continue
            ns = self.namespaces[name]
            for dev, iface in host.interfaces.items():
                addrs = [ipaddress.IPv4Interface(iface.address)] if iface.address else []
                ns.ifaces[dev] = Iface(dev, s.host_mac(name, dev), addrs, "veth", ns=name)
        for name, host in s.hosts.items():
            if host.absent:
                continue  # a netns_add step makes it, with nothing but lo
            for dev, iface in host.interfaces.items():
                if not iface.plug:
                    continue
                target, _, end = iface.plug.partition(".")
                here = self.namespaces[name].ifaces[dev]
                there = self.namespaces[s.bridges[target].host if target in s.bridges else target].ifaces[end]
                here.peer, there.peer = there, here
            ns = self.namespaces[name]
            ns.listeners = {_endpoint(text) for text in host.listeners}
            if host.sshd:
                ns.listeners.add((sshforward.WILDCARD, sshforward.SSH_PORT))  # sshd's ListenAddress 0.0.0.0
            # A DNS server answers over TCP too, on the same address and port (RFC 7766 makes it a
            # must; aardvark-dns and dnsmasq both listen on TCP 53 beside UDP 53).
            ns.listeners |= {(server, DNS_PORT) for server in ns.dns_servers}
            self._routes(ns, host)
        self._sync_links()

    def _add_namespace(self, name: str, lo_up: bool) -> Namespace:
        host = self.scenario.hosts[name]
        ns = Namespace(name, host.label or name, tcp_syn_retries=host.tcp_syn_retries)
        ns.neigh = NeighbourTable(host.reachable_time, owner=host.label or name)
        ns.neigh.attach(self, arp.ArpOps(self, ns))
        ns.drop_tcp_ports = set(host.drop_tcp_ports)
        ns.reject_tcp_ports = set(host.reject_tcp_ports)
        ns.reset_tcp_ports = set(host.reset_tcp_ports)
        ns.prohibit_tcp_ports = set(host.prohibit_tcp_ports)
        ns.ip_forward = host.ip_forward
        ns.netfilter.timeouts = conntrack.Timeouts(**host.conntrack_timeouts.values())
        for rule in host.masquerade:
            ns.netfilter.add_masquerade(Masquerade(ipaddress.IPv4Network(rule.saddr), rule.oifname))
        ns.hosts_file = list(host.hosts_file)
        ns.nameservers = list(host.nameservers)
        ns.dns_servers = {d.listen: dns.Server(d.listen, dict(d.records)) for d in host.dns_servers}
        # Every namespace is born with its own loopback, down until someone brings it up.
        # (The kernel gives lo its 127.0.0.1/8 the first time it comes up.)
        addresses = [LOOPBACK_ADDRESS] if lo_up else []
        ns.ifaces["lo"] = Iface("lo", ZERO_MAC, addresses, "loopback", ns=name, up=lo_up)
        ns.local_table = lo_up
        self.namespaces[name] = ns
        return ns

    def _routes(self, ns: Namespace, host: Host) -> None:
        # Each address adds its connected route, as the kernel does (proto kernel scope link).
        for iface in ns.ifaces.values():
            if iface.kind != "loopback":
                self._connected_routes(ns, iface)
        extra = list(host.routes)
        if host.gateway:
            extra.append(Route("default", host.gateway))
        for route in extra:
            self._add_route(ns, route.to, route.via, route.dev)

    def _add_route(self, ns: Namespace, to: str, via: str | None, dev: str | None) -> bool:
        net = ipaddress.IPv4Network("0.0.0.0/0" if to == "default" else to)
        gateway = ipaddress.IPv4Address(via) if via else None
        dev = dev or (self._dev_for(ns, gateway) if gateway else None)
        if dev is None:
            return False  # the kernel refuses such a route ("Nexthop has invalid gateway")
        # fib_check_nh_v4_gw(): a gateway the lookup finds RTN_LOCAL (an own address, or any address in a
        # prefix on lo) gets scope host, and rt_set_nexthop() then uses no gateway (RouteEntry).
        own = gateway is not None and (gateway in ns.local_addresses() or ns.on_lo(gateway, link_scope=True))
        ns.routes.append(RouteEntry(net, dev, gateway, gateway_is_host=own))
        return True

    @staticmethod
    def _dev_for(ns: Namespace, via: ipaddress.IPv4Address) -> str | None:
        """fib_check_nh_v4_gw() (net/ipv4/fib_semantics.c) looks the gateway up as a packet would, at
        scope link: the local table first (one's own address: the device that holds it), then the
        longest prefix among routes without a gateway."""
        if via in ns.broadcast_addresses():
            return None  # fib_check_nh_v4_gw(): a gateway must be RTN_UNICAST or RTN_LOCAL
        if ns.on_lo(via, link_scope=True) and ns.ifaces["lo"].up:
            return "lo"  # RTN_LOCAL on lo: `via 127.0.0.1` is a route out of lo (the kernel takes it)
        for iface in ns.ifaces.values():
            if iface.up and iface.kind != "loopback" and any(a.ip == via for a in iface.addresses):
                return iface.name
        best: RouteEntry | None = None
        for route in ns.routes:
            connected = route.via is None and via in route.network and ns.ifaces[route.dev].up
            if connected and (best is None or route.network.prefixlen > best.network.prefixlen):
                best = route
        return best.dev if best is not None else None

    # --- the clock ---------------------------------------------------------------------

    def schedule(self, delay: float, callback: Callable[[], bool | None], name: str = "a timer") -> None:
        """Arm a timer; `callback` returns False when it found itself cancelled (nothing done)."""
        slack = timerwheel.slack(delay, self.hz)
        if self._firing is not None:
            # Armed by a timer that itself may have fired late (a PROBE's next probe, a SYN's next
            # retransmission): the kernel arms it from the moment it really ran, so the lateness adds up.
            slack += self._firing[1]
        n = next(self._seq)
        due = self.now + delay
        self._armed[n] = (due, slack, name)
        # A postponed timer fires that much later, and may still be late by what is left of its slack.
        late = min(self.postpone.get(n, 0.0), slack)
        heapq.heappush(self._timers, (due + late, n, callback, slack - late))

    def _later(self, work: Callable[[], None]) -> None:
        """Put work in the backlog, remembering which timer's firing queued it."""
        self._queue.append((work, self._firing))

    def _drain(self) -> None:
        while self._queue:
            work, self._firing = self._queue.popleft()
            work()
        self._firing = None
        if self._connecting:
            self._settle_connects()

    def _deliver_now(self) -> None:
        """Deliver what was just sent, at this instant: inside the clock's own loop (settling a step's
        connects) the queue is drained and the loop goes on from here; outside it, the clock runs to now."""
        if self._settling:
            self._drain()
        else:
            self._run_until(lambda: False, self.now)

    def _run_until(self, done: Callable[[], bool], deadline: float, *, inclusive: bool = True) -> None:
        """Process frames, then timers in time order, until `done()` or the deadline.

        With `inclusive` false, a timer due exactly at the deadline waits: the caller's own
        deadline (a SYN's last timeout) comes first when they meet.
        """
        self._drain()
        while (
            not done()
            and self._timers
            and (self._timers[0][0] < deadline or inclusive and self._timers[0][0] == deadline)
        ):
            self._apply_redraw(self._timers[0][0])
            tick = [heapq.heappop(self._timers)]
            if any(abs(tick[0][0] - t) < TICK_EPSILON for t in self.ticks):
                # The kernel fired the timers due at this moment in one tick of the wheel, and every
                # one of them ran before any packet they sent was received: __run_timers()
                # (kernel/time/timer.c) is the timer softirq, and what they send over a veth waits in
                # the backlog (netif_rx()) for NET_RX, which comes after it. The most recently armed
                # fires first: enqueue_timer() adds it at the head of its bucket, and
                # expire_timers() runs the bucket from its head. (Otherwise netsim fires timers due
                # together in the order they were armed, each with its consequences.)
                while self._timers and abs(self._timers[0][0] - tick[0][0]) < TICK_EPSILON:
                    tick.append(heapq.heappop(self._timers))
                tick.sort(key=lambda t: -t[1])
            for when, n, callback, slack in tick:
                self.popped.append((when, n, self._armed[n][2]))
                if self._read_at is not None and when + slack > self._read_at:
                    # The kernel may fire this one after the tables are read: keep its neighbours as
                    # they were (the bridge's ageing is no timer here: see _edges()).
                    self._unfired.append((when, slack, {"neigh": self._tables()["neigh"], "fdb": {}}))
                self.now = max(self.now, when)
                self._firing = (when, slack, n)
                if callback() is not False:
                    due, full, name = self._armed[n]
                    self.fired.append(FiredTimer(n, due, full, name, when - due))
            self._drain()

    def draw_before_first_step(self, drawn: dict[str, dict[str, float]]) -> None:
        """The kernel's REACHABLE lifetimes as the lab read them before the first step (its sysctl
        writes draw them, neigh_proc_base_reachable_time()); the step's own draw replaces them at its
        start, or at a periodic redraw inside it (run_step()'s `redraw_at`)."""
        self._redraw = (self.now, dict(drawn))
        self._apply_redraw(self.now)

    def _apply_redraw(self, before: float) -> None:
        """The kernel's REACHABLE lifetimes the lab read, in force once their moment has come."""
        if self._redraw is not None and self._redraw[0] <= before:
            for host, devs in self._redraw[1].items():
                if host in self.namespaces:
                    self.namespaces[host].neigh.drawn = dict(devs)
            self._redraw = None

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        self._run_until(lambda: False, end)
        self.now = end

    # --- moving frames -----------------------------------------------------------------

    def event(self, text: str) -> None:
        if self._current is not None:
            self._current.events.append(text)

    def refill(self, at: float, what: str) -> None:
        self.refills.append((at, what))

    def passed_at(self, since: float, seconds: float, *, after: bool = False) -> float:
        """A limit the kernel keeps in jiffies allows again when whole ticks enough have passed:
        jiffies - last >= sysctl_tcp_invalid_ratelimit, HZ/2 ticks by default (__tcp_oow_rate_limited(),
        net/ipv4/tcp_input.c). The jiffies tick where CLOCK_MONOTONIC is a multiple of TICK_NSEC
        (tick_init_jiffy_update(), kernel/time/tick-sched.c, since about 6.4; an older kernel's grid
        may lie elsewhere, and a wrong phase is then no worse than seconds: either may be a tick off),
        so with the lab's phase known, the moment is that tick: two SYNs 0.499982 s apart on the
        lab's clock were 125 ticks apart in one real run, and the second was answered. Without it
        (netsim run, the pages), the limit counts seconds.

        `after`: the kernel asks time_after(jiffies, last + ticks), strictly later, as ARP's locktime
        does (arp_process(), net/ipv4/arp.c): one tick more, or on seconds a moment past them."""
        if self.hz is None or self.tick_phase is None or not math.isfinite(since):
            return since + seconds + (TICK_EPSILON if after else 0.0)  # (-inf: the limit never refused yet)
        ticks = math.ceil(seconds * self.hz - 1e-9) + after  # HZ/2 for 500 ms
        return self.tick_at(since) + ticks * timerwheel.tick_nsec(self.hz) / 1e9

    def tick_at(self, t: float) -> float:
        """The moment of the kernel's last jiffies tick at or before `t` on the lab's clock (passed_at()):
        what `jiffies` says at `t`, as a time. A bucket kept in jiffies (an ICMP rate limit) fills by
        whole ticks between two looks at it. Without the lab's phase, `t` itself: seconds."""
        if self.hz is None or self.tick_phase is None or not math.isfinite(t):
            return t
        tick, phase = timerwheel.tick_nsec(self.hz) / 1e9, self.tick_phase
        return (math.floor(t / tick + phase + 1e-9) - phase) * tick

    def transmit(self, ns: Namespace, dev: str, frame: Frame) -> None:
        self._later(lambda: self._transmit(ns, dev, frame))

    def _transmit(self, ns: Namespace, dev: str, frame: Frame) -> None:
        iface = ns.ifaces[dev]
        if not iface.up:
            self.event(f"{ns.label}'s {dev} is down: the frame goes nowhere")
            return
        if iface.kind == "bridge":
            bridge = self.bridges[dev]
            if not bridge.has_carrier():
                # No port forwards, so the bridge has no carrier (br_port_state_selection()), and a
                # device without carrier sends through the noop qdisc (dev_deactivate(), net/sched/
                # sch_generic.c): the frame is dropped before anything, a capture on it included.
                self.event(f"{ns.label}'s {dev} has no carrier: the frame goes nowhere")
                return
            self._deliver(bridge, dev, frame, bridge.transmit(frame, self.now))
            return
        self._over_cable(iface, frame)

    def _over_cable(self, iface: Iface, frame: Frame, hop: int = -1) -> None:
        """veth_xmit(): out of one end, in at the other, if the other end is up."""
        other = iface.peer
        if other is None:
            self.event(f"{iface.name} has no cable: the frame goes nowhere")
        elif not other.up:
            self.event(f"the other end of {iface.name}, {other.name}, is down: the frame is lost")
        elif other.master is not None:
            bridge = self.bridges[other.master]
            self._deliver(bridge, other.name, frame, bridge.receive(frame, other.name, self.now))
        else:
            self._later(lambda: self._receive(self.namespaces[other.ns], other.name, frame, hop))

    def _deliver(self, bridge: Bridge, in_port: str, frame: Frame, d: Decision) -> None:
        index = self._record(bridge, in_port, frame, d)
        owner = self.namespaces[self.scenario.bridges[bridge.name].host]
        if d.to_port:
            # br_handle_frame() returned RX_HANDLER_PASS: __netif_receive_skb_core() goes on with the
            # same frame on the port device, whose own protocol handlers (arp_rcv()) take it at once.
            self._receive(owner, d.to_port, frame, index)
        for port in d.out_ports:
            if port == bridge.name:
                # br_pass_frame_up() -> netif_receive_skb(): the host handles its copy at once, while
                # the copies sent over veth cables wait in the backlog (netif_rx()). The host answers first.
                self._receive(owner, bridge.name, frame, index, in_port)
            elif in_port != bridge.name and (far := owner.ifaces[port].peer) is not None and far.master is not None:
                # Forwarded into another bridge's port: veth_xmit() hands the copy to netif_rx() (drivers/
                # net/veth.c), and that bridge's br_handle_frame() runs when the backlog reaches it, after
                # the host's own copy above and whatever was queued before, as for any other far end. (A
                # frame the host sent waited in the backlog already: transmit() stands for that netif_rx().)
                self._later(lambda out=owner.ifaces[port]: self._over_cable(out, frame, index))
            else:
                self._over_cable(owner.ifaces[port], frame, index)

    def _record(self, bridge: Bridge, in_port: str, frame: Frame, d: Decision) -> int:
        if self._current is None:
            if self._firing is not None:
                self._between.append(self._hop(bridge, in_port, frame, d))  # a timer's, between steps
            return -1
        self._current.frames.append(self._hop(bridge, in_port, frame, d))
        return len(self._current.frames) - 1

    def _hop(self, bridge: Bridge, in_port: str, frame: Frame, d: Decision) -> Hop:
        order = self._port_order[bridge.name]
        return Hop(
            bridge.name,
            in_port,
            frame.src,
            frame.dst,
            d.decision,
            # As the lab lists them: the scenario's ports, then any plugged in from elsewhere, the bridge last.
            tuple(sorted(d.out_ports, key=lambda p: (p == bridge.name, order.get(p, len(order))))),
            frame.summary(),
            d.reason,
            d.learned,
            self.now,
            frame.ethertype,
            frame.payload,
            self._firing,
        )

    def _receive(self, ns: Namespace, dev: str, frame: Frame, hop: int = -1, in_port: str | None = None) -> None:
        iface = ns.ifaces[dev]
        # eth_type_trans() sets pkt_type against the device the frame came in by: for a frame the bridge
        # passed up, the port it arrived on (veth_xmit() -> __dev_forward_skb()); br_handle_frame() then
        # makes the bridge's own MAC PACKET_HOST too, and br_pass_frame_up() keeps what it was.
        own = {iface.mac} | ({ns.ifaces[in_port].mac} if in_port in ns.ifaces else set())
        pkt_type = frame_pkt_type(frame.dst, own)
        if pkt_type == "otherhost":
            # arp_rcv() and ip_rcv_core() drop PACKET_OTHERHOST.
            self._arrive(ns, dev, frame, False, f"not addressed to {iface.mac}: thrown away", hop)
            return
        self._arrive(ns, dev, frame, True, "taken", hop)
        if isinstance(frame.payload, Arp):
            # arp_process(): a frame to a group address is handled as a broadcast one.
            arp.receive(self, ns, dev, frame.payload, to_me=pkt_type == "host")
        elif isinstance(frame.payload, Tcp | Icmp | Udp):
            ipv4.receive(self, ns, dev, frame.payload, pkt_type)

    def _arrive(self, ns: Namespace, dev: str, frame: Frame, accepted: bool, note: str, hop: int) -> None:
        if self._current is not None:
            self._current.arrivals.append(Arrival(ns.name, dev, frame.summary(), accepted, note, hop))

    def loopback(self, ns: Namespace, packet: Tcp | Icmp | Udp, skb: Skb | None = None) -> None:
        self._later(lambda: ipv4.receive(self, ns, "lo", packet, skb=skb))

    def answered_by(self, listener: str) -> None:
        action = self._step.action if self._step is not None else None
        if self._current is not None and action in ("connect", "ssh_forward"):
            self._current.listener = listener
        elif self._unclaimed is None:
            # A handshake completed outside a connect (a channel open that reached sshd once its link
            # came back): the connection waits in the listener's queue, and the lab's accept after
            # the next connect that succeeds takes it with that connect's own (runner._accept_all()).
            self._unclaimed = listener

    def rewrite(self, host: str, hook: str, before: Tcp | Icmp | Udp, after: Tcp | Icmp | Udp) -> None:
        if self._current is not None:
            self._current.rewrites.append(Rewrite(host, hook, _ends(before), _ends(after)))

    def connected(self, host: str, peer_ip: str) -> None:
        """A handshake completed: both ends now hold a connection the lab keeps open."""
        self._talked.add(host)
        peer = ipaddress.IPv4Address(peer_ip)
        if peer.is_loopback or peer in self.namespaces[host].local_addresses():
            return  # its own address (127.0.0.1 too): the local table delivers it at home (fib_lookup())
        self._talked.update(name for name, ns in self.namespaces.items() if peer in ns.local_addresses())

    def unreachable(self, ns: Namespace, packets: list[object]) -> None:
        """arp_error_report() -> ipv4_link_failure(): ICMP host unreachable to the packets' sender.

        A packet this host forwards gets its ICMP error back across the network, one for each
        packet that waited (icmp_send(), within its rate limit per destination: netsim.icmp,
        applied in ipv4.output()). A packet of its own: the ICMP error comes back
        through lo; with lo down it is lost, and a waiting connect() hears nothing (it times out).
        """
        own = {str(a) for a in ns.local_addresses()}
        forwarded = [p for p in packets if isinstance(p, Tcp | Udp) and self._sent_by(ns, p) not in own]
        for packet in forwarded:
            answer = forwarding.host_unreachable(ns, packet)
            if answer is not None:
                self.event(f"{ns.label} tells {self._sent_by(ns, packet)}: host {packet.dst_ip} unreachable")
                ipv4.output(self, ns, answer)
        packets = [p for p in packets if p not in forwarded]
        if not packets:
            return
        if not ns.lo_up():
            self.event(f"{ns.label}'s lo is down: the 'host unreachable' it sends itself is lost")
            return
        for seg in packets:
            if isinstance(seg, Udp):  # __udp4_lib_err(): a connected socket's next recv() fails (EHOSTUNREACH)
                waiting = ns.udp_waiting.get((seg.src_ip, seg.sport))
                if waiting is not None:
                    waiting.refused = True
                continue
            if not isinstance(seg, Tcp):
                continue
            quoted = {(seg.src_ip, seg.sport, seg.dst_ip, seg.dport)}
            table = ns.netfilter.conntrack
            found = table.find(tuple_of(seg).invert(), self.now) if table is not None else None
            if found is not None and found[1] == REPLY:
                # The error quotes the packet as NAT left it; nf_nat_icmp_reply_translation() turns
                # the quote back into what the socket sent (a DNAT'd 127.0.0.1:9002, say).
                t = found[0].original
                quoted.add((t.src, t.sport, t.dst, t.dport))
            for conn in ns.connections:
                sent = (conn.src_ip, conn.sport, conn.dst_ip, conn.dport)
                if conn.state == "SYN_SENT" and sent in quoted:
                    # tcp_v4_err(): ICMP_HOST_UNREACH may send the SYN once more (tcp.rto_revert) first.
                    again = tcp.rto_revert(self, ns, conn)
                    conn.state = "host-unreachable"
                    if again is not None:
                        ipv4.output(self, ns, again)
            for src, sport, dst, dport in quoted:
                request = (dst, dport, src, sport)
                if seg.flags == "SA" and request in ns.half_open and seg.seq == ns.request_snt_isn.get(request):
                    # A request sock's SYN-ACK that waited: the host unreachable it sends itself reaches
                    # tcp_v4_err() -> tcp_req_err() with abort (net/ipv4/tcp_ipv4.c), which drops the
                    # request; no SYN-ACK is sent again to start a new resolution (outsider3's 48, 66).
                    # An older request's SYN-ACK on the same four carries another snt_isn: nothing.
                    del ns.half_open[request]
                    ns.requests.pop(request, None)
                    self.event(f"{ns.label} drops the half-open connection from {dst}:{dport}: host unreachable")

    def _sent_by(self, ns: Namespace, packet: Tcp | Udp) -> str:
        """Who really sent a packet that waited for a neighbour: a forwarded packet masquerade gave
        this host's own address is still another host's (its connection's original source); the
        ICMP error about it goes through OUTPUT, whose nf_nat_icmp_reply_translation() turns it
        toward that host, as ipv4_link_failure() -> icmp_send() has it."""
        table = ns.netfilter.conntrack
        if table is None or not isinstance(packet, Tcp):
            return packet.src_ip
        found = table.find(tuple_of(packet).invert(), self.now)
        if found is not None and found[1] == REPLY:
            return found[0].original.src
        if found is not None and found[1] == ORIGINAL and found[0].dnat:
            # A published port's answer, which un-DNAT gave this host's address as its source: the error
            # goes to the container that answered (the reply tuple's source), translated the same way.
            return found[0].reply.src
        return packet.src_ip

    # --- steps ---------------------------------------------------------------------------

    def run_step(
        self,
        step: Step,
        at: float | None = None,
        observed: float | None = None,
        read: float | None = None,
        drawn: dict[str, dict[str, float]] | None = None,
        redraw_at: float | None = None,
        act_late: float = 0.0,
    ) -> StepTrace:
        """Play one step and record the tables after it.

        `at` and `observed` replay another clock (the lab's): the step starts no earlier than
        `at` and its tables are read no earlier than `observed`, the simulated time in between
        passing as it did there, with every timer that falls due in it. `read` is when the reading
        ended there; `drawn` is the kernel's REACHABLE lifetime per host and device. On a replayed
        clock the trace also notes what the kernel may show instead at
        a timer's edge (StepTrace.neigh_edges, fdb_edges): the tables before each timer the kernel's
        wheel may fire after `observed`, and after every timer due before `read`. `act_late`: the
        step's action takes effect that many seconds after the step began, the time between watched
        (a program's latency the lab cannot time; tests/races.py asks what it would change).
        """
        self._step = step
        self._read_at, self._unfired = observed, []
        if at is not None and at > self.now:
            self.advance(at - self.now)  # nothing is recorded: the lab's watch was off then too
        # The kernel's own REACHABLE lifetimes (neighbour.py), as the lab read them after this step:
        # from its start (before it, the previous step's draw held: a reachable_time step draws anew).
        # `redraw_at`: the kernel drew them anew during the step, at its periodic redraw
        # (neigh_periodic_work(): every parms of the table, every 300 s), not before it.
        self._redraw = (redraw_at if redraw_at is not None else self.now, dict(drawn or {}))
        self._apply_redraw(self.now)
        before = {name: b.fdb.learned(self.now) for name, b in self.bridges.items()}
        self._current = trace = StepTrace(step.id, step.action, step.title, self.now)
        trace.ssh_log, self._ssh_said = self._ssh_said, []  # what ssh said since the last step's tables
        if at is not None:
            # Frames of timers netsim fired before the step that the kernel's wheel may fire after the
            # lab's watch started again: they may lead the kernel's frames of this step.
            trace.may_lead = [h for h in self._between if h.timer is not None and h.timer[0] + h.timer[1] > at]
        self._between = []
        if act_late > 0:
            self.advance(act_late)
        started = trace.started = self.now
        by = getattr(getattr(step, step.action), "by", None)
        if by is not None:
            self._namespace(by)  # every step acts inside its host's namespace: it must exist now
        getattr(self, f"_step_{step.action}")(getattr(step, step.action))
        self._serve_channels()
        trace.elapsed = self.now - started
        if observed is not None and observed > self.now:
            self.advance(observed - self.now)  # the lab still watching, then reading its tables
            self._serve_channels()
        if self._reading is not None:
            # A read waits for what comes: netsim's own run reads at once; the lab's read went on until
            # (at most) it read its tables, so a FIN ssh sends meanwhile is end-of-file there too.
            conn, self._reading = self._reading, None
            trace.reads = conn.reads or "waiting"
            for ns in self.namespaces.values():
                if conn in ns.connections:
                    ns.connections.remove(conn)
        self._apply_redraw(float("inf"))  # what the lab read after the step holds from here on
        trace.fdb = {name: b.fdb.learned(self.now) for name, b in self.bridges.items()}
        trace.fdb_new = {
            name: [mac for mac, port in table.items() if before[name].get(mac) != port]
            for name, table in trace.fdb.items()
        }
        trace.neigh = {name: ns.neigh.snapshot(self.now) for name, ns in self.namespaces.items()}
        trace.links = {name: _links(ns) for name, ns in self.namespaces.items()}
        trace.routes = {name: _route_lines(ns) for name, ns in self.namespaces.items()}
        trace.fdb_ages = {
            name: {mac: self.now - b.fdb.entries[mac].updated for mac in trace.fdb[name]}
            for name, b in self.bridges.items()
        }
        trace.ageing = {name: b.fdb.ageing_time for name, b in self.bridges.items()}
        trace.forwarding = {name: ns.ip_forward for name, ns in self.namespaces.items()}
        trace.conntrack = {
            name: ns.netfilter.conntrack.snapshot(self.now)
            for name, ns in self.namespaces.items()
            if ns.netfilter.conntrack is not None
        }
        trace.listeners = {
            name: [f"{ip}:{port}" for ip, port in sorted(ns.listeners)] for name, ns in self.namespaces.items()
        }
        trace.hosts_files = {
            name: [(str(line.address), tuple(line.names)) for line in ns.hosts_file]
            for name, ns in self.namespaces.items()
        }
        trace.tunnels = [
            {
                "client": t.client,
                "server": t.server,
                "listen": f"{t.listen[0]}:{t.listen[1]}",
                "target": f"{t.forward.host}:{t.forward.hostport}",
            }
            for t in self.tunnels.values()
        ]
        trace.time = self.now
        self._current = None
        if observed is not None:
            self._edges(trace, read if read is not None else observed)
        self._read_at = None
        return trace

    def _tables(self) -> dict[str, Any]:
        """The tables a step's comparison with the kernel reads: neighbours and learned MACs."""
        return {
            "neigh": {name: ns.neigh.snapshot(self.now) for name, ns in self.namespaces.items()},
            "fdb": {name: b.fdb.learned(self.now) for name, b in self.bridges.items()},
        }

    def _edges(self, trace: StepTrace, read: float) -> None:
        """What the kernel may show instead of `trace`'s tables, read from trace.time until `read`:

        - a timer due before the read that the timer wheel may fire after it (timerwheel.slack())
          leaves its entry as it was;
        - a timer due while the tables are read (until `read`) may have fired already;
        - a learned MAC that expired before the read stays listed until the bridge's cleanup runs,
          delayed work armed for the earliest expiry and at least 10 ms apart (br_fdb_cleanup()),
          which may itself run late by its timer's slack.
        """
        self._read_at = None
        observed = trace.time
        shown = {"neigh": trace.neigh, "fdb": trace.fdb}
        others = [
            (t, f"its timer, due at {when:.3f} s, may fire up to {slack:.3f} s late")
            for when, slack, t in self._unfired
        ]
        if read > self.now:
            self.advance(read - self.now)  # the lab's watch is off while it reads: nothing recorded
            others.append(
                (self._tables(), f"its timer falls due while the tables were read ({observed:.3f}-{read:.3f} s)")
            )
        for name, b in self.bridges.items():
            late = timerwheel.slack(b.fdb.ageing_time, self.hz) + 0.01
            listed = {"fdb": {name: b.fdb.learned(observed - late)}, "neigh": {}}
            others.append(
                (listed, f"an expired entry stays listed until br_fdb_cleanup() runs, up to {late:.3f} s late")
            )
        for tables, why in others:
            for host, table in tables["neigh"].items():
                for key in set(table) | set(shown["neigh"].get(host, {})):
                    mine, theirs = shown["neigh"].get(host, {}).get(key), table.get(key)
                    if _entry(mine) != _entry(theirs):
                        trace.neigh_edges.setdefault((host, key), []).append((_entry(theirs), why))
            for bridge, table in tables["fdb"].items():
                for mac in set(table) | set(shown["fdb"].get(bridge, {})):
                    if shown["fdb"].get(bridge, {}).get(mac) != table.get(mac):
                        trace.fdb_edges.setdefault((bridge, mac), []).append((table.get(mac), why))

    def _step_sends(self, burst: Sends) -> None:
        """Each frame goes and is handled before the next is sent (the lab sends them one process
        after another); a MAC seen on a second port moves there at once (br_fdb_update())."""
        for send in burst.frames:
            self._frame = send
            try:
                self._namespace(send.by)
                self._step_send(send)
            finally:
                self._frame = None

    def _step_send(self, send: Send) -> None:
        if not send.dev and not self.scenario.static_devs(send.by):
            have = sorted(d for d, i in self._namespace(send.by).ifaces.items() if i.kind != "loopback")
            raise self._fail(
                "by",
                f"{send.by} declares no interface in the file, so the frame's interface must be named; expected "
                f"dev: one of {', '.join(have) or '(none yet)'}",
            )
        dev = send.dev or self.scenario.default_dev(send.by)
        iface = self._iface(send.by, dev)
        if not iface.up:
            # packet_snd() (net/packet/af_packet.c): a packet socket's send on a device that is not up
            # fails with ENETDOWN before any frame is made; the lab's and the script's send fail alike.
            raise self._fail(
                "dev" if send.dev else "by",
                f"{send.by}'s {dev} is down; the kernel refuses to send a frame on it (ENETDOWN, Network is down: "
                "packet_snd()); expected a link_set up first, or a frame from an interface that is up",
            )
        ns = self.namespaces[send.by]
        src = send.src or iface.mac
        named = BROADCAST if send.dst == "broadcast" else normalise_mac(send.dst)
        dst = named or self.scenario.host_mac(send.dst)
        payload = None
        if send.arp is not None:  # a crafted ARP packet (arp_rcv() on every kernel that hears it)
            a = send.arp
            op = ARP_REQUEST if a.op == "request" else ARP_REPLY
            target_mac = a.target_mac or (ZERO_MAC if op == ARP_REQUEST else dst)
            payload = Arp(op, a.sender_mac or src, a.sender_ip, target_mac, a.target_ip)
        elif send.syn is not None:  # a hand-made SYN: every kernel that takes it runs it through ip_rcv()
            (sip, sport), (dip, dport) = _endpoint(send.syn.src), _endpoint(send.syn.dst)
            payload = Tcp(sip, dip, sport, dport, "S")
        self.transmit(ns, dev, Frame(src, dst, payload))
        self._drain()

    def _step_arp(self, resolve: Resolve) -> None:
        ns = self.namespaces[resolve.by]
        hop = ipv4.route(ns, resolve.target)
        if hop is not None and hop.kind in ("local", "broadcast", "multicast"):
            # A local address goes through lo; a broadcast or multicast one has a NUD_NOARP entry
            # with a fixed MAC (arp_constructor(), net/ipv4/arp.c): no question goes out.
            what = "one of its own addresses" if hop.kind == "local" else f"a {hop.kind} address"
            self.event(f"{resolve.target} is {what} for {ns.label}: nothing to ask")
            return
        if hop is None or hop.kind != "link":
            self.event(f"{ns.label} has no route to {resolve.target}: nothing to ask")
            return
        # What an application's first packet does, without the packet: neigh_event_send() on the
        # route's next hop, the gateway for an address off the host's networks (ip_finish_output2()).
        assert hop.neighbour is not None
        entry = arp.resolve(ns, hop.dev, hop.neighbour)
        self._run_until(lambda: entry.state != "INCOMPLETE", self.now + 60)

    def _step_connect(self, connect: Connect) -> None:
        """connect(): route, SYN, retransmissions, and whichever answer or deadline comes first."""
        assert self._current is not None
        ns = self.namespaces[connect.by]
        dst_ip, dport = _endpoint(connect.to)
        patience = application_deadline(connect)
        conn = self._open(ns, dst_ip, dport, connect.sport, connect.ttl or 64, patience)
        if conn.state == "connected" and connect.sport is not None and self._step is not None:
            self._chosen[(ns.name, conn.src_ip, conn.sport, conn.dst_ip, conn.dport)] = self._step.id
        if conn.state == "connected":
            self._serve_accepts()
            self._serve_channels()
            if self._current.listener is None:
                self._current.listener = self._unclaimed
            self._unclaimed = None
            knock = (conn.src_ip, conn.sport, conn.dst_ip, conn.dport)
            accepted = (conn.dst_ip, conn.dport, conn.src_ip, conn.sport)
            if knock in self._banners or accepted in self._relaying.values():
                # sshd's banner is on its way (_send_banner()): read() blocks until it comes, and a knock that
                # does not read holds it all the same: sshd writes a few ms after the handshake whatever the
                # client does, and the lab's step, which waits a second for an accept of its own, captures
                # the banner and its ACK in the knock's step. Played back to back (`netsim run`, the pages),
                # the next step would otherwise meet a banner still unsent, which netsim sends only once.
                self._run_until(
                    lambda: (
                        knock not in self._banners
                        and accepted not in self._relaying.values()
                        and (not connect.read or conn.reads is not None)
                    ),
                    self.now + sshforward.BANNER_DELAY,
                )
            if connect.read:
                self._current.reads = conn.reads or "waiting"
                self._reading = conn  # on the lab's clock, what came until it stopped reading counts
        if conn in ns.connections and self._reading is not conn:
            ns.connections.remove(conn)
        self._current.outcome = conn.state

    def start_connection(self, ns: Namespace, dst_ip: str, dport: int, settled: Callable[[Settled], None]) -> None:
        """A non-blocking connect(): its SYN leaves now and `settled(outcome)` runs when the kernel decides,
        in whatever step is running then (at once for a refusal or an answer; an ARP that fails, 3 s later).

        sshd connects to a channel's target this way (connect_next() in OpenSSH's channels.c opens the
        socket O_NONBLOCK, and channel_post_connecting() answers the channel open when the socket
        becomes writable): the channel's failure waits for the kernel's own timers."""
        conn = self._begin(ns, dst_ip, dport, None, 64)
        if conn.state != "SYN_SENT":  # connect() itself failed (no route, a broadcast address): no SYN left
            self._settle(ns, conn, settled, at_once=True)
            return
        self._run_until(lambda: conn.state != "SYN_SENT", self.now)  # what settles it in this instant
        if conn.state != "SYN_SENT":
            self._settle(ns, conn, settled)
            return
        gives_up = tcp.syn_timeout(ns.tcp_syn_retries)

        def timeout() -> bool:
            if conn.state != "SYN_SENT":
                return False
            conn.state = "timeout"  # tcp_write_timeout(): the last SYN's timeout ends connect()
            self.event(f"no answer: {ns.label}'s connect() gives up after {gives_up:g} s")
            return True

        self.schedule(gives_up, timeout, f"{ns.label}'s SYN timeout to {dst_ip}:{dport} (tcp_write_timeout())")
        self._connecting.append((ns, conn, settled))

    def _settle(
        self, ns: Namespace, conn: Connection, settled: Callable[[Settled], None], *, at_once: bool = False
    ) -> None:
        if conn in ns.connections:
            ns.connections.remove(conn)
        if conn.state == "connected":
            self.connected(ns.name, conn.dst_ip)
        settled(Settled(conn.state, (conn.src_ip, conn.sport, conn.dst_ip, conn.dport), at_once))

    def _holder(self, address: str) -> Namespace | None:
        """The first namespace holding `address` (of two holding it, the one declared first)."""
        ip = ipaddress.IPv4Address(address)
        return next((n for n in self.namespaces.values() if ip in n.local_addresses()), None)

    def acceptor(self, four: tuple[str, int, str, int]) -> Namespace | None:
        src, sport, dst, dport = four
        for ns in self.namespaces.values():
            if (src, sport, dst, dport) in ns.half_open or (dst, dport, src, sport) in ns.established:
                return ns
        return None

    def _settle_connects(self) -> None:
        """Hand each non-blocking connect the kernel has decided to its owner (start_connection())."""
        while not self._settling and any(conn.state != "SYN_SENT" for _, conn, _ in self._connecting):
            self._settling = True
            try:
                done = [c for c in self._connecting if c[1].state != "SYN_SENT"]
                self._connecting = [c for c in self._connecting if c[1].state == "SYN_SENT"]
                for ns, conn, settled in done:
                    self._settle(ns, conn, settled)
                self._drain()
            finally:
                self._settling = False

    def initial_sequence(self, own_ip: str, own_port: int, peer_ip: str, peer_port: int) -> int:
        """The kernel's ISN is a keyed hash of the four addresses and ports plus a clock that ticks every
        64 ns (secure_tcp_seq(), net/core/secure_seq.c; the key is the machine's, so every namespace shares
        it), for a connecting socket (tcp_v4_connect()) and a request sock's SYN-ACK (tcp_v4_init_seq())
        alike. netsim's hash stands in for the first socket or request on a four; a later one on the same
        four, in any namespace, starts the clock's ticks since further on, so a server still holding the
        first one's request can tell the two apart (tcp_check_req()), and so can an ICMP error quoting
        the first one's SYN or SYN-ACK (tcp_v4_err(), tcp_req_err())."""
        four = (own_ip, own_port, peer_ip, peer_port)  # the hash's key (net_secret) is the machine's
        earlier = self._isns.get(four)
        if earlier is None:
            isn = initial_sequence(own_ip, peer_ip, own_port, peer_port)
        else:
            # Two sockets (or requests) on one four are never made in the same nanosecond: each is a
            # syscall or a packet of its own. netsim's steps run back to back at one instant, where the
            # kernel's are at least microseconds apart, so the clock moves on by one tick at least.
            # Without it a new socket reused the old one's number, and took the old connection's
            # challenge ACK for an answer to its own SYN (lifecycle-address-moves-to-neighbour).
            ticks = max(round((self.now - earlier[1]) * 1e9) // 64, 1)
            isn = (earlier[0] + ticks) & 0xFFFFFFFF
        self._isns[four] = (isn, self.now)
        return isn

    def isn_of(self, own_ip: str, own_port: int, peer_ip: str, peer_port: int) -> int:
        """The initial sequence number of the newest socket or request sock on this four (what
        initial_sequence() gave it), so an established connection's segments carry its own numbers."""
        earlier = self._isns.get((own_ip, own_port, peer_ip, peer_port))
        return earlier[0] if earlier is not None else initial_sequence(own_ip, peer_ip, own_port, peer_port)

    def _begin(
        self, ns: Namespace, dst_ip: str, dport: int, sport: int | None, ttl: int, *, blocking: bool = False
    ) -> Connection:
        """connect()'s first half: route, source, port, and the first SYN with its retransmissions armed.
        A connect the route refuses comes back settled (not SYN_SENT) and holds no socket."""
        if sport is not None:
            self._check_bind(ns, sport)
        if dst_ip == str(routing.ANY_ADDRESS):
            # ip_route_connect() -> ip_route_output_key_hash_rcu(): no destination is the loopback;
            # tcp_v4_connect() takes the route's address (net/ipv4/tcp_ipv4.c).
            self.event(f"{ns.label} connects to 0.0.0.0, which the kernel takes for 127.0.0.1")
            dst_ip = "127.0.0.1"
            if not ipv4.owns(ns, dst_ip):
                # From 127.0.0.1 too: ip_route_connect()'s second lookup has that saddr, which
                # __ip_dev_find() must find local, or it is -ENETUNREACH (a fresh namespace; lo without it).
                self.event(f"{ns.label} has no 127.0.0.1 to send from: network unreachable")
                return Connection("", 0, dst_ip, dport, state="network-unreachable")
        hop = ipv4.route(ns, dst_ip)
        if hop is None:
            self.event(f"{ns.label} has no route to {dst_ip}")
            return Connection("", 0, dst_ip, dport, state="network-unreachable")
        if hop.kind in ("broadcast", "multicast"):
            # tcp_v4_connect(): a route flagged RTCF_BROADCAST or RTCF_MULTICAST is -ENETUNREACH.
            self.event(f"{ns.label} may not connect to the {hop.kind} address {dst_ip}: network unreachable")
            return Connection("", 0, dst_ip, dport, state="network-unreachable")
        src_ip = _source(ns, hop, dst_ip)
        if sport is not None and (ns.name, src_ip, sport, dst_ip, dport) in self._chosen:
            first = self._chosen[(ns.name, src_ip, sport, dst_ip, dport)]
            # __inet_hash_connect() -> __inet_check_established() (net/ipv4/inet_hashtables.c) finds
            # the established socket with these four and answers EADDRNOTAVAIL.
            raise self._fail(
                "sport",
                f"{ns.name}'s connection {src_ip}:{sport} > {dst_ip}:{dport} from step {first!r} is open still (the "
                "lab keeps it open; closed, it would wait in TIME_WAIT); the kernel refuses a second socket with "
                "the same addresses and ports (EADDRNOTAVAIL, Cannot assign requested address: "
                "__inet_check_established(), net/ipv4/inet_hashtables.c); expected another sport",
            )
        if sport is not None and (src_ip, sport, dst_ip, dport) in ns.established:
            # The same four as a connection this host accepted (and the lab keeps open):
            # __inet_check_established() finds it and connect() fails before any SYN leaves.
            self.event(f"{ns.label} holds the connection {src_ip}:{sport} > {dst_ip}:{dport} already: EADDRNOTAVAIL")
            return Connection("", 0, dst_ip, dport, state="address-not-available")
        sport = sport if sport is not None else self._ephemeral(ns)
        conn = Connection(src_ip, sport, dst_ip, dport, ttl=ttl, blocking=blocking)
        ns.connections.append(conn)
        conn.isn = self.initial_sequence(conn.src_ip, conn.sport, conn.dst_ip, conn.dport)
        syn = Tcp(conn.src_ip, conn.dst_ip, conn.sport, conn.dport, "S", conn.isn, ttl=conn.ttl)
        conn.sent = self.now
        ipv4.output(self, ns, syn)
        # tcp_retransmit_timer() arms the timer again each time it fires, so each retransmission's
        # timer is armed after every timer armed before it fired: among timers due in the same
        # instant, it goes last (the kernel's copy runs a little late, and later each time).
        self._arm_syn(ns, conn, syn, [0.0, *tcp.retransmit_times(ns.tcp_syn_retries)])
        return conn

    def _open(
        self,
        ns: Namespace,
        dst_ip: str,
        dport: int,
        sport: int | None,
        ttl: int,
        patience: float | None = None,
        *,
        blocking: bool = False,
    ) -> Connection:
        """connect(): route, SYN, retransmissions, until the answer (or the timeout) settles it.
        `blocking`: the caller sleeps in connect() (ssh does) rather than polling (the lab's knock)."""
        conn = self._begin(ns, dst_ip, dport, sport, ttl, blocking=blocking)
        if conn.state != "SYN_SENT":
            return conn
        kernel_gives_up = tcp.syn_timeout(ns.tcp_syn_retries)
        if patience is not None and patience < kernel_gives_up:
            self._connect_with_deadline(ns, conn, patience)
            return conn
        deadline = self.now + kernel_gives_up
        # When the last SYN timeout (tcp_write_timeout()) and an ARP failure (neigh_timer_handler())
        # fall due in the same jiffy, the kernel reported ETIMEDOUT in the lab, not EHOSTUNREACH:
        # the TCP timer goes first (tests/lab_scenarios/timers-meet.yaml).
        self._run_until(lambda: conn.state != "SYN_SENT", deadline, inclusive=False)
        if conn.state == "SYN_SENT":
            self.now = deadline
            # tcp_write_err(): `sk->sk_err = sk->sk_err_soft ? : ETIMEDOUT` (net/ipv4/tcp_timer.c).
            conn.state = conn.soft_error or "timeout"
            self.event(f"no answer: connect() gives up after {tcp.syn_timeout(ns.tcp_syn_retries):g} s")
            self._run_until(lambda: False, deadline)  # what else falls due in that same moment
        if conn.state == "connected":
            self.connected(ns.name, dst_ip)
        return conn

    def _ephemeral(self, ns: Namespace) -> int:
        """connect()'s own port: __inet_hash_connect() (net/ipv4/inet_hashtables.c) skips a port whose bind
        bucket bind() made (tb->fastreuse >= 0): a listener's, its accepted connections', a chosen sport's.
        netsim's counter never hands out one of its own twice, so those are all it must step over."""
        taken = {port for _, port in ns.listeners} | self._named_sports
        taken |= {four[1] for four in ns.established}
        taken |= {chosen[2] for chosen in self._chosen if chosen[0] == ns.name}
        port = next(self._ports)
        while port in taken:
            port = next(self._ports)
        return port

    def _check_bind(self, ns: Namespace, sport: int) -> None:
        """The lab and the script bind a connecting socket to 0.0.0.0:SPORT with SO_REUSEADDR first;
        inet_csk_bind_conflict() (net/ipv4/inet_connection_sock.c) lets no socket share a port with a
        listener on it, SO_REUSEADDR or not: EADDRINUSE."""
        held = sorted(f"{addr}:{port}" for addr, port in ns.listeners if port == sport)
        if held:
            raise self._fail(
                "sport",
                f"{ns.name} listens on {held[0]} already; the kernel refuses to bind the connecting socket to "
                f"0.0.0.0:{sport} (EADDRINUSE, Address already in use: a listener keeps its port even from a socket "
                "with SO_REUSEADDR, which the lab and the script set; inet_csk_bind_conflict(), "
                "net/ipv4/inet_connection_sock.c); expected another sport",
            )

    def _serve_accepts(self, *, ssh_only: bool = False) -> None:
        """The programs behind the listeners accept what completed; an ssh -L listener relays it.
        `ssh_only`: only ssh's listeners accept now (ssh's own poll loop); the lab's programs accept when
        the step's connect returns, so their queues keep what waits (a close resets it)."""
        for ns in list(self.namespaces.values()):
            waiting = ns.accepted
            if ssh_only:
                ns.accepted = [e for e in waiting if (ns.name, *e[0]) not in self.tunnels]
                waiting = [e for e in waiting if (ns.name, *e[0]) in self.tunnels]
            else:
                ns.accepted = []
            for (addr, port), ends in waiting:
                tunnel = self.tunnels.get((ns.name, addr, port))
                if tunnel is None:
                    if self._speaks_first(ns, addr, port):
                        self._max_startups(ns)
                        self._send_banner(ns, ends)
                    continue  # a plain listener: the connection stays open, nobody writes
                if tunnel in self._chain:
                    raise self._fail(
                        "to",
                        f"the ssh -L forward on {addr}:{port} leads back to itself: each connection it accepts "
                        "opens a channel whose connect from the server is accepted by the same listener again, "
                        "without end (channel_post_port_listener(), OpenSSH's channels.c) until ssh or sshd runs "
                        "out of file descriptors; expected a chain of forwards that ends at a target",
                    )
                if self._current is not None:
                    # ssh's own socket took it: the listener that answers the knock is the one at the
                    # far end, if the channel reaches one (sshforward.answer's connect says which).
                    self._current.listener = None
                # channel_post_port_listener(): a direct-tcpip channel, numbered at once (channel_new()).
                n = tunnel.new_channel()
                if self._current is not None:
                    # No answer yet: the open is on its way, or the server's connect is (the answer, if
                    # it comes within this step, replaces this).
                    listen = f"{tunnel.listen[0]}:{tunnel.listen[1]}"
                    self._current.channel = {"listen": listen, "n": n, "outcome": "waiting"}
                if not self._send_ssh(tunnel) and tunnel.gone:
                    self._close_accepted(tunnel, ends)  # the segment met an RST: ssh exited
                    continue
                if not tunnel.reached:
                    # The channel open waits in the SSH connection (on a neighbour that cannot be
                    # resolved, a link without carrier): the server connects when it arrives.
                    tunnel.waiting.append(sshforward.Opening(n, ends))
                    self.event(f"ssh's open of channel {n} has not reached {tunnel.server}: the SSH connection waits")
                    continue
                self._open_channel(tunnel, sshforward.Opening(n, ends))

    def _open_channel(self, tunnel: sshforward.Tunnel, opening: sshforward.Opening) -> None:
        """The server has the channel's open: its connect runs on the kernel's clock, and ssh hears the answer."""
        sshforward.answer(
            self,
            tunnel,
            self.namespaces[tunnel.server],
            opening.n,
            lambda result: self._channel_answered(tunnel, opening.ends, result),
        )

    def _speaks_first(self, ns: Namespace, addr: str, port: int) -> bool:
        """A listener whose program writes before it reads: sshd on its port 22 sends its version banner as
        soon as it accepts (RFC 4253 section 4.2; sshd's kex_exchange_identification()). The lab's own
        listeners never write."""
        host = self.scenario.hosts.get(ns.name)
        return host is not None and host.sshd and (addr, port) == (sshforward.WILDCARD, sshforward.SSH_PORT)

    def _max_startups(self, ns: Namespace) -> None:
        """Refuse the scenario once sshd holds more connections that have not logged in than MaxStartups'
        start (a knock on port 22, a channel whose target is sshd, the one it just accepted among them):
        sshd then drops new ones at random (drop_connection(), OpenSSH's sshd.c), which nothing can
        replay. ssh's own logins are not counted: they log in at once."""
        waiting = [
            e for e in ns.established if e[1] == sshforward.SSH_PORT and (e[2], e[3], e[0], e[1]) not in self._logins
        ]
        if len(waiting) > sshforward.MAX_STARTUPS:
            raise self._fail(
                "to",
                f"{ns.label}'s sshd now holds {len(waiting)} connections that have not logged in; past "
                f"{sshforward.MAX_STARTUPS} (MaxStartups 10:30:100, OpenSSH's default, which the lab keeps) it "
                "drops each new one with a probability of 30% and more (drop_connection() in OpenSSH's sshd.c), "
                "so the kernel's side cannot be replayed; netsim does not model sshd's drops; expected at most "
                f"{sshforward.MAX_STARTUPS} connections to port 22 left open without a login",
            )

    def _send_banner(self, ns: Namespace, ends: tuple[str, int, str, int]) -> None:
        """sshd writes its version line on the connection it accepted (kex_exchange_identification(),
        OpenSSH's kex.c), a moment after the handshake: the listening sshd forks and re-executes itself for
        the connection (sshd -R) before the child writes. The lab's captures show 6 to 27 ms between the
        handshake's ACK and the banner on a loaded machine; netsim takes sshforward.BANNER_DELAY. It is the
        accepted socket's first transmit: the handshake's last ACK set sk_dst_pending_confirm there
        (sk_dst_confirm()), so the banner confirms the neighbour it leaves by and each router's on the
        way (sock_confirm_neigh(); the lab: the server's DELAY entry for the client goes REACHABLE
        without a probe). The client's kernel ACKs it at once (netsim.tcp's _data()). ssh's own login
        is left to _login_confirms(), which stands for all its messages, this one too. Not modelled:
        the banner's retransmission (a banner that waits for its neighbour, or finds no route, is sent
        once), and what sshd does when nothing follows (LoginGraceTime; the check refuses waits that
        reach it)."""
        local_ip, local_port, peer_ip, peer_port = ends
        if (peer_ip, peer_port, local_ip, local_port) in self._logins:
            self._banner(ends)
            return

        self._banners.add((peer_ip, peer_port, local_ip, local_port))

        def write() -> bool:
            self._banners.discard((peer_ip, peer_port, local_ip, local_port))
            if ends not in ns.established:
                return False  # reset meanwhile: sshd's child reads ECONNRESET and writes nothing
            seq = self.isn_of(local_ip, local_port, peer_ip, peer_port) + 1
            ack = ns.rcv_nxt[ends]  # set with `established`, which holds ends
            self.event(f"{ns.label}'s sshd writes its version banner to {peer_ip}:{peer_port}")
            banner = tcp.carry_confirm(ns, Tcp(local_ip, peer_ip, local_port, peer_port, "PA", seq & 0xFFFFFFFF, ack))
            ipv4.output(self, ns, banner)
            return True

        def grace() -> bool:
            if ends not in ns.established:
                return False
            # sshd's alarm(LoginGraceTime), set before it writes its banner: grace_alarm_handler() ends the
            # child, whose exit closes the connection (a FIN, tcp_close()), which netsim does not model.
            step = self._step
            raise error_at(
                step if step is not None else self.scenario,
                step.action if step is not None else "steps",
                f"the connection {peer_ip}:{peer_port} made to {ns.label}'s sshd has waited "
                f"{sshforward.LOGIN_GRACE_TIME:g} s without logging in: sshd's LoginGraceTime (the lab's sshd_config "
                "leaves OpenSSH's default) ends it, and its exit closes the connection with a FIN the client's kernel "
                "acknowledges (grace_alarm_handler() in OpenSSH's sshd.c; tcp_close(), net/ipv4/tcp.c); netsim "
                "does not model sshd's close; expected the scenario to end sooner after a knock on port 22",
            )

        self.schedule(
            sshforward.LOGIN_GRACE_TIME,
            grace,
            f"{ns.label}'s sshd gives up on {peer_ip}:{peer_port} (LoginGraceTime, grace_alarm_handler())",
        )
        self.schedule(
            sshforward.BANNER_DELAY,
            write,
            f"{ns.label}'s sshd writes its version banner to {peer_ip}:{peer_port} (kex_exchange_identification())",
        )

    def _banner(self, ends: tuple[str, int, str, int]) -> None:
        """The accepted connection's far end reads data, without a segment: ssh's own login (its messages
        are _login_confirms()'s) and a banner ssh -L relays to a connection its listener accepted."""
        local_ip, local_port, peer_ip, peer_port = ends
        for ns in self.namespaces.values():
            for conn in ns.connections:
                if (conn.src_ip, conn.sport, conn.dst_ip, conn.dport) == (peer_ip, peer_port, local_ip, local_port):
                    conn.reads = conn.reads or "data"
                    self.event(f"{ns.label} hears sshd's banner: its next read() returns data")

    def data_read(self, ns: Namespace, four: tuple[str, int, str, int]) -> None:
        """Data reached a socket (netsim.tcp's _data()): on a channel's socket sshd reads the target's banner
        (kex_exchange_identification() there) and relays it in the SSH session (channel_handle_rfd(),
        OpenSSH's channels.c), and ssh writes it to the connection its listener accepted: that program's
        next read() returns data. The relay's own segments are the SSH session's, not modelled."""
        ends = self._relaying.pop(four, None)
        if ends is not None:
            self._banner(ends)

    def _channel_answered(
        self, tunnel: sshforward.Tunnel, ends: tuple[str, int, str, int], result: sshforward.Accepted
    ) -> None:
        """ssh hears the server's answer to a channel open: its log, and on failure it closes the socket."""
        server = self.namespaces.get(tunnel.server)
        if server is not None and tunnel.session is not None and ipv4.route(server, tunnel.session[0]) is None:
            raise self._fail(
                "to",
                f"the server's answer to channel {result.channel} ({result.outcome}) cannot reach ssh: "
                f"{server.label} has no route back to {tunnel.session[0]}, so sshd's TCP keeps it in its send "
                "queue and retries on its retransmission timer (tcp_write_xmit(), tcp_retransmit_timer(), "
                "net/ipv4/tcp_output.c and tcp_timer.c) until a route returns; ssh hears nothing meanwhile and "
                "keeps the accepted connection open (no 'open failed' line, no close). netsim does not model the "
                "SSH connection's segments from the server; expected the server's route back to the ssh client "
                "to stay while a channel opens",
            )
        if server is not None and not tunnel.gone:
            self._send_ssh_answer(tunnel, server)
        if result.outcome == "connected" and server is not None:
            # The host whose socket answered the server's connect (the server itself for 127/8 or 0.0.0.0, or
            # another; of two holding the target's address, the one that answered): if sshd answers there,
            # its banner crosses the channel and ssh writes it to the accepted connection.
            there = self.acceptor(result.four) if result.four is not None else None
            if there is None:  # not seen answering (NAT on the way): the target's address says where
                target = ipaddress.ip_address(sshforward.target_address(tunnel.forward))
                there = server if target.is_loopback or target.is_unspecified else self._holder(str(target))
            if there is not None and self._speaks_first(there, sshforward.WILDCARD, tunnel.forward.hostport):
                self._max_startups(there)
                if result.four is not None:
                    # sshd's banner on the channel's socket comes a moment later (_send_banner()): sshd reads
                    # it there and ssh writes it to the accepted connection then (data_read()).
                    self._relaying[result.four] = ends
                else:
                    self._banner(ends)
        if self._current is not None:
            self._current.ssh_log.extend(result.log)
            listen = f"{tunnel.listen[0]}:{tunnel.listen[1]}"
            self._current.channel = {"listen": listen, "n": result.channel, "outcome": result.outcome}
        else:
            self._ssh_said.extend(result.log)  # between two steps: the lab reads it with the next one
        if result.outcome != "connected":
            self._close_accepted(tunnel, ends)
            return
        if result.four is not None:
            tunnel.relays[result.four] = ends
        # The server's connect may have landed on another ssh -L listener (a chain of forwards): that ssh
        # accepts it at once and opens a channel of its own (channel_post_port_listener(), channels.c).
        self._chain.append(tunnel)
        try:
            self._serve_accepts(ssh_only=True)
        finally:
            self._chain.pop()

    def _close_accepted(self, tunnel: sshforward.Tunnel, ends: tuple[str, int, str, int], *, run: bool = True) -> None:
        """ssh closes a socket its listener accepted: FIN to the program that connected. The handshake's
        ACK moved that socket's snd_una, so tcp_ack() set sk_dst_pending_confirm (sk_dst_confirm()); the
        FIN, its first segment, carries it and confirms the neighbour (sock_confirm_neigh() in
        ip_finish_output2()): a container's entry goes REACHABLE."""
        ns = self.namespaces.get(tunnel.client)
        if ns is None:
            return
        local_ip, local_port, peer_ip, peer_port = ends
        seq = self.isn_of(local_ip, local_port, peer_ip, peer_port) + 1
        ack = self.isn_of(peer_ip, peer_port, local_ip, local_port) + 1
        fin = tcp.carry_confirm(ns, Tcp(local_ip, peer_ip, local_port, peer_port, "FA", seq, ack))
        ipv4.output(self, ns, fin)
        # The peer may be sshd's socket of another tunnel's channel (forwards in a chain): sshd reads EOF
        # there and sends the channel's EOF and close (channel_input_ieof(), chan_rcvd_oclose() in
        # OpenSSH's nchan.c), and that ssh closes the connection its listener accepted in turn.
        for other in list(self.tunnels.values()):
            relayed = other.relays.pop((peer_ip, peer_port, local_ip, local_port), None)
            if relayed is not None:
                self.event(f"sshd reads end-of-file from {local_ip}:{local_port} and closes the channel")
                self._close_accepted(other, relayed, run=run)
        if not run:
            return  # the clock's loop running now delivers it
        self._deliver_now()

    def connection_reset(self, ns: Namespace, four: tuple[str, int, str, int]) -> None:
        """tcp_reset() on an SSH connection: ssh (or sshd's child) reads ECONNRESET and exits. ssh's exit closes
        its listener and the connections it accepted; sshd's leaves the client's ssh to find out with its next
        segment, which no socket takes (an RST)."""
        if four not in ns.ssh_sessions:
            return  # a program's own connection: what it read after connecting was read already
        ns.ssh_sessions.discard(four)
        for key, tunnel in list(self.tunnels.items()):
            if tunnel.client == ns.name and tunnel.session == four:
                tunnel.gone, tunnel.unacked = True, False  # the process is gone, and its timer with it
                del self.tunnels[key]
                ns.listeners.discard(tunnel.listen)
                for opening in tunnel.waiting:  # channel opens still on their way: their connections close too
                    self._close_accepted(tunnel, opening.ends, run=False)
                tunnel.waiting = []
                listen = f"{tunnel.listen[0]}:{tunnel.listen[1]}"
                if self._current is not None and (self._current.channel or {}).get("listen") == listen:
                    self._current.channel = None  # its open never reached sshd, and no tunnel is left to show
                self.event(
                    f"ssh's SSH connection is reset: ssh exits, and its listener on {tunnel.listen[0]}:"
                    f"{tunnel.listen[1]} closes"
                )

    def _serve_channels(self) -> None:
        """Channel opens that reached the server late (the SSH connection's path came back): the server
        connects to the target for each, in order, and ssh hears the answer."""
        for tunnel in list(self.tunnels.values()):
            arrived, tunnel.arrived = tunnel.arrived, []
            for opening in arrived:
                self._open_channel(tunnel, opening)

    def _rto_floor(self) -> float:
        """An established connection's first retransmission timeout on a cable: TCP_RTO_MIN (200 ms)
        plus the measured round trip (microseconds), which usecs_to_jiffies() in __tcp_set_rto()
        rounds up to the next jiffy (net/ipv4/tcp_input.c): 204 ms at HZ 250."""
        hz = self.hz or 1000
        return (int(0.2 * hz) + 1) / hz

    def _send_ssh(self, tunnel: sshforward.Tunnel) -> bool:
        """ssh writes a channel open into its SSH connection (one segment; its bytes are not modelled):
        True when the server heard it at once. Otherwise TCP's retransmission timer runs
        (tcp_retransmit_timer(), net/ipv4/tcp_timer.c): each resend goes through the neighbour
        again, which turns a FAILED entry INCOMPLETE and asks anew (__neigh_event_send())."""
        if tunnel.session is None:
            return True
        client = self.namespaces.get(tunnel.client)
        if client is None:
            return False
        cip, cport, sip, sport = tunnel.session
        tunnel.reached = False
        seq = self.isn_of(cip, cport, sip, sport) + 1
        ack = self.isn_of(sip, sport, cip, cport) + 1
        ipv4.output(self, client, tcp.carry_confirm(client, Tcp(cip, sip, cport, sport, "PA", seq, ack)))
        self._run_until(lambda: tunnel.reached or tunnel.gone, self.now)
        if not tunnel.reached and not tunnel.unacked and not tunnel.gone:
            tunnel.unacked, tunnel.rto = True, self._rto_floor()
            self._arm_ssh_rto(tunnel)
        return tunnel.reached

    def _arm_ssh_rto(self, tunnel: sshforward.Tunnel) -> None:
        def fire() -> bool:
            if not tunnel.unacked:
                return False
            # tcp_retransmit_timer(): the RTO doubles each time, up to TCP_RTO_MAX.
            tunnel.rto = min(tunnel.rto * 2, tcp.TCP_RTO_MAX)
            assert tunnel.session is not None
            cip, cport, sip, sport = tunnel.session
            seq = self.isn_of(cip, cport, sip, sport) + 1
            ack = self.isn_of(sip, sport, cip, cport) + 1
            client = self.namespaces.get(tunnel.client)
            if client is not None:
                ipv4.output(self, client, tcp.carry_confirm(client, Tcp(cip, sip, cport, sport, "PA", seq, ack)))
            if tunnel.unacked:
                self._arm_ssh_rto(tunnel)
            return True

        self.schedule(
            tunnel.rto,
            fire,
            f"{tunnel.client}'s retransmission of the SSH connection's unacknowledged data to {tunnel.server} "
            "(tcp_retransmit_timer(), net/ipv4/tcp_timer.c)",
        )

    def _send_ssh_answer(self, tunnel: sshforward.Tunnel, server: Namespace) -> None:
        """sshd answers a channel open (SSH2_MSG_CHANNEL_OPEN_CONFIRMATION or _OPEN_FAILURE, OpenSSH's
        channels.c) with one data segment back over the SSH connection; ssh's kernel acknowledges it
        (ssh_segment()). A conntrack entry that picked the connection up mid-stream at the channel open
        (tcp_new(), nf_conntrack_tcp_loose) sees the reply and then that ACK, and nf_conntrack_tcp_packet()
        (net/netfilter/nf_conntrack_proto_tcp.c) sets ASSURED. Its bytes are not modelled, nor its
        retransmission: ssh hears the answer when sshd sends it (named: ssh)."""
        assert tunnel.session is not None
        cip, cport, sip, sport = tunnel.session
        seq = self.isn_of(sip, sport, cip, cport) + 1
        ack = self.isn_of(cip, cport, sip, sport) + 1
        self.event(f"{server.label}'s sshd answers the channel open over the SSH connection")
        ipv4.output(self, server, tcp.carry_confirm(server, Tcp(sip, cip, sport, cport, "PA", seq, ack)))
        self._deliver_now()

    def ssh_segment(self, ns: Namespace, seg: Tcp) -> Tcp | None:
        """sshd reads the channel opens a segment brings and TCP acknowledges it; ssh hears the ACK, and
        its kernel acknowledges sshd's answer (_send_ssh_answer())."""
        for tunnel in self.tunnels.values():
            if tunnel.session is None:
                continue
            cip, cport, sip, sport = tunnel.session
            if ns.name == tunnel.server and (seg.src_ip, seg.sport, seg.dst_ip, seg.dport) == tunnel.session:
                if seg.flags != "PA":
                    # ssh's kernel acknowledges sshd's answer: nothing to read or answer; tcp_ack()'s forward
                    # progress sets sk_dst_pending_confirm (sk_dst_confirm()) for sshd's next segment.
                    ns.dst_pending_confirm.add((sip, sport, cip, cport))
                    return None
                tunnel.reached = True
                tunnel.arrived.extend(tunnel.waiting)  # TCP delivers what waited, in order
                tunnel.waiting = []
                self.event(f"{ns.label}'s sshd hears from ssh over the SSH connection; its TCP acknowledges")
                return tcp.carry_confirm(ns, Tcp(sip, cip, sport, cport, "A", seg.ack, seg.seq + 1))
            if ns.name == tunnel.client and (seg.dst_ip, seg.dport, seg.src_ip, seg.sport) == tunnel.session:
                if tunnel.unacked or seg.flags == "A":
                    # tcp_ack(): the channel open is acknowledged (the timer stops), forward progress that sets
                    # sk_dst_pending_confirm (sk_dst_confirm()) for ssh's next segment.
                    ns.dst_pending_confirm.add(tunnel.session)
                tunnel.unacked = False
                if seg.flags != "PA":
                    return None
                self.event(f"{ns.label}'s ssh hears sshd's answer; its TCP acknowledges")
                return tcp.carry_confirm(ns, Tcp(cip, sip, cport, sport, "A", seg.ack, seg.seq + 1))
        return None

    def _connect_with_deadline(self, ns: Namespace, conn: Connection, seconds: float) -> None:
        """The application stops waiting before the kernel would (Go's Dialer.Timeout, a poll() with a
        timeout): it closes the socket, which in SYN_SENT sends nothing (tcp_close() -> tcp_set_state
        TCP_CLOSE) and cancels the retransmit timer, so no SYN follows."""
        assert self._current is not None
        deadline = self.now + seconds
        self.deadlines.append((deadline, f"{ns.label}'s application gave up its connect ({seconds:g} s deadline)"))
        self._run_until(lambda: conn.state != "SYN_SENT", deadline, inclusive=False)
        if conn.state == "SYN_SENT":
            self.now = deadline
            conn.state = "deadline"
            self.event(f"{ns.label}'s application stops waiting after {seconds:g} s and closes the socket")
            ns.connections.remove(conn)
        elif conn.state == "connected":
            self.connected(ns.name, conn.dst_ip)

    def _arm_syn(self, ns: Namespace, conn: Connection, syn: Tcp, times: list[float]) -> None:
        """Arm the timer for the next retransmission (times[0] is now, times[1] the next one)."""
        conn.syn, conn.schedule = syn, times
        if len(times) > 1:
            armed = conn.armed
            self.schedule(
                times[1] - times[0],
                lambda: self._retransmit_syn(ns, conn, syn, times[1:], armed),
                f"{ns.label}'s SYN retransmission to {conn.dst_ip}:{conn.dport} "
                "(tcp_retransmit_timer(), net/ipv4/tcp_timer.c)",
            )

    def rearm_syn(self, ns: Namespace, conn: Connection, jiffies: int) -> None:
        # The pending timer goes stale; the next retransmission comes after `jiffies` ticks, and the
        # ones after it keep their spacing (inet_csk_reset_xmit_timer() changes the timer, not the RTO).
        assert conn.syn is not None
        conn.armed += 1
        times = conn.schedule
        soon = jiffies / (self.hz or 1000)
        self._arm_syn(ns, conn, conn.syn, [0.0, soon, *(soon + t - times[1] for t in times[2:])])

    def _retransmit_syn(self, ns: Namespace, conn: Connection, syn: Tcp, times: list[float], armed: int) -> bool:
        if conn.state != "SYN_SENT" or armed != conn.armed:
            return False
        conn.firings += 1
        if _still_queued(ns, syn):
            # skb_still_in_host_queue() (net/ipv4/tcp_output.c): the last copy of this SYN still waits
            # in this host's arp_queue (its fast clone is busy), so __tcp_retransmit_skb() sends
            # nothing (-EBUSY) and leaves the SYN's timestamp; the timer backs off all the same. So an
            # RFC 6069 revert later measures from the SYN that did leave (outsider 4's 16).
            self.event(f"{ns.label}'s SYN still waits for its neighbour: the retransmission sends nothing")
        else:
            conn.sent = self.now
            ipv4.output(self, ns, syn)
        self._arm_syn(ns, conn, syn, times)
        return True

    def _step_listen(self, sock: Socket) -> None:
        assert self._current is not None
        ns = self.namespaces[sock.by]
        addr, port = _endpoint(sock.bind)
        refused = tcp.bind_error(_bindable(ns, addr), ns.listeners, addr, port, sock.reuseport, ns.reuseport)
        if refused is not None and not sock.may_fail:
            # The scenario reader refused what it could see; this is what only the story's state
            # shows, such as a subnet's broadcast address while its interface is down.
            name = tcp.ERRNO_NAME[refused]
            why = (
                f"has no address {addr} to listen on at this point"
                if refused == "address-not-available"
                else f"cannot listen on {sock.bind} at this point"
            )
            raise self._fail(
                "bind",
                f"{sock.by} {why}; the kernel refuses the bind ({name}, {os.strerror(getattr(errno, name))}); "
                "expected may_fail: true to show the refusal, or what it can bind then",
            )
        if refused is not None:
            self._current.outcome = refused
            self.event(f"bind() refuses {ns.label} {sock.bind}: {tcp.ERRNO_NAME[refused]}")
            return
        if (addr, port) in ns.listeners:  # bind_error() let it share: both with SO_REUSEPORT (reuseport_add_sock())
            ns.listener_count[(addr, port)] = ns.listener_count.get((addr, port), 1) + 1
        ns.listeners.add((addr, port))
        if sock.reuseport:
            ns.reuseport.add((addr, port))
        self.event(f"{ns.label} listens on {sock.bind}" + (" (SO_REUSEPORT)" if sock.reuseport else ""))

    def _step_ssh_forward(self, fwd: SshForward) -> None:
        """ssh logs in over a TCP connection to the server's port 22, then binds its listener."""
        assert self._current is not None
        ns = self._namespace(fwd.by)
        # ssh_connect_direct() -> timeout_connect() (sshconnect.c): with no ConnectTimeout, a blocking connect().
        login = self._open(ns, fwd.server, sshforward.SSH_PORT, None, 64, blocking=True)
        session = (login.src_ip, login.sport, login.dst_ip, login.dport)
        self._logins.add(session)  # its banner is one of the login's messages (_login_confirms())
        # The server is the host whose sshd answered (of two holding its address, the one that did).
        server = self.acceptor(session) if login.state == "connected" else None
        self._serve_accepts()
        if login in ns.connections:  # a connect() that failed itself (no route) never held a socket
            ns.connections.remove(login)  # the SSH connection stays up; its segments are ssh_segment()'s
        if login.state != "connected":
            self._current.outcome = login.state
            self.event(f"ssh cannot reach {fwd.server}:22: {login.state}")
            return
        if server is None:
            # No host holds the connection as ssh sees it: NAT on the way (masquerade, a published
            # port) gave sshd's end other addresses. The kernel carries it and ssh's channels over it
            # (each NATed by its conntrack entry, nf_nat_packet()), but netsim follows the SSH
            # connection's segments by ssh's own addresses (ssh_segment()) and would lose them.
            raise self._fail(
                "server",
                f"ssh's connection to {fwd.server}:22 is NATed on the way (masquerade or a published port), so "
                "sshd sees other addresses than ssh does; the kernel carries the SSH connection and its channels "
                "through the NAT, but netsim does not model an SSH connection through NAT; expected a server "
                "reached without address translation",
            )
        self._login_confirms(ns, server, session)
        forward = sshforward.parse(fwd.forward)
        assert forward is not None  # the schema checked it
        addr, twins = sshforward.bind_addresses(forward, fwd.gateway_ports)
        refused = tcp.bind_error(_bindable(ns, addr), ns.listeners, addr, forward.port)
        if refused is not None:
            # channel_setup_fwd_listener_tcpip(): "bind [ADDR]:PORT: strerror", printed only when ADDR was
            # the last address ssh tried (sshforward.refusal_printed()); with no socket bound the forward
            # fails (the lab runs ssh with ExitOnForwardFailure=yes, and ssh exits).
            self._current.outcome = refused
            if sshforward.refusal_printed(forward):
                self._current.ssh_log.append(f"bind [{addr}]:{forward.port}: {sshforward.BIND_STRERROR[refused]}")
            self.event(f"ssh cannot listen on {addr}:{forward.port}: {tcp.ERRNO_NAME[refused]}")
            if not sshforward.exits_on_refusal(forward, fwd.gateway_ports):
                self.event("its IPv6 twin binds, so ssh keeps running (IPv6 is not modelled)")
            return
        ns.listeners.add((addr, forward.port))
        # Each listening socket is a channel of its own, before any forwarded connection.
        tunnel = sshforward.Tunnel(fwd.by, server.name, forward, (addr, forward.port), [True] * (1 + twins))
        tunnel.session = session
        # The login's messages carried each end's pending confirmations (_login_confirms() stands for them).
        ns.dst_pending_confirm.discard(session)
        server.dst_pending_confirm.discard((session[2], session[3], session[0], session[1]))
        ns.ssh_sessions.add(session)
        server.ssh_sessions.add((session[2], session[3], session[0], session[1]))
        self.tunnels[(fwd.by, addr, forward.port)] = tunnel
        self.event(
            f"ssh listens on {addr}:{forward.port}; what it accepts, {server.label} connects to "
            f"{forward.host}:{forward.hostport}"
        )

    def _login_confirms(self, client: Namespace, server: Namespace, session: tuple[str, int, str, int]) -> None:
        """ssh's login (version lines, key exchange, authentication, the forward's request) is data both
        ways: each end's tcp_ack() sees its own data acknowledged and sets sk_dst_pending_confirm
        (sk_dst_confirm(), net/ipv4/tcp_input.c), and its next segment confirms the neighbour it is
        handed to (sock_confirm_neigh() in ip_finish_output2(), net/ipv4/ip_output.c). So the server's
        entry for the client, DELAY since its SYN-ACK, goes REACHABLE at its timer instead of probing:
        sshd's banner, the accepted socket's first transmit, carries the confirmation the handshake's
        last ACK gave it (as a knock's banner does: _send_banner()), and the login's later messages
        confirm it again. The
        client's first hop was confirmed by the handshake already (its SYN acknowledged); the login
        confirms it again.

        The login's own bytes are not modelled (named: ssh), so this is one confirmation of each end's
        first hop, a jiffy after the handshake: a real login takes several round trips and its
        crypto, never less than that, and a confirmation in the very jiffy the DELAY began would be
        too old (Neighbours' DELAY branch). A router between them is confirmed too: the bit travels
        with the skb (skb_scrub_packet() keeps it) and the router's ip_finish_output2() confirms the
        neighbour it forwards to, so its entry for the client, DELAY since it forwarded the SYN-ACK
        with an entry its ARP request left STALE, goes REACHABLE at its timer without a probe.
        """
        cip, _cport, sip, _sport = session
        hops = self._hops(client, sip) + self._hops(server, cip)

        def confirm() -> bool:
            for ns, ip in hops:
                ns.neigh.confirm(ip)
            return True

        self.schedule(
            1 / (self.hz or 1000),
            confirm,
            f"ssh's login over {cip} > {sip}:22: each end's TCP sees its data acknowledged and confirms its "
            "neighbour (sock_confirm_neigh(), include/net/sock.h)",
        )

    def _hops(self, ns: Namespace, dst: str) -> list[tuple[Namespace, str]]:
        """(namespace, neighbour) for each host a packet to `dst` leaves, the routers on its way too."""
        hops: list[tuple[Namespace, str]] = []
        here: Namespace | None = ns
        while here is not None and not ipv4.owns(here, dst) and len(hops) < 32:
            if hops and not here.ip_forward:
                break  # a host that does not route drops it (ip_forward(): forwarding off)
            hop = ipv4.nexthop(here, dst)
            hops.append((here, hop))
            here = self._holder(hop)
        return hops

    def _step_close(self, sock: Socket) -> None:
        ns = self.namespaces[sock.by]
        where = _endpoint(sock.bind)
        if ns.listener_count.get(where, 1) > 1:
            # One socket of a reuseport group closes (reuseport_detach_sock(), net/core/sock_reuseport.c):
            # the others still listen.
            waiting = [k for k, owner in ns.half_open.items() if owner == f"{where[0]}:{where[1]}"]
            waiting += [ends for owner, ends in ns.accepted if owner == where]
            if waiting:
                # Which socket of the group took each SYN is a hash of its four addresses and ports with a
                # secret drawn per namespace (reuseport_select_sock(), inet_ehashfn()): the lab saw 0 to 4 of
                # 4 requests die, run by run. netsim cannot say which, so it says what the kernel does.
                raise self._fail(
                    "bind",
                    f"{sock.by}'s listeners on {sock.bind} share the port (SO_REUSEPORT) and hold {len(waiting)} "
                    "connection(s) not yet accepted (request socks or an accept queue); the kernel drops those "
                    "of the closing socket (reqsk_timer_handler(): its listener is no longer TCP_LISTEN, and "
                    "net.ipv4.tcp_migrate_req is 0; inet_csk_listen_stop() resets its queue) and keeps the "
                    "others', and which socket took each SYN is a hash with a per-namespace secret "
                    "(reuseport_select_sock(), net/core/sock_reuseport.c) that netsim cannot know; expected the "
                    "close after those connections completed or gave up",
                )
            ns.listener_count[where] -= 1
            self.event(
                f"{ns.label} closes one of its listeners on {sock.bind}; {ns.listener_count[where]} still listen"
            )
            return
        ns.listener_count.pop(where, None)
        ns.listeners.discard(where)
        ns.reuseport.discard(where)
        self.event(f"{ns.label} stops listening on {sock.bind}")
        # Its request socks die with it: reqsk_timer_handler() (net/ipv4/inet_connection_sock.c) finds
        # the listener no longer in TCP_LISTEN and drops the request without a SYN-ACK, and a segment
        # for one is looked up afresh (tcp_v4_rcv()) and finds no socket (outsider3's 52).
        gone = [key for key, listener in ns.half_open.items() if listener == f"{where[0]}:{where[1]}"]
        for key in gone:
            del ns.half_open[key]
            ns.requests.pop(key, None)
        # Its SYN cookies too: cookie_v4_check() takes a cookie only on a listener that overflowed lately
        # (tcp_synq_no_recent_overflow(), the socket's own stamp), and a new one on the port has none.
        for key in [key for key, (listener, _) in ns.syn_cookies.items() if listener == f"{where[0]}:{where[1]}"]:
            del ns.syn_cookies[key]
        if gone:
            self.event(f"{ns.label} drops the half-open connections its listener had: {len(gone)}")
        self._reset_accept_queue(ns, where)

    def _reset_accept_queue(self, ns: Namespace, listener: tuple[str, int]) -> None:
        """inet_csk_listen_stop() (net/ipv4/inet_connection_sock.c): a connection that completed its handshake
        but that no program accepted yet dies with its listener: inet_child_forget() -> tcp_disconnect(), which
        sends an ESTABLISHED child's active reset (tcp_send_active_reset(): RST|ACK, its snd_nxt and rcv_nxt).
        The handshake's ACK, which made the child, acknowledged nothing new to it and moved no window (no
        FLAG_NOT_DUP), so tcp_ack() called sk_dst_confirm(): the reset, the child's first segment, carries that
        and confirms its neighbour (sock_confirm_neigh() in ip_finish_output2()), as the lab showed."""
        queued = [ends for owner, ends in ns.accepted if owner == listener]
        if not queued:
            return
        ns.accepted = [entry for entry in ns.accepted if entry[0] != listener]
        for four in queued:
            local_ip, local_port, peer_ip, peer_port = four
            ack = ns.rcv_nxt.pop(four, self.isn_of(peer_ip, peer_port, local_ip, local_port) + 1)
            seq = (self.isn_of(local_ip, local_port, peer_ip, peer_port) + 1) & 0xFFFFFFFF
            rst = tcp.carry_confirm(ns, Tcp(local_ip, peer_ip, local_port, peer_port, "RA", seq, ack))
            ns.established.pop(four, None)
            ns.dst_pending_confirm.discard(four)
            self.event(f"{ns.label}'s closing listener resets {peer_ip}:{peer_port}'s connection, never accepted")
            ipv4.output(self, ns, rst)
        self._run_until(lambda: False, self.now)

    def _step_ip_forward(self, change: Forwarding) -> None:
        ns = self._namespace(change.by)
        ns.ip_forward = change.enabled
        self.event(f"{ns.label} {'now forwards' if change.enabled else 'no longer forwards'} packets for others")

    def _step_masquerade(self, add: MasqueradeStep) -> None:
        ns = self._namespace(add.by)
        rule = Masquerade(ipaddress.IPv4Network(add.saddr), add.oifname)
        ns.netfilter.add_masquerade(rule)
        self.event(f"{ns.label}'s nat table: {rule.nft()}")

    def _step_publish(self, pub: Publish) -> None:
        ns = self._namespace(pub.by)
        to_ip, to_port = _endpoint(pub.to)
        subnet = self.scenario.publish_subnet(pub.by, to_ip)
        assert subnet is not None  # validated with the scenario
        rule = PortForward(pub.port, to_ip, to_port, ipaddress.IPv4Network(subnet), pub.daddr, pub.snat)
        ns.netfilter.add_port(rule)
        where = f"{pub.daddr}:{pub.port}" if pub.daddr else f"port {pub.port} of every address"
        self.event(f"{ns.label}'s nat table sends {where} to {pub.to}")

    def _step_route_localnet(self, change: RouteLocalnet) -> None:
        ns = self._namespace(change.by)
        if change.enabled:
            ns.route_localnet.add(change.dev)
        else:
            ns.route_localnet.discard(change.dev)
        self.event(f"{ns.label}'s {change.dev}: route_localnet {1 if change.enabled else 0}")

    def _step_firewall_del(self, change: FirewallDel) -> None:
        """The rule is gone from the next packet on: nf_tables_commit() swaps in the new rule set and
        nft_do_chain() walks it per packet (net/netfilter/nf_tables_api.c, nf_tables_core.c); these
        rules match no conntrack state, so a flow already under way meets the change too."""
        ns = self._namespace(change.by)
        getattr(ns, change.rule).discard(change.port)
        self.event(f"{ns.label}'s firewall loses its rule for TCP port {change.port} ({change.rule})")

    def _step_reachable_time(self, change: ReachableTime) -> None:
        """neigh_proc_base_reachable_time() (net/core/neighbour.c): the device's parms get the new base and
        a new draw at once (netsim: the base exactly); the timers already armed stay as they are."""
        self._iface(change.by, change.dev)
        ns = self.namespaces[change.by]
        ns.neigh.base[change.dev] = change.seconds
        self.event(f"{ns.label}'s {change.dev}: an ARP answer now stays REACHABLE for {change.seconds:g} s")

    def _step_route_get(self, ask: RouteGet) -> None:
        assert self._current is not None
        ns = self._namespace(ask.by)
        dst = ipaddress.IPv4Address(ask.to)
        result = routing.route_get(
            dst, ns.local_addresses(), ns.routes, ns.source_address, ns.broadcast_addresses(), ns.local_source
        )
        self._current.route = result
        self.event(f"{ns.label}: ip route get {ask.to} -> {routing.route_get_text(result).split(chr(10))[0].strip()}")

    def _step_resolve(self, lookup: NameLookup) -> None:
        """getaddrinfo(name, AF_INET): `files` (/etc/hosts), then `dns` (netsim.resolver)."""
        assert self._current is not None
        ns = self._namespace(lookup.by)
        address = resolver.numeric(lookup.name)
        if address is not None:  # gaih_inet(): __inet_aton_exact() before any NSS module
            self.event(f"{lookup.name} is an address already ({address}): getaddrinfo() reads no file and asks nobody")
            self._current.resolved = resolver.Result(lookup.name, address, source="numeric")
            return
        if resolver.digits_and_dots(lookup.name):
            self.event(
                f"{lookup.name} is digits and dots but no address: getaddrinfo() says it is not found, "
                "reading no file and asking nobody"
            )
            self._current.resolved = resolver.Result(lookup.name, error="not-found")
            return
        lines = resolver.files(ns.hosts_file, lookup.name)
        if lines:
            found = resolver.sort(lines, lambda dst: self._datagram_source(ns, dst))[0]
            self.event(f"{ns.label}'s /etc/hosts says {lookup.name} is {found}: no question is sent")
            if len(lines) > 1:
                self.event(
                    f"{ns.label}'s /etc/hosts has {len(lines)} lines for {lookup.name} ({', '.join(lines)}); "
                    f"getaddrinfo() sorts them (RFC 6724, rfc3484_sort()) and {found} comes first"
                )
            self._current.resolved = resolver.Result(lookup.name, found, source="files")
            return
        self.event(f"{lookup.name} is not in {ns.label}'s /etc/hosts: the resolver asks DNS")
        self._current.resolved = self._ask_dns(ns, lookup)

    def _datagram_source(self, ns: Namespace, dst: str) -> str | None:
        """The source a UDP connect() to `dst` gets (getaddrinfo() makes one to sort its answers), or
        None when connect() fails: for want of a route (ip_route_connect(), net/ipv4/datagram.c), or
        with EACCES for a broadcast route on a socket without SO_BROADCAST (__ip4_datagram_connect())."""
        hop = ipv4.route(ns, dst)
        return None if hop is None or hop.kind == "broadcast" else _source(ns, hop, dst)

    def _ask_dns(self, ns: Namespace, lookup: NameLookup) -> resolver.Result:
        """__res_context_send(): each nameserver in turn, RES_DFLRETRY rounds, until one answers."""
        servers = resolver.nameservers(ns.nameservers)
        # send_dg() (resolv/res_send.c) opens a nameserver's socket once (EXT(statp).nssocks[ns]) and keeps
        # it after a try that timed out: the next round's query to that server leaves from the same port,
        # with the same id (the same buffer), in the same conntrack entry. A failed connect() or send(),
        # or an error on any socket, closes them all (__res_iclose()): the next try opens a new one.
        sockets: dict[int, tuple[str, int]] = {}
        for _round in range(resolver.RES_DFLRETRY):
            for index, server in enumerate(servers):
                # A connect() to 0.0.0.0 goes to the loopback (ip_route_output_key_hash_rcu(): no destination
                # is 127.0.0.1, and the socket's peer becomes that); res_ourserver_p() (res_send.c) takes an
                # answer from any address for a nameserver of INADDR_ANY.
                peer = "127.0.0.1" if server == str(routing.ANY_ADDRESS) else server
                hop = ipv4.route(ns, peer)
                if server == str(routing.ANY_ADDRESS) and not ipv4.owns(ns, peer):
                    # From 127.0.0.1 as well, which ip_route_connect()'s second lookup wants local (__ip_dev_find()).
                    hop = None
                if hop is None:
                    self.event(f"{ns.label} has no route to the nameserver {server}")
                    sockets.clear()
                    continue  # connect() fails with ENETUNREACH: the next server
                if hop.kind == "broadcast":
                    # __ip4_datagram_connect(): a broadcast route without SO_BROADCAST is EACCES; send_dg()
                    # closes the socket and goes on to the next server, sending nothing.
                    self.event(f"{ns.label} may not connect to the broadcast address {server}: the next nameserver")
                    sockets.clear()
                    continue
                if index not in sockets:
                    sockets[index] = (_source(ns, hop, peer), next(self._ports))
                src_ip, sport = sockets[index]  # a connected socket keeps the source connect() gave it
                query = Udp(src_ip, peer, sport, DNS_PORT, Dns(dns.query_id(lookup.name, sport), lookup.name))
                waiting = udp.Waiting(query)
                ns.udp_waiting[(src_ip, sport)] = waiting
                ipv4.output(self, ns, query)
                deadline = self.now + resolver.timeout(index, len(servers))
                # send_dg()'s wait is poll() with a timeout, an hrtimer that ends on time; a neighbour's
                # timer is the timer wheel's, which fires a jiffy or more after it is due (calc_index(),
                # kernel/time/timer.c; netsim.timerwheel). When they fall due together (an ARP that fails
                # at 3 s, the second of three nameservers' 3 s try), the try ends first and the library
                # goes on: its next query to that address waits in the same unresolved entry, and the
                # failure then refuses both (fuzz seed 117).
                self._run_until(lambda w=waiting: w.done, deadline, inclusive=False)
                del ns.udp_waiting[(src_ip, sport)]
                if waiting.answer is not None:
                    answer = waiting.answer
                    if answer.rcode == DNS_NXDOMAIN:
                        return resolver.Result(lookup.name, error="not-found", source=server)
                    if answer.answers:
                        return resolver.Result(lookup.name, answer.answers[0], source=server)
                    # NOERROR and no address (NODATA): send_dg() takes it as the answer, res_query()
                    # (resolv/res_query.c) makes it NO_DATA, and no other nameserver is asked.
                    return resolver.Result(lookup.name, error="no-data", source=server)
                if waiting.refused:
                    sockets.clear()
                if not waiting.done:
                    self.now = deadline
                    waited = resolver.timeout(index, len(servers))
                    self.event(f"{server} does not answer within {waited:g} s: the next try")
        return resolver.Result(lookup.name, error="try-again")

    def _namespace(self, host: str, field: str = "by") -> Namespace:
        ns = self.namespaces.get(host)
        if ns is None:
            raise self._fail(field, self._no_namespace(host))
        return ns

    def _no_namespace(self, host: str) -> str:
        """Why a host's namespace is missing, with what `ip -n NS ...` says then (iproute2's netns_switch())."""
        kernel = f'the kernel refuses (Cannot open network namespace "{ns_name(host)}": No such file or directory)'
        if host in self._deleted:
            return f"{host}'s namespace was deleted at step {self._deleted[host]!r}; {kernel}"
        return f"{host} has no namespace yet; {kernel}; expected a netns_add step before this one"

    def _step_wait(self, seconds: float) -> None:
        self.advance(seconds)

    def _step_set_port(self, change: SetPort) -> None:
        if change.port not in self.bridges[change.bridge].ports:
            owner = self.namespaces[self.scenario.bridges[change.bridge].host]
            other = owner.ifaces[change.port].master if change.port in owner.ifaces else None
            if other is not None:
                # `bridge link set dev PORT` names the device, not the bridge: br_setlink() (br_netlink.c)
                # sets the flags of whichever bridge's port it is.
                raise self._fail(
                    "port",
                    f"{change.port} is not a port of {change.bridge} at this step but of {other}; the kernel "
                    f"would set {other}'s port flags (`bridge link set` names the device alone)",
                )
            kernel = (  # a device that is no bridge port has no bridge link to set (br_setlink())
                "RTNETLINK answers: Operation not supported"
                if change.port in owner.ifaces
                else f'Cannot find bridge device "{change.port}"'
            )
            raise self._fail(
                "port", f"{change.port} is not a port of {change.bridge} at this step; the kernel refuses ({kernel})"
            )
        names = ("learning", "flood", "mcast_flood", "bcast_flood", "hairpin")
        changes = {name: getattr(change, name) for name in names if getattr(change, name) is not None}
        self.bridges[change.bridge].set_port_flags(change.port, **changes)
        storm = self._hairpin_storm() if changes.get("hairpin") else None
        if storm is not None:
            raise self._fail("hairpin", storm)

    def _step_set_bridge(self, change: SetBridge) -> None:
        self.bridges[change.bridge].fdb.set_ageing_time(change.ageing_time, self.now)

    # --- steps that build the rooms (post two) ------------------------------------------------

    def _fail(self, field: str, message: str) -> ScenarioError:
        if self._frame is not None:  # steps[N].sends.frames[I].FIELD, at that frame's line
            return error_at(self._frame, field, message)
        action = getattr(self._step, self._step.action) if self._step else None
        if isinstance(action, str) and self._step is not None:  # netns_add/netns_del name a host: point at it
            return error_at(self._step, self._step.action, message)
        return error_at(action if action is not None else self._step, field, message)

    def _iface(self, host: str, dev: str, field: str = "dev") -> Iface:
        ns = self._namespace(host)
        if dev not in ns.ifaces:
            raise self._fail(
                field,
                f'{host} has no interface {dev!r} at this step; the kernel refuses (Cannot find device "{dev}"); '
                f"it has: {', '.join(ns.ifaces)}",
            )
        return ns.ifaces[dev]

    def _step_netns_add(self, host: str) -> None:
        if host in self.namespaces:
            raise self._fail("", f"{host}'s namespace exists already")
        self._deleted.pop(host, None)
        self._add_namespace(host, lo_up=False)
        self.event(f"a new room for {self.namespaces[host].label}: only lo, and it is down")

    def _step_veth_add(self, add: VethAdd) -> None:
        ns = self._namespace(add.by)  # the scenario reader refuses it first (steps[N].veth_add.by)
        for name in (add.name, add.peer):
            if name in ns.ifaces:
                raise self._fail("name", f"{add.by} already has an interface {name!r}{EEXIST}")
        mac = add.mac or derived_mac(f"veth/{add.by}/{add.name}")
        peer_mac = add.peer_mac or derived_mac(f"veth/{add.by}/{add.peer}")
        wrong = next((m for m in (mac, peer_mac) if refuses_as_address(m)), None)
        if wrong is not None:
            # veth_validate() (drivers/net/veth.c), for each end's IFLA_ADDRESS (veth_newlink() checks
            # the peer's the same way): not a valid unicast MAC is EADDRNOTAVAIL, and no cable is made.
            assert self._current is not None
            self._current.outcome = "address-not-available"
            self.event(f"the kernel refuses a cable end in {ns.label} the address {wrong}: EADDRNOTAVAIL")
            return
        one = Iface(add.name, mac, [], "veth", ns=add.by, up=False)
        two = Iface(add.peer, peer_mac, [], "veth", ns=add.by, up=False, peer=one)
        one.peer = two
        ns.ifaces[add.name], ns.ifaces[add.peer] = one, two
        self.event(f"a cable with two ends, {add.name} and {add.peer}, both in {ns.label}")

    def _step_link_move(self, move: LinkMove) -> None:
        iface = self._iface(move.by, move.dev)
        if iface.kind in ("bridge", "loopback"):
            # A bridge and lo are netns_immutable: __dev_change_net_namespace() (net/core/dev.c)
            # refuses them (-EINVAL) before it looks for a name clash (-EEXIST) in the target.
            raise self._fail(
                "dev",
                f"{iface.name} cannot leave its namespace; the kernel refuses (The interface netns is immutable.)",
            )
        target = self._namespace(move.to, "to")
        if move.to == move.by:
            # __dev_change_net_namespace(): "Get out if there is nothing todo" returns 0 before the
            # name clash check: the device stays as it is, up and with its addresses.
            self.event(f"{move.dev} is in {target.label} already: nothing changes")
            return
        if move.dev in target.ifaces:
            raise self._fail("dev", f"{move.to} already has an interface {move.dev!r}{EEXIST}")
        source = self.namespaces[move.by]
        self._detach(source, iface)
        # Moving drops the interface's addresses and brings it down, as the kernel does.
        iface.ns, iface.up, iface.addresses = move.to, False, []
        target.ifaces[move.dev] = iface
        self._fresh_settings(target, move.dev)  # NETDEV_REGISTER there: a new in_device, the room's defaults
        self.event(f"{move.dev} moves from {source.label} into {target.label}, down and without an address")
        self._sync_links()  # veth_close(): the far end loses carrier (and its neighbours with it)

    def _detach(self, ns: Namespace, iface: Iface) -> None:
        """dev_change_net_namespace(): the device goes down and is unregistered from its old room."""
        if iface.master is not None:
            # NETDEV_UNREGISTER -> br_device_event() -> br_del_if(): the port leaves its bridge,
            # and del_nbp() forgets everything learned on it (net/bridge/br_if.c).
            self.bridges[iface.master].remove_port(iface.name)
            self.event(f"{iface.name} leaves {iface.master}, which forgets what it learned there")
            iface.master = None
        del ns.ifaces[iface.name]
        # dev_close() -> NETDEV_DOWN: fib_disable_ip() takes its routes, arp_ifdown() its neighbours,
        # and masq_device_event() (net/netfilter/nf_nat_masquerade.c) the connections masqueraded on it.
        ns.routes = [r for r in ns.routes if r.dev != iface.name]
        self._flush_neighbours(ns, iface.name, "leaves")
        netfilter.masquerade_gone(self, ns, iface.name)
        self._fresh_settings(ns, iface.name)

    @staticmethod
    def _fresh_settings(ns: Namespace, dev: str) -> None:
        """NETDEV_UNREGISTER (a device deleted or moved away): inetdev_event() -> inetdev_destroy()
        (net/ipv4/devinet.c) frees its in_device with its conf (route_localnet) and neigh_parms; one
        registered under that name later, moved back or renamed to it, starts from the defaults."""
        ns.route_localnet.discard(dev)
        ns.neigh.forget_dev(dev)

    def _step_link_rename(self, rename: LinkRename) -> None:
        iface = self._iface(rename.by, rename.dev)
        ns = self.namespaces[rename.by]
        if rename.name == rename.dev:
            # netif_change_name() (net/core/dev.c) returns 0 at once when the new name is the device's
            # own, before it looks for a clash (EEXIST) and with no NETDEV_CHANGENAME: nothing happens.
            self.event(f"{ns.label}'s {rename.dev} is named {rename.name} already: nothing changes")
            return
        if rename.name in ns.ifaces:
            raise self._fail("name", f"{rename.by} already has an interface {rename.name!r}{EEXIST}")
        if iface.kind == "bridge" or iface.master is not None:
            # The kernel renames either (dev_change_name(), net/core/dev.c: a port stays its bridge's,
            # which holds the device, not the name); netsim, its figures and the lab's plan know a
            # bridge and its ports by the names the scenario gives them.
            what = "a bridge" if iface.kind == "bridge" else f"a port of {iface.master}"
            raise self._fail("dev", f"{rename.dev} is {what}; netsim does not model renaming a bridge or its ports")
        if iface.kind == "loopback":
            # The kernel renames it: dev_change_name() has no test for IFF_LOOPBACK, and the stack finds
            # the loopback by net->loopback_dev, not by name (a renamed lo still carries 127.0.0.1 and
            # every local route). netsim knows it by its name, so it would send through a `lo` that is gone.
            raise self._fail(
                "dev",
                f"{rename.dev} is the loopback; the kernel would rename it and keep using it as the loopback "
                "(net->loopback_dev), but netsim does not model a loopback with another name",
            )
        # Up or down: since Linux 6.2 dev_change_name() (net/core/dev.c) renames a device that is up
        # too (older kernels refused it, EBUSY). Nothing closes it: no NETDEV_DOWN, so its routes, which
        # hold the device and not its name (fib_nh_dev), its neighbour entries and the connections
        # masqueraded on it (nat->masq_index, an ifindex) all stay. Only what matches by name at packet
        # time sees the new one: a masquerade rule's oifname (NFT_META_OIFNAME, net/netfilter/nft_meta.c).
        del ns.ifaces[rename.dev]
        iface.name = rename.name  # dev_change_name() changes the name alone: the MAC (dev_addr) stays
        ns.ifaces[rename.name] = iface
        ns.routes = [dataclasses.replace(r, dev=rename.name) if r.dev == rename.dev else r for r in ns.routes]
        # The device's own settings go with it: its in_device's conf (route_localnet, ...) and its
        # neigh_parms (base_reachable_time) are the device's, and inetdev_event(NETDEV_CHANGENAME)
        # (net/ipv4/devinet.c) only moves their sysctl directory to the new name. Another device
        # renamed to the old name keeps its own.
        if rename.dev in ns.route_localnet:
            ns.route_localnet.discard(rename.dev)
            ns.route_localnet.add(rename.name)
        ns.neigh.rename_dev(rename.dev, rename.name)
        netfilter.masquerade_renamed(ns, rename.dev, rename.name)
        live = ", up all along: its routes, neighbours and connections stay" if iface.up else ""
        self.event(f"inside {ns.label}, {rename.dev} is now called {rename.name}{live}")

    def _loop_through(self, iface: Iface, master: str) -> str | None:
        """Why making `iface` a port of `master` would close a loop of bridges, or None.

        The kernel accepts it: br_add_if() (net/bridge/br_if.c) checks for bridges enslaved to
        bridges, not for a second path between two, and with STP off (the default) every port
        forwards at once, so a broadcast goes round by br_flood() (net/bridge/br_forward.c) on each
        bridge for ever: an Ethernet frame has no TTL. That storm is no story netsim can tell.
        """
        far = iface.peer.master if iface.peer is not None else None
        if far is None:
            return None
        storm = (
            "; with STP off (the kernel's default) the kernel accepts it, and every broadcast then goes round "
            "the loop for ever (br_flood() on each bridge; an Ethernet frame has no TTL): a broadcast storm, "
            "which netsim does not model; expected one path between any two bridges"
        )
        if far == master:
            return f"both ends of {iface.name}'s cable would be ports of {master}{storm}"
        # The bridges already joined to `master` by cables whose two ends are both bridge ports.
        seen, todo = {master: [master]}, [master]
        while todo:
            here = todo.pop()
            owner = self.namespaces.get(self.scenario.bridges[here].host)
            for name in self.bridges[here].ports:
                port = owner.ifaces.get(name) if owner is not None else None
                there = port.peer.master if port is not None and port.peer is not None else None
                if port is not iface and there is not None and there not in seen:
                    seen[there] = [*seen[here], f"{name}'s cable", there]
                    todo.append(there)
        if far in seen:
            joined = " -> ".join(seen[far])
            second = f"so {iface.name}'s cable would be a second path"
            return f"{master} and {far} are joined already ({joined}), {second}{storm}"
        return None

    def _hairpin_storm(self) -> str | None:
        """Two hairpin ports facing each other across the cables that join bridges, or None.

        should_deliver() (net/bridge/br_forward.c) sends a frame back out of the port it came in by
        when that port has BR_HAIRPIN_MODE. A broadcast that crosses from one bridge to the next
        comes back from a hairpin port; if a hairpin port on the way back faces the first one (the two
        ends of one cable, or two ends of a chain of bridges), it is sent back again, and so on for
        ever, flooded to every other port each time: a broadcast storm, as with a loop of cables.
        """

        def links(bridge: str) -> Iterator[tuple[str, str, str]]:  # (port here, next bridge, its port)
            owner = self.namespaces.get(self.scenario.bridges[bridge].host)
            for name in self.bridges[bridge].ports:
                port = owner.ifaces.get(name) if owner is not None else None
                far = port.peer if port is not None else None
                if far is not None and far.master is not None:
                    yield name, far.master, far.name

        for first, bridge in self.bridges.items():
            for out, there, entry in links(first):
                if not bridge.ports[out].hairpin:
                    continue
                # Every bridge beyond that cable, and the port it is reached by (which faces `first`).
                seen, todo = {first}, [(there, entry)]
                while todo:
                    here, port = todo.pop()
                    if here in seen:
                        continue
                    seen.add(here)
                    if self.bridges[here].ports[port].hairpin:
                        return (
                            f"hairpin on {out} of {first} and on {port} of {here}, which face each other across "
                            "the cables joining those bridges: the kernel accepts it, and every broadcast is then "
                            "sent back by one and the other for ever (should_deliver(), net/bridge/br_forward.c), "
                            "flooded to every other port each time: a broadcast storm, which netsim does not "
                            "model; expected hairpin on one of them at most"
                        )
                    todo += [(far, far_port) for near, far, far_port in links(here) if near != port]
        return None

    def _step_link_set(self, change: LinkSet) -> None:
        iface = self._iface(change.by, change.dev)
        if change.address is not None and refuses_as_address(change.address):
            # do_setlink() sets the address before master and flags; its error ends the whole request.
            assert self._current is not None
            self._current.outcome = "address-not-available"
            label = self.namespaces[change.by].label
            self.event(f"the kernel refuses {label}'s {change.dev} the address {change.address}: EADDRNOTAVAIL")
            return
        if change.address is not None:
            self._change_mac(change.by, iface, normalise_mac(change.address) or change.address)
        if change.master is not None and iface.kind in ("bridge", "loopback"):
            # br_add_if() (net/bridge/br_if.c): no loopback or non-Ethernet device (EINVAL), and "No
            # bridging of bridges" (ELOOP), itself included; the errnos as strace shows them.
            why = (
                "is a bridge; the kernel refuses to make it a port of {m} (ELOOP, Too many levels of symbolic "
                "links: Can not enslave a bridge to a bridge; br_add_if(), net/bridge/br_if.c)"
                if iface.kind == "bridge"
                else "is the loopback; the kernel refuses to make it a port of {m} (EINVAL, Invalid argument: "
                "br_add_if() takes Ethernet devices only, net/bridge/br_if.c)"
            )
            raise self._fail("dev", f"{change.dev} " + why.format(m=change.master))
        if change.master is not None and iface.master == change.master:
            # do_set_master() (net/core/rtnetlink.c): already this bridge's port, so no br_del_if() and
            # no new_nbp(): what it learned and its flags stay. The lab and the try-it script still run
            # `bridge link set` with the flags its `ports:` entry declares (declared_port_flags(), as
            # plan.port_flags() writes them), as after every plug-in, and those override a set_port step's.
            port = self.scenario.bridges[change.master].ports.get(change.dev)
            if port is not None:
                declared = declared_port_flags(port)
                if declared:
                    self.bridges[change.master].set_port_flags(change.dev, **declared)
                    storm = self._hairpin_storm()
                    if storm is not None:
                        raise self._fail("master", storm)
                    self.event(f"{change.dev} takes the flags {change.master} declares for it again")
        elif change.master is not None:
            if iface.addresses:
                raise self._fail("master", _PORT_ADDRESS.format(dev=change.dev, master=change.master))
            if iface.master is not None:
                # do_set_master(): the old master lets go first (ndo_del_slave -> br_del_if(), which
                # forgets every entry on the port, net/bridge/br_if.c), then the new one takes it.
                self.bridges[iface.master].remove_port(iface.name)
                self.event(f"{change.dev} leaves {iface.master}")
            loop = self._loop_through(iface, change.master)
            if loop is not None:
                raise self._fail("master", loop)
            bridge = self.bridges[change.master]
            port = self.scenario.bridges[change.master].ports.get(change.dev)
            flags = (
                PortFlags(port.learning, port.flood, port.mcast_flood, port.bcast_flood, port.hairpin)
                if port
                else PortFlags()
            )
            bridge.add_port(change.dev, iface.mac, flags)
            self._forwarded.discard((change.master, change.dev))  # plugged in anew: no history here
            iface.master = change.master
            storm = self._hairpin_storm()
            if storm is not None:
                raise self._fail("master", storm)
            self.event(f"{change.dev} becomes a port of {change.master}")
            bridge.ports[change.dev].enabled = self._carrier(iface)
        if change.up is not None and change.up == iface.up:
            # __dev_change_flags() (net/core/dev.c) opens or closes the device only when IFF_UP
            # changes: no NETDEV_UP or NETDEV_DOWN, so no route, address or neighbour changes.
            label = self.namespaces[change.by].label
            self.event(f"{label}'s {change.dev} is {'up' if change.up else 'down'} already: nothing changes")
        elif change.up is not None:
            ns = self.namespaces[change.by]
            if iface.kind == "loopback" and change.up and LOOPBACK_ADDRESS not in iface.addresses:
                self._lo_gets_loopback(iface)
            iface.up = change.up
            if change.up:
                # NETDEV_UP: inetdev_event() gave lo its 127.0.0.1/8 (above), and fib_netdev_event()
                # calls fib_add_ifaddr() for each address (net/ipv4/fib_frontend.c).
                added = self._connected_routes(ns, iface)
                routes = f", and with it a route to {', '.join(str(r.network) for r in added)}" if added else ""
                self.event(f"{ns.label}'s {change.dev} is now up{routes}")
            else:
                self.event(f"{ns.label}'s {change.dev} is now down")
                # NETDEV_DOWN: fib_disable_ip() flushes every route through the device, a gateway
                # route too (it does not come back with the link), and arp_ifdown() its neighbours.
                # Not a prefix on lo: it is RTN_LOCAL, scope host, whose nexthop has scope
                # RT_SCOPE_NOWHERE, which fib_sync_down_dev() (net/ipv4/fib_semantics.c) leaves alive.
                ns.routes = [r for r in ns.routes if r.dev != iface.name or r.local]
                self._flush_neighbours(ns, iface.name, "is down")
                netfilter.masquerade_gone(self, ns, iface.name)
        self._sync_links()

    def _change_mac(self, by: str, iface: Iface, mac: str) -> None:
        """`ip link set DEV address MAC`, accepted: do_setlink() -> netif_set_mac_address() (net/core/dev.c).
        No device here refuses it while up: veth_setup() and loopback_setup() set IFF_LIVE_ADDR_CHANGE (so
        eth_prepare_mac_addr_change(), net/ethernet/eth.c, gives no EBUSY) and br_set_mac_address() asks
        for no flag. The driver is called only for another MAC, but NETDEV_CHANGEADDR goes out even for
        the same one: arp_netdev_event() (net/ipv4/arp.c) calls neigh_changeaddr(), which forgets every
        neighbour entry on the device (neigh_flush_dev(), net/core/neighbour.c), and inetdev_event()
        (net/ipv4/devinet.c) sends a gratuitous ARP only when arp_notify is set (0 by default): no frame
        tells the neighbours, who keep the old MAC until their entries are probed."""
        ns = self.namespaces[by]
        old, iface.mac = iface.mac, mac
        if iface.kind == "bridge":
            self.bridges[iface.name].change_mac(mac)
        if iface.master is not None:
            self.bridges[iface.master].change_port_mac(iface.name, mac)
        now = f"{mac} (it was {old})" if mac != old else f"{mac} again (it had it already)"
        self.event(f"{ns.label}'s {iface.name} takes the MAC {now}")
        self._flush_neighbours(ns, iface.name, "changed its MAC")

    def _lo_gets_loopback(self, iface: Iface) -> None:
        """inetdev_event(NETDEV_UP) (net/ipv4/devinet.c): each time lo comes up it inserts
        127.0.0.1/8, whatever other addresses lo holds (inet_insert_ifa() ignores a duplicate)."""
        same = next((a for a in iface.addresses if a.ip == LOOPBACK_ADDRESS.ip), None)
        if same is not None:
            raise self._fail(
                "dev",
                f"{iface.name} has {same}; coming up, the kernel would add 127.0.0.1/8 beside it (another prefix is "
                "another entry, __inet_insert_ifa(), net/ipv4/devinet.c), but netsim does not model one address "
                f"with two prefixes (a stated limit of netsim); expected addr_del {same} first",
            )
        iface.addresses.append(LOOPBACK_ADDRESS)
        self.namespaces[iface.ns].local_table = True

    @staticmethod
    def _connected_routes(ns: Namespace, iface: Iface, only: ipaddress.IPv4Interface | None = None) -> list[RouteEntry]:
        """fib_add_ifaddr(): a primary address's network is reachable on its interface (proto kernel),
        for each address (fib_netdev_event(NETDEV_UP)) or for `only`, the one just added
        (fib_inetaddr_event(NETDEV_UP)). Returns the routes it added, for the event text."""
        if not iface.up:
            # fib_add_ifaddr() returns before the prefix route while the device is down
            # (net/ipv4/fib_frontend.c); fib_netdev_event(NETDEV_UP) adds it when the link comes up.
            return []
        added = []
        for address in iface.addresses if only is None else [only]:
            if iface.primary_of(address.network) != address:
                continue  # IFA_F_SECONDARY: fib_add_ifaddr() adds no prefix route for it
            if not prefix_routed(address):
                continue  # a /32, or a prefix whose network is 0.0.0.0: fib_add_ifaddr() adds no prefix route
            # The primary is the route's preferred source; on lo the prefix is all local.
            local = iface.kind == "loopback"
            route = RouteEntry(address.network, iface.name, src=address.ip, local=local)
            if route not in ns.routes:
                ns.routes.append(route)
                added.append(route)
        return added

    def _carrier(self, iface: Iface) -> bool:
        if not iface.up:
            return False
        if iface.kind == "bridge":
            return self.bridges[iface.name].has_carrier()
        if iface.kind == "veth":
            # veth_open()/veth_close(): an end has carrier while both ends are up. An empty seat's
            # far end has nobody behind it, but it is up: the port forwards (and nobody answers).
            return iface.peer.up if iface.peer is not None else iface.master is not None
        return True

    def _sync_links(self) -> None:
        """Carrier changes ripple: bridge ports (br_port_carrier_check()), then every interface."""
        for ns in self.namespaces.values():
            for iface in ns.ifaces.values():
                if iface.master is None:
                    continue
                # br_port_carrier_check() / br_stp_enable_bridge() (net/bridge/br_if.c, br_stp_if.c):
                # a port forwards while its device has carrier and the bridge device itself is up;
                # br_dev_stop() disables every port (and forgets what they learned) at once.
                bridge = self.bridges[iface.master]
                key = (iface.master, iface.name)
                # The bridge is in the port's namespace: a port that moves leaves it (_step_link_move),
                # and a bridge cannot move, be renamed or be deleted.
                bridge_up = ns.ifaces[iface.master].up
                forwarding = self._carrier(iface) and bridge_up
                if bridge.ports[iface.name].enabled and not forwarding:
                    gone = bridge.disable_port(iface.name)
                    forgot = f"; it forgets {', '.join(gone)}" if gone else ""
                    self.event(f"{iface.master} stops using {iface.name}{forgot}")
                elif forwarding and not bridge.ports[iface.name].enabled:
                    bridge.enable_port(iface.name)
                    # why: its cable now has both ends up (veth_open()), or the bridge device came up
                    why = "now that it has carrier" if not iface.carrier else f"now that {iface.master} is up"
                    verb = "forwards on {port} again" if key in self._forwarded else "starts forwarding on {port}"
                    self.event(f"{iface.master} {verb.format(port=iface.name)}, {why}")
                if bridge.ports[iface.name].enabled:
                    self._forwarded.add(key)
        for ns in self.namespaces.values():
            for iface in ns.ifaces.values():
                carrier = self._carrier(iface)
                if iface.carrier and not carrier and iface.up:
                    # arp_netdev_event(NETDEV_CHANGE) -> neigh_carrier_down()
                    self._flush_neighbours(ns, iface.name, "lost carrier")
                iface.carrier = carrier

    def _flush_neighbours(self, ns: Namespace, dev: str, why: str) -> None:
        gone = ns.neigh.flush_dev(dev)
        if gone:
            self.event(f"{ns.label}'s {dev} {why}: it forgets {', '.join(gone)}")

    def _step_addr_add(self, add: AddrAdd) -> None:
        iface = self._iface(add.by, add.dev)
        ns = self.namespaces[add.by]
        address = ipaddress.IPv4Interface(add.address)
        same = [a for a in iface.addresses if a.ip == address.ip]
        if any(a.network.prefixlen == address.network.prefixlen for a in same):
            # __inet_insert_ifa() (net/ipv4/devinet.c): the same mask, subnet and local address is a duplicate.
            raise self._fail(
                "address",
                f"{add.dev} has {address} already; the kernel refuses it (EEXIST, File exists; iproute2 prints "
                "'Error: ipv4: Address already assigned.')",
            )
        if same:
            # The same address with another mask is a new entry for the kernel (__inet_insert_ifa() compares
            # the mask first), which netsim's one-address-one-network interfaces cannot hold (outsider3's r28).
            raise self._fail(
                "address",
                f"{add.dev} has {same[0]} already; the kernel would add {address} beside it (another prefix is "
                "another entry, __inet_insert_ifa(), net/ipv4/devinet.c), but netsim does not model one address "
                f"with two prefixes (a stated limit of netsim); expected another address, or addr_del {same[0]} first",
            )
        if iface.master is not None:
            raise self._fail("dev", _PORT_ADDRESS.format(dev=add.dev, master=iface.master))
        # __inet_insert_ifa(): an address in the subnet of one with the same mask is a secondary one.
        primary = iface.primary_of(address.network) is None
        iface.addresses.append(address)  # a second address adds; it does not replace
        ns.local_table = True  # its local route, added even on a link that is down (fib_add_ifaddr())
        broadcast = str(address.network.broadcast_address)
        routed = prefix_routed(address) and address.network.prefixlen < 31
        if primary and iface.up and routed and ns.neigh.invalidate(broadcast, add.dev):
            # fib_add_ifaddr() (net/ipv4/fib_frontend.c): the subnet's new broadcast route, and
            # arp_invalidate() for that address: an entry still asking (or given up) goes.
            self.event(
                f"{ns.label} forgets its unanswered entry for {broadcast}: it is {address.network}'s broadcast now"
            )
        if self._connected_routes(ns, iface, address):  # fib_inetaddr_event(NETDEV_UP): this address only
            self.event(f"{ns.label}'s {add.dev} gets {add.address}, and a route to {address.network}")
        elif not iface.up:
            self.event(
                f"{ns.label}'s {add.dev} gets {add.address}; its route to {address.network} "
                f"waits until {add.dev} comes up"
            )
        else:
            self.event(f"{ns.label}'s {add.dev} gets {add.address}")

    def _step_route_add(self, add: RouteAdd) -> None:
        ns = self.namespaces.get(add.by)
        if ns is None:
            raise self._fail("by", f"{add.by} has no namespace yet")
        net = ipaddress.IPv4Network("0.0.0.0/0" if add.to == "default" else add.to)
        if any(r.network == net and not r.local for r in ns.routes):
            # `ip route add` is NLM_F_CREATE|NLM_F_EXCL: fib_table_insert() (net/ipv4/fib_trie.c)
            # finds the alias with the same tos and metric and answers EEXIST. In the main table: a
            # prefix on lo is in the local one (fib_magic(RTN_LOCAL)), no duplicate of a route added here.
            raise self._fail(
                "to",
                f"{add.by} has a route to {add.to} already; the kernel refuses a second one to the same "
                "destination (EEXIST, RTNETLINK answers: File exists)",
            )
        if ipaddress.IPv4Address(add.via) in ns.broadcast_addresses():
            raise self._fail(
                "via",
                f"{add.via} is a broadcast address; the kernel refuses the route (EINVAL, Nexthop has invalid gateway: "
                "fib_check_nh_v4_gw() takes only a unicast or local gateway)",
            )
        via = ipaddress.IPv4Address(add.via)
        holder = next(
            (i for i in ns.ifaces.values() if i.kind != "loopback" and via in {a.ip for a in i.addresses}), None
        )
        if holder is None and ns.on_lo(via, link_scope=True):
            holder = ns.ifaces.get("lo")
        if holder is not None and not holder.up:
            # fib_check_nh_v4_gw() (net/ipv4/fib_semantics.c): the gateway's own local route, which a link
            # going down keeps, names the device; a device that is not up is refused, even where another
            # link that is up has the gateway's subnet connected.
            raise self._fail(
                "via",
                f"{add.via} is {add.by}'s own address on {holder.name}, which is down; the kernel refuses the "
                "route (ENETDOWN, RTNETLINK answers: Network is down: fib_check_nh_v4_gw() takes the device of "
                "the gateway's local route, and that device is not up)",
            )
        what = "everything it has no other route for" if add.to == "default" else f"everything for {add.to}"
        self.event(f"{ns.label} sends {what} to {add.via}")
        if not self._add_route(ns, add.to, add.via, None):
            raise self._fail(
                "via",
                f"{add.via} is on none of {add.by}'s networks that are up; the kernel refuses "
                "the route (ENETUNREACH, Nexthop has invalid gateway)",
            )

    # --- steps that take the rooms apart --------------------------------------------------------

    def _step_addr_del(self, change: AddrDel) -> None:
        iface = self._iface(change.by, change.dev)
        ns = self.namespaces[change.by]
        gone = ipaddress.IPv4Interface(change.address)
        if gone not in iface.addresses:
            raise self._fail(
                "address", f"{change.dev} has no {gone}; the kernel refuses (Cannot assign requested address)"
            )
        if gone == iface.primary_of(gone.network):
            # __inet_del_ifa(): with promote_secondaries off (the default) the primary takes the
            # secondaries of its subnet with it, and fib_del_ifaddr() its connected route.
            dropped = [a for a in iface.addresses if a.network == gone.network]
            ns.routes = [
                r for r in ns.routes if not (r.dev == iface.name and r.via is None and r.network == gone.network)
            ]
        else:
            dropped = [gone]
        iface.addresses = [a for a in iface.addresses if a not in dropped]
        also = f" and with it {', '.join(str(a) for a in dropped if a != gone)}" if len(dropped) > 1 else ""
        self.event(f"{ns.label}'s {change.dev} loses {gone}{also}")
        for address in dropped:
            netfilter.masquerade_gone(self, ns, iface.name, str(address.ip))
        if not iface.addresses:
            # fib_inetaddr_event(NETDEV_DOWN) with the device's last address gone: "Disable IP",
            # fib_disable_ip(dev, event, true) flushes every route through it, a gateway route too,
            # and arp_ifdown() its neighbour entries (net/ipv4/fib_frontend.c).
            ns.routes = [r for r in ns.routes if r.dev != iface.name]
            self._flush_neighbours(ns, iface.name, "has no address left")

    def _step_route_del(self, change: RouteDel) -> None:
        ns = self.namespaces[change.by]
        net = ipaddress.IPv4Network("0.0.0.0/0" if change.to == "default" else change.to)
        via = ipaddress.IPv4Address(change.via) if change.via else None
        for route in ns.routes:
            # `ip route del` works on the main table: a prefix on lo (local table) is not for it to delete.
            if route.network == net and not route.local and (via is None or route.via == via):
                ns.routes.remove(route)
                self.event(f"{ns.label} forgets its route to {change.to}")
                return
        raise self._fail("to", f"{change.by} has no route to {change.to}; the kernel refuses (No such process)")

    def _step_link_del(self, change: LinkDel) -> None:
        iface = self._iface(change.by, change.dev)
        if iface.kind == "loopback":
            raise self._fail("dev", "lo cannot be deleted; the kernel refuses (Operation not supported)")
        if iface.kind == "bridge":
            raise self._fail("dev", f"{change.dev} is a bridge; netsim does not model deleting a bridge")
        for end in (iface, iface.peer):  # veth_dellink(): the pair goes together
            if end is not None:
                self._remove_iface(self.namespaces[end.ns], end)
        self.event(f"{self.namespaces[change.by].label}'s {change.dev} is deleted, and its cable's other end with it")
        self._sync_links()

    def _step_netns_del(self, host: str) -> None:
        ns = self.namespaces.get(host)
        if ns is None:
            # `ip netns del` of a name that is not there: unlink() of its file fails (iproute2 netns_delete()).
            kernel = f'Cannot remove namespace file "/run/netns/{ns_name(host)}": No such file or directory'
            when = f"was deleted at step {self._deleted[host]!r}" if host in self._deleted else "does not exist yet"
            raise self._fail("", f"{host}'s namespace {when}; the kernel refuses ({kernel})")
        if any(br.host == host for br in self.scenario.bridges.values()):
            raise self._fail("", f"{host} holds a bridge; netsim does not model deleting a bridge")
        if host in self._talked:
            raise self._fail(
                "",
                f"{host} has an open TCP connection, whose socket keeps the namespace alive: `ip netns del` only "
                "removes its name (net_ns_put() frees it when the last reference goes), and closing the socket to "
                "let it go would send a FIN or RST, which netsim does not model; expected a namespace with no open "
                "connection (delete it before its connections, or let its knocks go to a closed port)",
            )
        spec = self.scenario.hosts.get(host)
        sshd = spec is not None and spec.sshd
        daemons = [name for name, runs in (("sshd", sshd), ("a DNS server", ns.dns_servers)) if runs]
        if daemons:
            raise self._fail(
                "",
                f"{host} runs {' and '.join(daemons)}, whose listening sockets keep the namespace alive: "
                "`ip netns del` only removes its name (net_ns_put() frees it when the last reference goes), "
                "so its devices, its bridge port and its answers stay; netsim does not model a namespace "
                "outliving its name; expected a host without sshd or DNS servers here",
            )
        if ns.half_open:
            raise self._fail(
                "",
                f"{host} has a half-open connection (a SYN-ACK waiting for its ACK), whose request sock holds its "
                "listener (reqsk_alloc()) and so the namespace: it lives on until the request's timer finds the "
                "listener closed (reqsk_timer_handler(), net/ipv4/inet_connection_sock.c), with its devices, its "
                "bridge port and its ARP answers; netsim does not model a namespace outliving its name; expected no "
                "SYN-ACK waiting here (delete it before the knock, or after the request gives up)",
            )
        for iface in list(ns.ifaces.values()):
            if iface.peer is not None and iface.peer.ns != host:
                self._remove_iface(self.namespaces[iface.peer.ns], iface.peer)  # default_device_exit()
        del self.namespaces[host]
        ns.requests.clear()
        for name in list(ns.ifaces):
            # cleanup_net() unregisters every device of the namespace, and neigh_ifdown()
            # (net/core/neighbour.c) drops each one's entries with their timers: no probe is sent from
            # a deleted namespace (outsider3's 21 saw netsim's ghost entry probe and fail).
            ns.neigh.flush_dev(name)
        self._deleted[host] = self._step.id if self._step else ""
        self.event(f"{ns.label}'s namespace is deleted, and with it every cable end it held")
        self._sync_links()

    def _step_nomaster(self, change: Unplug) -> None:
        iface = self._iface(change.by, change.dev)
        if iface.master is None:
            # do_set_master() (net/core/rtnetlink.c) with no master to leave and none to join does
            # nothing and succeeds (`ip link set DEV nomaster` exits 0): nothing happens.
            self.event(f"{change.dev} is in no bridge: nothing changes")
            return
        self.bridges[iface.master].remove_port(iface.name)
        self.event(f"{change.dev} is unplugged from {iface.master}; its cable stays")
        iface.master = None
        self._sync_links()

    def _remove_iface(self, ns: Namespace, iface: Iface) -> None:
        """unregister_netdevice(): out of its bridge, its routes and neighbours gone with it."""
        if iface.master is not None:
            self.bridges[iface.master].remove_port(iface.name)
        ns.routes = [r for r in ns.routes if r.dev != iface.name]
        ns.neigh.flush_dev(iface.name)
        # unregister_netdevice_many() closes it first (dev_close_many(), net/core/dev.c): NETDEV_DOWN
        # reaches masq_device_event() (net/netfilter/nf_nat_masquerade.c), which forgets what was
        # masqueraded to it.
        netfilter.masquerade_gone(self, ns, iface.name)
        self._fresh_settings(ns, iface.name)
        del ns.ifaces[iface.name]
        if iface.peer is not None:
            iface.peer.peer = None


def _links(ns: Namespace) -> dict[str, dict]:
    """`ip addr` inside one namespace, plus each veth end's peer (for the diagrams only)."""
    return {
        name: {
            "kind": iface.kind,
            "state": "UP" if iface.up else "DOWN",
            "mac": iface.mac,
            "addresses": list(_listed_text(tuple(iface.addresses))),
            "master": iface.master,
            "peer": f"{iface.peer.ns}/{iface.peer.name}" if iface.peer else None,
        }
        for name, iface in sorted(ns.ifaces.items())
    }


@functools.lru_cache(maxsize=4096)
def _listed_text(addresses: tuple[ipaddress.IPv4Interface, ...]) -> tuple[str, ...]:
    """_listed() as text, worked out once per list of addresses: every step's trace lists every
    interface's addresses, which seldom change (it was a sixth of the claim audit's simulating)."""
    return tuple(str(a) for a in _listed(list(addresses)))


def _route_lines(ns: Namespace) -> list[str]:
    """`ip route` inside one namespace, in iproute2's words and the kernel's order.

    The main table is dumped as fib_table_dump() walks the trie (net/ipv4/fib_trie.c): by network
    address, and for one address the longer prefix first (a leaf's aliases are kept by slen). A /32
    is printed as a bare address (iproute2's print_route()). A connected route is fib_add_ifaddr()'s
    (`proto kernel scope link src PRIMARY`), one added by hand through a device is `scope link`, and
    a route whose device has no carrier carries RTNH_F_LINKDOWN (fib_sync_down_dev(NETDEV_CHANGE),
    fib_check_nh()), which iproute2 prints as `linkdown`.
    """
    lines = []
    for r in sorted(ns.routes, key=lambda r: (int(r.network.network_address), -r.network.prefixlen)):
        if r.local:
            continue  # a prefix on lo is in the local table (fib_magic(), RTN_LOCAL); `ip route` lists main
        if r.network.prefixlen == 0:
            to = "default"
        elif r.network.prefixlen == 32:
            to = str(r.network.network_address)
        else:
            to = str(r.network)
        iface = ns.ifaces.get(r.dev)
        linkdown = " linkdown" if iface is not None and not iface.carrier else ""
        if r.via is not None:
            lines.append(f"{to} via {r.via} dev {r.dev}{linkdown}")
        elif r.src is not None:
            lines.append(f"{to} dev {r.dev} proto kernel scope link src {r.src}{linkdown}")
        else:
            lines.append(f"{to} dev {r.dev} scope link{linkdown}")
    return lines


def frame_pkt_type(dst: str, own: set[str]) -> str:
    """eth_type_trans() (net/ethernet/eth.c): PACKET_HOST for one of `own` MACs, PACKET_BROADCAST for
    ff:ff:ff:ff:ff:ff, PACKET_MULTICAST for any other group address (the first octet's low bit), else
    PACKET_OTHERHOST."""
    if dst in own:
        return "host"
    if dst == BROADCAST:
        return "broadcast"
    return "multicast" if int(dst.split(":", 1)[0], 16) & 1 else "otherhost"


def _ends(packet: Tcp | Icmp | Udp) -> str:
    if isinstance(packet, Tcp | Udp):
        return f"{packet.src_ip}:{packet.sport} > {packet.dst_ip}:{packet.dport}"
    quoted = packet.original
    return f"{packet.src_ip} > {packet.dst_ip} (quoting {_ends(quoted)})"


def _listed(addresses: list[ipaddress.IPv4Interface]) -> list[ipaddress.IPv4Interface]:
    """`ip addr` order: primaries (the first address of each subnet), then secondaries as added.

    __inet_insert_ifa() (net/ipv4/devinet.c) puts a new primary after the last primary whose scope
    is at least its own, a secondary at the end. iproute2 gives a 127/8 address scope host unless
    told otherwise (default_scope(), ip/ipaddress.c), so such a primary goes before the universe
    ones (outsider's 67: 127.0.0.5/8 added last on eth1 is listed first)."""
    firsts = {a.network: a for a in reversed(addresses)}
    primaries = [a for a in addresses if firsts[a.network] == a]
    primaries.sort(key=lambda a: a.ip not in LOOPBACK_NET)  # stable: host scope first, each kind as added
    return primaries + [a for a in addresses if firsts[a.network] != a]


def _entry(n: dict[str, Any] | None) -> dict[str, Any] | None:
    """A neighbour entry as the comparison sees it: its MAC and state."""
    return None if n is None else {"mac": n["mac"], "state": n["state"]}


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def run(
    scenario: Scenario,
    clock: list[tuple[float, ...]] | None = None,
    hz: int | None = None,
    drawn: list[dict[str, dict[str, float]]] | None = None,
    postpone: dict[int, float] | None = None,
    redraws: dict[int, float] | None = None,
    ticks: tuple[float, ...] = (),
    tick_phase: float | None = None,
    drawn_before: dict[str, dict[str, float]] | None = None,
    act_late: dict[int, float] | None = None,
) -> Trace:
    """Simulate every step of `scenario` from a fresh world; the same input, the same trace.

    `clock` gives each step's (start, tables read[, reading ended]) time on another clock, the lab's
    measured one (see netsim.lab.compare.measured_clock()); without it, steps take only their own time.
    `postpone` fires the timers it names (by order of arming) that many seconds late, within their
    slack: the kernel's side of a timer's edge (netsim.lab.compare.compare_with_kernel()). The
    timers that fired are in the trace's `fired`. `redraws` (step index -> time) puts the kernel's
    new REACHABLE draws of a step in force at that moment of the step instead of at its start.
    `ticks` are moments at which the timers due together fire in one tick, all before the packets
    they send are received (the kernel's order, which the comparison found: same-tick). `tick_phase`
    places the kernel's jiffies on the lab's clock (Simulation.passed_at()). `drawn_before` is the
    draw the lab read as the first step began, in force until a redraw `redraws` puts in that step.
    `act_late` (step index -> seconds) makes a step's action take effect that long after it began.
    """
    sim = Simulation(scenario, hz, postpone, ticks, tick_phase)
    if drawn_before and clock is not None:
        sim.draw_before_first_step(drawn_before)
    draws = drawn or [{} for _ in scenario.steps]
    if clock is None:
        trace = Trace(
            scenario.name, [sim.run_step(step, drawn=d) for step, d in zip(scenario.steps, draws, strict=True)]
        )
    else:
        timed = enumerate(zip(scenario.steps, clock, draws, strict=True))
        late = act_late or {}
        trace = Trace(
            scenario.name,
            [
                sim.run_step(step, *times, drawn=d, redraw_at=(redraws or {}).get(i), act_late=late.get(i, 0.0))
                for i, (step, times, d) in timed
            ],
        )
    trace.fired = sim.fired
    trace.popped = sim.popped
    trace.refills = sim.refills
    trace.deadlines = sim.deadlines
    return trace
