"""The neighbour table of one namespace and its state machine (net/core/neighbour.c).

Each entry has one timer, as in the kernel: neigh_timer_handler() moves REACHABLE to DELAY or
STALE, DELAY to REACHABLE or PROBE, and gives up on INCOMPLETE and PROBE after their probes.
__neigh_event_send() is what using an entry does; neigh_update() is what an ARP packet does.

Simplification, named: the kernel picks the REACHABLE lifetime at random between half and one
and a half times base_reachable_time (30 s by default), once per device (neigh_rand_reach_time(),
when the parameters are made or base_reachable_time is set, and again every 300 s in
neigh_periodic_work()); netsim uses the base exactly, so the same scenario gives the same trace.
Compared with the kernel, netsim takes the kernel's own draw instead (`drawn`, read by the lab with
`ip ntable show`), so an entry goes STALE when the kernel's did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

REACHABLE_TIME = 30.0  # base_reachable_time_ms / 1000, without the kernel's random spread
DELAY_FIRST_PROBE = 5.0  # delay_first_probe_time
RETRANS_TIME = 1.0  # retrans_time_ms / 1000: the gap between probes
MCAST_SOLICIT = 3  # mcast_solicit: broadcast requests for an unknown address before FAILED
UCAST_SOLICIT = 3  # ucast_solicit: unicast probes of a known address before FAILED
LOCKTIME = 1.0  # locktime: a different answer within this time of the last change is ignored
MIN_TIMER = 0.01  # HZ/100: neigh_timer_handler() never arms its timer sooner than this

VALID = ("REACHABLE", "STALE", "DELAY", "PROBE")  # NUD_VALID without PERMANENT and NOARP
IN_TIMER = ("INCOMPLETE", "REACHABLE", "DELAY", "PROBE")  # NUD_IN_TIMER


class Clock(Protocol):
    """What the neighbour layer needs of the world: the time, and a timer."""

    now: float

    def schedule(self, delay: float, callback: Callable[[], bool | None], name: str = "a timer") -> None: ...

    def refill(self, at: float, what: str) -> None: ...


class NeighbourOps(Protocol):
    """The protocol under the table (struct neigh_ops; ARP for IPv4)."""

    def solicit(self, entry: Neighbour) -> None:
        """Send one probe: broadcast while INCOMPLETE, unicast to the known MAC while PROBE."""

    def output(self, entry: Neighbour, parked: list[Parked]) -> None:
        """Send the packets that waited for the answer (neigh_update_process_arp_queue())."""

    def error_report(self, entry: Neighbour, parked: list[Parked]) -> None:
        """The waiting packets' senders hear "unreachable" (neigh_invalidate())."""

    def constructor(self, entry: Neighbour) -> None:
        """Set up a new entry (tbl->constructor): NOARP with a fixed MAC where no asking is needed."""


@dataclass
class Parked:
    """A packet waiting in arp_queue: how to frame it once the MAC is known."""

    dev: str
    frame_for: Callable[[str], object]
    packet: object = None


@dataclass(eq=False)
class Neighbour:
    ip: str
    dev: str
    mac: str | None
    state: str  # NONE | INCOMPLETE | REACHABLE | STALE | DELAY | PROBE | FAILED | NOARP
    confirmed: float = 0.0  # when reachability was last confirmed
    used: float = 0.0  # when the entry was last used to send
    updated: float = 0.0  # when its state or MAC last changed (the locktime window starts here)
    probes: int = 0
    parked: list[Parked] = field(default_factory=list)
    timer: int = 0  # generation of the one pending timer; bumping it cancels that timer


