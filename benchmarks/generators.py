"""Build cost under both generators, in the same run: MkDocs (the default) and Zensical.

Each build is timed cold (netsim's figure cache empty) and warm (cache filled by the cold build),
five times, and the medians are printed with the ratio of Zensical to MkDocs. The Zensical time
includes what runs after it (`netsim site-files`: figures, scripts, captures, feed), since a
reader's site needs those. Run by `make bench` after the main benchmark; results also go to
build/bench/generators.json.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
ZENSICAL = ROOT / ".venv-zensical" / "bin"


def _timed(cmds: list[list[str]], env: dict[str, str]) -> float:
    start = time.perf_counter()
    for cmd in cmds:
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> int:
    if not (ZENSICAL / "zensical").exists():
        print("Zensical is not installed: run `make build-zensical` once to create .venv-zensical", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-generators-"))
    base = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}

    def builds(cold: bool) -> dict[str, list[list[str]]]:
        clean = ["--clean"] if cold else []  # Zensical keeps its own cache too; cold starts without it
        return {
            "mkdocs": [[sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(work / "site")]],
            "zensical": [
                [str(ZENSICAL / "zensical"), "build", *clean, "-f", "zensical.yml"],
                [str(ZENSICAL / "python"), "-m", "netsim", "site-files", "site-zensical"],
            ],
        }

    times: dict[str, dict[str, list[float]]] = {name: {"cold": [], "warm": []} for name in builds(True)}
    for run in range(RUNS):
        for name in times:  # interleaved, so a busy moment hurts both alike
            cache = work / f"cache-{name}-{run}"
            env = {**base, "NETSIM_CACHE_DIR": str(cache)}
            times[name]["cold"].append(_timed(builds(True)[name], env))
            times[name]["warm"].append(_timed(builds(False)[name], env))
            shutil.rmtree(cache, ignore_errors=True)
        print(f"  run {run + 1}/{RUNS} done", file=sys.stderr)
    medians = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    print("| build | mkdocs (s) | zensical (s) | zensical / mkdocs |")
    print("|---|---|---|---|")
    for kind in ("cold", "warm"):
        m, z = medians["mkdocs"][kind], medians["zensical"][kind]
        print(f"| {kind} | {m:.2f} | {z:.2f} | {z / m:.2f} |")
    out = ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "generators.json").write_text(json.dumps({"runs": RUNS, "times": times, "medians": medians}, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
