"""`make mutants`: mutation testing of netsim with mutmut, against the fast tests, module by module.

    make mutants                                  # the default modules below
    make mutants MODULES="netsim.bridge netsim.fdb"
    make mutants MUTANT_SAMPLE=10                 # the same 10% of each module's mutants, every run
    make mutants MUTANT_SAMPLE=3 MUTANT_SEED=2    # another 3%
    make mutants MUTANT_SAMPLE=10 MUTANT_SEED=3 MUTANT_DISJOINT_FROM=4:2 MODULES="netsim.fdb netsim.arp"
                                                  # 10%, less the mutants of the 4% seed-2 sample
    .venv-mutants/bin/python benchmarks/mutants.py --report   # the table of the last run, no run
    MUTANT_SAMPLE=4 MUTANT_SEED=2 .venv-mutants/bin/python benchmarks/mutants.py --settle
                                                  # re-run timeouts and unexplained survivors alone

mutmut (pinned in requirements-mutants.txt, in its own venv) rewrites each function of a module
into many slightly wrong versions, then runs the fast tests that reach that function against each
one; a mutant the tests do not notice "survives". This script runs mutmut, then prints per module
how many mutants the tests killed, and checks every survivor against
benchmarks/mutants-survivors.md, where each one the tests cannot kill is listed with the reason it
is equivalent (it changes nothing a reader, a post or the lab could observe). It exits 1 when a
survivor is not explained there.

Runs are incremental: mutmut keeps each verdict in ./mutants until the function it mutated
changes, so a second `make mutants` checks only the mutants not checked yet, plus every earlier
survivor (a test added since may kill it). `make clean` (or `rm -rf mutants`) starts afresh; a
change to pyproject's test selection or pytest arguments makes mutmut forget every verdict.

Every mutant (about 9,000; some eleven hours on two idle cores): `MUTANT_CHILDREN=1 nice -n 19 make
mutants`, no MUTANT_SAMPLE. It can run over several sessions: Ctrl-C keeps every verdict reached,
and the same command later, in the same checkout with ./mutants kept, goes on from there (after a
merge, the functions changed since are checked again). A sample's verdicts count toward it.

What a sample can claim: its figure is printed with the sample's size and a 95% confidence
interval for the kill rate over every mutant (wilson()); a full run's figure is a count.

mutmut's verdicts can mislead on a loaded machine: its time limit is wall time (a few times what
the tests took unmutated), so a mutant the tests would kill a little later reads "timeout"; and
it runs for a mutant only the tests that reached the function when it timed them, so a test added
since is not run on it. The table counts timeouts as killed (as mutmut does) and says how many are
not settled; `--settle` re-runs each sampled timeout and unexplained survivor alone against the
whole fast selection under a CPU-time limit (see settle()), which the load does not stretch.

The table goes to stdout and to benchmarks/mutants-results.json (kept in git: `make bench` prints
the last figure from it). It is slow and uses the cores it is given (MUTANT_CHILDREN, default 2):
not part of `make test`. Figures are rendered afresh (NETSIM_CACHE_DIR=off) so a mutant in a
renderer is never hidden behind a figure cached from the unmutated code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURVIVORS = ROOT / "benchmarks" / "mutants-survivors.md"
RESULTS = ROOT / "benchmarks" / "mutants-results.json"
# Core mechanisms, the simulation that drives them, the claim checker and the renderers whose
# output readers see (words, tables, the Graphviz figures) with the check that reads them back.
DEFAULT = [
    "netsim.fdb",
    "netsim.bridge",
    "netsim.neighbour",
    "netsim.arp",
    "netsim.routing",
    "netsim.tcp",
    "netsim.addresses",
    "netsim.simulation",
    "netsim.claims",
    "netsim.render.words",
    "netsim.render.tables",
    "netsim.render.graph",
    "netsim.render.figfacts",
    # Posts four to eight's mechanisms (routing a packet on, NAT, connection tracking), the check
    # that holds netsim to the kernel, and the writer of the scripts readers run as root.
    "netsim.ipv4",
    "netsim.forwarding",
    "netsim.netfilter",
    "netsim.conntrack",
    "netsim.lab.compare",
    "netsim.render.labscript",
    "netsim.render.escape",
    # The C library's side of names (getaddrinfo()'s order, numbers that are addresses, resolv.conf),
    # DNS messages, UDP's errors, ICMP's rate limits and ssh -L's own rules.
    "netsim.resolver",
    "netsim.dns",
    "netsim.udp",
    "netsim.icmp",
    "netsim.sshforward",
    # The reader of a stranger's scenario (every refusal that keeps a try-it script safe), the timer
    # wheel's slack the comparison allows, and the bytes of the frames a capture and the bytes view show.
    "netsim.scenario",
    "netsim.timerwheel",
    "netsim.wire",
    # The plan the lab runs and the reader's try-it script prints, the error decoder, the frames and
    # the trace every renderer reads, and the renderers a reader sees besides the figures: the
    # sentence beside each checked claim, the way-out view, the terminal and tcpdump lines, the
    # bytes view.
    "netsim.plan",
    "netsim.decoder",
    "netsim.frames",
    "netsim.trace",
    "netsim.render.tcpdump",
    "netsim.render.ticks",
    "netsim.render.path",
    "netsim.render.text",
    "netsim.render.bytes_view",
    # The reader of every scenario file, a stranger's pull request among them: YAML as plain data,
    # each field's type and format, and the JSON Schema editors check files with.
    "netsim.schema",
    "netsim.yamlsource",
]
STATUS = {1: "killed", 3: "killed", 0: "survived", 33: "no tests", 5: "no tests", 36: "timeout", 24: "timeout"}
STATUS.update({-24: "timeout", 152: "timeout", 255: "timeout", 34: "skipped", 37: "killed"})
STATUS.update({-9: "killed", -11: "killed"})  # the mutant crashed the tests
try:  # mutmut's own reading of its exit codes, where this runs in its venv
    from mutmut.stats import status_by_exit_code

    STATUS.update({k: v for k, v in status_by_exit_code.items() if k is not None})
    STATUS.update({k: "killed" for k, v in status_by_exit_code.items() if v in ("segfault", "caught by type check")})
except ImportError:
    pass
LIVE = ("survived", "no tests", "suspicious")
SEED = os.environ.get("MUTANT_SEED", "")  # which sample MUTANT_SAMPLE draws (see sample())
# MUTANT_DISJOINT_FROM=PERCENT:SEED leaves out of this sample the mutants of that one, so two samples
# share no mutant (their figures are then two independent estimates); such a run writes its table
# beside the main results (benchmarks/mutants-results-seedN.json), not over them.
DISJOINT = os.environ.get("MUTANT_DISJOINT_FROM", "")
MUTMUT = Path(sys.executable).with_name("mutmut")
ENV = {**os.environ, "NETSIM_CACHE_DIR": "off", "PYTHONDONTWRITEBYTECODE": "1", "NETSIM_PROPERTY_EXAMPLES": "25"}
# `--settle` keeps its verdicts here, each with the hash mutmut gave the mutated function: a
# verdict on a function changed since is void (mutmut re-checks that function's mutants anyway).
SETTLED = ROOT / "mutants" / "settled.json"


def meta(module: str) -> Path:
    return ROOT / "mutants" / (module.replace(".", "/") + ".py.meta")


def codes(module: str) -> dict[str, int | None]:
    path = meta(module)
    return json.loads(path.read_text(encoding="utf-8"))["exit_code_by_key"] if path.exists() else {}


def sample(names: list[str], percent: int, seed: str = "") -> list[str]:
    """`percent` % of a module's mutants, the same ones every run (ordered by a hash of their name
    and `seed`, MUTANT_SEED: another seed draws another sample).

    Every module gives the same share, so the killed share over the whole sample estimates the
    share over every mutant (a stratified sample with proportional allocation).
    """
    if percent <= 0 or percent >= 100:
        return names
    size = max(1, math.ceil(len(names) * percent / 100))
    return sorted(names, key=lambda n: hashlib.sha256((seed + n).encode()).hexdigest())[:size]


def chosen(names: list[str], percent: int) -> set[str]:
    """The sampled mutants of one module: sample(), less those of MUTANT_DISJOINT_FROM's sample."""
    picked = set(sample(names, percent, SEED))
    if DISJOINT:
        other_percent, _, other_seed = DISJOINT.partition(":")
        picked -= set(sample(names, int(other_percent), other_seed))
    return picked


