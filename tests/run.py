"""`make test`: the tests that wait on kernel timers and the tests that compute, side by side.

The lab and try-it tests (the files named on the command line) mostly sleep: post three's lab and
script each wait about 146 s for the kernel's SYN retries. Run among the computing tests on one
worker per core, they hold the workers while the CPU idles. Here they get a pytest of their own
with many workers (--wait-workers; a sleeping worker costs memory, not CPU), started at the same
time as a pytest for every other test on about one worker per core (--workers). The computing
run's output streams as it goes; the waiting run's is printed when both are done. A waiting test
that failed runs once more then, on a machine the computing tests have left (rerun_on_a_quiet_machine()).
The exit status is the first failure's (0 when both pass), and a one-line summary says how each ended.

When the computing run has ended, the machine is the waiting tests' alone, and more of them can
sleep side by side than beside a site build: with --late-wait-workers N, a second pytest of the same
waiting tests starts then on N more workers. The two share a directory where each test is claimed as
it is about to run (tests/waiting_claims.py), so each runs once, in whichever run reached it first,
and the other reports it skipped. The waiting tests end when both runs have; a failure in either is
run once more, as below.

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

from waiting_claims import CLAIMS_ENV

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
    parser.add_argument(
        "--late-wait-workers",
        type=int,
        default=0,
        help="more workers for the waiting tests once the computing run has ended (a second pytest of them)",
    )
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
    # The late run (the same tests on more workers, from when the computing run ends; each test runs
    # in whichever of the two reaches it first, tests/waiting_claims.py) keeps another.
    cache = Path(tempfile.mkdtemp(prefix="waiting-cache-"))
    late_cache = Path(tempfile.mkdtemp(prefix="waiting-cache-late-"))
    selected = [*args.waiting]
    computing_cmd = [*pytest, "-n", str(args.workers), "--maxschedchunk=1", *args.computing]
    if args.waiting_marker:  # the two runs split the same tests by the marker: each test runs once
        selected += ["-m", args.waiting_marker, *args.computing]
        computing_cmd += ["-m", f"not ({args.waiting_marker})"]
    computing_cmd += [f"--ignore={name}" for name in args.waiting]

    def waiting_run(cache: Path, workers: int) -> list[str]:
        return [*pytest, "-o", f"cache_dir={cache}", "-n", str(workers), "--maxschedchunk=1", *selected]

    rerun_cmd = [*waiting_run(cache, args.wait_workers), "--last-failed", "--last-failed-no-failures=none"]
    # Each run ends with its slowest tests, so a log of `make test` (CI's among them) says where its
    # time went: the waiting run sets the pace, and its longest test bounds it.
    slowest = ["--durations=12", "--durations-min=5"]
    computing_cmd += slowest
    waiting_cmd = [*waiting_run(cache, args.wait_workers), *slowest]
    late_cmd = [*waiting_run(late_cache, args.late_wait_workers), *slowest]
    claims = Path(tempfile.mkdtemp(prefix="waiting-claims-"))
    waiting_env = {**os.environ, CLAIMS_ENV: str(claims)} if args.late_wait_workers > 0 else None

    log = tempfile.NamedTemporaryFile("w+", prefix="waiting-tests-", suffix=".log", delete=False)  # noqa: SIM115
    late_log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read at the end
    started = time.monotonic()
    machine_before = machine_cpu()
    waiting = subprocess.Popen(waiting_cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=waiting_env)
    late: subprocess.Popen[bytes] | None = None
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
    children = [waiting, computing, *([installing] if installing else [])]

    def forward(_signum: int, _frame: object) -> None:
        """A CI timeout's SIGTERM stops both runs as Ctrl-C does: pytest-xdist ends its workers on
        SIGINT (on SIGTERM its main process dies and leaves them running)."""
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)

    stopping = False  # after a Ctrl-C or a SIGTERM no late run starts
    late_started = 0.0
    signal.signal(signal.SIGTERM, forward)
    ended: dict[str, tuple[int, float, float]] = {}  # exit code, seconds since the start, CPU seconds
    while not {"waiting", "computing"} <= ended.keys() or (late is not None and "late" not in ended):
        try:
            for name, child in (("waiting", waiting), ("computing", computing), ("late", late)):
                if child is not None and name not in ended and (done := reaped(child)) is not None:
                    ended[name] = (done[0], time.monotonic() - started, done[1])
            if waiting_env and late is None and not stopping and "computing" in ended and "waiting" not in ended:
                print(
                    f"\n===== the computing tests are done; {args.late_wait_workers} more workers take the "
                    "waiting tests not yet started =====",
                    flush=True,
                )
                late = subprocess.Popen(late_cmd, cwd=ROOT, stdout=late_log, stderr=subprocess.STDOUT, env=waiting_env)
                late_started = time.monotonic() - started
                children.append(late)
            time.sleep(0.2)
        except KeyboardInterrupt:  # Ctrl-C reached the pytests too (one process group); let them stop
            stopping = True
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
    if late is not None:
        late_log.seek(0)
        print(
            f"\n===== the same, on {args.late_wait_workers} more workers from {late_started:.0f} s (each test "
            "ran in one of the two runs; the other skipped it) =====",
            flush=True,
        )
        sys.stdout.write(late_log.read())
    late_log.close()
    if late is not None:  # the waiting tests ended when both of their runs had
        code = next((c for c in (ended["waiting"][0], ended["late"][0]) if c != 0), 0)
        both = (ended["waiting"], ended["late"])
        ended["waiting"] = (code, max(run[1] for run in both), sum(run[2] for run in both))
    for name in ("computing", "waiting"):
        code, seconds, cpu = ended[name]
        print(f"{name} tests: {'passed' if code == 0 else f'exit {code}'} after {seconds:.0f} s ({cpu:,.0f} CPU s)")
    # What the machine had to do: however the tests are spread, the run takes at least this long. The
    # runs' own count misses what they start and never wait for (Chromium's renderers); the machine's
    # counters (/proc/stat) miss nothing, but hold whatever else ran beside.
    cpu = ended["computing"][2] + ended["waiting"][2]
    cores = os.cpu_count() or 1
    floor = cpu / cores
    print(f"both: {cpu:,.0f} CPU s counted, on {cores} core(s): at least {floor:,.0f} s of wall time however spread")
    if machine_before is not None and (after := machine_cpu()) is not None:
        busy, whole = after[0] - machine_before[0], after[1] - machine_before[1]
        # Split as /proc/stat splits it, so that what the runs did not count can be told apart:
        # processes' own work (user), the kernel's for them or its threads (system), interrupts
        # (the softirqs that carry the labs' packets) and what the hypervisor took (steal).
        split = ", ".join(f"{name} {after[2][name] - machine_before[2][name]:,.0f}" for name in after[2])
        print(
            f"the machine: {busy:,.0f} of its {whole:,.0f} CPU s busy during the run "
            f"({busy / max(whole, 1e-9) * cores:.2f} of {cores} core(s) on average; {split})"
        )
    codes = [ended["computing"][0], ended["waiting"][0]]
    # The late run's failures join the first run's, so that one rerun takes them all (--last-failed).
    failed = sorted({*failed_in(cache), *failed_in(late_cache)})
    if ended["waiting"][0] != 0 and failed:
        write_failed(cache, failed)
        codes[1] = rerun_on_a_quiet_machine(rerun_cmd, failed)
    for directory in (cache, late_cache, claims):
        shutil.rmtree(directory, ignore_errors=True)
    return next((code for code in codes if code != 0), 0)


def machine_cpu() -> tuple[float, float, dict[str, float]] | None:
    """The machine's busy and total CPU seconds since boot, all cores (/proc/stat's cpu line: idle and
    iowait are not busy), and the busy seconds by kind (user and nice, system, irq and softirq,
    steal); None where there is no /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    fields = (fields + [0] * 8)[:8]  # user nice system idle iowait irq softirq steal (proc(5))
    user, nice, system, idle, iowait, irq, softirq, steal = (v / tick for v in fields)
    parts = {"user": user + nice, "system": system, "interrupts": irq + softirq, "stolen": steal}
    return sum(parts.values()), sum(parts.values()) + idle + iowait, parts


def reaped(child: subprocess.Popen[bytes]) -> tuple[int, float] | None:
    """A child's exit code and CPU seconds (user and system, with every descendant it waited for: the
    xdist workers and what they ran) once it has ended; None while it runs (os.wait4())."""
    pid, status, usage = os.wait4(child.pid, os.WNOHANG)
    if pid == 0:
        return None
    child.returncode = os.waitstatus_to_exitcode(status)  # Popen's own poll() now answers it
    return child.returncode, usage.ru_utime + usage.ru_stime


def failed_in(cache: Path) -> list[str]:
    """The tests a pytest run with this cache recorded as failed (its last-failed list)."""
    try:
        return sorted(json.loads((cache / "v" / "cache" / "lastfailed").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return []


def write_failed(cache: Path, failed: list[str]) -> None:
    """Make these the last-failed list of a pytest run with this cache (what --last-failed reads)."""
    path = cache / "v" / "cache" / "lastfailed"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict.fromkeys(failed, True), indent=2), encoding="utf-8")


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
