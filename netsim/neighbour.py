"""The neighbour (ARP) table of one namespace (net/core/neighbour.c), with its states.

Simplification, named: the kernel picks REACHABLE's lifetime at random between 15 and 45 s
(base_reachable_time 30 s); netsim always uses 30 s so the same scenario gives the same trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REACHABLE_TIME = 30.0  # base_reachable_time_ms / 1000, without the kernel's random spread
DELAY_FIRST_PROBE = 5.0  # delay_first_probe_time
RETRANS_TIME = 1.0  # retrans_time_ms / 1000: the gap between probes
MCAST_SOLICIT = 3  # broadcast requests for an unknown address before FAILED
UCAST_SOLICIT = 3  # unicast probes of a known address before FAILED


@dataclass
class Neighbour:
    ip: str
    dev: str
    mac: str | None
    state: str  # INCOMPLETE | REACHABLE | STALE | DELAY | PROBE | FAILED
    confirmed: float = 0.0  # when reachability was last confirmed
    probes: int = 0
    parked: list = field(default_factory=list)  # packets waiting for the answer (arp_queue)

    reachable_time: float = REACHABLE_TIME

    def current_state(self, now: float) -> str:
        """REACHABLE silently becomes STALE once its time is up; the kernel's timer does this."""
        if self.state == "REACHABLE" and now - self.confirmed >= self.reachable_time:
            self.state = "STALE"
        return self.state


class NeighbourTable:
    def __init__(self, reachable_time: float = REACHABLE_TIME) -> None:
        self.entries: dict[str, Neighbour] = {}
        self.reachable_time = reachable_time

    def get(self, ip: str) -> Neighbour | None:
        return self.entries.get(ip)

    def update(self, ip: str, dev: str, mac: str, state: str, now: float, *, create: bool) -> Neighbour | None:
        """neigh_update(): record what an ARP packet taught us; returns the entry, if any."""
        entry = self.entries.get(ip)
        if entry is None:
            if not create:
                return None
            entry = self.entries[ip] = Neighbour(ip, dev, mac, state, confirmed=now, reachable_time=self.reachable_time)
            return entry
        old = entry.current_state(now)
        if state == "STALE" and entry.mac == mac and old in ("REACHABLE", "DELAY", "PROBE"):
            return entry  # same address, still valid: the kernel keeps the better state
        entry.mac, entry.state, entry.dev = mac, state, dev
        if state == "REACHABLE":
            entry.confirmed, entry.probes = now, 0
        return entry

    def confirm(self, ip: str, now: float) -> None:
        """An upper layer (TCP receiving an ACK) proved the neighbour is there: dst_confirm()."""
        entry = self.entries.get(ip)
        if entry is not None and entry.mac is not None and entry.state != "FAILED":
            entry.state, entry.confirmed, entry.probes = "REACHABLE", now, 0

    def snapshot(self, now: float) -> dict[str, dict[str, str | None]]:
        """What `ip neigh show` prints, as {ip: {mac, state, dev}}; sorted by address."""

        def key(ip: str) -> tuple[int, ...]:
            return tuple(int(part) for part in ip.split("."))

        return {
            ip: {"mac": e.mac, "state": e.current_state(now), "dev": e.dev}
            for ip, e in sorted(self.entries.items(), key=lambda kv: key(kv[0]))
        }
