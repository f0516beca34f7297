"""The bridge's receive path (br_input.c) and forwarding decision (br_forward.c)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from netsim.addresses import is_broadcast, is_group, is_valid_source, link_local_group
from netsim.fdb import Fdb
from netsim.frames import Frame


@dataclass
class PortFlags:
    learning: bool = True
    flood: bool = True
    mcast_flood: bool = True
    bcast_flood: bool = True
    hairpin: bool = False
    enabled: bool = True  # the port's device is up; a disabled port neither floods nor forwards


class Excluding(Sequence[str]):
    """Every eligible port but one, without copying them: a flood in a 10,000-port bridge is O(1)."""

    __slots__ = ("_ports", "_skip", "_index")

    def __init__(self, ports: tuple[str, ...], skip: str, index: dict[str, int]) -> None:
        self._ports, self._skip, self._index = ports, skip, index

    def __len__(self) -> int:
        return len(self._ports) - 1

    def __iter__(self) -> Iterator[str]:
        return (p for p in self._ports if p != self._skip)

    def __contains__(self, port: object) -> bool:
        return port != self._skip and port in self._index

    def __getitem__(self, i):  # noqa: ANN001, ANN204 - Sequence's overloaded signature
        return tuple(self)[i]

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


@dataclass(frozen=True)
class Decision:
    """What the bridge did with one frame."""

    decision: str  # forward | flood | drop | local
    ports: Sequence[str]  # the bridge ports the frame leaves by
    reason: str
    learned: str = ""  # what learning did: new, moved, refreshed, local, not-learned or ""
    to_host: str = ""  # the bridge's own name when the frame also goes up to the host
    to_port: str = ""  # a port whose own device's stack takes the frame (RX_HANDLER_PASS), not the bridge's

    @property
    def out_ports(self) -> tuple[str, ...]:
        """Every way out, the bridge device itself (the host's seat) last."""
        return (*self.ports, self.to_host) if self.to_host else tuple(self.ports)


@dataclass
class Bridge:
    """A Linux bridge: ports with flags, an fdb, and the host behind the bridge device itself."""

    name: str
    mac: str
    ageing_time: float
    ports: dict[str, PortFlags] = field(default_factory=dict)
    port_macs: dict[str, str] = field(default_factory=dict)  # each port device's own MAC, in joining order
    fdb: Fdb = field(init=False)
    _eligible: dict[str, tuple[tuple[str, ...], dict[str, int]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.fdb = Fdb(self.ageing_time)
        self.fdb.add_local(self.mac, self.name)

    def add_port(self, name: str, mac: str, flags: PortFlags) -> None:
        self.ports[name] = flags
        self.port_macs[name] = mac
        self.fdb.add_local(mac, name)  # br_if.c: a port's own MAC becomes a local entry
        self._eligible.clear()

    def remove_port(self, name: str) -> None:
        """br_del_if() -> del_nbp(): the port leaves port_list, then br_fdb_delete_by_port(br, p, 0, 1)
        forgets every entry whose dst is the port; a local one goes by fdb_delete_local() (br_fdb.c),
        which hands it to another port with the same MAC, or to the bridge device if it is its MAC."""
        del self.ports[name], self.port_macs[name]
        for mac, entry in list(self.fdb.entries.items()):
            if entry.port != name:
                continue
            heir = self._local_heir(mac, name) if entry.local else None
            if heir is not None:
                entry.port = heir
            else:
                del self.fdb.entries[mac]
        self._eligible.clear()

    def change_port_mac(self, port: str, mac: str) -> None:
        """A port's device took another MAC: br_device_event(NETDEV_CHANGEADDR) (net/bridge/br.c) ->
        br_fdb_changeaddr() (net/bridge/br_fdb.c). The port's local entry (it holds one at most, for the
        MAC it wore) goes by fdb_delete_local() (to another port wearing that MAC, or to the bridge if it
        is the bridge's own, else gone), then fdb_add_local() makes the new MAC the port's (a learned
        entry for it is replaced; another port's or the bridge's local one stays). Learned entries stay.
        The bridge's own MAC was set explicitly (NET_ADDR_SET, as netsim and the lab make every bridge),
        so br_stp_recalculate_bridge_id() leaves it."""
        self.port_macs[port] = mac  # the notifier runs after the device has its new MAC
        for old, entry in list(self.fdb.entries.items()):
            if entry.port == port and entry.local:
                heir = self._local_heir(old, port)
                if heir is not None:
                    entry.port = heir
                else:
                    del self.fdb.entries[old]
        self.fdb.add_local(mac, port)

    def change_mac(self, mac: str) -> None:
        """The bridge device took another MAC: br_set_mac_address() (net/bridge/br_device.c) ->
        br_stp_change_bridge_id() -> br_fdb_change_mac_address() (net/bridge/br_fdb.c): the old MAC's
        local entry, if it is the bridge's own (no port), goes by fdb_delete_local() (to a port wearing
        it, else gone), and the new MAC becomes a local entry of the bridge unless a port's local entry
        holds it already (fdb_add_local()). Asked for the MAC it has, nothing changes."""
        if mac == self.mac:
            return
        entry = self.fdb.entries.get(self.mac)
        if entry is not None and entry.local and entry.port == self.name:
            heir = self._local_heir(self.mac, None)
            if heir is not None:
                entry.port = heir
            else:
                del self.fdb.entries[self.mac]
        self.fdb.add_local(mac, self.name)
        self.mac = mac

    def _local_heir(self, mac: str, leaving: str | None) -> str | None:
        """fdb_delete_local(): the first other port on port_list wearing `mac` (br_add_if() puts a new
        port at its head), else, when a port lets go (`leaving`, not the bridge device itself: None), the
        bridge when `mac` is its own (dst NULL, the bridge's name here)."""
        heir = next(
            (port for port in reversed(self.port_macs) if port != leaving and self.port_macs[port] == mac), None
        )
        return heir if heir is not None or leaving is None or mac != self.mac else self.name

    def set_port_flags(self, port: str, **changes: bool) -> None:
        """`bridge link set dev PORT flood off ...`."""
        for key, value in changes.items():
            setattr(self.ports[port], key, value)
        self._eligible.clear()

    # br_handle_frame() / br_handle_frame_finish(): a frame arriving on a port
    def receive(self, frame: Frame, in_port: str, now: float) -> Decision:
        if not is_valid_source(frame.src):
            return Decision("drop", (), "source is a group or all-zero address")
        reserved = link_local_group(frame.dst)
        if reserved == 0x01:
            # br_handle_frame(): "IEEE MAC (Pause)" goes to drop, before any learning.
            return Decision("drop", (), "a pause frame, 01:80:c2:00:00:01: dropped before learning")
        flags = self.ports[in_port]
        if reserved is not None and reserved != 0x00:
            # br_handle_frame(): the other reserved link-local addresses are forwarded only when the
            # port's and bridge's group_fwd_mask say so (0 by default), and this comes before the port's
            # STP state is asked: __br_handle_local_finish() learns the source (only on a port that
            # forwards, nbp_state_should_learn()) and br_handle_frame() returns RX_HANDLER_PASS, so the
            # frame goes on to the port device's own stack (arp_rcv() on the port), not the bridge's.
            # 01:80:c2:00:00:00 (STP) is forwarded like any multicast while STP is off.
            learned = self.fdb.learn(frame.src, in_port, now) if flags.enabled and flags.learning else ""
            why = f"a reserved link-local group address: not forwarded; {in_port}'s own stack takes it"
            return Decision("drop", (), why, learned, to_port=in_port)
        if not flags.enabled:
            # br_handle_frame(): a port in STP state DISABLED (its bridge device is down) drops what
            # arrives, before any learning.
            return Decision("drop", (), f"{in_port} is disabled: the bridge is down")
        learned = ""
        if flags.learning:
            learned = self.fdb.learn(frame.src, in_port, now)  # before the decision, always

        if is_broadcast(frame.dst):
            out = self._flood_ports(in_port, "bcast_flood")
            return Decision("flood", out, "broadcast: every port and the host", learned, self.name)
        if is_group(frame.dst):
            # Simplification: no IGMP snooping, so multicast floods like broadcast does.
            out = self._flood_ports(in_port, "mcast_flood")
            return Decision("flood", out, "multicast: flooded without snooping", learned, self.name)

        entry = self.fdb.lookup(frame.dst, now)
        if entry is not None and entry.local:
            return Decision("local", (), "addressed to the bridge or a port's own MAC", learned, self.name)
        if entry is not None:
            if entry.port == in_port and not self.ports[in_port].hairpin:
                return Decision("drop", (), "destination is on the port it came from", learned)
            # should_deliver() refuses a port that is not forwarding, but no learned entry points at
            # one: a disabled port learns nothing, and disabling it forgot what it had learned
            # (br_stp_disable_port() -> br_fdb_delete_by_port()); a port's own MAC was taken above.
            assert self.ports[entry.port].enabled, f"a learned MAC on disabled port {entry.port}"
            return Decision("forward", (entry.port,), f"destination learned on {entry.port}", learned)
        out = self._flood_ports(in_port, "flood")
        return Decision("flood", out, "destination unknown", learned)

    # br_dev_xmit() (br_device.c): the host sending through the bridge device; nothing is learned
    def transmit(self, frame: Frame, now: float) -> Decision:
        if is_group(frame.dst):
            # br_flood() skips a port for its bcast_flood/mcast_flood flag only when the frame did not
            # come from the bridge device itself (skb->dev != br->dev): the host's own floods reach all.
            kind = "broadcast" if is_broadcast(frame.dst) else "multicast"
            return Decision("flood", self._flood_ports(None, None), f"{kind} from the host: every port")
        entry = self.fdb.lookup(frame.dst, now)
        if entry is not None and entry.port == self.name:
            # The bridge's own MAC has no port (fdb->dst is NULL): br_forward() has nowhere to send it.
            return Decision("drop", (), "addressed to the bridge's own MAC")
        if entry is not None:
            # A port's own MAC is a local entry whose dst is that port: the frame leaves by it.
            why = "a port's own MAC: out by that port" if entry.local else f"destination learned on {entry.port}"
            if not self.ports[entry.port].enabled:
                return Decision("drop", (), f"{entry.port} is down")
            return Decision("forward", (entry.port,), why)
        return Decision("flood", self._flood_ports(None, "flood"), "destination unknown")

    def disable_port(self, port: str) -> list[str]:
        """br_stp_disable_port() (br_stp_if.c): the port stops forwarding and its learned MACs go."""
        self.ports[port].enabled = False
        self._eligible.clear()
        return self.fdb.flush_port(port)

    def enable_port(self, port: str) -> None:
        """br_stp_enable_port(): with STP off the port forwards at once; it has learned nothing."""
        self.ports[port].enabled = True
        self._eligible.clear()

    def has_carrier(self) -> bool:
        """br_port_state_selection(): the bridge device has carrier while any port forwards."""
        return any(flags.enabled for flags in self.ports.values())

    def _flood_ports(self, in_port: str | None, flag: str | None) -> Sequence[str]:
        # br_flood()/should_deliver(): never back out of the ingress port unless hairpin is on
        key = flag or "all"
        if key not in self._eligible:
            # br_add_if() puts a new port at the head of port_list (list_add_rcu()), and br_flood()
            # walks it from there: the newest port gets its copy first. It decides who answers first.
            eligible = tuple(
                name
                for name, flags in reversed(self.ports.items())
                if (flag is None or getattr(flags, flag)) and flags.enabled
            )
            self._eligible[key] = (eligible, {name: i for i, name in enumerate(eligible)})
        eligible, index = self._eligible[key]
        if in_port is None or in_port not in index or self.ports[in_port].hairpin:
            return eligible
        return Excluding(eligible, in_port, index)
