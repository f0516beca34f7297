"""A pytest plugin for benchmarks/tests.py: the CPU seconds each test costs, wherever they are spent.

A test's CPU is its process's own, plus that of the processes it started and waited for, plus the
growth of the processes it left running (tests/prerun.py's build server, which forks each site
build and waits for it). Read from /proc, so a build counts for the test that asked for it, and a
server that ends during a test counts only for what it did in that test. CPU seconds, not wall
seconds: the machine is shared, and a test's wall time carries everyone else's load.

Each test appends one JSON line to $CPUCLOCK_OUT: its node id, the xdist worker, its CPU seconds,
and its start and end (wall clock, to see how the workers were kept busy). At the end each worker
stops its build server (so the server's CPU reaches the worker's rusage) and appends the CPU of
any child still running then (it ends after the worker, unseen by any rusage).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Iterator

import pytest

TICK = os.sysconf("SC_CLK_TCK")


def _child_pids(me: int) -> set[int] | None:
    """This process's children, from each of its threads' /proc/PID/task/TID/children (Linux 3.5+
    with CONFIG_PROC_CHILDREN); None where the kernel has no such file."""
    pids: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{me}/task/{tid}/children") as f:
                pids.update(int(pid) for pid in f.read().split())
        except FileNotFoundError:
            if tid == str(me):
                return None  # no children files on this kernel
        except OSError:
            continue  # the thread ended meanwhile
    return pids


def _alive_children() -> dict[int, float]:
    """CPU seconds of each running child of this process, with the children it has waited for.

    Read twice a test: from the children files where the kernel has them, else by scanning every
    process in /proc (~2 ms on a quiet machine, which over ~2,000 tests added some 8 CPU s, more
    with more processes running, to what `make bench-tests` reported for `make check`)."""
    me = os.getpid()
    pids = _child_pids(me)
    candidates = [str(pid) for pid in pids] if pids is not None else [e.name for e in os.scandir("/proc")]
    out: dict[int, float] = {}
    for name in candidates:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == me:  # field 4, the parent
            out[int(name)] = sum(int(x) for x in fields[11:15]) / TICK  # utime stime cutime cstime
    return out


def _clock() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime + sum(_alive_children().values())


def _write(record: dict[str, object]) -> None:
    out = os.environ.get("CPUCLOCK_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    cpu, start = _clock(), time.time()
    yield
    _write(
        {
            "test": item.nodeid,
            "worker": os.environ.get("PYTEST_XDIST_WORKER", ""),
            "cpu": round(_clock() - cpu, 3),
            "start": start,
            "end": time.time(),
        }
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Stop the build server now, and wait for it, so that its CPU reaches this process's rusage
    # (and so its parent's) whether or not this process runs its atexit handlers.
    prerun = sys.modules.get("prerun")
    if prerun is not None:
        prerun._stop()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _write({"worker_total": os.environ["PYTEST_XDIST_WORKER"], "left_running": sum(_alive_children().values())})
