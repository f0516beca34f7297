"""A throwaway copy of the site's sources, for tests that build or serve a modified site, and the
build those tests run.

Tests that only read the site use the one strict build of the checkout that every test shares
(the `built_site` fixture in conftest.py); a copy is for a test that changes something.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import prerun

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    "mkdocs.yml",
    "macros.py",
    "hooks.py",
    "serve.py",
    "includes",
    "docs",
    "diagrams",
    "decoder",
    "netsim",
    "overrides",
]
# How mkdocs 1.6 ends a strict build whose only fault is warnings, after writing the whole site.
STOPPED_BY_WARNINGS = re.compile(r"Aborted with \d+ warnings? in strict mode!")


def copy_site(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def mkdocs_build(
    root: Path, out: Path, *, strict: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`mkdocs build [--strict] -d out` in `root`, in a fresh process, as a contributor runs it
    (tests/prerun.py: a process that starts with the libraries loaded)."""
    return prerun.python(
        ["-m", "mkdocs", "build", *(["--strict"] if strict else []), "-d", str(out)],
        cwd=root,
        env={**(os.environ if env is None else env), "NO_MKDOCS_2_WARNING": "1"},
    )


def stopped_by_warnings(result: subprocess.CompletedProcess[str]) -> bool:
    """A strict build that failed on its warnings alone, so its folder is a lenient build's.

    mkdocs 1.6 counts warnings in strict mode and raises only once the whole site is written
    (mkdocs/commands/build.py: the Abort comes after on_post_build), and --strict changes
    nothing else in a build. So one strict build answers both questions a test asks of a broken
    post: does `make build` fail, and what does `make serve` (no --strict) show? A build
    without --strict would have written the same files and exited 0; test_site.py pins this.
    """
    return result.returncode == 1 and bool(STOPPED_BY_WARNINGS.search(result.stdout + result.stderr))
