"""tests/prerun.py runs `python -m ...` / `python -c ...` as a fresh process would: the folder's own
modules, the given environment, the exit status and both output streams."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import prerun
import pytest


def both(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[object, object]:
    """(prerun's answer, a fresh process's answer) as (exit status, stdout, stderr)."""
    fresh = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    ours = prerun.python(args, cwd=cwd, env=env, timeout=60)
    return (ours.returncode, ours.stdout, ours.stderr), (fresh.returncode, fresh.stdout, fresh.stderr)


def test_the_folder_s_own_modules_are_imported_afresh_every_time(tmp_path: Path) -> None:
    # A copy of the site with its own netsim, macros.py and hooks.py: the build must use those,
    # never modules the server or an earlier build loaded.
    for n in (1, 2):
        site = tmp_path / f"copy{n}"
        (site / "netsim").mkdir(parents=True)
        (site / "netsim" / "__init__.py").write_text(f"MARK = 'copy {n}'\n")
        (site / "netsim" / "__main__.py").write_text("import netsim, sys\nprint(netsim.MARK, sys.argv[1:])\n")
        (site / "macros.py").write_text(f"MARK = 'macros {n}'\n")
        ours, fresh = both(["-m", "netsim", "a", "b"], site)
        assert ours == fresh == (0, f"copy {n} ['a', 'b']\n", "")
        ours, fresh = both(["-c", "import macros, sys; print(macros.MARK, sys.argv)", "x"], site)
        assert ours == fresh == (0, f"macros {n} ['-c', 'x']\n", "")


def test_the_environment_exit_status_and_streams_are_a_fresh_process_s(tmp_path: Path) -> None:
    env = {**os.environ, "PRERUN_PROBE": "one"}
    env.pop("NETSIM_CACHE_DIR", None)
    probe = "import os, sys; print(os.environ.get('PRERUN_PROBE'), 'NETSIM_CACHE_DIR' in os.environ, os.getcwd())"
    assert both(["-c", probe], tmp_path, env) == ((0, f"one False {tmp_path}\n", ""),) * 2
    for code, status in (("raise SystemExit(3)", 3), ("import sys; sys.exit('no')", 1), ("print('out')", 0)):
        ours, fresh = both(["-c", "import sys; print('x'); print('y', file=sys.stderr)\n" + code], tmp_path)
        assert ours == fresh and ours[0] == status, (ours, fresh)
    ours, fresh = both(["-c", "raise ValueError('boom')"], tmp_path)
    assert ours[0] == fresh[0] == 1 and ours[2] == fresh[2] and "ValueError: boom" in ours[2]
    ours, fresh = both(["-m", "no_such_module_here"], tmp_path)
    assert ours[0] == fresh[0] == 1 and "No module named no_such_module_here" in ours[2]


def test_a_build_that_hangs_times_out_as_subprocess_run_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A server of this test's own: a timeout kills the server, and the one this process shares
    # has the libraries loaded (the next site build in this worker would load them all again).
    monkeypatch.setattr(prerun, "_server", None)
    try:
        try:
            prerun.python(["-c", "import time; time.sleep(30)"], cwd=tmp_path, timeout=1)
        except subprocess.TimeoutExpired:
            pass
        else:
            raise AssertionError("no timeout")
        assert prerun._server is None  # killed with its build
        assert prerun.python(["-c", "print(1)"], cwd=tmp_path).stdout == "1\n"  # a new server after it
        assert prerun._server is not None
    finally:
        if prerun._server is not None:
            prerun._server.stop()


def test_a_stopped_server_leaves_no_folder_behind(tmp_path: Path) -> None:
    server = prerun._Server()
    assert server.run(["-c", "print(2)"], tmp_path, dict(os.environ), 60) == (0, "2\n", "")
    server.stop()
    assert server.proc.poll() is not None and not os.path.exists(server.home)
    orphan = prerun._Server()  # its pytest process ended without stopping it: stdin closes
    assert orphan.proc.stdin is not None
    orphan.proc.stdin.close()
    assert orphan.proc.wait(timeout=60) == 0 and not os.path.exists(orphan.home)


def test_the_theme_s_compiled_templates_and_nothing_else_carry_over_to_the_next_build(tmp_path: Path) -> None:
    # hooks.py keeps the theme's compiled templates in module _bottom_six_templates (each under its
    # source's checksum); the server hands what one build compiled to the builds after it.
    server = prerun._Server()
    try:
        keep = (
            "import sys, types; holder = sys.modules.setdefault('_bottom_six_templates', "
            "types.ModuleType('t')); holder.__dict__.setdefault('compiled', {})['probe'] = "
            "('sum', compile('6 * 7', 't', 'eval')); import json; json.PROBE = 1"
        )
        assert server.run(["-c", keep], tmp_path, dict(os.environ), 60) == (0, "", "")
        read = (
            "import sys, json; checksum, code = sys.modules['_bottom_six_templates'].compiled['probe']; "
            "print(checksum, eval(code), hasattr(json, 'PROBE'))"
        )
        assert server.run(["-c", read], tmp_path, dict(os.environ), 60) == (0, "sum 42 False\n", "")
    finally:
        server.stop()


def test_netsim_in_the_checkout_answers_as_a_fresh_process_and_keeps_the_checkout_s_netsim_loaded() -> None:
    # The lab tests' `python -m netsim ...` (prerun.netsim): the same status and streams as a new
    # interpreter in the checkout, for a run, a JSON trace and a refusal.
    checkout = prerun.CHECKOUT
    for args in (
        ["run", "tests/lab_scenarios/bad-sources.yaml"],
        ["run", "tests/lab_scenarios/bad-sources.yaml", "--json"],
        ["run", "tests/lab_scenarios/no-such-scenario.yaml"],
    ):
        fresh = subprocess.run(
            [sys.executable, "-m", "netsim", *args], cwd=checkout, capture_output=True, text=True, check=False
        )
        ours = prerun.netsim(args)
        assert (ours.returncode, ours.stdout, ours.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr), args
    # Served (not the fallback of a new process), with the checkout's own netsim already loaded.
    assert prerun._own is not None
    probe = "import sys; print(sys.modules['netsim.simulation'].__file__)"
    code, out, _ = prerun._own.run(["-c", probe], checkout, dict(os.environ), 60)
    assert code == 0 and Path(out.strip()).resolve() == checkout / "netsim" / "simulation.py"
    # Anywhere but the checkout it runs nothing: that folder's modules would not be the ones loaded.
    assert prerun._own.run(["-c", "print(1)"], checkout / "tests", dict(os.environ), 60)[0] == 71
