"""Simulator scale: frames per second through one bridge, and how the time grows with the work.

Drives `Bridge.receive` (learning, the forwarding decision, flooding, ageing) with a stream of
frames among N hosts, each on its own port. Frames are made on the fly from small pools, so a
million of them never sit in memory at once, and the trace is recorded compactly: one byte for
the decision and two counters per frame in `array`s, not a million objects.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from array import array
from dataclasses import dataclass

from netsim.bridge import Bridge, PortFlags
from netsim.frames import Frame

DECISIONS = {"forward": 0, "flood": 1, "drop": 2, "local": 3}
AGEING = 30.0  # seconds; the clock advances 1 ms a frame, so entries do age out in long runs
TICK = 0.001


@dataclass
class CompactTrace:
    """The per-frame record of a long run: decision code, ingress port index, number of copies."""

    decision: array
    in_port: array
    copies: array

    @classmethod
    def empty(cls) -> CompactTrace:
        return cls(array("B"), array("I"), array("I"))

    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (self.decision, self.in_port, self.copies))


def _bridge(hosts: int) -> tuple[Bridge, list[str], list[str]]:
    bridge = Bridge("br0", "02:ff:00:00:00:01", AGEING)
    macs = [
        f"02:00:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}" for i in range(hosts)
    ]
    ports = [f"p{i}" for i in range(hosts)]
    for i, port in enumerate(ports):
        bridge.add_port(port, f"06:00:00:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}", PortFlags())
    return bridge, macs, ports


def run(frames: int, hosts: int, seed: int = 1, record: bool = True) -> tuple[float, CompactTrace]:
    """Seconds to push `frames` frames through a bridge with `hosts` ports, and their trace."""
    rng = random.Random(seed)
    bridge, macs, ports = _bridge(hosts)
    unknown = "02:ee:00:00:00:01"
    # 90% unicast to a host, 5% broadcast, 5% to a MAC nobody has: learning, forwarding, flooding.
    picks = [rng.randrange(hosts) for _ in range(4096)]
    kinds = [macs[rng.randrange(hosts)] for _ in range(4096)]
    for i in range(0, 4096, 20):
        kinds[i] = "ff:ff:ff:ff:ff:ff"
        kinds[i + 1] = unknown
    trace = CompactTrace.empty()
    decision_codes = DECISIONS
    receive = bridge.receive
    now = 0.0
    start = time.perf_counter()
    for n in range(frames):
        src = picks[n & 4095]
        d = receive(Frame(macs[src], kinds[(n * 7) & 4095]), ports[src], now)
        if record:
            trace.decision.append(decision_codes[d.decision])
            trace.in_port.append(src)
            trace.copies.append(len(d.ports))
        now += TICK
    return time.perf_counter() - start, trace


def peak_memory(frames: int, hosts: int) -> int:
    tracemalloc.start()
    run(frames, hosts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def table(sizes: list[int], host_counts: list[int], repeats: int = 3) -> list[dict]:
    rows = []
    for hosts in host_counts:
        previous = None
        for frames in sizes:
            best = min(run(frames, hosts)[0] for _ in range(repeats if frames <= 100_000 else 1))
            rows.append(
                {
                    "hosts": hosts,
                    "frames": frames,
                    "seconds": round(best, 4),
                    "frames_per_second": round(frames / best),
                    "growth_per_tenfold": round(best / previous, 2) if previous else None,
                }
            )
            previous = best
    return rows
