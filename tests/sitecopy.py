"""A throwaway copy of the site's sources, for tests that build or serve a modified site."""

from __future__ import annotations

import shutil
from pathlib import Path

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


def copy_site(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest
