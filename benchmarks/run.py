"""`make bench`: what executable diagrams cost, and how far the simulator scales.

Prints a table and writes the same figures to build/bench/results.json. Nothing here is a test:
the figures are measured on this machine, in this run, and compared with baselines measured in
the same run. Build and reload figures are measured twice (issue 23): on a series of three posts
and one of eight (benchmarks/series.py: the site's first posts, all published, and copies under
new names past its own; BENCH_SMALL and BENCH_POSTS change the lengths, BENCH_ONLY=builds measures
these alone), with the growth per post between them, so a cost that grows with the series shows
before it bites. Targets at eight posts: cold build <= 1.25x and warm build <= 1.05x the
baseline; reload under 0.5 s after a prose edit and under 0.8 s after a scenario edit; >= 200,000
frames/s through a bridge, each tenfold step in frames costing <= 11x; byte-identical builds. Every
figure is the median of BENCH_RUNS runs (5 unless set), and the load average is recorded beside
them: the machine is shared.
The baseline is the same series with every macro already expanded and netsim's files (figures,
share images, scripts, captures) already made: mkdocs, the theme, mkdocs-macros and the site's hooks
with no netsim work, writing the real site byte for byte (checked each run). "cold" starts with an
empty figure, layout and page cache; "warm" with a full one. Each kind is built once unmeasured
first (the first build in a folder compiles its bytecode), and the rounds rotate which kind goes
first, so no kind pays for its place in the order.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from benchmarks import scale, series  # noqa: E402

OUT = ROOT / "build" / "bench"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
POSTS = int(os.environ.get("BENCH_POSTS", "8"))
SMALL = int(os.environ.get("BENCH_SMALL", "3"))
# BENCH_ONLY=builds: the build and reload figures alone (issue 23's table), without the per-diagram,
# simulator-scale, memory and identical-build parts (a million-frame run among them).
ONLY_BUILDS = os.environ.get("BENCH_ONLY") == "builds"
# Every build may write its bytecode (into the bench's own copies): the unmeasured first build of
# each kind compiles it, as a checkout's first build does. With PYTHONDONTWRITEBYTECODE inherited,
# every measured build compiled netsim afresh (about 0.45 s of CPU, in the cold, warm and baseline
# builds alike: the site's hooks import netsim too), which no second build of a checkout does.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "NO_MKDOCS_2_WARNING": "1"}


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def build(src: Path, out: Path, cache: Path, aside: Path | None = None) -> tuple[float, float]:
    """One `mkdocs build` in a fresh process; `cache` holds netsim's figures (the theme compiles afresh).

    Returns its wall time and its CPU time (user + system): on a shared machine the wall time
    carries the other processes' load, the CPU time much less so.
    """
    env = {**ENV, "NETSIM_CACHE_DIR": str(cache)}
    if aside is not None:
        env["NETSIM_BASELINE_ASIDE"] = str(aside)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(out)],
        cwd=src,
        env=env,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


# The baseline's macros module: mkdocs-macros runs (each page is still a template), netsim does not.
BASELINE_MACROS = '''"""make bench's baseline: mkdocs-macros with no macros; every netsim output is a static file."""


def define_env(env):
    pass
