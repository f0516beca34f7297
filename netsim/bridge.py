"""The bridge's receive path (br_input.c) and forwarding decision (br_forward.c)."""

from __future__ import annotations

from dataclasses import dataclass, field

from netsim.addresses import is_broadcast, is_group, is_valid_source
from netsim.fdb import Fdb
from netsim.frames import Frame


@dataclass
class PortFlags:
    learning: bool = True
    flood: bool = True
    mcast_flood: bool = True
    bcast_flood: bool = True
    hairpin: bool = False


@dataclass(frozen=True)
class Decision:
    """What the bridge did with one frame; `out_ports` may include the bridge itself (the host)."""

    decision: str  # forward | flood | drop | local
    out_ports: tuple[str, ...]
    reason: str
    learned: str = ""  # what learning did: new, moved, refreshed, local, not-learned or ""


@dataclass
class Bridge:
    """A Linux bridge: ports with flags, an fdb, and the host behind the bridge device itself."""

    name: str
    mac: str
    ageing_time: float
    ports: dict[str, PortFlags] = field(default_factory=dict)
    fdb: Fdb = field(init=False)

    def __post_init__(self) -> None:
        self.fdb = Fdb(self.ageing_time)
        self.fdb.add_local(self.mac, self.name)

    def add_port(self, name: str, mac: str, flags: PortFlags) -> None:
        self.ports[name] = flags
        self.fdb.add_local(mac, name)  # br_if.c: a port's own MAC becomes a local entry

    # br_handle_frame() / br_handle_frame_finish(): a frame arriving on a port
    def receive(self, frame: Frame, in_port: str, now: float) -> Decision:
        if not is_valid_source(frame.src):
            return Decision("drop", (), "source is a group or all-zero address")
        learned = ""
        if self.ports[in_port].learning:
            learned = self.fdb.learn(frame.src, in_port, now)  # before the decision, always

        if is_broadcast(frame.dst):
            out = self._flood_ports(in_port, "bcast_flood")
            return Decision("flood", (*out, self.name), "broadcast: every port and the host", learned)
        if is_group(frame.dst):
            # Simplification: no IGMP snooping, so multicast floods like broadcast does.
            out = self._flood_ports(in_port, "mcast_flood")
            return Decision("flood", (*out, self.name), "multicast: flooded without snooping", learned)

        entry = self.fdb.lookup(frame.dst, now)
        if entry is not None and entry.local:
            return Decision("local", (self.name,), "addressed to the bridge or a port's own MAC", learned)
        if entry is not None:
            if entry.port == in_port and not self.ports[in_port].hairpin:
                return Decision("drop", (), "destination is on the port it came from", learned)
            return Decision("forward", (entry.port,), f"destination learned on {entry.port}", learned)
        out = self._flood_ports(in_port, "flood")
        return Decision("flood", out, "destination unknown", learned)

    # br_dev_xmit(): the host sending through the bridge device; nothing is learned
    def transmit(self, frame: Frame, now: float) -> Decision:
        if is_group(frame.dst):
            flag = "bcast_flood" if is_broadcast(frame.dst) else "mcast_flood"
            return Decision("flood", self._flood_ports(None, flag), "broadcast from the host")
        entry = self.fdb.lookup(frame.dst, now)
        if entry is not None and not entry.local:
            return Decision("forward", (entry.port,), f"destination learned on {entry.port}")
        if entry is not None:
            return Decision("drop", (), "addressed to the host's own MAC")
        return Decision("flood", self._flood_ports(None, "flood"), "destination unknown")

    def _flood_ports(self, in_port: str | None, flag: str) -> tuple[str, ...]:
        # br_flood()/should_deliver(): never back out of the ingress port unless hairpin is on
        return tuple(
            name for name, flags in self.ports.items() if getattr(flags, flag) and (name != in_port or flags.hairpin)
        )
