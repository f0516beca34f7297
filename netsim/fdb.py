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
        self.entries[mac] = FdbEntry(port, 0.0, local=True)

    def expired(self, entry: FdbEntry, now: float) -> bool:
        # br_fdb.c has_expired(): updated + hold_time <= now
        return not entry.local and entry.updated + self.ageing_time <= now

    def lookup(self, mac: str, now: float) -> FdbEntry | None:
        entry = self.entries.get(mac)
        if entry is None:
            return None
        if self.expired(entry, now):
            del self.entries[mac]  # what the kernel's garbage collector does shortly after
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

    def learned(self, now: float) -> dict[str, str]:
        """The dynamic entries still alive: the 'master' lines of `bridge fdb show`."""
        return {mac: e.port for mac, e in sorted(self.entries.items()) if not e.local and not self.expired(e, now)}
