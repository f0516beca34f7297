"""The trace: what happened at each step, the only thing renderers and claims may read.

Its JSON form is a stable contract shared with the lab (README.md, "The simulator on its own").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from netsim.frames import Arp, carries


@dataclass(frozen=True)
class Hop:
    """One frame crossing one bridge, and the bridge's decision."""

    bridge: str
    in_port: str
    src: str
    dst: str
    decision: str  # forward | flood | drop | local
    out_ports: tuple[str, ...]
    what: str  # e.g. "ARP who-has 10.88.0.3 tell 10.88.0.5"
    reason: str  # why the bridge decided so, in words
    learned: str = ""  # new | moved | refreshed | local | not-learned | "" (learning off)
    time: float = 0.0
    ethertype: int = 0
    payload: Any = None  # the frames.Arp / frames.Tcp carried, for captures and byte views
    # The kernel timer whose firing sent this frame: (due, slack, n), slack being how late the timer
    # wheel may fire it (netsim.timerwheel.slack()), n which timer; None when the step itself sent it.
    # Only the comparison with the kernel reads it.
    timer: tuple[float, float, int] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "bridge": self.bridge,
            "in_port": self.in_port,
            "src": self.src,
            "dst": self.dst,
            "decision": self.decision,
            "out_ports": list(self.out_ports),
            "carries": carries(self.payload),
        }
        header = ip_header(self.payload)
        if header is not None:
            out["ip"] = header
        arp = arp_fields(self.payload)
        if arp is not None:
            out["arp"] = arp
        ports = tcp_ports(self.payload)
        if ports is not None:
            out["tcp"] = ports
        dns = getattr(self.payload, "payload", None)  # a UDP datagram's DNS message
        if dns is not None:
            out["dns"] = dns.summary()
        return out


def ip_header(payload: Any) -> dict[str, Any] | None:
    """The IPv4 header's addresses and time to live, for frames that carry IP."""
    if payload is None or not hasattr(payload, "ttl"):
        return None
    return {"src": payload.src_ip, "dst": payload.dst_ip, "ttl": payload.ttl}


def arp_fields(payload: Any) -> dict[str, str] | None:
    """An ARP packet's sender and target addresses (RFC 826), for frames that carry ARP: which
    address a request asks for and which one it says it comes from, as the lab reads them."""
    if not isinstance(payload, Arp):
        return None
    return {
        "sender_mac": payload.sender_mac,
        "sender_ip": payload.sender_ip,
        "target_mac": payload.target_mac,
        "target_ip": payload.target_ip,
    }


def tcp_ports(payload: Any) -> dict[str, int] | None:
    """A TCP segment's ports, the half of a header NAT may rewrite besides the addresses."""
    if payload is None or not hasattr(payload, "sport") or not hasattr(payload, "flags"):
        return None
    return {"sport": payload.sport, "dport": payload.dport}


@dataclass(frozen=True)
class Rewrite:
    """A packet's header changed by NAT inside a host, at a netfilter hook."""

    host: str
    hook: str  # "postrouting" (masquerade) or "prerouting" (a reply turned back)
    before: str  # "10.88.0.2:40000 > 192.168.1.50:9001"
    after: str


@dataclass(frozen=True)
class Arrival:
    """A frame reaching a host's interface, and whether the host took it or threw it away."""

    host: str
    dev: str
    what: str
    accepted: bool
    note: str
    hop: int = -1  # index in StepTrace.frames of the bridge crossing that brought it; -1: none


