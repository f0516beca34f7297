"""Shared helpers: small scenarios written inline, beside the tests that use them; the order the
tests run in when pytest-xdist spreads them over several workers (`make test`)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from functools import cache
from pathlib import Path

# Where PYTHONDONTWRITEBYTECODE is set (many containers and CI images set it), each pytest process
# rewrote the asserts of every test file, and of Hypothesis' ~90 modules (its pytest plugin marks
# its whole package), afresh and compiled the checkout's netsim again: ~4 CPU s of collection in
# each of `make check`'s workers, ~1.7 s in every pytest a test starts. The bytecode is kept under
# build/pycache instead (PYTHONPYCACHEPREFIX's place; never beside the sources, never in the venv),
# for this process and what it imports only: the site builds a test starts still write none.
if sys.dont_write_bytecode and sys.pycache_prefix is None:
    sys.pycache_prefix = str(Path(__file__).resolve().parent.parent / "build" / "pycache")
    sys.dont_write_bytecode = False

import prerun  # noqa: E402 - after the bytecode's place is set
import pytest
from waiting_claims import pytest_runtest_setup  # noqa: F401 - the hook: `make test`'s two waiting runs share their tests

from netsim.scenario import Scenario, parse_scenario
from netsim.simulation import run
from netsim.trace import Trace

# A room with three seats and the host's own seat: the smallest world most tests need.
ROOM = """
title: test room
bridges:
  br0:
    host: host
    mac: 02:00:00:00:00:01
    address: 10.0.0.1/24
    ageing_time: {ageing}
    ports:
      p1: {{{p1}}}
      p2: {{}}
      p3: {{}}
hosts:
  host: {{listeners: [{listeners}]}}
  a:
    interfaces: {{eth0: {{mac: 02:00:00:00:00:0a, address: 10.0.0.10/24, plug: br0.p1}}}}
    gateway: 10.0.0.1
  b:
    interfaces: {{eth0: {{mac: 02:00:00:00:00:0b, address: 10.0.0.11/24, plug: br0.p2}}}}
  c:
    interfaces: {{eth0: {{mac: 02:00:00:00:00:0c, address: 10.0.0.12/24, plug: br0.p3}}}}
steps:
{steps}
"""

ROOT = Path(__file__).resolve().parent.parent
MAC = {"a": "02:00:00:00:00:0a", "b": "02:00:00:00:00:0b", "c": "02:00:00:00:00:0c", "br0": "02:00:00:00:00:01"}


def room(steps: str, *, ageing: int = 300, p1: str = "", listeners: str = "") -> Scenario:
    text = ROOM.format(
        steps=textwrap.indent(textwrap.dedent(steps).strip(), "  "), ageing=ageing, p1=p1, listeners=listeners
    )
    return parse_scenario(text, "room.yaml")


def simulate(steps: str, **kwargs: object) -> Trace:
    return run(room(steps, **kwargs))  # type: ignore[arg-type]


# `make check` is the loop between "save" and "all green"; `make test` is the full run. With
# --quick (make check), the tests that try many generated cases try a sample of them: fewer random
# stories per property (QUICK_EXAMPLES instead of 150), a fixed covering quarter of the attack
# corpus (every field and every payload still tried, not every pair), a sample of the lab's edge
# cases and recordings (corpus() below), each edge case drawn in one view (in turn) instead of all
# three, and the served site compared with a full build after the last edit only. Every test
# still runs, and every assertion holds as written; `make test` (and CI) runs every case.
QUICK_EXAMPLES = 40
_quick = False


def quick() -> bool:
    """True under `pytest --quick` (`make check`): sample the generated cases, see above."""
    return _quick


# The lab's corpus (tests/lab_scenarios/ and the recordings in tests/kernel_traces/, some 490 each and
# growing by a few dozen with each round of lab exploration) is tried once per case by the figure
# check, the plan and its script, the capture, tcpdump's lines and the recordings replayed: about 60
# of make check's 170 CPU seconds. With --quick these take every post's scenario, every eighth case
# of the corpus in name order, and every case changed in the work tree or on the branch since main
# (git), so a contributor's new or edited case is always tried; make test tries them all.
CORPUS_STRIDE = 8
CORPUS_DIRS = ("diagrams", "tests/lab_scenarios", "tests/kernel_traces")


def corpus(paths: list[Path]) -> list[Path]:
    """The cases of the lab's corpus a test tries: all of them, or under --quick the sample above."""
    if not quick():
        return list(paths)
    posts = {p.stem for p in (ROOT / "diagrams").glob("*.yaml")}
    changed = changed_cases()
    lab = [p for p in paths if p.stem not in posts]
    sampled = set(lab[::CORPUS_STRIDE])
    return [p for p in paths if p.stem in posts or p in sampled or p.stem in changed]


