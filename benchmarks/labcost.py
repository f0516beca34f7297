"""`make bench-lab`: what one lab run costs the machine, this checkout against another commit.

`make test` runs every scenario in the lab (test_lab.py, more than 500), and each run starts many
`ip` and `bridge` processes to configure the kernel and read its tables after every step. This
measures a sample of those runs twice, once from this working tree and once from a clean copy of
REV (a git worktree under build/labcost/), alternating which goes first, in the same run: the
machine's speed drifts by a third within minutes, so only the ratio measured side by side means
anything. For each side it reports the CPU seconds (the lab process, its forked child and every
program they waited for, from wait4()), the wall time, and how many `ip`, `bridge` and other
programs each run started (counted in a second pass under strace, whose own cost is left out of
the CPU figures). Needs root, as the lab does; nothing is a test, and nothing is asserted.

    python benchmarks/labcost.py [--against REV] [--sample N] [--seed S] [SCENARIO.yaml ...]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "labcost"


def say(text: str) -> None:
    print(f"bench-lab: {text}", file=sys.stderr, flush=True)


def checkout(rev: str) -> Path:
    """A clean worktree of `rev` under build/labcost/ (made once, moved to `rev` each time)."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, text=True,
                            capture_output=True, check=True).stdout.strip()  # fmt: skip
    tree = WORK / "base"
    if not (tree / ".git").exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(tree), commit], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
    subprocess.run(["git", "checkout", "-q", "--detach", commit], cwd=tree, check=True)
    return tree


def one_run(side: Path, scenario: Path) -> tuple[float, float, bool]:
    """(CPU s, wall s, agreed) of `python -m netsim lab SCENARIO --compare` run from `side`."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "netsim", "lab", str(scenario), "--compare"], cwd=side,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, time.monotonic() - started, out.strip().endswith("agree")


def programs(side: Path, scenario: Path) -> dict[str, int] | None:
    """How many of each program one run started (successful execve() calls, under strace); None if
    the run did not end in 300 s (strace -f waits for every process it follows: a program the lab
    left behind, as an sshd session was before 2026-12-02, keeps it waiting)."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", log.name,
                                 sys.executable, "-m", "netsim", "lab", str(scenario), "--compare"],
                                cwd=side, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # strace and the lab it follows, not strace alone
            proc.wait()
            return None
        counts: dict[str, int] = {}
        for line in log:
            found = re.search(r'execve\("([^"]+)".*\) = 0$', line)
            if found:
                name = Path(found.group(1)).name
                counts[name] = counts.get(name, 0) + 1
        return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default="HEAD", help="the commit to compare with (default: HEAD)")
    parser.add_argument("--sample", type=int, default=24, help="how many scenarios (default: 24)")
    parser.add_argument("--seed", type=int, default=1, help="which sample (default: 1)")
    parser.add_argument("scenarios", nargs="*", type=Path, help="these scenarios instead of a sample")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench-lab: the lab needs root (it makes network namespaces); run it as root", file=sys.stderr)
        return 3
    found = sorted(ROOT.glob("diagrams/*.yaml")) + sorted(ROOT.glob("tests/lab_scenarios/*.yaml"))
    every = [path.relative_to(ROOT) for path in found]
    if args.scenarios:
        sample = [p.resolve().relative_to(ROOT) for p in args.scenarios]
    else:
        sample = sorted(random.Random(args.seed).sample(every, min(args.sample, len(every))))
    base = checkout(args.against)
    sides = {"this tree": ROOT, args.against: base}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    wall: dict[str, list[float]] = {name: [] for name in sides}
    disagreed: dict[str, list[str]] = {name: [] for name in sides}
    for n, scenario in enumerate(sample, 1):
        order = list(sides.items()) if n % 2 else list(reversed(sides.items()))  # neither always first
        for name, side in order:
            spent, took, agreed = one_run(side, scenario)
            cpu[name].append(spent)
            wall[name].append(took)
            if not agreed:
                disagreed[name].append(scenario.stem)
        say(f"[{n}/{len(sample)}] {scenario.stem}: " + ", ".join(f"{k} {cpu[k][-1]:.2f} CPU s" for k in sides))
    counts: dict[str, dict[str, int]] = {name: {} for name in sides}
    counted = 0  # scenarios whose programs were counted on both sides
    if shutil.which("strace"):
        for n, scenario in enumerate(sample, 1):
            say(f"counting programs [{n}/{len(sample)}] {scenario.stem}")
            found = {name: programs(side, scenario) for name, side in sides.items()}
            if any(found[name] is None for name in sides):
                say(f"{scenario.stem}: a run under strace did not end in 300 s; its programs are not counted")
                continue
            counted += 1
            for name in sides:
                for program, k in (found[name] or {}).items():
                    counts[name][program] = counts[name].get(program, 0) + k
    mine, theirs = sides
    print(f"{len(sample)} lab runs a side, alternating (this tree against {args.against})")
    print(f"{'':28} {mine:>12} {theirs:>12}  ratio")
    rows = [
        ("CPU s, in all", sum(cpu[mine]), sum(cpu[theirs])),
        ("CPU s, median run", statistics.median(cpu[mine]), statistics.median(cpu[theirs])),
        ("wall s, in all", sum(wall[mine]), sum(wall[theirs])),
    ]
    if counted:
        for program in ("ip", "bridge"):
            rows.append((f"`{program}` processes a run", counts[mine].get(program, 0) / counted,
                         counts[theirs].get(program, 0) / counted))  # fmt: skip
        rows.append(("programs a run, in all", sum(counts[mine].values()) / counted,
                     sum(counts[theirs].values()) / counted))  # fmt: skip
    else:
        print("(strace is not installed, or no run under it ended: the programs each run started are not counted)")
    for label, a, b in rows:
        print(f"{label:28} {a:12.2f} {b:12.2f}  {a / b if b else float('nan'):.3f}")
    for name in sides:
        if disagreed[name]:
            print(f"{name}: disagreed with the kernel in {', '.join(disagreed[name])} (timer edges repeat seldom)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
