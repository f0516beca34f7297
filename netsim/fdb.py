"""The forwarding database (br_fdb.c): which port each MAC was last seen on, and for how long."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FdbEntry:
    port: str
    updated: float
    local: bool = False  # the bridge's or a port's own MAC: permanent, never moves


class Fdb:
    """MAC -> port, learned from source addresses, expiring `ageing_time` after last seen."""

    def __init__(self, ageing_time: float) -> None:
        self.ageing_time = ageing_time
        self.entries: dict[str, FdbEntry] = {}

    def add_local(self, mac: str, port: str) -> None:
        """fdb_add_local() (net/bridge/br_fdb.c): a local entry for the MAC stays as it is ("it is okay
        to have multiple ports with same address, just use the first one"); a learned one is replaced."""
        entry = self.entries.get(mac)
        if entry is not None and entry.local:
            return
        self.entries[mac] = FdbEntry(port, 0.0, local=True)

    def expired(self, entry: FdbEntry, now: float) -> bool:
        # br_fdb.c has_expired(): updated + hold_time <= now
        return not entry.local and entry.updated + self.ageing_time <= now

    def lookup(self, mac: str, now: float) -> FdbEntry | None:
        entry = self.entries.get(mac)
        if entry is None:
            return None
        if self.expired(entry, now):
            # A simplification, named in the lab's comparison ("fdb-gc"): br_handle_frame_finish()
            # (net/bridge/br_input.c) forwards to whatever br_fdb_find_rcu() finds, with no check of
            # its age; the entry goes only when br_fdb_cleanup() (br_fdb.c) deletes it, a delayed work
            # armed for the earliest expiry that the timer wheel may run late. netsim deletes it here.
            del self.entries[mac]
            return None
        return entry

    def learn(self, mac: str, port: str, now: float) -> str:
        """Record mac -> port; return what happened: 'new', 'moved', 'refreshed' or 'local'."""
        entry = self.lookup(mac, now)
        if entry is not None and entry.local:
            return "local"  # br_fdb_update(): a frame claiming our own MAC never moves it
        if self.ageing_time == 0:
            return "not-learned"  # expires the instant it is written
        if entry is None:
            self.entries[mac] = FdbEntry(port, now)
            return "new"
        moved = entry.port != port
        entry.port, entry.updated = port, now
        return "moved" if moved else "refreshed"

    def set_ageing_time(self, seconds: float, now: float) -> None:
        """`ip link set BR type bridge ageing_time N`: br_set_ageing_time() runs the cleanup at once.

        br_fdb_cleanup() deletes an entry when it expires under the ageing time in force then, so an
        entry already expired stays gone however long the ageing time grows afterwards.
        """
        self.cleanup(now)  # what the garbage collector did while the old time was in force
        self.ageing_time = seconds
        self.cleanup(now)  # mod_delayed_work(..., gc_work, 0): the cleanup under the new time

    def cleanup(self, now: float) -> None:
        """br_fdb_cleanup(): delete every dynamic entry that has expired."""
        for mac in [mac for mac, e in self.entries.items() if self.expired(e, now)]:
            del self.entries[mac]

    def flush_port(self, port: str) -> list[str]:
        """br_fdb_delete_by_port(br, p, 0, 0): a disabled port forgets what it learned (not its own MAC)."""
        gone = [mac for mac, e in self.entries.items() if e.port == port and not e.local]
        for mac in gone:
            del self.entries[mac]
        return gone

    def learned(self, now: float) -> dict[str, str]:
        """The dynamic entries still alive: the 'master' lines of `bridge fdb show`."""
        return {mac: e.port for mac, e in sorted(self.entries.items()) if not e.local and not self.expired(e, now)}
