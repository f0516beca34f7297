"""`make reach`: which lines of netsim's mechanisms the kernel's recordings reach.

    make reach                 # the table, module by module
    make reach LINES=1         # and every line no recording reaches, with its text

tests/test_kernel_traces.py replays every recording in tests/kernel_traces (what the real kernel
did in each lab scenario) through netsim and compares. A line of netsim that no replay runs is a
line nothing holds to the kernel: the unit tests may pin it, but only to what someone thought the
kernel does. This runs that one test file under coverage.py and lists, for each module that models
a mechanism (not the renderers, the pages or the scenario reader, whose refusals the kernel never
records), its statements, how many the recordings reach, and with LINES=1 the ones they do not.

A line listed here is where a new lab scenario is worth writing (tests/lab_scenarios, recorded with
tests/record_kernel_traces.py): on 1 December the list led to six, and one of them found netsim
asking DNS for names such as "1.2.3.4.5", which glibc answers "not found" without a question.
Some lines cannot be reached by any scenario (a defensive branch, a refusal the scenario reader
makes first); they stay listed, and the number is a measure, not a target.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "build" / "reach" / "coverage"
# The modules that model what the kernel (or the C library) does, as opposed to drawing or reading it.
MECHANISMS = [
    "addresses", "arp", "bridge", "conntrack", "dns", "fdb", "forwarding", "frames", "icmp", "ipv4",
    "neighbour", "netfilter", "netns", "resolver", "routing", "simulation", "sshforward", "tcp",
    "timerwheel", "udp",
]  # fmt: skip


def measure() -> None:
    DATA.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "coverage", "run", f"--data-file={DATA}", "--source=netsim"]
    argv += ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests/test_kernel_traces.py"]
    print("reach: replaying every kernel recording under coverage.py (about half a minute)", flush=True)
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"reach: tests/test_kernel_traces.py failed, so the figure would mislead:\n{done.stdout[-3000:]}")


def report(show_lines: bool) -> None:
    import coverage

    cov = coverage.Coverage(data_file=str(DATA))
    cov.load()
    total = reached = 0
    print(f"{'module':<22}{'statements':>11}{'reached':>9}{'not':>6}  reached %")
    for name in MECHANISMS:
        path = ROOT / "netsim" / f"{name}.py"
        _, statements, _, missing, _ = cov.analysis2(str(path))
        held = len(statements) - len(missing)
        total, reached = total + len(statements), reached + held
        share = 100 * held / len(statements) if statements else 100.0
        print(f"netsim/{name + '.py':<15}{len(statements):>11}{held:>9}{len(missing):>6}  {share:.1f}%")
        if show_lines and missing:
            text = path.read_text(encoding="utf-8").splitlines()
            for n in missing:
                print(f"    {n:>5}  {text[n - 1].strip()[:100]}")
    print(f"{'all':<22}{total:>11}{reached:>9}{total - reached:>6}  {100 * reached / total:.1f}%")


def main() -> None:
    measure()
    report(os.environ.get("LINES", "") not in ("", "0"))


if __name__ == "__main__":
    main()
