"""`make mutants`: mutation testing of netsim with mutmut, against the fast tests, module by module.

    make mutants                                  # the default modules below
    make mutants MODULES="netsim.bridge netsim.fdb"

mutmut (pinned in requirements-mutants.txt, in its own venv) rewrites each function of a module
into many slightly wrong versions, then runs the fast tests against each one; a mutant the tests
do not notice "survives". This script runs mutmut, then prints per module how many mutants the
tests killed, and checks every survivor against benchmarks/mutants-survivors.md, where each one
the tests cannot kill is listed with the reason it is equivalent (it changes nothing a reader, a
post or the lab could observe). It exits 1 when a survivor is not explained there.

It is slow and uses every core it is given (MUTANT_CHILDREN, default 2): not part of `make test`.
Figures are rendered afresh (NETSIM_CACHE_DIR=off) so a mutant in a renderer is never hidden
behind a figure cached from the unmutated code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURVIVORS = ROOT / "benchmarks" / "mutants-survivors.md"
DEFAULT = [
    "netsim.fdb",
    "netsim.bridge",
    "netsim.neighbour",
    "netsim.arp",
    "netsim.routing",
    "netsim.tcp",
    "netsim.addresses",
    "netsim.render.words",
    "netsim.render.tables",
]
STATUS = {1: "killed", 3: "killed", 0: "survived", 33: "no tests", 5: "no tests", 36: "timeout", 24: "timeout"}


def main(argv: list[str]) -> int:
    modules = argv or os.environ.get("MODULES", "").split() or DEFAULT
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "NETSIM_CACHE_DIR": "off", "PYTHONDONTWRITEBYTECODE": "1", "NETSIM_PROPERTY_EXAMPLES": "25"}
    children = os.environ.get("MUTANT_CHILDREN", "2")
    names = [f"{m}.*" for m in modules]
    run = subprocess.run([str(mutmut), "run", "--max-children", children, *names], cwd=ROOT, env=env, check=False)
    if run.returncode not in (0, 1):
        print(f"mutants: mutmut run exited {run.returncode}", file=sys.stderr)
        return 2
    return report(modules)


def results(modules: list[str]) -> dict[str, dict[str, str]]:
    """module -> {mutant: status}, read from mutmut's own record of each mutant's exit code."""
    found: dict[str, dict[str, str]] = {}
    for module in modules:
        meta = ROOT / "mutants" / (module.replace(".", "/") + ".py.meta")
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        found[module] = {
            name: STATUS.get(code, "not checked" if code is None else "suspicious") for name, code in codes.items()
        }
    return found


def explained() -> set[str]:
    """Mutant names listed in the survivors file (a `name` in backticks at the start of a row)."""
    if not SURVIVORS.exists():
        return set()
    return set(re.findall(r"^\|\s*`([^`]+)`", SURVIVORS.read_text(encoding="utf-8"), re.M))


def report(modules: list[str]) -> int:
    table = results(modules)
    equivalent = explained()
    total: Counter[str] = Counter()
    unexplained = []
    print(f"\n{'module':28} {'mutants':>8} {'killed':>7} {'equivalent':>10} {'survived':>9} {'killed %':>9}")
    for module, statuses in table.items():
        count = Counter(statuses.values())
        survivors = [n for n, s in statuses.items() if s in ("survived", "no tests", "suspicious")]
        eq = [n for n in survivors if n in equivalent]
        unexplained += [n for n in survivors if n not in equivalent]
        checked = sum(v for k, v in count.items() if k != "not checked")
        killed = count["killed"] + count["timeout"]
        total.update(checked=checked, killed=killed, equivalent=len(eq), survived=len(survivors))
        share = 100 * killed / checked if checked else 0.0
        print(f"{module:28} {checked:8} {killed:7} {len(eq):10} {len(survivors):9} {share:8.1f}%")
    checked, killed = total["checked"], total["killed"]
    if not checked:
        print("mutants: no mutant was checked (did the fast tests pass on the unmutated code?)", file=sys.stderr)
        return 2
    share = 100 * killed / checked if checked else 0.0
    print(f"{'all':28} {checked:8} {killed:7} {total['equivalent']:10} {total['survived']:9} {share:8.1f}%")
    live = checked - total["equivalent"]
    if live:
        print(f"killed {killed} of {checked} mutants ({share:.1f}%); {100 * killed / live:.1f}% of the non-equivalent")
    out = ROOT / "build" / "mutants.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"modules": table, "totals": dict(total)}, indent=1), encoding="utf-8")
    if unexplained:
        print(f"\n{len(unexplained)} survivor(s) neither killed nor explained in {SURVIVORS.relative_to(ROOT)}:")
        for name in unexplained:
            print(f"  {name}    (see: mutmut show '{name}')")
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:
        sys.exit(report(sys.argv[2:] or os.environ.get("MODULES", "").split() or DEFAULT))
    sys.exit(main(sys.argv[1:]))