def results_path() -> Path:
    return RESULTS.with_name(f"mutants-results-seed{SEED}.json") if DISJOINT else RESULTS


def generate(modules: list[str], children: str) -> bool:
    """Have mutmut (re)generate the mutants of changed code in ./mutants; False if it made none.

    mutmut (re)generates the mutants, and forgets the verdicts of every function changed since
    its last run, only when it runs; so this pass stops at a name that selects no mutant (its
    "nothing matches" is expected), and the names to check are then those of the code as it is
    now. Without it, a run after a change checked the old survivors only and left the changed
    functions' mutants "not checked" for the run after. New tests are timed here too.
    """
    print("mutants: generating the mutants of changed code and timing new tests", flush=True)
    for module in modules:
        # A module newly added to pyproject's only_mutate has a plain copy in ./mutants, newer than its
        # source, which mutmut takes as up to date: without the copy it mutates the module. And mutmut's
        # map of which tests reach which function was made without it, so every one of its mutants
        # would run no test and "survive" (1 December: 0 of 52 killed): the map is made afresh.
        copy = ROOT / "mutants" / (module.replace(".", "/") + ".py")
        if not meta(module).exists() and copy.exists():
            copy.unlink()
            (ROOT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    first = [str(MUTMUT), "run", "--max-children", children, "netsim.no-such-module.*"]
    gen = subprocess.run(first, cwd=ROOT, env=ENV, check=False, capture_output=True, text=True)
    if not all(meta(m).exists() for m in modules):
        print(gen.stdout[-3000:], gen.stderr[-3000:], sep="\n", file=sys.stderr)
        print(f"mutants: mutmut generated no mutants for {', '.join(modules)}", file=sys.stderr)
        return False
    return True


def main(modules: list[str]) -> int:
    children = os.environ.get("MUTANT_CHILDREN", "2")
    percent = int(os.environ.get("MUTANT_SAMPLE", "0") or 0)
    start = time.monotonic()
    if not generate(modules, children):
        return 2
    todo, equivalent = [], explained()
    for module in modules:
        picked = chosen(sorted(codes(module)), percent)
        # Earlier survivors too (a test added since may kill them), but not those explained in the
        # survivors file, unless their function changed since (mutmut forgot the verdict): the
        # reason given may no longer hold, and a mutant never checked would drop out of the table.
        todo += [
            n
            for n, c in codes(module).items()
            if n in picked
            and (STATUS.get(c, "not checked") == "not checked" or (n not in equivalent and STATUS.get(c) in LIVE))
        ]
    if todo:
        print(f"mutants: checking {len(todo)} mutant(s) not killed yet", flush=True)
        try:
            command = [str(MUTMUT), "run", "--max-children", children, *todo]
            code = subprocess.run(command, cwd=ROOT, env=ENV, check=False).returncode
        except KeyboardInterrupt:  # Ctrl-C reaches mutmut too, which keeps what it has checked
            code = 130
        if code not in (0, 1):  # interrupted: every verdict reached so far is kept
            print(f"mutants: mutmut run exited {code}; the table counts what it checked", file=sys.stderr)
            report(modules, percent, time.monotonic() - start)
            return 2
    return report(modules, percent, time.monotonic() - start)


def settle(modules: list[str], percent: int) -> int:
    """`--settle`: a verdict of the whole fast selection for each sampled mutant that mutmut timed
    out, or left alive with no reason in the survivors file.

    mutmut stops a mutant's tests after a wall time of `timeout_multiplier` times what the tests it
    mapped to the function took unmutated, so on a loaded machine a mutant the tests would kill a
    little later reads "timeout"; and it runs only the tests that reached the function when it
    timed them, so a test added since is not run on it. Here each such mutant runs every test of
    mutmut's selection in its copy (./mutants) with the mutant set (MUTANT_UNDER_TEST), stopping
    at the first failure, under a limit of CPU time, which the load does not stretch:
    MUTANT_SETTLE_CPU seconds, by default three times what the unmutated selection takes. A
    failing test is a kill, a clean pass a survivor, a run past the limit a mutant that really
    loops (killed by timeout). The verdict goes into mutmut's own record, and a timeout confirmed
    as a loop into mutants/settled.json, with the hash of the function it mutated.
    """
    children = os.environ.get("MUTANT_CHILDREN", "2")
    start = time.monotonic()
    if not generate(modules, children):
        return 2
    equivalent, loops = explained(), settled_loops()
    todo = [
        (module, name)
        for module, statuses in results(modules, percent).items()
        for name, status in statuses.items()
        if (status == "timeout" and name not in loops) or (status in LIVE and name not in equivalent)
    ]
    if not todo:
        print("mutants: every sampled mutant has a settled verdict")
        return report(modules, percent, time.monotonic() - start)
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    command = [sys.executable, "-m", "pytest", "--rootdir=.", "--tb=line", "-x", "-q", "-p", "no:randomly"]
    command += [*tool.get("pytest_add_cli_args", []), *tool["pytest_add_cli_args_test_selection"]]

    def run(mutant: str, cpu: int | None = None) -> tuple[int, float]:
        """pytest's exit code in mutmut's copy with `mutant` planted ("" none), and its CPU seconds."""

        def limit() -> None:
            if cpu:
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        env = {**ENV, "MUTANT_UNDER_TEST": mutant}
        out = subprocess.run(
            command, cwd=ROOT / "mutants", env=env, preexec_fn=limit, capture_output=True, text=True, check=False
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if out.returncode not in (0, 1, -signal.SIGXCPU, -signal.SIGKILL):
            print(out.stdout[-3000:], out.stderr[-3000:], sep="\n", file=sys.stderr)
        return out.returncode, used

    # Planted faults must show: mutmut's own check that its copy is the code the tests import.
    if run("fail")[0] != 1:
        print("mutants: the tests pass with every mutated function failing: not mutmut's copy?", file=sys.stderr)
        return 2
    cpu = int(os.environ.get("MUTANT_SETTLE_CPU", "0") or 0)
    if not cpu:
        code, used = run("")
        if code != 0:
            print(f"mutants: the fast selection fails unmutated (exit {code}); fix that first", file=sys.stderr)
            return 2
        cpu = max(60, math.ceil(3 * used))
        print(f"mutants: the unmutated selection took {used:.0f} s of CPU; each mutant may take {cpu} s", flush=True)
    print(f"mutants: settling {len(todo)} mutant(s), one at a time", flush=True)
    record = json.loads(SETTLED.read_text(encoding="utf-8")) if SETTLED.exists() else {}
    for module, name in todo:
        code, used = run(name, cpu)
        verdict = {0: "survived", 1: "killed", -signal.SIGXCPU: "loops", -signal.SIGKILL: "loops"}.get(code)
        print(f"  {name}: {verdict or f'pytest exited {code}'} ({used:.0f} s of CPU)", flush=True)
        if verdict is None:
            continue  # an error of the run itself, printed above: no verdict
        if verdict == "loops":
            record[name] = {"module": module, "function_hash": function_hash(module, name), "cpu_limit": cpu}
            SETTLED.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            continue  # mutmut's timeout stands, now confirmed
        record.pop(name, None)
        data = json.loads(meta(module).read_text(encoding="utf-8"))
        data["exit_code_by_key"][name] = code
        meta(module).write_text(json.dumps(data, indent=4), encoding="utf-8")
    SETTLED.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return report(modules, percent, time.monotonic() - start)


def function_hash(module: str, mutant: str) -> str | None:
    """The hash mutmut keeps of the function `mutant` mutates, as that function is now."""
    path = meta(module)
    hashes = json.loads(path.read_text(encoding="utf-8")).get("hash_by_function_name", {}) if path.exists() else {}
    # netsim.fdb.xǁFdbǁlearn__mutmut_8 mutates xǁFdbǁlearn of netsim.fdb
    return hashes.get(mutant.rsplit("__mutmut_", 1)[0].removeprefix(module + "."))


def settled_loops() -> set[str]:
    """Timeouts `--settle` confirmed as loops, on functions unchanged since (same hash)."""
    if not SETTLED.exists():
        return set()
    record = json.loads(SETTLED.read_text(encoding="utf-8"))
    return {n for n, r in record.items() if r["function_hash"] == function_hash(r["module"], n)}


def results(modules: list[str], percent: int) -> dict[str, dict[str, str]]:
    """module -> {mutant: status}, read from mutmut's own record of each mutant's exit code."""
    found: dict[str, dict[str, str]] = {}
    for module in modules:
        found_codes = codes(module)
        picked = chosen(sorted(found_codes), percent)
        found[module] = {
            name: STATUS.get(code, "not checked" if code is None else "suspicious")
            for name, code in found_codes.items()
            if name in picked
        }
    return found


def explained() -> set[str]:
    """Mutant names listed in the survivors file (a `name` in backticks at the start of a row)."""
    if not SURVIVORS.exists():
        return set()
    return set(re.findall(r"^\|\s*`([^`]+)`", SURVIVORS.read_text(encoding="utf-8"), re.M))


def wilson(killed: int, checked: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for the share `killed` of `checked` (z = 1.96: 95%), as fractions.

    What a sample can claim about every mutant: the point figure alone says nothing of how far the
    whole might be from it. Wilson's interval, not the normal one (p +- z*sqrt(p(1-p)/n)), because
    the share is near 1, where the normal one runs past 100% and is too narrow. It treats the sample
    as a simple random one; the stratified draw (the same share of each module, sample()) can only
    narrow the true interval, and the finite-population correction for a 4% sample (sqrt(0.96))
    is left out, so the interval errs wide. Newcombe (1998), Statistics in Medicine 17:857, method 3.
    """
    if checked <= 0:
        return 0.0, 1.0
    p = killed / checked
    centre = p + z * z / (2 * checked)
    spread = z * math.sqrt(p * (1 - p) / checked + z * z / (4 * checked * checked))
    scale = 1 + z * z / checked
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def interval_words(killed: int, checked: int, percent: int, complete: bool) -> str:
    """The 95% interval for the kill rate of every mutant, in words, or why there is none."""
    if not percent:
        # Every mutant of the modules: the figure is the count itself once all are checked.
        return "every mutant: no sampling error" if complete else "part of a full run: no interval (not a sample)"
    low, high = wilson(killed, checked)
    return f"95% CI {100 * low:.1f}-{100 * high:.1f}% (Wilson, n={checked})"


def report(modules: list[str], percent: int = 0, seconds: float | None = None) -> int:
    table = results(modules, percent)
    equivalent, loops = explained(), settled_loops()
    total: Counter[str] = Counter()
    rows: dict[str, dict[str, int]] = {}
    unexplained, unsettled = [], []
    head = f"{'module':24} {'mutants':>7} {'checked':>7} {'killed':>7} {'t/o':>4} {'unsett.':>7} {'equiv.':>6}"
    print("\n" + head + f" {'unexpl.':>7} {'killed %':>8}")
    for module, statuses in table.items():
        count = Counter(statuses.values())
        survivors = [n for n, s in statuses.items() if s in LIVE]
        eq = [n for n in survivors if n in equivalent]
        unexplained += [n for n in survivors if n not in equivalent]
        timeouts = [n for n, s in statuses.items() if s == "timeout"]
        unsettled += [n for n in timeouts if n not in loops]
        checked = sum(v for k, v in count.items() if k != "not checked")
        killed = count["killed"] + count["timeout"]
        row = {"mutants": len(statuses), "checked": checked, "killed": killed, "timeouts": len(timeouts)}
        row["unsettled"] = len([n for n in timeouts if n not in loops])
        row["equivalent"] = len(eq)
        row["unexplained"] = len(survivors) - len(eq)
        rows[module] = row
        total.update(row)
        share = f"{100 * killed / checked:7.1f}%" if checked else "       -"
        print(
            f"{module:24} {len(statuses):7} {checked:7} {killed:7} {len(timeouts):4} {row['unsettled']:7} {len(eq):6}"
            f" {row['unexplained']:7} {share}"
        )
    checked, killed = total["checked"], total["killed"]
    if not checked:
        print("mutants: no mutant was checked (did the fast tests pass on the unmutated code?)", file=sys.stderr)
        return 2
    share = 100 * killed / checked
    low, high = wilson(killed, checked)
    print(
        f"{'all':24} {total['mutants']:7} {checked:7} {killed:7} {total['timeouts']:4} {total['unsettled']:7}"
        f" {total['equivalent']:6} {total['unexplained']:7} {share:7.1f}%"
        + (f"  (95% CI {100 * low:.1f}-{100 * high:.1f}%, n={checked})" if percent else "")
    )
    print(
        f"t/o: killed by mutmut's timeout, of which unsett.: not confirmed as a loop by {Path(__file__).name} --settle"
    )
    print(f"equiv.: survivors {SURVIVORS.name} explains as equivalent; unexpl.: the rest")
    complete = total["checked"] == total["mutants"]
    interval = interval_words(killed, checked, percent, complete)
    print(f"killed {killed} of {checked} checked mutants ({share:.1f}%; {interval})", end="")
    live = checked - total["equivalent"]
    print(f"; {100 * killed / live:.1f}% of those not equivalent" if live else "")
    if unsettled:
        worst = 100 * (killed - len(unsettled)) / checked
        print(f"{len(unsettled)} timeout(s) not settled: had they all survived, {worst:.1f}% (run --settle)")
    if total["checked"] < total["mutants"]:
        print(f"{total['mutants'] - total['checked']} mutant(s) not checked yet: run make mutants again to go on")
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "sample_percent": percent or None,
        "sample_seed": SEED if percent else None,
        "disjoint_from": DISJOINT or None,
        "seconds": None if seconds is None else round(seconds),
        "killed_percent": round(share, 1),
        # What the sample says of every mutant: n and the 95% Wilson interval (wilson()); none for
        # a full run, whose figure is a count.
        "sample_size": checked if percent else None,
        "killed_ci95_percent": [round(100 * low, 1), round(100 * high, 1)] if percent else None,
        "worst_case_percent": round(100 * (killed - len(unsettled)) / checked, 1),
        "totals": dict(total),
        "modules": rows,
        "unexplained": sorted(unexplained),
        "unsettled_timeouts": sorted(unsettled),
    }
    results_path().write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written: {results_path().relative_to(ROOT)}")
    if unexplained:
        print(f"\n{len(unexplained)} survivor(s) neither killed nor explained in {SURVIVORS.relative_to(ROOT)}:")
        for name in unexplained:
            print(f"  {name}    (see: mutmut show '{name}')")
        return 1
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    modules = [a for a in args if a not in ("--report", "--settle")] or os.environ.get("MODULES", "").split() or DEFAULT
    if "--report" in args:
        sys.exit(report(modules, int(os.environ.get("MUTANT_SAMPLE", "0") or 0)))
    if "--settle" in args:
        sys.exit(settle(modules, int(os.environ.get("MUTANT_SAMPLE", "0") or 0)))
    sys.exit(main(modules))