@dataclass
class StepTrace:
    id: str
    action: str
    title: str | None
    time: float  # the simulated clock when the step ended, in seconds
    elapsed: float = 0.0  # how long the step took on that clock
    started: float = 0.0  # the clock when the step began (its tables are read at `time`)
    frames: list[Hop] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    fdb: dict[str, dict[str, str]] = field(default_factory=dict)
    fdb_new: dict[str, list[str]] = field(default_factory=dict)  # MACs learned or moved here
    neigh: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    outcome: str | None = None
    listeners: dict[str, list[str]] = field(default_factory=dict)  # namespace -> ["ADDR:PORT"]
    hosts_files: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)  # ns -> /etc/hosts
    links: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # namespace -> `ip addr`
    routes: dict[str, list[str]] = field(default_factory=dict)  # namespace -> `ip route` lines
    fdb_ages: dict[str, dict[str, float]] = field(default_factory=dict)  # bridge -> mac -> seconds since seen
    ageing: dict[str, float] = field(default_factory=dict)  # bridge -> its ageing_time in seconds
    rewrites: list[Rewrite] = field(default_factory=list)  # NAT at work, in order
    conntrack: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # namespace -> `conntrack -L`
    route: dict[str, Any] | None = None  # a route_get step's answer (`ip -j route get`)
    listener: str | None = None  # the listening socket (ADDR:PORT) that answered a connect's SYN
    forwarding: dict[str, bool] = field(default_factory=dict)  # namespace -> net.ipv4.ip_forward
    reads: str | None = None  # a connect step with read: "eof" or "waiting"
    ssh_log: list[str] = field(default_factory=list)  # what ssh printed on its standard error
    # The ssh -L tunnels standing after the step: {client, server, listen "ADDR:PORT", target "HOST:PORT"};
    # and the channel this step's connection opened: {tunnel listen, n, outcome, reads}. For the drawings.
    tunnels: list[dict[str, str]] = field(default_factory=list)
    channel: dict[str, Any] | None = None
    resolved: Any = None  # a resolve step's netsim.resolver.Result: what getaddrinfo() gave
    # What the kernel may show instead, at a timer's edge (only the comparison with the kernel reads
    # these; see netsim.timerwheel): (host, neighbour key) -> [(entry or None, why)], and
    # (bridge, MAC) -> [(port or None, why)].
    neigh_edges: dict[tuple[str, str], list[tuple[dict[str, Any] | None, str]]] = field(default_factory=dict)
    fdb_edges: dict[tuple[str, str], list[tuple[str | None, str]]] = field(default_factory=dict)
    may_lead: list[Hop] = field(default_factory=list)  # a late timer's frames from before the step

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "frames": [hop.to_json() for hop in self.frames],
            "fdb": self.fdb,
            "neigh": {
                ns: {ip: {"mac": n["mac"], "state": n["state"]} for ip, n in table.items()}
                for ns, table in self.neigh.items()
            },
            "outcome": self.outcome,
            "seconds": round(self.elapsed, 3),
            "clock": {"at": round(self.started, 3), "observed": round(self.time, 3)},
            "links": {
                ns: {dev: {k: v for k, v in link.items() if k != "peer"} for dev, link in table.items()}
                for ns, table in self.links.items()
            },
            "routes": self.routes,
            "listening": self.listeners,
            "conntrack": {ns: entries for ns, entries in self.conntrack.items() if entries},
            "route": self.route,
            "listener": self.listener,
            **({"reads": self.reads} if self.reads is not None else {}),
            **({"ssh_log": self.ssh_log} if self.ssh_log else {}),
            "resolved": self.resolved.to_json() if self.resolved is not None else None,
        }


@dataclass
class Trace:
    scenario: str
    steps: list[StepTrace]
    # The timers that fired, in order (netsim.simulation.FiredTimer): the comparison with the kernel
    # looks here for one whose edge the kernel took the other side of.
    fired: list[Any] = field(default_factory=list)
    # Every timer that came due, stale ones too: (when, n, name), for timers due at one moment.
    popped: list[tuple[float, int, str]] = field(default_factory=list)
    # When each refused rate limit's bucket would have allowed: (moment, what), for a late timer.
    refills: list[tuple[float, str]] = field(default_factory=list)
    # When an application gave up waiting (a connect's deadline): (moment, what), for a late timer.
    deadlines: list[tuple[float, str]] = field(default_factory=list)

    def step(self, step_id: str) -> StepTrace:
        for step in self.steps:
            if step.id == step_id:
                return step
        known = ", ".join(s.id for s in self.steps)
        raise KeyError(f"no step {step_id!r} in scenario {self.scenario}; expected one of: {known}")

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "steps": [s.to_json() for s in self.steps]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trace:
        """A trace read back from JSON (the lab's): frames lack the words netsim adds."""
        steps = []
        for s in data["steps"]:
            frames = [
                # The frame's headers as JSON (carries, ip, tcp, arp, dns) are not read back into a
                # payload; the lab describes each frame in "what" (for people reading a diff) instead.
                Hop(
                    **{k: h[k] for k in ("bridge", "in_port", "src", "dst", "decision")},
                    out_ports=tuple(h["out_ports"]),
                    what=h.get("what", ""),
                    reason="kernel",
                )
                for h in s["frames"]
            ]
            clock = s.get("clock") or {}  # the lab's wall clock; every step once read as t=0s
            steps.append(
                StepTrace(
                    s["id"],
                    "",
                    None,
                    clock.get("observed", 0.0),
                    elapsed=s.get("seconds", 0.0),
                    started=clock.get("at", 0.0),
                    frames=frames,
                    fdb=s["fdb"],
                    neigh=s["neigh"],
                    outcome=s["outcome"],
                    links=s.get("links", {}),
                    routes=s.get("routes", {}),
                    listeners=s.get("listening", {}),
                    conntrack=s.get("conntrack", {}),
                    route=s.get("route"),
                    reads=s.get("reads"),
                    ssh_log=s.get("ssh_log", []),
                    resolved=_Resolved.from_json(s.get("resolved")),
                )
            )
        return cls(data["scenario"], steps)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)


@dataclass(frozen=True)
class _Resolved:
    """A resolve step's result read back from JSON (the lab's): no source, only what getaddrinfo gave."""

    name: str
    address: str | None
    error: str | None
    source: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> _Resolved | None:
        return None if data is None else cls(data["name"], data.get("address"), data.get("error"))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "error": self.error}
