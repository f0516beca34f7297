"""Record what the real kernel did in each scenario, for the fast test that holds netsim to it.

    sudo .venv/bin/python tests/record_kernel_traces.py              # every scenario
    sudo .venv/bin/python tests/record_kernel_traces.py diagrams/margarets-room.yaml

The lab (`netsim lab FILE --json`, root) replays each scenario in private namespaces; this keeps
its trace in tests/kernel_traces/NAME.json with the scenario's hash and the kernel's release.
tests/test_kernel_traces.py then compares netsim with every recording in a second, without
root, so a regression in a mechanism fails the fast checks, not only the slow lab. A recording is
kept only when the kernel and netsim agreed on that run: a disagreement is printed instead (the
lab test reports it too), and a flaky timer under load never becomes the reference.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "kernel_traces"


def scenarios() -> list[Path]:
    return sorted(ROOT.glob("diagrams/*.yaml")) + sorted((ROOT / "tests" / "lab_scenarios").glob("*.yaml"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(path: Path) -> str:
    sys.path.insert(0, str(ROOT))
    from netsim.lab.compare import compare_with_kernel, ssh_link_neighbours
    from netsim.scenario import load_scenario

    done = subprocess.run(
        [sys.executable, "-m", "netsim", "lab", str(path.relative_to(ROOT)), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"{path.name}: the lab failed (exit {done.returncode}): {done.stderr.strip()[-400:]}"
    kernel = json.loads(done.stdout)
    scenario = load_scenario(path)
    agree, lines, _, _ = compare_with_kernel(scenario, kernel, loose=ssh_link_neighbours(scenario))  # as --compare
    if not agree:
        return f"{path.name}: the kernel and netsim disagree, not recorded:\n" + "\n".join(lines)
    kept = {
        "scenario": str(path.relative_to(ROOT)),
        "sha256": digest(path),
        "kernel": os.uname().release,
        "trace": kernel,
    }
    (OUT / f"{path.stem}.json").write_text(json.dumps(kept, sort_keys=True, separators=(",", ":")) + "\n")
    return f"{path.name}: recorded"


def main(args: list[str]) -> int:
    if os.geteuid() != 0:
        print("record_kernel_traces: the lab needs root", file=sys.stderr)
        return 3
    OUT.mkdir(exist_ok=True)
    paths = [Path(a).resolve() for a in args] or scenarios()
    # The lab mostly waits on the kernel's timers; a few at once keep the wall time down.
    with ThreadPoolExecutor(max_workers=int(os.environ.get("RECORD_JOBS", "3"))) as pool:
        results = list(pool.map(record, paths))
    for line in results:
        print(line, flush=True)
    return 0 if all(r.endswith(": recorded") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