@cache
def changed_cases() -> frozenset[str]:
    """The names (file stems) of the corpus's files that differ from main: edited or new in the work
    tree, or changed by a commit on this branch. Empty where git is missing or this is no clone."""

    def git(*args: str) -> list[str]:
        try:
            done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return []
        return done.stdout.splitlines() if done.returncode == 0 else []

    names = [line[3:] for line in git("status", "--porcelain", "--untracked-files=all", "--", *CORPUS_DIRS)]
    base = next((b for b in ("origin/main", "main") if git("rev-parse", "--verify", "--quiet", b)), None)
    if base is not None:
        names += git("diff", "--name-only", f"{base}...HEAD", "--", *CORPUS_DIRS)
    return frozenset(Path(name.split(" -> ")[-1].strip('"')).stem for name in names)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help="the fast loop (make check): a sample of each test's generated cases; make test runs them all",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("quick"):
        return "--quick: a sample of the generated cases (make check); make test runs them all"
    return None


def pytest_configure(config: pytest.Config) -> None:
    """The tests never read or write the developer's figure cache (~/.cache/the-bottom-six): some
    plant faults in the simulator or the renderers on purpose, and a figure drawn then must never
    be served to a build later. One cache per run, set before any test module reads os.environ;
    xdist's workers inherit it from the process that starts them."""
    global _quick
    _quick = bool(config.getoption("quick"))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    run_cache = Path(tempfile.mkdtemp(prefix="netsim-test-figures-"))
    config.add_cleanup(lambda: shutil.rmtree(run_cache, ignore_errors=True))
    os.environ["NETSIM_CACHE_DIR"] = str(run_cache)
    os.environ.setdefault("NETSIM_LAYOUT_CACHE_DIR", str(_test_layouts(run_cache)))


def _test_layouts(run_cache: Path) -> Path:
    """Graphviz's layouts for the tests, kept from run to run, also for the figures a test renders
    with NETSIM_CACHE_DIR=off (netsim/render/layout.py). A layout is keyed by the whole DOT text
    netsim made and Graphviz's version, all Graphviz reads: a fault planted in netsim changes the
    text, so it still reaches the drawing, and netsim's work after the layout (graph._svg, the
    figure check) runs every time. The 153 lab edge cases' figures alone were ~2,600 layouts,
    about a quarter of the figure check's CPU. Outside the checkout, as the figure cache is
    (netsim/pages/cache.py); make mutants keeps them for its run only, since a mutant of
    layout.py could write a drawing under another text's key."""
    if "MUTANT_UNDER_TEST" in os.environ:  # mutmut sets it for the runs it starts, whatever its value
        return run_cache / "layouts"
    from netsim.render.layout import default_dir

    return default_dir(ROOT) / "test-layouts"


@cache
def _kernel_seconds(scenario: Path) -> float:
    from netsim.scenario import load_scenario

    trace = run(load_scenario(scenario))
    return trace.steps[-1].time if trace.steps else 0.0