class NeighbourTable:
    def __init__(self, reachable_time: float = REACHABLE_TIME, owner: str = "") -> None:
        self.owner = owner  # whose table, to name its timers
        # Keyed by (address, device), as neigh_lookup() keys the kernel's table: a host with two
        # legs on one network holds one entry per leg, and each leg's link state is its own.
        self.entries: dict[tuple[str, str], Neighbour] = {}
        self.reachable_time = reachable_time  # base_reachable_time
        # The kernel's random REACHABLE lifetime per device (parms->reachable_time), when known.
        self.drawn: dict[str, float] = {}
        # base_reachable_time set on one device while the host runs (a reachable_time step).
        self.base: dict[str, float] = {}
        self.clock: Clock | None = None
        self.ops: NeighbourOps | None = None

    def attach(self, clock: Clock, ops: NeighbourOps) -> None:
        self.clock, self.ops = clock, ops

    @property
    def now(self) -> float:
        assert self.clock is not None
        return self.clock.now

    def reachable(self, dev: str) -> float:
        """How long an entry on `dev` stays REACHABLE: the kernel's draw when known, else the base.
        Read when a timer is armed and again when it fires (neigh_timer_handler() compares with
        parms->reachable_time as it is then), so a change reaches entries at their next timer."""
        return self.drawn.get(dev, self.base.get(dev, self.reachable_time))

    def get(self, ip: str, dev: str | None = None) -> Neighbour | None:
        if dev is not None:
            return self.entries.get((ip, dev))
        return next((e for (addr, _), e in self.entries.items() if addr == ip), None)

    def lookup(self, ip: str, dev: str) -> Neighbour:
        """__neigh_lookup(..., creat=1): the entry, created in state NONE when missing."""
        entry = self.get(ip, dev)
        if entry is None:
            now = self.now
            # neigh_alloc(): never confirmed (two base reachable times ago), used now
            entry = Neighbour(ip, dev, None, "NONE", confirmed=now - 2 * self.reachable_time, used=now, updated=now)
            if self.ops is not None:
                self.ops.constructor(entry)  # ___neigh_create() calls tbl->constructor (arp_constructor())
            self.entries[(ip, dev)] = entry
        return entry

    # --- timers ------------------------------------------------------------------------

    def _add_timer(self, entry: Neighbour, when: float) -> None:
        # neigh_add_timer() also moves `used` up to `confirmed`: an entry just confirmed counts as
        # used then, so a short reachable time (<= delay_first_probe_time) ends in DELAY, not STALE.
        entry.used = max(entry.used, entry.confirmed)
        self._arm(entry, when)

    def _arm(self, entry: Neighbour, when: float) -> None:
        assert self.clock is not None
        entry.timer += 1
        generation = entry.timer
        self.clock.schedule(
            max(0.0, when - self.now),
            lambda: self._timer_handler(entry, generation),
            f"{self.owner}'s neighbour {entry.ip} on {entry.dev}, {entry.state} "
            "(neigh_timer_handler(), net/core/neighbour.c)",
        )

    @staticmethod
    def _del_timer(entry: Neighbour) -> None:
        entry.timer += 1

    def _max_probes(self, entry: Neighbour) -> int:
        # neigh_max_probes(): ucast + app (0) + mcast_reprobes (0) in PROBE, mcast_probes otherwise
        return UCAST_SOLICIT + (0 if entry.state == "PROBE" else MCAST_SOLICIT)

    def _timer_handler(self, entry: Neighbour, generation: int) -> bool:
        """neigh_timer_handler(); False when the timer was cancelled (del_timer()) meanwhile."""
        current = self.entries.get((entry.ip, entry.dev)) is entry
        if generation != entry.timer or not current or entry.state not in IN_TIMER:
            return False
        now = self.now
        later = now + RETRANS_TIME
        if entry.state == "REACHABLE":
            if now <= entry.confirmed + self.reachable(entry.dev):
                later = entry.confirmed + self.reachable(entry.dev)  # confirmed meanwhile: still alive
            elif now <= entry.used + DELAY_FIRST_PROBE:
                # used lately (through neigh_event_send(), not the cached header: output()), or a
                # reachable time within delay_first_probe_time: check before trusting it again
                entry.state, entry.updated = "DELAY", now
                later = now + DELAY_FIRST_PROBE
                # time_before_eq(now, used + delay_probe_time): the wheel firing this timer late, past
                # that moment, finds the entry unused and makes it STALE (the comparison's timer-branch).
                assert self.clock is not None
                self.clock.refill(
                    entry.used + DELAY_FIRST_PROBE, f"{self.owner}'s entry for {entry.ip} had gone unused for 5 s"
                )
            else:
                entry.state, entry.updated = "STALE", now  # not used: no timer until someone uses it
        elif entry.state == "DELAY":
            # The kernel's wheel fires this timer at least a jiffy after it was due (calc_index(),
            # kernel/time/timer.c, rounds the expiry up to the next bucket); netsim fires it on
            # time, so the kernel's time_before_eq(now, confirmed + delay_first_probe_time) is a
            # strict "<" here: a confirmation in the very jiffy the DELAY began (the SYN-ACK to the
            # SYN that used a STALE entry) is already too old, and the entry is probed
            # (tests/lab_scenarios/stale-use-confirmed-at-once.yaml).
            if now < entry.confirmed + DELAY_FIRST_PROBE:
                entry.state, entry.updated = "REACHABLE", now  # an upper layer confirmed it meanwhile
                later = entry.confirmed + self.reachable(entry.dev)
                # The wheel may fire this timer up to an eighth of its 5 s late (a 256 ms bucket at HZ
                # 250): past confirmed + delay_probe_time it finds the confirmation too old and probes
                # (one confirmation soon after the DELAY began, sshd's banner: most runs probe).
                assert self.clock is not None
                self.clock.refill(
                    entry.confirmed + DELAY_FIRST_PROBE,
                    f"{self.owner}'s confirmation of its entry for {entry.ip} had grown 5 s old",
                )
            else:
                entry.state, entry.updated, entry.probes = "PROBE", now, 0
        if entry.state in ("INCOMPLETE", "PROBE") and entry.probes >= self._max_probes(entry):
            entry.state = "FAILED"
            self._invalidate(entry)
            return True
        if entry.state in IN_TIMER:
            self._arm(entry, max(later, now + MIN_TIMER))
        if entry.state in ("INCOMPLETE", "PROBE"):
            self._probe(entry)
        return True

    def _probe(self, entry: Neighbour) -> None:
        assert self.ops is not None
        self.ops.solicit(entry)
        entry.probes += 1

    def _invalidate(self, entry: Neighbour) -> None:
        """neigh_invalidate(): every packet that waited is reported unreachable, then dropped."""
        assert self.ops is not None
        entry.updated = self.now
        parked, entry.parked = entry.parked, []
        self.ops.error_report(entry, parked)

    # --- using an entry ----------------------------------------------------------------

    def output(self, entry: Neighbour, parked: Parked) -> bool:
        """neigh_output() (include/net/neighbour.h), what a packet does: a REACHABLE entry sends it
        with the cached header (neigh_hh_output(), or neigh_connected_output() before the header is
        cached) and does not mark the entry used; only the other states go through
        neigh_resolve_output() and neigh_event_send(), which do. So packets sent while REACHABLE do
        not keep an entry out of STALE: when its timer finds the confirmation too old, it goes DELAY
        only if it was used, or confirmed (neigh_add_timer()), within delay_first_probe_time.

        Returns True when the packet had to wait (INCOMPLETE), False when it may go now."""
        if entry.state in ("REACHABLE", "NOARP"):
            return False
        return self.event_send(entry, parked)

    def event_send(self, entry: Neighbour, parked: Parked | None = None) -> bool:
        """neigh_event_send(): mark the entry used; start resolving it if needed. A packet reaches it
        through output(); `ip neigh ... use` (NTF_USE, the lab's `arp` step) calls it directly.

        Returns True when the packet had to wait (INCOMPLETE), False when it may go now.
        """
        now = self.now
        entry.used = now
        if entry.state in ("REACHABLE", "NOARP", "DELAY", "PROBE"):  # NUD_CONNECTED | NUD_DELAY | NUD_PROBE
            return False
        if entry.state not in ("STALE", "INCOMPLETE"):  # NONE or FAILED: ask again from scratch
            entry.probes = UCAST_SOLICIT  # so arp_solicit() broadcasts (probes - ucast >= 0)
            self._del_timer(entry)
            entry.state, entry.updated = "INCOMPLETE", now
            self._add_timer(entry, now + RETRANS_TIME)
            if parked is not None:
                entry.parked.append(parked)
            self._probe(entry)  # immediate_probe
            return True
        if entry.state == "STALE":
            # A stale entry may be used at once, but is checked delay_first_probe_time later.
            self._del_timer(entry)
            entry.state, entry.updated = "DELAY", now
            self._add_timer(entry, now + DELAY_FIRST_PROBE)
            return False
        if parked is not None:
            entry.parked.append(parked)  # INCOMPLETE: wait in arp_queue
        return True

    def confirm(self, ip: str, dev: str | None = None) -> None:
        """neigh_confirm() from sock_confirm_neigh(): TCP saw the peer answer. Only `confirmed`
        moves; the state changes at the entry's next timer (DELAY becomes REACHABLE, no probe)."""
        entry = self.get(ip, dev)
        if entry is not None:
            self.confirm_entry(entry)

    def confirm_entry(self, entry: Neighbour) -> None:
        """neigh_confirm() (include/net/neighbour.h): `confirmed` moves to now, nothing else."""
        entry.confirmed = self.now

    # --- what ARP teaches --------------------------------------------------------------

    def update(self, entry: Neighbour, mac: str, new: str, *, override: bool) -> bool:
        """neigh_update() with a link-layer address; returns whether anything changed.

        `new` is REACHABLE or STALE, the two states arp_process() gives (net/ipv4/arp.c); of
        __neigh_update()'s branches for the others (a PROBE's count reset, a timer due at once)
        netsim keeps none."""
        assert new in ("REACHABLE", "STALE"), new
        old, now = entry.state, self.now
        if old == "NOARP":
            # __neigh_update(): without NEIGH_UPDATE_F_ADMIN an entry in NUD_NOARP (or PERMANENT) is
            # left as it is, so no ARP packet can move a broadcast or multicast address to a MAC.
            return False
        if new == "REACHABLE":
            entry.confirmed = now
        if old in VALID:
            if mac != entry.mac and not override:
                return False  # a different answer inside locktime: the first one stands
            if mac == entry.mac and new == "STALE":
                new = old  # same address, still valid: keep the better state
        changed = new != old or mac != entry.mac
        if changed:
            entry.updated = now
        if new != old:
            self._del_timer(entry)
            entry.state = new  # before the timer, which is named after the state it was armed in
            if new == "REACHABLE":  # in NUD_IN_TIMER; STALE is not
                self._add_timer(entry, now + self.reachable(entry.dev))
        if mac != entry.mac:
            entry.mac = mac
            if new != "REACHABLE":
                entry.confirmed = now - 2 * self.reachable_time
        if new != old and old not in VALID:
            assert self.ops is not None
            parked, entry.parked = entry.parked, []
            self.ops.output(entry, parked)
        return changed

    # --- links going away ----------------------------------------------------------------

    def invalidate(self, ip: str, dev: str) -> bool:
        """arp_invalidate(dev, ip, false) (net/ipv4/arp.c): an entry that is not NUD_VALID (NOARP is)
        goes to FAILED, its waiting packets reported (__neigh_update() -> neigh_invalidate() from
        INCOMPLETE or PROBE), and is removed (neigh_remove_one()); a valid one stays. Whether it went."""
        entry = self.get(ip, dev)
        if entry is None or entry.state in VALID or entry.state == "NOARP":
            return False
        self._del_timer(entry)
        if entry.state == "INCOMPLETE":
            self._invalidate(entry)
        self.entries.pop((ip, dev), None)
        return True

    def rename_dev(self, old: str, new: str) -> None:
        """dev_change_name(): the device's neigh_parms (its reachable times) and any entry on it are
        the device's (the kernel's table holds the device, not its name), so they follow it."""
        for per_dev in (self.drawn, self.base):
            per_dev.pop(new, None)
            if old in per_dev:
                per_dev[new] = per_dev.pop(old)
        for key in [key for key in self.entries if key[1] == old]:
            entry = self.entries.pop(key)
            entry.dev = new
            for parked in entry.parked:
                parked.dev = new
            self.entries[(entry.ip, new)] = entry

    def forget_dev(self, dev: str) -> None:
        """The device is unregistered: neigh_parms_release() (inetdev_destroy()) drops its parms."""
        self.drawn.pop(dev, None)
        self.base.pop(dev, None)

    def flush_dev(self, dev: str) -> list[str]:
        """neigh_flush_dev(): the interface went down or lost carrier; its entries go."""
        gone = [key for key, e in self.entries.items() if e.dev == dev]
        for key in gone:
            entry = self.entries.pop(key)
            self._del_timer(entry)
            entry.parked = []
        return [ip for ip, _ in gone]

    def snapshot(self, now: float) -> dict[str, dict[str, str | None]]:
        """What `ip neigh show` prints, as {ip: {mac, state, dev}}; sorted by address.

        An address held on two devices (a host with two legs on one network) is listed once per
        device, as "IP dev DEV" (trace_key()), so neither entry hides the other.
        """
        # iproute2 hides NUD_NONE, and NUD_NOARP unless asked (`ip neigh show nud all`)
        shown = [e for e in self.entries.values() if e.state not in ("NONE", "NOARP")]
        return {
            trace_key(e.ip, e.dev, shown): {"mac": e.mac if e.state in VALID else None, "state": e.state, "dev": e.dev}
            for e in sorted(shown, key=lambda e: (address_order(e.ip), e.dev))
        }


def address_order(ip: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ip.split("."))


def trace_key(ip: str, dev: str, entries: list) -> str:
    """The trace's key for a neighbour entry: its address, or "IP dev DEV" when the address has
    entries on more than one device. The lab keys `ip neigh` the same way."""
    return f"{ip} dev {dev}" if sum(1 for e in entries if e.ip == ip) > 1 else ip
