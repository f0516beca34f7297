"""Checked claims: small facts a page states about a step, compared with the trace.

A page writes, beside its sentence, `{{ claim("bob-writes-to-alice", copies_to=["alice",
"carlos", "portainer"]) }}`; `check()` answers with what the simulation did instead, if
anything. Claims read the trace only: they never simulate on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netsim import frames
from netsim.frames import DNS_RCODES, Arp, Udp
from netsim.routing import route_get_text
from netsim.scenario import Scenario
from netsim.trace import Hop, StepTrace, Trace, ip_header


@dataclass(frozen=True)
class Names:
    """Story names <-> addresses and ports, so claims can say 'alice' and 'seat3'."""

    scenario: Scenario

    def host_of_mac(self, mac: str, step: StepTrace | None = None) -> str:
        if step is not None:  # interfaces made by steps wear MACs the topology does not list
            for host, links in step.links.items():
                if any(
                    link["mac"] == mac and link["kind"] != "bridge" and not link["master"] for link in links.values()
                ):
                    return host
        s = self.scenario
        for host, h in s.hosts.items():
            if any(s.host_mac(host, dev) == mac for dev in h.interfaces):
                return host
        for bridge, br in s.bridges.items():
            if s.bridge_mac(bridge) == mac:
                return br.host
        return mac

    def host_of_ip(self, ip: str) -> str:
        for host in self.scenario.hosts:
            if any(str(a.ip) == ip for a in self.scenario.addresses(host)):
                return host
        return ip

    def host_at(self, bridge: str, port: str, step: StepTrace | None = None) -> str:
        owner = self.scenario.bridges[bridge].host
        if port == bridge:
            return owner  # the bridge device: the host's own seat
        if step is not None:  # a port plugged in by a step: follow its cable in this step's links
            peer = step.links.get(owner, {}).get(port, {}).get("peer")
            if peer:
                return peer.split("/")[0]
        found = self.scenario.host_at(bridge, port)
        return found[0] if found else f"{bridge}.{port}"

    def ip_of(self, host: str) -> str:
        addrs = self.scenario.addresses(host)
        if not addrs:
            raise KeyError(host)
        return str(addrs[0].ip)


Checker = Callable[[Names, StepTrace, Any, int], Any]
FACTS: dict[str, tuple[Checker, str]] = {}


def fact(name: str, doc: str) -> Callable[[Checker], Checker]:
    """Register a fact a claim may state; `doc` becomes the contributor guide's row."""

    def register(fn: Checker) -> Checker:
        FACTS[name] = (fn, doc)
        return fn

    return register


def _hop(step: StepTrace, index: int) -> Hop:
    if not step.frames:
        raise LookupError("no frame crossed a bridge in this step")
    if index >= len(step.frames):
        raise LookupError(f"only {len(step.frames)} frame(s) crossed a bridge in this step")
    return step.frames[index]


