"""`make audit` installs Lighthouse with `npm ci`, which refuses a lock file out of sync with package.json.

A Lighthouse dependency (@paulirish/trace_engine) asks for two packages as `latest`. A lock file records
one version; when the registry's `latest` moves on, `npm ci` on a clean clone fails. package.json pins
each such package with `overrides`, and these tests keep it that way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parent.parent / "audit"


def _floating_requests(lock: dict) -> set[str]:
    """Names some locked package asks for by a dist-tag, whose meaning moves with the registry."""
    wanted: set[str] = set()
    for entry in lock["packages"].values():
        for kind in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
            for name, spec in entry.get(kind, {}).items():
                if spec in {"latest", "next"}:  # a range like "*" is met by any locked version
                    wanted.add(name)
    return wanted


def test_every_floating_dependency_is_pinned_by_an_override() -> None:
    package = json.loads((AUDIT / "package.json").read_text())
    lock = json.loads((AUDIT / "package-lock.json").read_text())
    overrides = package.get("overrides", {})
    unpinned = sorted(_floating_requests(lock) - overrides.keys())
    assert not unpinned, f"audit/package.json must pin these with `overrides` (asked for as `latest`): {unpinned}"
    for name, version in overrides.items():
        locked = lock["packages"].get(f"node_modules/{name}", {}).get("version")
        assert locked == version, (
            f"override {name}={version} but the lock file has {locked}; run `npm install` in audit/"
        )


def test_npm_ci_accepts_the_lock_file(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed; only the offline check of the lock file ran")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(AUDIT / name, tmp_path / name)
    run = subprocess.run(
        [npm, "ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "npm_config_cache": str(tmp_path / "cache")},
    )
    if run.returncode and any(w in run.stderr for w in ("ENOTFOUND", "ETIMEDOUT", "EAI_AGAIN", "ECONNREFUSED")):
        pytest.skip("the npm registry is unreachable; only the offline check of the lock file ran")
    assert run.returncode == 0, run.stderr[-2000:]