class KernelWait:
    """Seconds a replay of this scenario waits on real kernel timers (netsim's clock at its end),
    for a test's `waits` marker. Simulated when the order is worked out, after -m has deselected:
    `make check` runs no test that waits, and simulating the ~140 lab scenarios as test_lab.py
    and test_try_it_yourself.py were collected cost each worker about 0.4 CPU seconds."""

    def __init__(self, scenario: Path, times: float = 1.0) -> None:
        self.scenario, self.times = scenario, times

    def __float__(self) -> float:
        return self.times * _kernel_seconds(self.scenario)

    def __rmul__(self, times: float) -> KernelWait:
        return KernelWait(self.scenario, self.times * times)

    def __repr__(self) -> str:
        return f"KernelWait({self.scenario.name!r}, times={self.times})"


def kernel_wait(scenario: Path) -> KernelWait:
    """What a replay of this scenario waits on kernel timers, for `pytest.mark.waits(...)`."""
    return KernelWait(scenario)


MUTANT_ORDER = [
    "test_kernel_traces.py",
    "test_edge_cases.py",
    "test_bridge.py",
    "test_arp_tcp.py",
    "test_namespaces.py",
    "test_scenario_errors.py",
    "test_figure_check.py",
    "test_capture.py",
    "test_cli.py",
    "test_properties.py",
    "test_claims.py",
    "test_figfacts.py",
]
RENDERERS = ("netsim.render.graph.", "netsim.render.words.", "netsim.render.tables.")
GOLDEN_TEST = "test_every_post_renders_cleanly_and_every_figure_is_the_golden_one"


# The files of computing tests that take longest (CPU seconds in `make check`, measured 2026-11-29
# at load 5-20: figfacts 24-27, claim audit 16, page store 12-14, serve 9-23 (one test: a server's
# builds, which wait on a subprocess), serve rebuild 8-10, capture 10 (39 before one sharkd read
# every capture), the attack corpus 9, prerender 8, series 7), handed out first. xdist gives a
# worker the next file (`make check`, --dist loadfile) or test (`make test`) as it frees up, so the
# long ones start early and the short ones fill in at the end, instead of one worker running a
# long file alone while the other has nothing left.
LONGEST = [
    "test_figfacts.py",
    "test_claim_audit.py",
    "test_page_store.py",
    "test_serve.py",
    "test_serve_rebuild.py",
    "test_capture.py",
    "test_corpus.py",
    "test_prerender.py",
    "test_series.py",
]


