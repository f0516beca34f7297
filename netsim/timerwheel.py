"""How late a kernel timer may fire: the timer wheel's granularity (kernel/time/timer.c).

The neighbour timers (neigh_add_timer()), TCP's retransmission timer and the bridge's ageing work
are timer-wheel timers. The wheel keeps a timer in a bucket of its level: level 0 holds timers due
within 63 jiffies, one jiffy per bucket; each level above covers 8 times the range with 8 times
coarser buckets (LVL_CLK_SHIFT 3, LVL_BITS 6). calc_index() rounds the expiry *up* to the next
bucket of the level ("the timer wheel has to guarantee that a timer does not fire early"), so a
timer armed `delay` ahead fires between `delay` and `delay` plus one bucket of its level, and two
timers in one bucket fire in the same tick, in an order that is the wheel's (and, on two CPUs, the
CPUs'), not their expiry's. netsim fires every timer exactly on time; the comparison with the
kernel allows this lateness, and says so, where it decides what the kernel shows.

Checked against kernel/time/timer.c (torvalds/linux): `#define LVL_CLK_SHIFT 3`, `#define LVL_BITS 6`
(LVL_SIZE 64), `LVL_START(n) ((LVL_SIZE - 1) << (((n) - 1) * LVL_CLK_SHIFT))`, LVL_DEPTH 9 when
HZ > 100 and 8 otherwise; calc_wheel_index() picks the first level whose LVL_START the delta is
below, and calc_index() sets `expires = (expires >> LVL_SHIFT(lvl)) + 1; *bucket_expiry = expires
<< LVL_SHIFT(lvl)`: a timer fires one to LVL_GRAN(lvl) jiffies after it was due, never on time
(which is why netsim's DELAY check is strict: netsim.neighbour). The table in that file's header
(HZ 250: level 1 from 256 ms in 32 ms steps, level 2 from ~2 s in 256 ms steps) is what
granularity() gives.

The lab reads the kernel's HZ (CONFIG_HZ, from /proc/config.gz or /boot/config-RELEASE); when it
is not known, the slack is the largest over the HZ values kernels are built with.
"""

from __future__ import annotations

LVL_CLK_SHIFT = 3  # each level is 8 times coarser than the one below
LVL_SIZE = 64  # buckets per level (LVL_BITS = 6)
LEVELS = 9  # LVL_DEPTH for HZ > 100 (8 for HZ = 100: level 8 starts past 15 days there, far beyond any timer here)
HZ_CHOICES = (100, 250, 300, 1000)  # CONFIG_HZ_100 / _250 / _300 / _1000


def tick_nsec(hz: int) -> int:
    """TICK_NSEC (include/vdso/jiffies.h): one jiffy in nanoseconds, rounded; 3,333,333 at HZ 300, so
    the ticks there are not whole multiples of 1/HZ s."""
    return (1_000_000_000 + hz // 2) // hz


def level_start(n: int) -> int:
    """LVL_START(n): the first delay, in jiffies, that level n holds."""
    return (LVL_SIZE - 1) << ((n - 1) * LVL_CLK_SHIFT)


def granularity(delay_jiffies: int) -> int:
    """LVL_GRAN of the level calc_wheel_index() puts a timer `delay_jiffies` ahead into."""
    level = 0
    while level + 1 < LEVELS and delay_jiffies >= level_start(level + 1):
        level += 1
    return 1 << (level * LVL_CLK_SHIFT)


def slack(delay: float, hz: int | None = None) -> float:
    """Seconds a timer armed `delay` seconds ahead may fire late: one bucket of its level plus the
    jiffy the expiry is rounded up to, at `hz` (or at the HZ that makes it largest)."""
    return max((granularity(round(delay * h)) + 1) / h for h in ((hz,) if hz else HZ_CHOICES))


def kernel_hz(paths: tuple[str, ...] | None = None) -> int | None:
    """The running kernel's CONFIG_HZ, from its build configuration when the machine keeps it (the
    first of `paths` that names it; by default /proc/config.gz, then /boot/config-RELEASE)."""
    import gzip
    import os
    import re

    for path in paths or ("/proc/config.gz", f"/boot/config-{os.uname().release}"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                found = re.search(r"^CONFIG_HZ=(\d+)$", f.read(), re.M)
        except OSError:
            continue
        if found:
            return int(found.group(1))
    return None
