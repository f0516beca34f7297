"""Two pytest runs of the same waiting tests, each test run by one of them (tests/run.py).

`make test` starts the tests that wait on kernel timers on a few workers beside the computing tests:
more labs at once would contend with the site builds when they wake, and their steps are timed. When
the computing run ends, the machine is the labs' alone and more of them can sleep side by side. xdist
cannot add workers to a running session, so tests/run.py starts a second pytest of the same tests
then, on more workers. The two share a directory: as a worker is about to set a test up, it claims
the test there (an O_EXCL create, atomic across processes); a test the other run claimed first is
skipped at once, before any fixture, with TAKEN as the reason. Each test thus runs exactly once, in
whichever run reached it first, and each run's report lists what it ran.

Without CLAIMS_ENV set (every run but these two) the hook does nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

CLAIMS_ENV = "BOTTOM_SIX_WAITING_CLAIMS"
TAKEN = "run by the other waiting run (tests/run.py)"


def claim(directory: Path, nodeid: str) -> bool:
    """Take this test for this run; False when the other run took it first."""
    name = hashlib.sha256(nodeid.encode()).hexdigest()[:32]  # a node id holds `/`, `[` and `::`
    try:
        fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(nodeid + "\n")  # for whoever reads the directory while a run hangs
    return True


@pytest.hookimpl(tryfirst=True)  # before pytest's own setup, so no fixture is set up for a skip
def pytest_runtest_setup(item: pytest.Item) -> None:
    directory = os.environ.get(CLAIMS_ENV)
    if directory and not claim(Path(directory), item.nodeid):
        pytest.skip(TAKEN)