@fact("decision", "What the bridge did with the frame: forward, flood, drop or local.")
def _decision(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return _hop(step, frame).decision


@fact("copies_to", "The hosts a copy of the frame was handed to (the host's own seat included).")
def _copies_to(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    hop = _hop(step, frame)
    return sorted(names.host_at(hop.bridge, port, step) for port in hop.out_ports)


@fact("taken_by", "The hosts that kept the frame because it was addressed to them.")
def _taken_by(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return sorted(a.host for a in step.arrivals if a.hop == frame and a.accepted)


@fact("thrown_away_by", "The hosts that got a copy, saw it was not for them and dropped it.")
def _thrown_away_by(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return sorted(a.host for a in step.arrivals if a.hop == frame and not a.accepted)


@fact("to_host", "Whether the bridge passed the frame up to the host that owns it.")
def _to_host(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    hop = _hop(step, frame)
    return hop.bridge in hop.out_ports


@fact("broadcast", "Whether the frame was addressed to ff:ff:ff:ff:ff:ff.")
def _broadcast(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return _hop(step, frame).dst == "ff:ff:ff:ff:ff:ff"


@fact("sent_by", "The host whose interface sent the frame (by its source MAC).")
def _sent_by(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return names.host_of_mac(_hop(step, frame).src, step)


@fact("frames", "How many frames crossed a bridge during the step.")
def _frames(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return len(step.frames)


@fact("learns", "What the MAC table gained or changed in this step, as {host: port}; {} for nothing.")
def _learns(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return {
        names.host_of_mac(mac, step): step.fdb[bridge][mac] for bridge, macs in step.fdb_new.items() for mac in macs
    }


@fact("notebook", "The whole learned MAC table after the step, as {host: port}.")
def _notebook(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return {names.host_of_mac(mac, step): port for table in step.fdb.values() for mac, port in table.items()}


@fact(
    "forgets_in",
    "Seconds until the MAC table forgets each host's badge unless it is seen again, as {host: seconds}.",
)
def _forgets_in(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("forgets_in expects {host: seconds}")
    left = {
        names.host_of_mac(mac, step): round(step.ageing[bridge] - age, 3)
        for bridge, ages in step.fdb_ages.items()
        for mac, age in ages.items()
    }
    return {host: left.get(host) for host in expected}


@fact(
    "neighbours",
    "Entries of hosts' ARP tables after the step, as {host: {other_host or address: STATE}}; null for none.",
)
def _neighbours(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("neighbours expects {host: {other_host: STATE or null}}")
    out: dict[str, dict[str, str | None]] = {}
    for host, others in expected.items():
        table = step.neigh.get(host, {})
        out[host] = {}
        for other in others:
            address = other if other.count(".") == 3 else names.ip_of(other)  # a host's name or an address
            entry = table.get(address)
            out[host][other] = entry["state"] if entry else None
    return out


def carries(hop: Hop) -> str:
    """What a frame carries, in the words a post uses: 'ARP request', 'SYN', 'RST', ..."""
    return frames.carries(hop.payload)


@fact(
    "carries",
    "What the frame carries: ARP request, ARP reply, SYN, SYN-ACK, ACK, RST, FIN-ACK, ICMP port unreachable, "
    "ICMP admin prohibited, ICMP network unreachable, ICMP time exceeded, DNS query, DNS answer.",
)
def _carries(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return carries(_hop(step, frame))


@fact("counts", "How many frames of each kind crossed a bridge in the step, as {'SYN': 3}; 0 for none.")
def _counts(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("counts expects {kind: number}")
    kinds = [carries(hop) for hop in step.frames]
    return {kind: kinds.count(kind) for kind in expected}


@fact(
    "times",
    "When frames of each kind crossed a bridge, in seconds from the step's start, as {'SYN': [0, 1, 2]}.",
)
def _times(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("times expects {kind: [seconds, ...]}")
    start = step.time - step.elapsed
    return {kind: [round(hop.time - start, 3) for hop in step.frames if carries(hop) == kind] for kind in expected}


@fact("takes", "How many seconds the step took: for a connect, how long connect() waited for its answer.")
def _takes(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return round(step.elapsed, 3)


@fact("enters_by", "The bridge port the frame came in by: the other end of the sender's cable.")
def _enters_by(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return _hop(step, frame).in_port


@fact("namespaces", "The namespaces (rooms) that exist after the step.")
def _namespaces(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return list(step.links)


@fact("links", "Interfaces of hosts and whether each is up, as {host: {dev: 'UP' or 'DOWN'}}: every one.")
def _links(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("links expects {host: {dev: 'UP' or 'DOWN'}}")
    return {host: {dev: link["state"] for dev, link in step.links.get(host, {}).items()} for host in expected}


def _link_field(step: StepTrace, expected: Any, field: str, shape: str) -> Any:
    """One field of `ip addr` for the interfaces a claim names, as {host: {dev: value}}."""
    if not isinstance(expected, dict):
        raise TypeError(f"expects {shape}")
    return {
        host: {dev: step.links.get(host, {}).get(dev, {}).get(field) for dev in devs} for host, devs in expected.items()
    }


@fact("addresses", "IPv4 addresses of some interfaces, as {host: {dev: ['10.88.0.2/16']}}.")
def _addresses(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return _link_field(step, expected, "addresses", "{host: {dev: [address, ...]}}")


@fact("badges", "The MAC address some interfaces wear after the step, as {host: {dev: 'aa:42:81:9c:0e:33'}}.")
def _badges(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return _link_field(step, expected, "mac", "{host: {dev: mac}}")


@fact("cable", "Where the other end of a veth goes, as {host: {dev: 'other_host/dev'}}.")
def _cable(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return _link_field(step, expected, "peer", "{host: {dev: 'host/dev'}}")


@fact("port_of", "Which bridge an interface is a port of, as {host: {dev: bridge or null}}.")
def _port_of(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return _link_field(step, expected, "master", "{host: {dev: bridge}}")


@fact(
    "routes",
    "A host's whole routing table after the step, as `ip route` prints it, in its order (by network, the "
    "longer prefix first): {host: [line, ...]}.",
)
def _routes(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("routes expects {host: ['default via ADDRESS dev DEV', ...]}")
    return {host: step.routes.get(host, []) for host in expected}


@fact(
    "outcome",
    "What connect() got: connected, refused, host-unreachable, network-unreachable or timeout; deadline when "
    "the application stopped waiting first.",
)
def _outcome(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return step.outcome


@fact(
    "accepted_by",
    "The listening socket that took the connection (its accept queue got it), as 'ADDR:PORT': which of several "
    "listeners on one port the kernel's lookup chose; null when no handshake completed.",
)
def _accepted_by(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return step.listener


@fact("seconds", "The simulated clock when the step ended.")
def _seconds(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return step.time


@fact("listening", "The host's listening sockets after the step, as {host: ['ADDR:PORT', ...]}.")
def _listening(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("listening expects {host: ['ADDR:PORT', ...]}")
    return {host: step.listeners.get(host, []) for host in expected}


@fact(
    "reads",
    "What one read() got after the connect (a connect step with `read: true`): eof (the other side closed), "
    "data (the server spoke first: sshd's banner) or waiting (nothing came; the connection stays open).",
)
def _reads(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return step.reads


@fact("ssh_says", "The lines ssh printed during the step: a bind it could not make, a channel that failed to open.")
def _ssh_says(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return list(step.ssh_log)


# --- routes, routers and NAT (post four) ------------------------------------------------------


@fact("addressed_to", "The host whose badge the frame's Ethernet destination is (the envelope), or 'broadcast'.")
def _addressed_to(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    dst = _hop(step, frame).dst
    return "broadcast" if dst == "ff:ff:ff:ff:ff:ff" else names.host_of_mac(dst, step)


@fact("asks_for", "The address an ARP request asks about (its target IP).")
def _asks_for(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    payload = _hop(step, frame).payload
    if not isinstance(payload, Arp):
        raise LookupError(f"frame {frame} is not ARP")
    return payload.target_ip


@fact("ip", "The frame's IPv4 header as it crossed the bridge: {'src': ..., 'dst': ..., 'ttl': ...}.")
def _ip(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    header = ip_header(_hop(step, frame).payload)
    if header is None:
        raise LookupError(f"frame {frame} carries no IP packet")
    return {key: header[key] for key in (expected if isinstance(expected, dict) else header)}


@fact("crossed", "How many frames crossed each bridge in the step, as {'podman0': 2, 'wifi0': 0}.")
def _crossed(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("crossed expects {bridge: number}")
    return {bridge: sum(1 for hop in step.frames if hop.bridge == bridge) for bridge in expected}


@fact("route", "What `ip route get` answered in a route_get step, its first line without `uid 0`.")
def _route(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if step.route is None:
        raise LookupError("the step asks no route")
    return route_get_text(step.route).splitlines()[0].replace(" uid 0", "").strip()


@fact("forwarding", "Whether hosts forward packets for others after the step, as {host: true or false}.")
def _forwarding(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("forwarding expects {host: true or false}")
    return {host: step.forwarding.get(host) for host in expected}


@fact("rewrites", "The headers NAT rewrote in the step, in order, as [['before', 'after'], ...].")
def _rewrites(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return [[r.before, r.after] for r in step.rewrites]


@fact(
    "conntrack",
    "Connections a host tracks after the step, as {host: ['STATE original > reply', ...]} with each tuple "
    "written `SRC:SPORT>DST:DPORT`; [] for none.",
)
def _conntrack(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    if not isinstance(expected, dict):
        raise TypeError("conntrack expects {host: ['STATE a:p>b:q > c:r>d:s', ...]}")
    return {host: [_conn_words(e) for e in step.conntrack.get(host, [])] for host in expected}


def _conn_words(entry: dict[str, Any]) -> str:
    def ends(text: str) -> str:
        t = dict(kv.split("=", 1) for kv in text.split())
        return f"{t['src']}:{t['sport']}>{t['dst']}:{t['dport']}"

    return f"{entry.get('state', entry['proto'])} {ends(entry['original'])} > {ends(entry['reply'])}"  # UDP: no state


# --- names (post six) -----------------------------------------------------------------------------


def _resolved(step: StepTrace) -> Any:
    if step.resolved is None:
        raise LookupError("the step resolves no name")
    return step.resolved


@fact(
    "resolves_to",
    "What getaddrinfo() gave in a resolve step: the address, or not-found (EAI_NONAME, Name or service not "
    "known), no-data (EAI_NODATA, No address associated with hostname) or try-again (EAI_AGAIN).",
)
def _resolves_to(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    result = _resolved(step)
    return result.address if result.address is not None else result.error


@fact(
    "answered_by",
    "Where a resolve step's answer came from: '/etc/hosts', the address of the nameserver that answered, or "
    "'the name itself' when the name is an address (getaddrinfo() asks nobody then).",
)
def _answered_by(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    source = _resolved(step).source
    return {"files": "/etc/hosts", "numeric": "the name itself"}.get(source, source or None)


def _dns(step: StepTrace, frame: int) -> Any:
    payload = _hop(step, frame).payload
    if not isinstance(payload, Udp):
        raise LookupError(f"frame {frame} carries no DNS message")
    return payload


@fact("dns_name", "The name a DNS message in the frame asks about (its question).")
def _dns_name(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    return _dns(step, frame).payload.name


@fact(
    "dns_answer",
    "What a DNS answer in the frame says: its addresses as a list, or its result code (NXDOMAIN) when it has none.",
)
def _dns_answer(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    msg = _dns(step, frame).payload
    if not msg.response:
        raise LookupError(f"frame {frame} is a DNS query, not an answer")
    return list(msg.answers) if msg.answers else DNS_RCODES.get(msg.rcode, str(msg.rcode))


@fact("udp", "The UDP ports of the frame's datagram, as {'sport': 40001, 'dport': 53}.")
def _udp(names: Names, step: StepTrace, expected: Any, frame: int) -> Any:
    dgram = _dns(step, frame)
    ports = {"sport": dgram.sport, "dport": dgram.dport}
    return {key: ports[key] for key in (expected if isinstance(expected, dict) else ports)}


def _normalise(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return sorted(_normalise(v) for v in value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def check(scenario: Scenario, trace: Trace, step_id: str, facts: dict[str, Any]) -> list[str]:
    """Every stated fact that the trace contradicts, as 'fact: claimed X, simulation: Y'."""
    if not facts:
        return ["a claim must state at least one fact; expected one of: " + ", ".join(FACTS)]
    step = trace.step(step_id)  # KeyError names the known steps
    frame = facts.pop("frame", 0)
    names = Names(scenario)
    failures = []
    for name, expected in facts.items():
        if name not in FACTS:
            failures.append(f"unknown fact {name!r}; expected one of: {', '.join(FACTS)}")
            continue
        try:
            actual = FACTS[name][0](names, step, expected, frame)
        except (LookupError, TypeError) as exc:
            failures.append(f"{name}: cannot be checked: {exc}")
            continue
        if _normalise(actual) != _normalise(expected):
            failures.append(f"{name}: the page says {_show(expected)}, the simulation did {_show(actual)}")
    return failures


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(str, value)) + "]" if value else "nothing"
    return repr(value)


def describe(step_id: str, facts: dict[str, Any], setup: bool = False) -> str:
    """The claim in words, for the tick's tooltip."""
    parts = [f"{k} = {_show(v)}" for k, v in facts.items() if k != "frame"]
    if setup:
        return f"The set-up of step {step_id}, not an outcome (checked all the same): " + "; ".join(parts)
    return f"Checked against step {step_id}: " + "; ".join(parts)
