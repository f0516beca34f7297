"""A shell script run in a network namespace of the test's own, for the tests that hold the lab's
netlink reads to iproute2's answers (test_rtlink, test_brfdb, test_neightbl)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sh_in_own_netns(script: str, *, shell: tuple[str, ...] = ("unshare", "--net", "sh", "-c")) -> str:
    """What the script printed, run by `shell` (a fresh network namespace's `sh` unless told), with
    $PYTHON this interpreter and netsim importable from the checkout. It must succeed."""
    done = subprocess.run(
        [*shell, script],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
