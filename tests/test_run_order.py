"""How `make test` runs the tests: the waiting ones in a pytest of their own beside the computing
ones (tests/run.py), the longest waits first (tests/conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import pytest_collection_modifyitems

ROOT = Path(__file__).resolve().parent.parent
# The throwaway test files below use no Hypothesis. Its pytest plugin costs each pytest they start
# ~1.7 CPU s where PYTHONDONTWRITEBYTECODE is set (pytest rewrites the asserts of a plugin's whole
# package, ~90 modules, and may not keep the result), and these tests start seven.
NO_HYPOTHESIS = "-p no:hypothesispytest"


class Item:
    """What the ordering reads of a test: its `waits` marker, if any."""

    def __init__(self, name: str, waits: float | None = None, file: str = "test_x.py") -> None:
        self.name, self.waits, self.path = name, waits, Path("tests") / file

    def get_closest_marker(self, name: str) -> SimpleNamespace | None:
        return SimpleNamespace(args=(self.waits,)) if name == "waits" and self.waits is not None else None

    def __repr__(self) -> str:
        return self.name


def ordered(items: list[Item], workers: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.delenv("MUTANT_UNDER_TEST", raising=False)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(workers))
    pytest_collection_modifyitems(None, items)  # type: ignore[arg-type]
    return [item.name for item in items]


def test_the_longest_waits_head_the_workers_each_with_a_short_one_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    # xdist (--maxschedchunk=1) hands each worker two tests to start with, items 0-1 to the first,
    # 2-3 to the second, then one at a time from the front as workers free up.
    items = [Item(f"w{s}", s) for s in (1, 147, 38, 20, 5, 3, 2)] + [Item("shape")]
    assert ordered(items, 3, monkeypatch) == ["w147", "shape", "w38", "w1", "w20", "w2", "w5", "w3"]


def test_fewer_tests_than_two_a_worker_go_longest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [Item("w1", 1), Item("w9", 9), Item("w4", 4)]
    assert ordered(items, 12, monkeypatch) == ["w9", "w4", "w1"]


def test_mixed_runs_put_one_wait_before_each_computing_test(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [Item("a"), Item("b"), Item("w3", 3), Item("c"), Item("w8", 8)]
    assert ordered(items, 2, monkeypatch) == ["w8", "a", "w3", "b", "c"]


def test_the_longest_files_of_computing_tests_go_first_each_kept_in_its_order(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [
        Item("a1", file="test_a.py"),
        Item("s1", file="test_series.py"),
        Item("f1", file="test_figfacts.py"),
        Item("a2", file="test_a.py"),
        Item("f2", file="test_figfacts.py"),
        Item("b1", file="test_b.py"),
    ]
    assert ordered(items, 2, monkeypatch) == ["f1", "f2", "s1", "a1", "a2", "b1"]
    items = [Item("a1", file="test_a.py"), Item("w8", 8), Item("f1", file="test_figfacts.py"), Item("w3", 3)]
    assert ordered(items, 2, monkeypatch) == ["w8", "f1", "w3", "a1"]  # the waits still lead


def run_py_on(tmp_path: Path, pytest_args: str = "") -> subprocess.CompletedProcess[str]:
    """tests/run.py with tmp_path's test_sleeps.py waiting and its test_computes.py computing."""
    return subprocess.run(
        [sys.executable, "tests/run.py", "--workers", "0", "--wait-workers", "0",
         "--computing", str(tmp_path / "test_computes.py"),
         "--pytest-args", f"-c /dev/null --rootdir {tmp_path} {pytest_args} {NO_HYPOTHESIS}",
         str(tmp_path / "test_sleeps.py")],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_run_py_shows_both_runs_and_fails_when_either_fails(tmp_path: Path) -> None:
    (tmp_path / "test_sleeps.py").write_text("def test_waits():\n    assert False, 'the kernel disagreed'\n")
    # The computing run is niced, so a waking lab gets a core at once (its steps are timed).
    niced = min(os.nice(0) + 10, 19)
    (tmp_path / "test_computes.py").write_text(
        f"import os\n\ndef test_niced():\n    assert os.nice(0) == {niced}\n"
        "    assert os.sched_getscheduler(0) == os.SCHED_IDLE\n"
    )
    done = run_py_on(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the kernel disagreed" in done.stdout  # the waiting run's output, printed at the end
    assert "computing tests: passed" in done.stdout
    assert "waiting tests: exit 1" in done.stdout
    # What each run cost the machine, and the least wall time that cost allows on its cores.
    assert re.search(r"computing tests: passed after \d+ s \([\d,]+ CPU s\)", done.stdout), done.stdout
    assert re.search(r"both: [\d,]+ CPU s counted, on \d+ core\(s\): at least [\d,]+ s of wall time", done.stdout)
    assert re.search(r"the machine: [\d,]+ of its [\d,]+ CPU s busy during the run \(\d+\.\d\d of", done.stdout)
    assert re.search(r"; user [\d,]+, system [\d,]+, interrupts [\d,]+, stolen [\d,]+\)", done.stdout)


def test_a_waiting_test_that_failed_beside_the_computing_run_runs_once_more_after_it(tmp_path: Path) -> None:
    # The lab compares the kernel's timing: beside the computing tests (load 10 and more) a coincidence
    # of timers may make a scenario disagree. It runs once more when the machine is theirs; what passes
    # then passes, and only the tests that failed run again.
    flag = tmp_path / "failed-once"
    (tmp_path / "test_sleeps.py").write_text(
        "from pathlib import Path\n\n"
        f"def test_waits():\n    flag = Path({str(flag)!r})\n"
        "    if not flag.exists():\n        flag.write_text('x')\n        assert False, 'the kernel disagreed'\n\n\n"
        f"def test_agrees():\n    Path({str(tmp_path / 'agreed')!r}).open('a').write('x')\n"
    )
    (tmp_path / "test_computes.py").write_text("def test_computes():\n    pass\n")
    done = run_py_on(tmp_path, "-p no:randomly")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "the kernel disagreed" in out  # the first report stays in the log
    assert out.index("computing tests: passed") < out.index("once more, on a machine they have to themselves")
    assert "test_sleeps.py::test_waits" in out.split("once more")[1]
    assert "waiting tests, rerun alone: passed" in out
    assert (tmp_path / "agreed").read_text() == "x"  # a test that passed is not run again


def test_run_py_splits_by_marker_and_runs_each_test_once(tmp_path: Path) -> None:
    # make test: the tests marked `lab` wait, wherever they are; they run beside the others, not niced.
    base = os.nice(0)
    niced = min(base + 10, 19)
    (tmp_path / "test_mixed.py").write_text(
        "import os\n\nimport pytest\n\n\n"
        f"@pytest.mark.lab\ndef test_runs_the_lab():\n    assert os.nice(0) == {base}\n\n\n"
        f"def test_computes():\n    assert os.nice(0) == {niced}\n"
    )
    done = subprocess.run(
        [sys.executable, "tests/run.py", "--workers", "0", "--wait-workers", "0", "--waiting-marker", "lab",
         "--computing", str(tmp_path),
         "--pytest-args", f"-c /dev/null --rootdir {tmp_path} -p no:randomly {NO_HYPOTHESIS}"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("1 passed, 1 deselected") == 2, done.stdout
    assert "computing tests: passed" in done.stdout and "waiting tests: passed" in done.stdout


def test_the_order_is_worked_out_after_deselection_and_reads_no_deselected_wait(tmp_path: Path) -> None:
    # pytest calls a conftest's hook before its own -m deselection unless the hook says trylast:
    # then `make test`'s waiting run (-m "lab or waits") put the two longest waits side by side,
    # items 0 and 1, on one worker, once the computing tests between them were deselected; and
    # every lab scenario was simulated for its `waits` marker in `make check`, which runs none.
    ours = ROOT / "tests" / "conftest.py"
    (tmp_path / "conftest.py").write_text(
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(ours.parent)!r})\n"
        f"spec = importlib.util.spec_from_file_location('bottom_six_conftest', {str(ours)!r})\n"
        "ours = sys.modules['bottom_six_conftest'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(ours)\n"
        "pytest_collection_modifyitems = ours.pytest_collection_modifyitems\n"
    )
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "from pathlib import Path\n"
        "from bottom_six_conftest import kernel_wait\n\n"
        "def test_c1(): pass\n"
        "def test_c2(): pass\n"
        "@pytest.mark.lab\ndef test_l1(): pass\n"
        "@pytest.mark.lab\ndef test_l2(): pass\n"
        "@pytest.mark.lab\n@pytest.mark.waits(3)\ndef test_w3(): pass\n"
        "@pytest.mark.lab\n@pytest.mark.waits(9)\ndef test_w9(): pass\n"
        "@pytest.mark.lab\n@pytest.mark.waits(kernel_wait(Path('no-such-scenario.yaml')))\ndef test_never(): pass\n"
    )
    env = {**os.environ, "PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "2"}

    def collected(*args: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-c", "/dev/null", "--rootdir", str(tmp_path), "-p", "no:cacheprovider",
             *NO_HYPOTHESIS.split(),
             "--collect-only", "-q", *args, str(tmp_path / "test_x.py")],
            cwd=tmp_path, capture_output=True, text=True, check=False, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return [line.split("::")[1] for line in done.stdout.splitlines() if "::" in line]

    # The computing run, as make check: the wait of a test it deselects is never worked out.
    assert collected("-m", "not lab") == ["test_c1", "test_c2"]
    # The waiting run: each wait at the head of a worker's first two, a test that does not wait behind it.
    assert collected("-m", "lab", "-k", "not never") == ["test_w9", "test_l1", "test_w3", "test_l2"]


def test_when_the_computing_run_ends_more_workers_take_the_waiting_tests_not_yet_started(tmp_path: Path) -> None:
    # The first waiting run has one process (no xdist), the late one two workers. Each test notes
    # which run ran it (the first run's third waits until the late run has run one); a test the late
    # run ran fails there once, so the rerun after both runs must take the late run's failures too.
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from waiting_claims import pytest_runtest_setup  # noqa: F401\n"
    )
    ran = tmp_path / "ran"
    (tmp_path / "test_sleeps.py").write_text(
        "import os, time\nfrom pathlib import Path\n\nimport pytest\n\n\n"
        "@pytest.mark.parametrize('n', range(10))\n"
        "def test_sleeps(n):\n"
        "    worker = os.environ.get('PYTEST_XDIST_WORKER', 'first')\n"
        f"    with Path({str(ran)!r}).open('a') as out:\n"
        "        out.write(f'{n} {worker}\\n')\n"
        "    deadline = time.monotonic() + 60\n"
        "    while worker == 'first' and n >= 2 and time.monotonic() < deadline:  # until the late run has begun\n"
        f"        if 'gw' in Path({str(ran)!r}).read_text():\n"
        "            break\n"
        "        time.sleep(0.05)\n"
        "    assert worker == 'first', 'failed once in the late run'\n"
    )
    (tmp_path / "test_computes.py").write_text("def test_computes():\n    pass\n")
    done = subprocess.run(
        [sys.executable, "tests/run.py", "--workers", "0", "--wait-workers", "0", "--late-wait-workers", "2",
         "--computing", str(tmp_path / "test_computes.py"),
         "--pytest-args", f"-c /dev/null --rootdir {tmp_path} -p no:randomly {NO_HYPOTHESIS}",
         str(tmp_path / "test_sleeps.py")],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},  # not this xdist worker's
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    runs = [line.split() for line in ran.read_text().splitlines()]
    first = [n for n, worker in runs if worker == "first"]
    late = [n for n, worker in runs if worker != "first"]
    assert first and late, runs  # both runs took some
    # Each test ran once in the two runs; the late run's, failed there, once more in the rerun (last).
    first_run, rerun_alone = first[: len(first) - len(late)], first[len(first) - len(late) :]
    assert sorted(first_run + late, key=int) == [str(n) for n in range(10)], runs
    assert sorted(rerun_alone) == sorted(late), runs
    assert out.index("more workers take the waiting tests not yet started") < out.index("rerun alone: passed")
    rerun = out.split("once more, on a machine")[1]
    assert sorted(rerun.count(f"test_sleeps[{n}]") for n in late) == [1] * len(late)
    assert f"{len(late)} passed" in rerun
    assert "waiting tests: exit 1" in out
