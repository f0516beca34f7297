"""`make test`: the tests that wait on kernel timers and the tests that compute, side by side.

The lab and try-it tests (the files named on the command line) mostly sleep: post three's lab and
script each wait about 146 s for the kernel's SYN retries. Run among the computing tests on one
worker per core, they hold the workers while the CPU idles. Here they get a pytest of their own
with many workers (--wait-workers; a sleeping worker costs memory, not CPU), started at the same
time as a pytest for every other test on about one worker per core (--workers). The computing
run's output streams as it goes; the waiting run's is printed when both are done. A waiting test
that failed runs once more then, on a machine the computing tests have left (rerun_on_a_quiet_machine()).
The exit status is the first failure's (0 when both pass), and a one-line summary says how each ended.

The computing run is niced (--computing-nice) and scheduled SCHED_IDLE: the lab compares how long each step took with a
tolerance of half a second, so when a lab wakes up it must get a core at once, not share it with
a site build; the computing tests take what the sleeping labs leave, which is nearly all of it.

    python tests/run.py --workers 2 --wait-workers 6 tests/test_lab.py tests/test_try_it_yourself.py

or, as `make test` does, by marker: every test marked so, in whatever file, waits (the attack
corpus runs the generated script and the lab too, and a test of the decoder runs curl in a
namespace; in the computing run, niced and SCHED_IDLE, they held a computing worker for 30 to 130
s each at load 15, and four of them hit their two-minute timeout), and every other test computes:

    python tests/run.py --workers 2 --wait-workers 4 --waiting-marker "lab or waits"
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Held while .venv-zensical is installed; tests/conftest.py's zensical_site takes it before its
# `make build-zensical`, so that make finds the venv installed and never installs it twice at once.
ZENSICAL_VENV_LOCK = ROOT / "build" / "zensical-venv.lock"


def install_zensical_venv(preexec: object, log: object) -> subprocess.Popen[bytes] | None:
    """Start `make .venv-zensical/.installed` (a no-op when it is up to date) beside the tests.

    In a clean clone it is a pip install of about a minute, which the first Zensical test did inside a
    computing worker, long after the run began, while the other worker soon waited on the same build.
    Started here it overlaps the first minutes of the run instead. The lock is taken before either
    pytest starts and handed to make, so no test's build can begin before the install ends.
    """
    if shutil.which("make") is None:
        return None  # the Zensical tests skip, as they do without make
    ZENSICAL_VENV_LOCK.parent.mkdir(exist_ok=True)
    fd = os.open(ZENSICAL_VENV_LOCK, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # Not make's jobserver: `make test` starts this script, and its pipe is not passed on.
        env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
        return subprocess.Popen(
            ["make", "--no-print-directory", ".venv-zensical/.installed"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),  # the lock lasts as long as make and pip, which inherit it
            preexec_fn=preexec,  # noqa: PLW1509
        )
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="workers for the computing tests")
    parser.add_argument("--wait-workers", type=int, default=6, help="workers for the waiting tests")
    parser.add_argument("--computing-nice", type=int, default=10, help="niceness added to the computing run")
    parser.add_argument("waiting", nargs="*", help="the test files whose tests wait on kernel timers")
    parser.add_argument(
        "--waiting-marker",
        help="a pytest marker expression: the tests it selects wait (in any file), all the others compute",
    )
    parser.add_argument("--computing", nargs="*", default=[], help="the computing tests (default: all the others)")
    parser.add_argument(
        "--zensical-venv",
        action="store_true",
        help="install .venv-zensical beside the tests from the start (make test; else the first Zensical test does)",
    )
    parser.add_argument("--pytest-args", default="", help="more arguments for both pytest runs, space-separated")
    args = parser.parse_args(argv)
    if bool(args.waiting) == bool(args.waiting_marker):
        parser.error("name the waiting test files or give --waiting-marker, not both")
    for name in args.waiting:
        if not (ROOT / name).is_file():
            parser.error(f"{name}: no such test file")
    extra = args.pytest_args.split()
    pytest = [sys.executable, "-m", "pytest", *extra]
    # --maxschedchunk=1: a worker is handed one test at a time (after two to start), so no test
    # queues behind a two-minute wait; tests/conftest.py puts the longest waits first.
    # The waiting run keeps its own pytest cache: which of its tests failed, for the rerun below.
    cache = Path(tempfile.mkdtemp(prefix="waiting-cache-"))
    waiting_cmd = [*pytest, "-o", f"cache_dir={cache}", "-n", str(args.wait_workers), "--maxschedchunk=1"]
    waiting_cmd += args.waiting
    computing_cmd = [*pytest, "-n", str(args.workers), "--maxschedchunk=1", *args.computing]
    # Each run ends with its slowest tests, so a log of `make test` (CI's among them) says where its
    # time went: the waiting run sets the pace, and its longest test bounds it.
    slowest = ["--durations=12", "--durations-min=5"]
    computing_cmd += slowest
    if args.waiting_marker:  # the two runs split the same tests by the marker: each test runs once
        waiting_cmd += ["-m", args.waiting_marker, *args.computing]
        computing_cmd += ["-m", f"not ({args.waiting_marker})"]
    computing_cmd += [f"--ignore={name}" for name in args.waiting]
    rerun_cmd = [*waiting_cmd, "--last-failed", "--last-failed-no-failures=none"]
    waiting_cmd += slowest

    log = tempfile.NamedTemporaryFile("w+", prefix="waiting-tests-", suffix=".log", delete=False)  # noqa: SIM115
    started = time.monotonic()
    waiting = subprocess.Popen(waiting_cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    nice = args.computing_nice

    def yield_to_the_labs() -> None:
        os.nice(nice)
        # SCHED_IDLE as well: a nice level alone does not hold Chromium, which the browser tests start
        # and which, run as root, raises its own processes' priority (its browser process at nice -8);
        # a child keeps its parent's SCHED_IDLE policy whatever nice level it sets itself.
        if hasattr(os, "sched_setscheduler"):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

    install_log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read at the end
    installing = install_zensical_venv(yield_to_the_labs, install_log) if args.zensical_venv else None
    computing = subprocess.Popen(computing_cmd, cwd=ROOT, preexec_fn=yield_to_the_labs)  # noqa: PLW1509
    children = (waiting, computing, *([installing] if installing else []))

    def forward(_signum: int, _frame: object) -> None:
        """A CI timeout's SIGTERM stops both runs as Ctrl-C does: pytest-xdist ends its workers on
        SIGINT (on SIGTERM its main process dies and leaves them running)."""
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, forward)
    ended: dict[str, tuple[int, float]] = {}
    while len(ended) < 2:
        try:
            for name, child in (("waiting", waiting), ("computing", computing)):
                if name not in ended and child.poll() is not None:
                    ended[name] = (child.returncode, time.monotonic() - started)
            time.sleep(0.2)
        except KeyboardInterrupt:  # Ctrl-C reached both pytests too (one process group); let them stop
            continue

    if installing is not None:
        installing.wait()  # done long before; a failure shows in the Zensical tests, which run make again
        install_log.seek(0)
        if installing.returncode != 0:
            print(f"\n===== installing .venv-zensical failed =====\n{install_log.read()}", flush=True)
    log.seek(0)
    print(f"\n===== the tests that wait on kernel timers: {' '.join(args.waiting)} =====", flush=True)
    sys.stdout.write(log.read())
    log.close()
    os.unlink(log.name)
    for name in ("computing", "waiting"):
        code, seconds = ended[name]
        print(f"{name} tests: {'passed' if code == 0 else f'exit {code}'} after {seconds:.0f} s")
    codes = [ended["computing"][0], ended["waiting"][0]]
    if ended["waiting"][0] != 0 and (failed := failed_in(cache)):
        codes[1] = rerun_on_a_quiet_machine(rerun_cmd, failed)
    shutil.rmtree(cache, ignore_errors=True)
    return next((code for code in codes if code != 0), 0)


def failed_in(cache: Path) -> list[str]:
    """The tests a pytest run with this cache recorded as failed (its last-failed list)."""
    try:
        return sorted(json.loads((cache / "v" / "cache" / "lastfailed").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return []


def rerun_on_a_quiet_machine(rerun_cmd: list[str], failed: list[str]) -> int:
    """Run the waiting tests that failed once more, now that the computing run has ended.

    They compare the kernel's timing with netsim's: beside the computing tests (load 10 and more
    on two cores) the kernel's timers, work queues and softirqs run later than any idle machine
    runs them, and a step may take a side of a timer's edge that netsim's search does not try
    (timer-search, a named simplification). On a machine left to them, such a coincidence does
    not repeat; a mechanism netsim gets wrong fails again, and fails the run. Both reports are
    printed: the first above, the second here.
    """
    print(
        f"\n===== {len(failed)} waiting test(s) failed beside the computing tests; once more, on a "
        "machine they have to themselves =====",
        flush=True,
    )
    for name in failed:
        print(f"  {name}")
    started = time.monotonic()
    code = subprocess.run(rerun_cmd, cwd=ROOT, check=False).returncode
    print(
        f"waiting tests, rerun alone: {'passed' if code == 0 else f'exit {code}'} after "
        f"{time.monotonic() - started:.0f} s",
        flush=True,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
