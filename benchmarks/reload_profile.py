"""One `make serve` rebuild, measured and profiled in-process (issue 23).

`.venv/bin/python benchmarks/reload_profile.py [POSTS] [RUNS]` grows a series of POSTS posts
(benchmarks/series.py, 8 unless given), builds it twice as `make serve` does in one process (serve.py's
reuse switched on, a warm figure cache), then edits post one's prose and its scenario RUNS times each
(3 unless given) and prints each rebuild's CPU seconds and the median CPU and wall seconds of the
rebuild after each kind of edit, with what serve.py reused. With PROFILE=1 the last rebuild of each
kind runs under cProfile on the CPU clock (wall time on a shared machine mostly measures the other
processes), its profile is written to build/bench/reload-{prose,scenario}.prof (`python -m pstats`
reads them) and it is left out of the figures. The last, not the first: the first edit after the
start pays once for what every later one reuses (the try-it script a worker of the cold build
highlighted, the figure checks), so its profile put the macros at a third of a prose reload.

Unlike benchmarks/run.py's live-reload figures, this leaves out the server: noticing the edit,
serving the page, the browser's fetch. It is the part a change to the build machinery moves.
"""

from __future__ import annotations

import cProfile
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from benchmarks import series  # noqa: E402

URL = "http://127.0.0.1:8000/"
EDITS = {  # what benchmarks/run.py's live reload edits
    "prose": ("docs/posts/margarets-room.md", "an old acquaintance", "an old friend"),
    "scenario": ("diagrams/margarets-room.yaml", "title: Alice writes back", "title: Alice writes back"),
}


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def main() -> int:
    posts = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    profile = os.environ.get("PROFILE") == "1"
    out_dir = ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = series.grow(Path(tmp) / "series", posts)
        os.environ.setdefault("NETSIM_CACHE_DIR", str(Path(tmp) / "cache"))
        os.chdir(root)  # the site's own macros.py, hooks.py, serve.py and netsim, as make serve runs them
        sys.path.insert(0, str(root))
        from mkdocs.commands.build import build
        from mkdocs.config import load_config

        import serve

        serve.keep_between_rebuilds()
        memory = serve.site_folder(dict(os.environ))  # where make serve puts its site: in memory when it can
        site = Path(tempfile.mkdtemp(prefix="reload-site-", dir=memory)) if memory else Path(tmp) / "site"

        def rebuild(first: bool = False) -> None:  # mkdocs serve's own sequence (mkdocs/commands/serve.py)
            config = load_config(config_file=str(root / "mkdocs.yml"), site_dir=str(site))
            if first:
                config.plugins.on_startup(command="serve", dirty=False)
            config.site_url = URL
            build(config, serve_url=URL)

        rebuild(first=True)
        rebuild()
        samples: dict[str, list[tuple[float, float]]] = {}
        for n in range(runs):
            for kind, (name, old, new) in EDITS.items():
                path = root / name
                original = path.read_text(encoding="utf-8")
                path.write_text(original.replace(old, f"{new} {n}x"), encoding="utf-8")
                used, start = cpu(), time.perf_counter()
                if profile and n == runs - 1:
                    profiler = cProfile.Profile(time.process_time)
                    profiler.runcall(rebuild)
                    profiler.dump_stats(out_dir / f"reload-{kind}.prof")
                else:
                    rebuild()
                    samples.setdefault(kind, []).append((cpu() - used, time.perf_counter() - start))
                path.write_text(original, encoding="utf-8")
                rebuild()  # as make serve rebuilds after the revert: the next edit's rebuild is that edit's alone
        load = os.getloadavg()[0]
        for kind, got in samples.items():
            print(f"{posts} posts, {kind}-edit rebuilds, CPU s each: {', '.join(f'{c:.3f}' for c, _ in got)}")
        for kind, got in samples.items():
            print(
                f"{posts} posts, {kind}-edit rebuild: CPU {statistics.median(c for c, _ in got):.3f} s, "
                f"wall {statistics.median(w for _, w in got):.3f} s (median of {len(got)}, load {load:.1f})"
            )
        print(f"reused in this process: {serve.STATS}; the site in {site.parent}")
        if memory:
            shutil.rmtree(site, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
