"""`make mutants` (benchmarks/mutants.py): which tests mutmut runs, and what its sample can claim.

mutmut runs only the test files pyproject's `pytest_add_cli_args_test_selection` names, so a fast
test written for a mechanism and not added there kills no mutant, however good it is (four of
the 4% sample's survivors of 28 November were killed only by tests/test_kernel_refusals.py, which
was not in it). Each test file is either in the selection or left out here with its reason.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from benchmarks import mutants, run

ROOT = Path(__file__).resolve().parent.parent

# Test files mutmut does not run, and why: each needs root, a browser or a site build, waits on
# kernel timers, tests no netsim code that is mutated, or is left out for time (then the figure
# is a lower bound, as pyproject says).
LEFT_OUT = {
    "test_audit_lock.py": "the npm lock file of make audit",
    "test_bench_series.py": "make bench's generated series (a site build)",
    "test_browser.py": "a browser",
    "test_cache.py": "the figure cache, a build's files",
    "test_checkout_caches.py": "a site build",
    "test_claim_audit.py": "for time: every claim of every post against planted faults (test_claims holds the checker)",
    "test_cli.py": "for time: a Python process per case",
    "test_csp.py": "a site build",
    "test_decoder_browser.py": "a browser",
    "test_error_kinds.py": "a site build",
    "test_figkey.py": "the figure cache's key, under make serve's rebuilds (site builds)",
    "test_guide.py": "site builds of a new post",
    "test_lab_batch.py": "the lab's batches, routes written back and leftover processes (netsim.lab is not mutated)",
    "test_lab.py": "root, and the kernel's timers (minutes)",
    "test_brfdb.py": "the lab's bridge fdb dump against iproute2 (netsim.lab is not mutated)",
    "test_neightbl.py": "the lab's neighbour-table dump against iproute2 (netsim.lab is not mutated)",
    "test_nlmsg.py": "the lab's netlink dump reader (netsim.lab is not mutated)",
    "test_rtlink.py": "the lab's rtnetlink link dump against iproute2 (netsim.lab is not mutated)",
    "test_rtables.py": "the lab's neighbour, address and route dumps against iproute2 (netsim.lab is not mutated)",
    "test_sockdiag.py": "the lab's sock_diag listener dump against /proc/net/tcp (netsim.lab is not mutated)",
    "test_kernel_numbers.py": "a post's words against a recorded kernel trace, not netsim's mechanisms",
    "test_labfuzz.py": "the lab fuzzer's generator, a test tool, not netsim's mechanisms",
    "test_races.py": "the race finder, a test tool (test_timer_branch and test_kernel_traces hold the comparison)",
    "test_conntrack_defaults.py": "reads the kernel's sysctls in a namespace: needs root (lab); make test runs it",
    "test_quick_sample.py": "make check's sample of the lab corpus, the tests' own selection",
    "test_layout_cache.py": "the Graphviz layout cache",
    "test_mutants_selection.py": "this file: the selection itself",
    "test_page_escaping.py": "a site build",
    "test_page_store.py": "site builds",
    "test_post_guard.py": "the post's Jinja guard, not netsim's mechanisms",
    "test_prerender.py": "site builds, with forked workers",
    "test_prerun.py": "the test helper that starts Python processes",
    "test_properties.py": "for time: hypothesis's random stories",
    "test_prose.py": "the posts' words against the source essay",
    "test_publish.py": "the published site and its workflow",
    "test_run_order.py": "how make test orders its tests",
    "test_script_output.py": "the try-it script's output, run as root",
    "test_series.py": "site builds of a series",
    "test_serve.py": "mkdocs serve",
    "test_serve_rebuild.py": "mkdocs serve",
    "test_serve_watch.py": "mkdocs serve's file watcher",
    "test_site.py": "a site build",
    "test_supply_chain.py": "the pinned requirements",
    "test_try_it_yourself.py": "root, and the kernel's timers (minutes)",
    "test_watch_close.py": "the lab's capture threads, as root",
    "test_writeback.py": "the build's cache writer",
    "test_zensical.py": "a Zensical build",
}


def test_every_test_file_is_run_by_mutmut_or_left_out_with_a_reason() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    selected = [Path(p).name for p in tool["pytest_add_cli_args_test_selection"]]
    files = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    assert not [f for f in selected if f not in files], "the selection names a test file that is gone"
    assert not set(selected) & set(LEFT_OUT), "a file both selected and left out"
    unsorted = sorted(files - set(selected) - set(LEFT_OUT))
    assert not unsorted, (
        f"{unsorted}: add each to pytest_add_cli_args_test_selection in pyproject.toml if it is fast and"
        " tests netsim (mutmut then re-checks every mutant), or to LEFT_OUT here with the reason"
    )
    assert not sorted(set(LEFT_OUT) - files), "LEFT_OUT names a test file that is gone"


@pytest.mark.parametrize(
    ("killed", "checked", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (the Wilson score interval).
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_the_interval_is_wilsons(killed: int, checked: int, low: float, high: float) -> None:
    got = mutants.wilson(killed, checked)
    assert got == pytest.approx((low, high), abs=0.00006)


def test_a_samples_interval_is_printed_beside_its_figure_and_a_full_runs_is_not() -> None:
    assert mutants.interval_words(340, 347, 4, True) == "95% CI 95.9-99.0% (Wilson, n=347)"
    assert mutants.interval_words(340, 347, 0, True) == "every mutant: no sampling error"
    assert "no interval" in mutants.interval_words(340, 347, 0, False)


def test_make_bench_prints_the_samples_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = {
        "date": "2026-11-29 02:00 UTC",
        "sample_percent": 4,
        "sample_seed": "2",
        "seconds": 600,
        "killed_percent": 98.0,
        "worst_case_percent": 98.0,
        "sample_size": 347,
        "killed_ci95_percent": [95.9, 99.0],
        "totals": {"mutants": 347, "checked": 347, "killed": 340, "timeouts": 0, "unsettled": 0, "equivalent": 7},
        "modules": {},
    }
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "mutants-results.json").write_text(json.dumps(figures), encoding="utf-8")
    monkeypatch.setattr(run, "ROOT", tmp_path)
    run.mutation_report()
    assert (
        "340 of 347 checked killed (98.0%; 95% CI 95.9-99.0%, Wilson, n=347; target >= 95%)" in capsys.readouterr().out
    )


def test_a_second_sample_can_share_no_mutant_with_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"netsim.fdb.x_learn__mutmut_{n}" for n in range(1, 401)]
    first = set(mutants.sample(names, 4, "2"))
    monkeypatch.setattr(mutants, "SEED", "3")
    assert set(mutants.sample(names, 10, "3")) & first  # drawn alone, the two samples overlap here
    monkeypatch.setattr(mutants, "DISJOINT", "4:2")
    second = mutants.chosen(names, 10)
    assert not second & first
    assert second == set(mutants.sample(names, 10, "3")) - first
    assert mutants.results_path().name == "mutants-results-seed3.json"
