"""`make audit`: bytes on first load and Lighthouse scores for every post, measured not asserted.

Builds the site, serves it on localhost with gzip (as any static host does), runs Lighthouse
(pinned in audit/package.json) with Debian's Chromium against each post, prints a table and
writes build/audit/results.json (results-mobile.json for the phone preset).
Targets (from the issues): performance >= 95, accessibility 100, best practices >= 95, SEO >= 90, and
every post under 200 KB transferred on first load. Lighthouse's desktop preset by default;
`AUDIT_PRESET=mobile make audit` runs its phone emulation (a slow CPU and network, simulated: on a
busy machine its timings swing widely, so read them against index.html's in the same run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser import CHROMIUM_ARGS, find_chromium, serve  # noqa: E402

OUT = ROOT / "build" / "audit"
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 95, "seo": 90}
BYTE_BUDGET = 200_000  # every post, on first load
PRESET = os.environ.get("AUDIT_PRESET", "desktop")


def main() -> int:
    chromium, why = find_chromium(shell=False)
    if chromium is None:
        print(f"audit: {why}", file=sys.stderr)
        return 3
    lighthouse = ROOT / "audit" / "node_modules" / ".bin" / "lighthouse"
    if not lighthouse.exists():
        print("audit: installing Lighthouse from audit/package.json (first run only)", file=sys.stderr)
        # `npm ci` installs exactly the lock file; tests/test_audit_lock.py keeps the lock in sync with
        # package.json (a Lighthouse dependency asks for `latest`, pinned by package.json's overrides).
        if subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT / "audit").returncode:
            print("audit: `npm ci` failed in audit/ (see above); is Node.js 18+ with npm installed?", file=sys.stderr)
            return 3
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
        # No -q: mkdocs 1.6 keeps a quiet build's warnings out of --strict's count, so false claims would pass.
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=ROOT, env=env, check=True
        )
        pages = ["index.html"] + sorted(f"posts/{p.name}" for p in (site / "posts").glob("*.html"))
        results = {}
        with serve(site, compress=True) as base:  # gzip, as static hosts serve it
            for page in pages:
                print(f"audit: lighthouse {page} ...", file=sys.stderr, flush=True)
                report = OUT / (page.replace("/", "_") + ".json")
                subprocess.run(
                    [
                        str(lighthouse),
                        f"{base}/{page}",
                        "--quiet",
                        "--output=json",
                        f"--output-path={report}",
                        f"--chrome-path={chromium}",
                        "--chrome-flags=" + " ".join(["--headless=new", *CHROMIUM_ARGS]),
                        "--only-categories=performance,accessibility,best-practices,seo",
                        *(["--preset=desktop"] if PRESET == "desktop" else []),
                    ],
                    check=True,
                )
                data = json.loads(report.read_text())
                scores = {k: round(v["score"] * 100) for k, v in data["categories"].items()}
                failed_a11y = [
                    a["id"]
                    for a in data["audits"].values()
                    if a.get("score") == 0 and a["id"] in _ids(data, "accessibility")
                ]
                results[page] = {
                    **scores,
                    "bytes": int(data["audits"]["total-byte-weight"]["numericValue"]),
                    "requests": len(data["audits"]["network-requests"]["details"]["items"]),
                    "elements": int(data["audits"]["dom-size"]["numericValue"]),
                    "page_bytes_uncompressed": (site / page).stat().st_size,
                    "accessibility-failures": failed_a11y,
                }
    written = OUT / ("results.json" if PRESET == "desktop" else f"results-{PRESET}.json")
    written.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nLighthouse, {PRESET} preset")
    head = f"{'page':38} {'perf':>5} {'a11y':>5} {'best':>5} {'seo':>5} {'KB':>7} {'reqs':>5} {'elements':>9}"
    print(f"{head} {'HTML KB raw':>12}")
    for page, r in results.items():
        print(
            f"{page:38} {r['performance']:>5} {r['accessibility']:>5} {r['best-practices']:>5} {r['seo']:>5} "
            f"{r['bytes'] / 1000:>7.1f} {r['requests']:>5} {r['elements']:>9} "
            f"{r['page_bytes_uncompressed'] / 1000:>12.1f}"
        )
        for problem in _misses(page, r):
            print(f"    below target: {problem}")
    print(f"\nwritten: {written}")
    return 0


def _ids(data: dict, category: str) -> set[str]:
    return {ref["id"] for ref in data["categories"][category]["auditRefs"]}


def _misses(page: str, r: dict) -> list[str]:
    out = [f"{k} {r[k]} < {v}" for k, v in TARGETS.items() if r[k] < v]
    if page.startswith("posts/") and r["bytes"] > BYTE_BUDGET:
        out.append(f"{r['bytes'] / 1000:.1f} KB > {BYTE_BUDGET / 1000:.0f} KB")
    out += [f"accessibility audit failed: {a}" for a in r["accessibility-failures"]]
    return out


if __name__ == "__main__":
    sys.exit(main())