def _longest_first(item: pytest.Item) -> int:
    name = getattr(getattr(item, "path", None), "name", "")
    return LONGEST.index(name) if name in LONGEST else len(LONGEST)


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected: only the tests that run are ordered
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, start the tests that wait on kernel timers first, one at the head of each worker.

    They sleep rather than compute (post three's lab and script each wait two minutes for SYN
    retries), so the run takes as long as the longest wait plus the rest spread over the workers,
    not the sum of the waits. `make test` passes --maxschedchunk=1, so xdist hands each worker
    two tests to start with: items 0-1 to the first, 2-3 to the second, and so on. Putting the
    waits at the even places, longest first, starts each on a worker of its own.
    """
    if os.environ.get("MUTANT_UNDER_TEST"):
        # make mutants (mutmut) stops at a mutant's first failing test (-x): the quick tests that
        # see the most (netsim against the kernel's recordings) go first, the figure renders last;
        # but a renderer's mutant meets the golden figures first (6 s, and it changes them nearly
        # always), not after a minute of other tests that pushed it past mutmut's wall-time limit.
        golden = os.environ["MUTANT_UNDER_TEST"].startswith(RENDERERS)
        items.sort(
            key=lambda item: (
                not (golden and item.name == GOLDEN_TEST),
                MUTANT_ORDER.index(item.path.name) if item.path.name in MUTANT_ORDER else 6,
            )
        )
        return
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # one process: the order in the files is the clearest to read
    waiting = [item for item in items if item.get_closest_marker("waits")]
    waiting.sort(key=lambda item: -float(item.get_closest_marker("waits").args[0]))  # type: ignore[union-attr]
    rest = [item for item in items if not item.get_closest_marker("waits")]
    rest.sort(key=_longest_first)  # stable: within a file, and among the rest, the order is the files'
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if len(rest) < min(len(waiting), workers):
        # Nearly all wait (tests/run.py gives the lab and try-it files a run of their own): the
        # longest waits head the workers, each with one of the shortest behind it, and the rest
        # follow longest first, so no long wait queues behind another. (With fewer than two tests
        # a worker, xdist deals them out one by one: longest first is then the whole rule.)
        if len(items) < 2 * workers:
            items[:] = waiting + rest
            return
        heads = waiting[:workers]
        spare = rest + waiting[workers:][::-1]  # the computing tests, then the shortest waits
        tails = spare[: len(heads)]
        paired = [item for pair in zip(heads, tails, strict=True) for item in pair]
        items[:] = paired + spare[len(heads) :][::-1]
        return
    ordered: list[pytest.Item] = []
    for i, item in enumerate(waiting):
        ordered.append(item)
        if i < len(rest):
            ordered.append(rest[i])
    ordered.extend(rest[len(waiting) :])
    items[:] = ordered


def _build_site(out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SITE_URL"}  # as published with SITE_URL unset
    result = prerun.python(
        ["-m", "mkdocs", "build", "--strict", "-d", str(out)], cwd=ROOT, env={**env, "NO_MKDOCS_2_WARNING": "1"}
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `mkdocs build --strict` writes it with SITE_URL unset, built once per test run
    (also under xdist: the first worker to need it builds it, holding a lock, and the others read
    the same folder). Read it, never write to it: a test that needs a changed site builds a copy
    (tests/sitecopy.py)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        out = tmp_path_factory.mktemp("site")
        _build_site(out)
        return out
    shared = tmp_path_factory.getbasetemp().parent  # the same for every worker of this run
    out = shared / "built-site"
    with open(shared / "built-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "built-site.complete").exists():
            _build_site(out)
            (shared / "built-site.complete").touch()
    return out


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this run sees (the run's base temp without xdist)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.getbasetemp().parent
    return Path(tmp_path_factory.getbasetemp())


ZENSICAL_SITE = ROOT / "site-zensical"
ZENSICAL_VENV_LOCK = ROOT / "build" / "zensical-venv.lock"  # tests/run.py's, held while it installs the venv


def _build_zensical() -> None:
    """`make build-zensical`, exactly as a maintainer runs it (it creates .venv-zensical, Zensical
    pinned with hashes, the first time)."""
    if shutil.which("make") is None:
        pytest.skip("Zensical build skipped: make is not installed")
    ZENSICAL_VENV_LOCK.parent.mkdir(exist_ok=True)
    with open(ZENSICAL_VENV_LOCK, "w") as installing:
        fcntl.flock(installing, fcntl.LOCK_EX)  # tests/run.py may be installing the venv: wait for it
        result = _make_build_zensical()
    if result.returncode != 0 and "Could not find a version" in result.stderr:
        pytest.skip(f"Zensical could not be installed from the package index: {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "ok  site-zensical:" in result.stdout


def _make_build_zensical() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "build-zensical"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="session")
def zensical_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `make build-zensical` writes it (site-zensical/), built once per test run; under
    xdist the first worker to need it builds it, holding a lock, and the others wait and read it."""
    shared = _shared_dir(tmp_path_factory)
    with open(shared / "zensical.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "zensical.complete"
        if not done.exists():
            _build_zensical()
            done.touch()
    return ZENSICAL_SITE


@pytest.fixture(
    scope="session",
    params=["mkdocs", pytest.param("zensical", marks=pytest.mark.generator)],
)
def generated_site(request: pytest.FixtureRequest) -> Path:
    """The built site, once per generator: the browser tests run against the MkDocs build (the
    default, `built_site`) and against the Zensical build (`zensical_site`), the same tests on
    both. A test's id says which: test_x[mkdocs], test_x[zensical]."""
    return request.getfixturevalue("built_site" if request.param == "mkdocs" else "zensical_site")


@pytest.fixture
def margaret() -> Trace:
    from netsim.scenario import load_scenario

    return run(load_scenario("diagrams/margarets-room.yaml"))
