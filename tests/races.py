"""Which recorded scenarios sit on a race: an outcome that a step's action taking effect a little later would flip.

    python tests/races.py [--delay 0.1] [--jobs N] [FILE.json ...]

The lab times every step and netsim replays the steps at the moments the lab performed them
(lab-clock), so what the kernel did is predicted from when things happened. What the lab cannot
time is a program's own latency inside a step: when ssh wrote its channel open, when sshd forked,
when the lab's own connect() got a core on a loaded machine. A scenario whose outcome turns on a few
milliseconds of that agrees on a quiet machine and disagrees beside `make test`'s computing run, and
a clean-clone CI run then fails on it (stop 41: lifecycle-tunnel-end-moved-away-and-back, a link put
up by an `ip` process as the channel open's 3.0 s resend fell due; the lab now begins such a step
when the process returned, netsim.lab.runner).

For each recording in tests/kernel_traces (or the ones named), and for each step that acts (not a
wait), netsim replays the lab's clock with that step's action taking effect `--delay` seconds after
the step began (the time between watched, its timers firing: Simulation.run_step()'s act_late), and is
compared with the same kernel trace by the lab's own comparison (compare_with_kernel(), with its timer
search). A recording that agrees as recorded but not with an action delayed sits within the delay of
an edge: the step is named with the first disagreement. Some edges are meant (an ICMP bucket's token,
ARP's locktime, a deadline against a timer: a step the scenario times to the tick); the rest should
move away from the edge (a `wait` before the step). The comparison's search for a late timer tries
it just past the moment the action took effect. Nothing here needs root; a tool, not a test, like
tests/labfuzz.py (all 450 recordings: about 10 s on two cores; at 0.03 s one is named, a rate limit
counted to the tick on purpose, at 0.1 s eleven, mostly an ARP probe then crossing a step's start).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netsim.lab.compare import compare_with_kernel, ssh_link_neighbours  # noqa: E402
from netsim.scenario import load_scenario  # noqa: E402

TRACES = ROOT / "tests" / "kernel_traces"


def first_disagreement(lines: list[str]) -> str:
    bad = [i for i, line in enumerate(lines) if line.startswith("✗")]
    if not bad:
        return "?"
    detail = [line.strip() for line in lines[bad[0] + 1 : bad[0] + 3] if line.startswith("    ")]
    return lines[bad[0]] + (": " + " | ".join(detail) if detail else "")


def examine(recording: Path, delay: float) -> tuple[str, str, list[str]]:
    """(recording, its state, the moved steps that disagree); the state is "agrees", "skipped: why" or
    "disagrees as recorded"."""
    kept = json.loads(recording.read_text(encoding="utf-8"))
    scenario_path = ROOT / kept["scenario"]
    if not scenario_path.exists():
        return recording.stem, "skipped: its scenario is gone", []
    scenario = load_scenario(scenario_path)
    kernel = kept["trace"]
    if not all(s.get("clock") for s in kernel.get("steps", [])):
        return recording.stem, "skipped: recorded before the lab kept its clock", []
    loose = ssh_link_neighbours(scenario)
    agree, _, _, _ = compare_with_kernel(scenario, kernel, loose=loose)
    if not agree:
        return recording.stem, "disagrees as recorded (tests/test_kernel_traces.py says why)", []
    found: list[str] = []
    for k, step in enumerate(scenario.steps):
        if step.action == "wait":
            continue  # nothing to take effect
        ok, lines, _, _ = compare_with_kernel(scenario, kernel, loose=loose, act_late={k: delay})
        if not ok:
            found.append(
                f"step {k + 1} ({step.id}, {step.action}) acting {delay:g} s late: {first_disagreement(lines)}"
            )
    return recording.stem, "agrees", found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recordings", nargs="*", type=Path, help="recordings (default: all in tests/kernel_traces)")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds late (default 0.1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    args = parser.parse_args()
    if args.delay <= 0:
        parser.error(f"--delay must be positive; got {args.delay}")
    recordings = args.recordings or sorted(TRACES.glob("*.json"))
    for path in recordings:
        if not path.is_file():
            parser.error(f"{path}: no such recording")
    racy = 0
    print(f"races: {len(recordings)} recordings, each step's action {args.delay:g} s late", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(examine, path, args.delay) for path in recordings]
        for n, future in enumerate(futures, 1):
            name, state, found = future.result()
            if found:
                racy += 1
                print(f"{name}: {len(found)} moved step(s) disagree", flush=True)
                for line in found:
                    print(f"    {line}", flush=True)
            elif state != "agrees":
                print(f"{name}: {state}", flush=True)
            if n % 25 == 0:
                print(f"races: {n}/{len(recordings)} examined, {racy} on a race", file=sys.stderr, flush=True)
    print(
        f"races: {racy} of {len(recordings)} recordings have a step whose action is within {args.delay:g} s of an edge"
    )
    return 1 if racy else 0


if __name__ == "__main__":
    sys.exit(main())
