"""Run a scenario: wire veth cables and bridges, play each step, record the trace.

Frames move through one FIFO queue, so causes come before effects in the trace; timers
(ARP retries, SYN retransmissions, neighbour probes) fire in time order on a simulated clock.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections import deque
from collections.abc import Callable
from itertools import count

from netsim import arp, ipv4, tcp
from netsim.addresses import BROADCAST, normalise_mac
from netsim.bridge import Bridge, Decision, PortFlags
from netsim.frames import Arp, Frame, Tcp, initial_sequence
from netsim.netns import Connection, Iface, Namespace
from netsim.routing import RouteEntry
from netsim.scenario import (
    Connect,
    Host,
    Resolve,
    Route,
    Scenario,
    Send,
    SetBridge,
    SetPort,
    Socket,
    Step,
)
from netsim.trace import Arrival, Hop, StepTrace, Trace

Endpoint = tuple[str, str, str]  # ("port", bridge, port) or ("iface", host, dev)


class Simulation:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.now = 0.0
        self.bridges: dict[str, Bridge] = {}
        self.namespaces: dict[str, Namespace] = {}
        self.cable: dict[tuple[str, str], Endpoint] = {}  # (host, dev) -> the other end
        self.port_peer: dict[tuple[str, str], tuple[str, str]] = {}  # (bridge, port) -> (host, dev)
        self._queue: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = count()
        self._ports = count(40000)  # ephemeral source ports, deterministic
        self._current: StepTrace | None = None
        self._build()

    # --- topology ---------------------------------------------------------------------

    def _build(self) -> None:
        s = self.scenario
        for name, host in s.hosts.items():
            ns = Namespace(name, host.label or name, tcp_syn_retries=host.tcp_syn_retries)
            ns.drop_tcp_ports = set(host.drop_tcp_ports)
            for dev, iface in host.interfaces.items():
                addr = ipaddress.IPv4Interface(iface.address) if iface.address else None
                ns.ifaces[dev] = Iface(dev, s.host_mac(name, dev), addr, "veth")
            self.namespaces[name] = ns
        for name, br in s.bridges.items():
            bridge = Bridge(name, s.bridge_mac(name), br.ageing_time)
            for pname, port in br.ports.items():
                flags = PortFlags(port.learning, port.flood, port.mcast_flood, port.bcast_flood, port.hairpin)
                bridge.add_port(pname, s.port_mac(name, pname), flags)
            self.bridges[name] = bridge
            addr = ipaddress.IPv4Interface(br.address) if br.address else None
            self.namespaces[br.host].ifaces[name] = Iface(name, bridge.mac, addr, "bridge")
        for name, host in s.hosts.items():
            for dev, iface in host.interfaces.items():
                if not iface.plug:
                    continue
                target, _, end = iface.plug.partition(".")
                if target in s.bridges:
                    self.cable[(name, dev)] = ("port", target, end)
                    self.port_peer[(target, end)] = (name, dev)
                else:
                    self.cable[(name, dev)] = ("iface", target, end)
                    self.cable[(target, end)] = ("iface", name, dev)
            ns = self.namespaces[name]
            ns.listeners = {_endpoint(text) for text in host.listeners}
            self._routes(ns, host)

    def _routes(self, ns: Namespace, host: Host) -> None:
        # Each address adds its connected route, as the kernel does (proto kernel scope link).
        for iface in ns.ifaces.values():
            if iface.address is not None:
                ns.routes.append(RouteEntry(iface.address.network, iface.name))
        extra = list(host.routes)
        if host.gateway:
            extra.append(Route("default", host.gateway))
        for route in extra:
            net = ipaddress.IPv4Network("0.0.0.0/0" if route.to == "default" else route.to)
            via = ipaddress.IPv4Address(route.via) if route.via else None
            dev = route.dev or (self._dev_for(ns, via) if via else None)
            if dev is None:
                continue  # the kernel refuses such a route ("Nexthop has invalid gateway")
            ns.routes.append(RouteEntry(net, dev, via))

    @staticmethod
    def _dev_for(ns: Namespace, via: ipaddress.IPv4Address) -> str | None:
        for route in ns.routes:
            if route.via is None and via in route.network:
                return route.dev
        return None

    # --- the clock ---------------------------------------------------------------------

    def schedule(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (self.now + delay, next(self._seq), callback))

    def _drain(self) -> None:
        while self._queue:
            self._queue.popleft()()

    def _run_until(self, done: Callable[[], bool], deadline: float) -> None:
        """Process frames, then timers in time order, until `done()` or the deadline."""
        self._drain()
        while not done() and self._timers and self._timers[0][0] <= deadline:
            when, _, callback = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            callback()
            self._drain()

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        self._run_until(lambda: False, end)
        self.now = end

    # --- moving frames -----------------------------------------------------------------

    def event(self, text: str) -> None:
        if self._current is not None:
            self._current.events.append(text)

    def transmit(self, ns: Namespace, dev: str, frame: Frame) -> None:
        self._queue.append(lambda: self._transmit(ns, dev, frame))

    def _transmit(self, ns: Namespace, dev: str, frame: Frame) -> None:
        iface = ns.ifaces[dev]
        if iface.kind == "bridge":
            bridge = self.bridges[dev]
            self._deliver(bridge, dev, frame, bridge.transmit(frame, self.now))
            return
        other = self.cable.get((ns.name, dev))
        if other is None:
            self.event(f"{ns.label}'s {dev} has no cable: the frame goes nowhere")
        elif other[0] == "port":
            bridge = self.bridges[other[1]]
            self._deliver(bridge, other[2], frame, bridge.receive(frame, other[2], self.now))
        else:
            self._queue.append(lambda: self._receive(self.namespaces[other[1]], other[2], frame))

    def _deliver(self, bridge: Bridge, in_port: str, frame: Frame, d: Decision) -> None:
        index = self._record(bridge, in_port, frame, d)
        for port in d.out_ports:
            if port == bridge.name:
                owner = self.namespaces[self.scenario.bridges[bridge.name].host]
                self._queue.append(lambda ns=owner: self._receive(ns, bridge.name, frame, index))
            elif (bridge.name, port) in self.port_peer:
                host, dev = self.port_peer[(bridge.name, port)]
                self._queue.append(lambda ns=self.namespaces[host], d=dev: self._receive(ns, d, frame, index))

    def _record(self, bridge: Bridge, in_port: str, frame: Frame, d: Decision) -> int:
        if self._current is None:
            return -1
        hop = Hop(
            bridge.name,
            in_port,
            frame.src,
            frame.dst,
            d.decision,
            d.out_ports,
            frame.summary(),
            d.reason,
            d.learned,
            self.now,
            frame.ethertype,
            frame.payload,
        )
        self._current.frames.append(hop)
        return len(self._current.frames) - 1

    def _receive(self, ns: Namespace, dev: str, frame: Frame, hop: int = -1) -> None:
        iface = ns.ifaces[dev]
        if frame.dst not in (iface.mac, BROADCAST):
            self._arrive(ns, dev, frame, False, f"not addressed to {iface.mac}: thrown away", hop)
            return
        self._arrive(ns, dev, frame, True, "taken", hop)
        if isinstance(frame.payload, Arp):
            arp.receive(self, ns, dev, frame.payload)
        elif isinstance(frame.payload, Tcp):
            ipv4.receive(self, ns, dev, frame.payload)

    def _arrive(self, ns: Namespace, dev: str, frame: Frame, accepted: bool, note: str, hop: int) -> None:
        if self._current is not None:
            self._current.arrivals.append(Arrival(ns.name, dev, frame.summary(), accepted, note, hop))

    def loopback(self, ns: Namespace, seg: Tcp) -> None:
        self._queue.append(lambda: ipv4.receive(self, ns, "lo", seg))

    def unreachable(self, ns: Namespace, neighbour: str) -> None:
        for conn in ns.connections:
            if conn.state == "SYN_SENT" and ipv4.nexthop(ns, conn.dst_ip) == neighbour:
                conn.state = "host-unreachable"

    # --- steps ---------------------------------------------------------------------------

    def run_step(self, step: Step) -> StepTrace:
        before = {name: b.fdb.learned(self.now) for name, b in self.bridges.items()}
        self._current = trace = StepTrace(step.id, step.action, step.title, self.now)
        getattr(self, f"_step_{step.action}")(getattr(step, step.action))
        trace.fdb = {name: b.fdb.learned(self.now) for name, b in self.bridges.items()}
        trace.fdb_new = {
            name: [mac for mac, port in table.items() if before[name].get(mac) != port]
            for name, table in trace.fdb.items()
        }
        trace.neigh = {name: ns.neigh.snapshot(self.now) for name, ns in self.namespaces.items()}
        trace.listeners = {
            name: [f"{ip}:{port}" for ip, port in sorted(ns.listeners)] for name, ns in self.namespaces.items()
        }
        trace.time = self.now
        self._current = None
        return trace

    def _step_send(self, send: Send) -> None:
        ns = self.namespaces[send.by]
        dev = send.dev or next(iter(ns.ifaces))
        src = send.src or ns.ifaces[dev].mac
        named = BROADCAST if send.dst == "broadcast" else normalise_mac(send.dst)
        dst = named or self.scenario.host_mac(send.dst)
        self.transmit(ns, dev, Frame(src, dst))
        self._drain()

    def _step_arp(self, resolve: Resolve) -> None:
        ns = self.namespaces[resolve.by]
        hop = ipv4.route(ns, resolve.target)
        if hop is None or hop.kind != "link":
            self.event(f"{ns.label} has no on-link route to {resolve.target}: nothing to ask")
            return
        entry = arp.resolve(self, ns, hop.dev, resolve.target)
        self._run_until(lambda: entry.state not in ("INCOMPLETE",), self.now + 60)

    def _step_connect(self, connect: Connect) -> None:
        assert self._current is not None
        ns = self.namespaces[connect.by]
        dst_ip, dport = _endpoint(connect.to)
        hop = ipv4.route(ns, dst_ip)
        if hop is None:
            self.event(f"{ns.label} has no route to {dst_ip}")
            self._current.outcome = "network-unreachable"
            return
        src_ip = (
            "127.0.0.1"
            if hop.dev == "lo" and ipaddress.IPv4Address(dst_ip).is_loopback
            else (dst_ip if hop.kind == "local" else ns.source_address(hop.dev))
        )
        conn = Connection(src_ip, next(self._ports), dst_ip, dport)
        ns.connections.append(conn)
        isn = initial_sequence(conn.src_ip, conn.dst_ip, conn.sport, conn.dport)
        syn = Tcp(conn.src_ip, conn.dst_ip, conn.sport, conn.dport, "S", isn)
        ipv4.output(self, ns, syn)
        for offset in tcp.retransmit_times(ns.tcp_syn_retries):
            self.schedule(offset, lambda: self._retransmit_syn(ns, conn, syn))
        deadline = self.now + tcp.syn_timeout(ns.tcp_syn_retries)
        self._run_until(lambda: conn.state != "SYN_SENT", deadline)
        if conn.state == "SYN_SENT":
            self.now = deadline
            conn.state = "timeout"
            self.event(f"no answer: connect() gives up after {tcp.syn_timeout(ns.tcp_syn_retries):g} s")
        ns.connections.remove(conn)
        self._current.outcome = conn.state

    def _retransmit_syn(self, ns: Namespace, conn: Connection, syn: Tcp) -> None:
        if conn.state == "SYN_SENT":
            ipv4.output(self, ns, syn)

    def _step_listen(self, sock: Socket) -> None:
        self.namespaces[sock.by].listeners.add(_endpoint(sock.bind))
        self.event(f"{self.namespaces[sock.by].label} listens on {sock.bind}")

    def _step_close(self, sock: Socket) -> None:
        self.namespaces[sock.by].listeners.discard(_endpoint(sock.bind))
        self.event(f"{self.namespaces[sock.by].label} stops listening on {sock.bind}")

    def _step_wait(self, seconds: float) -> None:
        self.advance(seconds)

    def _step_set_port(self, change: SetPort) -> None:
        names = ("learning", "flood", "mcast_flood", "bcast_flood", "hairpin")
        changes = {name: getattr(change, name) for name in names if getattr(change, name) is not None}
        self.bridges[change.bridge].set_port_flags(change.port, **changes)

    def _step_set_bridge(self, change: SetBridge) -> None:
        self.bridges[change.bridge].fdb.ageing_time = change.ageing_time


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def run(scenario: Scenario) -> Trace:
    """Simulate every step of `scenario` from a fresh world; the same input, the same trace."""
    sim = Simulation(scenario)
    return Trace(scenario.name, [sim.run_step(step) for step in scenario.steps])
