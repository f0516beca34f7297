"""`make bench-tests`: what `make check`'s tests cost, in CPU seconds, file by file.

Runs the pytest of `make check` (the same selection, workers and --quick; --full leaves --quick
out, as `make test` runs the cases) with benchmarks/cpuclock.py counting each test's CPU seconds,
the site builds it asked tests/prerun.py for included. Prints the files that cost most, the total,
the wall time and the load average before and after (the machine is shared: the wall time carries
everyone's load, the CPU seconds much less), and how long each worker was busy. Writes the same
to build/bench/tests.json. Nothing here is a test; the target the developers' guide sets is
`make check` under 30 s of wall time on two idle cores, which needs at most ~60 CPU seconds.

    python benchmarks/tests.py [--full] [--workers N] [--top N] [pytest arguments...]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench" / "tests.json"


def check_command() -> list[str]:
    """The pytest arguments of `make check`, read from the Makefile (so they cannot drift apart)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^check:.*?\n\t\$\(BIN\)/pytest ([^\n]*)", makefile, re.S | re.M)
    if found is None:
        raise SystemExit("bench: no `$(BIN)/pytest ...` line in the Makefile's check target")
    return shlex.split(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every case, as make test runs them (no --quick)")
    parser.add_argument("--workers", default=str(os.cpu_count() or 2), help="pytest-xdist workers (make check: nproc)")
    parser.add_argument("--top", type=int, default=15, help="how many of the costliest files to list")
    args, extra = parser.parse_known_args(argv)
    pytest_args = [a.replace("$(CHECK_WORKERS)", args.workers) for a in check_command()]
    if args.full:
        pytest_args = [a for a in pytest_args if a != "--quick"]
    with tempfile.TemporaryDirectory(prefix="bench-tests-") as tmp:
        log = Path(tmp) / "cpu.jsonl"
        env = {**os.environ, "CPUCLOCK_OUT": str(log), "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
        command = [sys.executable, "-m", "pytest", "-p", "benchmarks.cpuclock", "-q", *pytest_args, *extra]
        print("bench: " + " ".join(command[1:]), file=sys.stderr, flush=True)
        load_before = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started, launched = time.monotonic(), time.time()
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)
        if not log.exists():
            return done.returncode or 1  # pytest stopped before any test (its error is above)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = os.getloadavg()
        records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    tests = [r for r in records if "test" in r]
    # Processes a worker left running (the build servers) end after it, counted by no rusage.
    left = sum(r["left_running"] for r in records if "worker_total" in r)
    total = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime + left
    per_file: collections.Counter[str] = collections.Counter()
    for r in tests:
        per_file[r["test"].split("::")[0]] += r["cpu"]
    in_tests = sum(per_file.values())
    first = min((r["start"] for r in tests), default=0.0)
    workers = {}
    for r in tests:
        w = workers.setdefault(r["worker"] or "main", {"cpu": 0.0, "busy_until": 0.0})
        w["cpu"] += r["cpu"]
        w["busy_until"] = max(w["busy_until"], r["end"] - first)
    print(f"\n{'CPU s':>8}  file ({'--full' if args.full else '--quick'}, {len(tests)} tests)")
    for name, cpu in per_file.most_common(args.top):
        print(f"{cpu:8.1f}  {name}")
    rest = in_tests - sum(cpu for _, cpu in per_file.most_common(args.top))
    print(f"{rest:8.1f}  the other {max(0, len(per_file) - args.top)} files")
    print(f"{in_tests:8.1f}  in the tests; {total - in_tests:.1f} more outside them (start-up, collection)")
    print(f"{total:8.1f}  CPU seconds in all; wall {wall:.1f} s on {args.workers} workers")
    last = max((r["end"] for r in tests), default=first)
    print(
        f"          the first test started {first - launched:.1f} s after launch (start-up, collection),"
        f" the last ended {launched + wall - last:.1f} s before the end; times below from the first test's start"
    )
    for name, w in sorted(workers.items()):
        print(f"          {name}: {w['cpu']:.1f} CPU s, busy until {w['busy_until']:.1f} s")
    print(f"          load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "mode": "full" if args.full else "quick",
                "workers": args.workers,
                "exit": done.returncode,
                "cpu_total": round(total, 1),
                "cpu_in_tests": round(in_tests, 1),
                "wall": round(wall, 1),
                "load": [round(load_before[0], 2), round(load_after[0], 2)],
                "files": {name: round(cpu, 2) for name, cpu in per_file.most_common()},
                "workers_busy": workers,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"bench: wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