'''
NETSIM_OUTPUTS = ("figures", "previews", "scripts", "captures", "assets/diagrams.css")


def baseline_copy(work: Path, site: Path) -> Path:
    """The same series with every macro already expanded and netsim's files already made.

    The copy is of the series itself (its posts, scenarios and nav; a copy of the checkout with the
    series laid over it kept the checkout's later posts, which the baseline then built in full with
    no cache: that was the 3-post baseline's 2.6 s against 1.5 s at 8). Its pages are the Markdown
    the macros made, as a raw block; what netsim writes besides pages (figures, share images,
    try-it scripts, captures, the diagrams' stylesheet) is copied in from a real build as static
    files, and the figure contents set aside come back from the dump: so the baseline writes the
    real site, byte for byte (compare_sites checks), with mkdocs, the theme, mkdocs-macros and the
    site's hooks, and no netsim work at all.
    """
    src = work / "baseline"
    shutil.copytree(site, src, ignore=shutil.ignore_patterns("__pycache__"))
    dump = work / "rendered"
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(work / "dump-site")],
        cwd=site,
        env={**ENV, "NETSIM_DUMP_MARKDOWN": str(dump), "NETSIM_CACHE_DIR": str(work / "dump-cache")},
        check=True,
        stderr=subprocess.DEVNULL,
    )
    for page in dump.rglob("*.md"):
        original = (site / "docs" / page.relative_to(dump)).read_text(encoding="utf-8")
        front = re.match(r"\A---\n.*?\n---\n", original, re.S)
        body = "{% raw %}" + page.read_text(encoding="utf-8") + "{% endraw %}"
        (src / "docs" / page.relative_to(dump)).write_text((front.group(0) if front else "") + body, encoding="utf-8")
    for name in NETSIM_OUTPUTS:
        made = work / "dump-site" / name
        if made.is_dir():
            shutil.copytree(made, src / "docs" / name, dirs_exist_ok=True)
        elif made.is_file():
            shutil.copy2(made, src / "docs" / name)
    (src / "macros.py").write_text(BASELINE_MACROS, encoding="utf-8")
    return src


def compare_sites(a: Path, b: Path) -> list[str]:
    """The files that differ between two built sites (either side missing counts too)."""
    names = {str(p.relative_to(a)) for p in a.rglob("*") if p.is_file()}
    names |= {str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()}
    return sorted(
        n
        for n in names
        if not n.endswith(".gz")  # sitemap.xml.gz: gzip's header carries the time
        and not ((a / n).is_file() and (b / n).is_file() and filecmp.cmp(a / n, b / n, shallow=False))
    )


def build_costs(work: Path, site: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    base_src = baseline_copy(work, site)
    warm_cache = work / "warm-cache"
    kinds = {
        "cold": lambda n: (site, work / f"cold-cache-{n}", None),  # netsim's caches empty
        "warm": lambda n: (site, warm_cache, None),
        # No netsim: its pages are pre-expanded and its files static.
        "baseline": lambda n: (base_src, Path("off"), work / "rendered"),
    }
    # One unmeasured build of each kind first: the first build in a folder compiles its Python to
    # bytecode and reads it from a cold disk; the warm one also fills the cache.
    for kind, made in kinds.items():
        src, cache, aside = made("warm-up")
        build(src, work / f"{kind}-warm-up", cache, aside=aside)
    differ = compare_sites(work / "warm-warm-up", work / "baseline-warm-up")
    times: dict[str, list[float]] = {"cold": [], "warm": [], "baseline": []}
    cpu: dict[str, list[float]] = {"cold": [], "warm": [], "baseline": []}
    ratios: dict[str, list[float]] = {"cold": [], "warm": [], "cold_cpu": [], "warm_cpu": []}
    loads = []
    order = list(kinds)
    for n in range(RUNS):  # interleaved, so drift on the machine touches all of them alike
        loads.append(os.getloadavg()[0])
        say(f"builds of {site.name}, round {n + 1}/{RUNS} (load {load()})")
        for kind in order[n % 3 :] + order[: n % 3]:  # each kind first in turn: no order effect left
            src, cache, aside = kinds[kind](n)
            wall, used = build(src, work / f"{kind}{n}", cache, aside=aside)
            times[kind].append(wall)
            cpu[kind].append(used)
        for kind in ("cold", "warm"):  # each round's own ratio: its builds ran within seconds of each other
            ratios[kind].append(times[kind][-1] / times["baseline"][-1])
            ratios[f"{kind}_cpu"].append(cpu[kind][-1] / cpu["baseline"][-1])
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "runs": RUNS,
        "load_median": round(statistics.median(loads), 1),
        "baseline_differs_from_warm": differ,
        "median_seconds": {k: round(v, 3) for k, v in med.items()},
        "median_cpu_seconds": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
        "cold_over_baseline": round(statistics.median(ratios["cold"]), 3),
        "warm_over_baseline": round(statistics.median(ratios["warm"]), 3),
        "cold_over_baseline_cpu": round(statistics.median(ratios["cold_cpu"]), 3),
        "warm_over_baseline_cpu": round(statistics.median(ratios["warm_cpu"]), 3),
    }


def load() -> str:
    """The one-minute load average now: the machine is shared, so every figure says what it ran beside."""
    return f"{os.getloadavg()[0]:.1f}"


def identical_builds(work: Path) -> dict:
    a, b = work / "same-a", work / "same-b"
    build(ROOT, a, work / "same-cache-a")
    build(ROOT, b, work / "same-cache-b")
    different = []
    for path in sorted(a.rglob("*")):
        if path.is_file() and not filecmp.cmp(path, b / path.relative_to(a), shallow=False):
            different.append(str(path.relative_to(a)))
    return {"files": sum(1 for p in a.rglob("*") if p.is_file()), "different": different}


def _fetch(url: str) -> str:
    """The page as served now; on a loaded machine the server may take a while to answer."""
    for _ in range(10):
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our own server
                return response.read().decode("utf-8")
        except TimeoutError:
            continue
    raise TimeoutError(f"{url} did not answer in 300 s")


def _cpu_of(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def live_reload(work: Path, site: Path) -> dict:
    src = work / "serve"
    shutil.copytree(site, src)
    port = 8700 + os.getpid() % 200
    proc = subprocess.Popen(
        [sys.executable, "serve.py", "-a", f"127.0.0.1:{port}", "--livereload"],  # what `make serve` runs
        cwd=src,
        env={**ENV, "NETSIM_CACHE_DIR": str(work / "serve-cache")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/posts/margarets-room.html"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                _fetch(url)
                break
            except OSError:
                time.sleep(0.2)
        result = {}
        post = src / "docs" / "posts" / "margarets-room.md"
        scenario = src / "diagrams" / "margarets-room.yaml"
        cases = {
            "prose_edit": (post, "an old acquaintance", "an old friend{n}"),
            "scenario_edit": (scenario, "title: Alice writes back", "title: Alice writes back{n}"),
        }
        for name, (path, old, new) in cases.items():
            original = path.read_text(encoding="utf-8")
            samples, cpu = [], []
            for n in range(RUNS):
                say(f"live reload of {site.name}, {name} {n + 1}/{RUNS} (load {load()})")
                marker = new.format(n=f" {n}x")
                time.sleep(1.0)  # let the server settle between edits
                used = _cpu_of(proc.pid)
                start = time.perf_counter()
                path.write_text(original.replace(old, marker), encoding="utf-8")
                while marker.split(" ", 1)[-1] not in _fetch(url).replace("&#39;", "'"):
                    time.sleep(0.01)
                samples.append(time.perf_counter() - start)
                cpu.append(_cpu_of(proc.pid) - used)
            path.write_text(original, encoding="utf-8")
            result[name] = {
                "median_seconds": round(statistics.median(samples), 3),
                "median_cpu_seconds": round(statistics.median(cpu), 3),  # the server's, for the rebuild
                "samples": len(samples),
            }
        return result
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


FIGURES = {  # what the report shows for each site, and where it is in the results
    "cold build (s)": ("build", "median_seconds", "cold"),
    "warm build (s)": ("build", "median_seconds", "warm"),
    "baseline build (s)": ("build", "median_seconds", "baseline"),
    "cold / baseline": ("build", "cold_over_baseline"),
    "warm / baseline": ("build", "warm_over_baseline"),
    "prose-edit reload (s)": ("live_reload", "prose_edit", "median_seconds"),
    "scenario-edit reload (s)": ("live_reload", "scenario_edit", "median_seconds"),
    "cold build CPU (s)": ("build", "median_cpu_seconds", "cold"),
    "warm build CPU (s)": ("build", "median_cpu_seconds", "warm"),
    "baseline build CPU (s)": ("build", "median_cpu_seconds", "baseline"),
    "cold / baseline, CPU": ("build", "cold_over_baseline_cpu"),
    "warm / baseline, CPU": ("build", "warm_over_baseline_cpu"),
    "prose-edit reload CPU (s)": ("live_reload", "prose_edit", "median_cpu_seconds"),
    "scenario-edit reload CPU (s)": ("live_reload", "scenario_edit", "median_cpu_seconds"),
}
TARGETS = {
    "cold / baseline": "<= 1.25",
    "warm / baseline": "<= 1.05",
    "prose-edit reload (s)": "< 0.5",
    "scenario-edit reload (s)": "< 0.8",
}


def figure(site: dict, path: tuple[str, ...]) -> float:
    value: object = site
    for key in path:
        value = value[key]  # type: ignore[index]
    return float(value)  # type: ignore[arg-type]


def growth(results: dict) -> dict:
    """Each figure's change per post added, from the short series to the long one."""
    added = results["posts"]["large"] - results["posts"]["small"]
    return {
        name: round((figure(results["large"], path) - figure(results["small"], path)) / added, 4)
        for name, path in FIGURES.items()
    }


def per_diagram() -> dict:
    from netsim.render import graph
    from netsim.scenario import load_scenario
    from netsim.simulation import run

    sims, renders = [], []
    for path in sorted((ROOT / "diagrams").glob("*.yaml")):
        scenario = load_scenario(path)
        for _ in range(20):
            start = time.perf_counter()
            trace = run(load_scenario(path))
            sims.append(time.perf_counter() - start)
        for step in trace.steps:
            for _ in range(5):
                start = time.perf_counter()
                graph.room(scenario, step)
                renders.append(time.perf_counter() - start)
    return {
        "simulate_scenario_ms": round(statistics.median(sims) * 1000, 2),
        "render_diagram_ms": round(statistics.median(renders) * 1000, 2),
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    from netsim.pages.prerender import workers_wanted

    # A cold build shares its pages with this many forked workers (netsim/pages/prerender.py).
    results: dict = {"python": sys.version.split()[0], "runs": RUNS}
    results.update(workers=workers_wanted(), cores=os.cpu_count())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not ONLY_BUILDS:
            say("per-diagram costs")
            results["per_diagram"] = per_diagram()
            say("simulator scale")
            results["scale"] = scale.table([1_000, 10_000, 100_000, 1_000_000], [10, 1_000, 10_000])
            say("peak memory of a million-frame run (tracemalloc)")
            results["peak_memory_1m_frames_1000_hosts_mb"] = round(scale.peak_memory(1_000_000, 1_000) / 1e6, 1)
        short = series.grow(work / f"series-{SMALL}", SMALL)
        longer = series.grow(work / f"series-{POSTS}", POSTS)
        results["posts"] = {"small": SMALL, "large": POSTS}
        results["load_before"] = load()
        for key, site in (("small", short), ("large", longer)):
            results[key] = {"build": build_costs(work / f"{key}-builds", site)}
            results[key]["live_reload"] = live_reload(work / f"{key}-reload", site)
        results["load_after"] = load()
        results["growth_per_post"] = growth(results)
        if not ONLY_BUILDS:
            results["identical_builds"] = identical_builds(work)
        shutil.rmtree(work, ignore_errors=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report(results)
    print(f"\nwritten: {OUT / 'results.json'}")
    return 0


def report(r: dict) -> None:
    n, big = r["posts"]["small"], r["posts"]["large"]
    print(f"\n== Build and reload: a series of {n} posts and one of {big} (medians of {r['runs']} runs) ==")
    print(f"  load average {r['load_before']} before, {r['load_after']} after ({r.get('cores')} cores, shared)")
    print(f"  builds that render pages fork {r.get('workers')} worker(s) (NETSIM_WORKERS; netsim/pages/prerender.py)")
    print(f"  {'':26} {f'{n} posts':>9} {f'{big} posts':>9} {'per post':>9}   target at {big}")
    for name, path in FIGURES.items():
        small, large = figure(r["small"], path), figure(r["large"], path)
        target = TARGETS.get(name, "")
        verdict = ""
        if target:
            limit = float(target.split()[-1])
            verdict = "met" if (large <= limit if target.startswith("<=") else large < limit) else "NOT met"
        print(f"  {name:26} {small:9.3f} {large:9.3f} {r['growth_per_post'][name]:+9.4f}   {target} {verdict}")
    for key, size in (("small", n), ("large", big)):
        b = r[key]["build"]
        differ = b["baseline_differs_from_warm"]
        print(
            f"  {size} posts: builds at load {b['load_median']} (median); the baseline's site "
            + (f"DIFFERS from the real one in {differ}" if differ else "equals the real one, file by file")
        )
    if "identical_builds" not in r:  # BENCH_ONLY=builds
        return
    ident = r["identical_builds"]
    print(f"  two clean builds: {ident['files']} files, {len(ident['different'])} different {ident['different'] or ''}")
    pdg = r["per_diagram"]
    print("\n== Per diagram (median) ==")
    print(f"  simulate one scenario  {pdg['simulate_scenario_ms']:.2f} ms")
    print(f"  render one diagram     {pdg['render_diagram_ms']:.2f} ms")
    print("\n== Simulator scale: frames through one bridge ==")
    print(f"  {'hosts':>6} {'frames':>9} {'seconds':>8} {'frames/s':>10} {'x per 10x':>9}")
    for row in r["scale"]:
        growth = "" if row["growth_per_tenfold"] is None else f"{row['growth_per_tenfold']:.2f}"
        print(
            f"  {row['hosts']:>6} {row['frames']:>9} {row['seconds']:>8.3f} {row['frames_per_second']:>10} {growth:>9}"
        )
    print(f"  peak memory, 1,000,000 frames among 1,000 hosts: {r['peak_memory_1m_frames_1000_hosts_mb']} MB")
    mutation_report()


def mutation_report() -> None:
    """The last `make mutants` figure (benchmarks/mutants-results.json): measured there, not here."""
    path = ROOT / "benchmarks" / "mutants-results.json"
    if not path.exists():
        print("\n== Mutation testing: no make mutants result yet ==")
        return
    m = json.loads(path.read_text(encoding="utf-8"))
    sample = f", a {m['sample_percent']}% sample of each module" if m["sample_percent"] else ""
    sample += f" (MUTANT_SEED={m['sample_seed']})" if m.get("sample_seed") else ""
    minutes = f", {m['seconds'] / 60:.0f} min" if m["seconds"] else ""
    print(f"\n== Mutation testing (last make mutants: {m['date']}{sample}{minutes}) ==")
    print(f"  {'module':24} {'checked':>7} {'killed':>7} {'t/o':>4} {'equiv.':>6} {'unexpl.':>7} {'killed %':>8}")
    for name, row in m["modules"].items():
        share = f"{100 * row['killed'] / row['checked']:7.1f}%" if row["checked"] else "       -"
        timeouts = row.get("timeouts", 0)
        print(
            f"  {name:24} {row['checked']:7} {row['killed']:7} {timeouts:4} {row['equivalent']:6}"
            f" {row['unexplained']:7} {share}"
        )
    t = m["totals"]
    # A sample's figure with what it can claim of every mutant: n and the 95% Wilson interval.
    interval = m.get("killed_ci95_percent")
    claim = f"; 95% CI {interval[0]}-{interval[1]}%, Wilson, n={m['sample_size']}" if interval else ""
    print(
        f"  all: {t['killed']} of {t['checked']} checked killed ({m['killed_percent']}%{claim}; target >= 95%)", end=""
    )
    print(f"; {t['mutants'] - t['checked']} not checked" if t["mutants"] > t["checked"] else "")
    print("  (t/o: killed by mutmut's timeout, counted in killed", end="")
    if t.get("unsettled"):
        print(f"; {t['unsettled']} not settled: had they survived, {m['worst_case_percent']}%)")
    else:
        print("; each one re-run alone and confirmed)" if "unsettled" in t else ")")


if __name__ == "__main__":
    sys.exit(main())
