"""A build with an empty cache shares its pages with forked workers (netsim/pages/prerender.py,
macros.py, issue 23): every page is rendered exactly once, by the build or by a worker; a worker
that fails or dies leaves its page to the build; what a worker's render logged is logged by the
build; and the site is the site a build without workers writes, byte for byte, a false claim in a
page a worker rendered failing the strict build with its message once."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import pytest
from sitecopy import copy_small_site, mkdocs_build, stopped_by_warnings
from test_page_store import edit, same_files

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from netsim.pages.book import LATE_CODE  # noqa: E402
from netsim.pages.prerender import Prerender, workers_wanted  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the workers are forked: Linux only")


def _did(folder: Path, job: str) -> None:
    (folder / f"{job}.{os.getpid()}").write_text("")


def _doers(folder: Path) -> dict[str, list[int]]:
    done: dict[str, list[int]] = {}
    for path in folder.iterdir():
        job, pid = path.name.rsplit(".", 1)
        done.setdefault(job, []).append(int(pid))
    return done


def _wait_for(path_glob: str, folder: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not list(folder.glob(path_glob)):
        assert time.monotonic() < deadline, f"no worker did {path_glob} in {seconds} s"
        time.sleep(0.01)


def _run(jobs: list[str], work, folder: Path, workers: int = 1) -> tuple[dict[str, bool], list]:  # noqa: ANN001
    """The build's side: take each job in order, do it or wait for the worker that took it."""
    pool = Prerender(jobs, work, workers)
    _wait_for(f"{jobs[-1]}.*", folder)  # the workers start from the back: the last job is theirs
    by_worker: dict[str, bool] = {}
    logged = []
    for job in jobs:
        if pool.take(job):
            work(job)
            by_worker[job] = False
        else:
            by_worker[job], records = pool.wait(job)
            logged += records
            if not by_worker[job]:
                work(job)  # what the build does when the worker could not
    pool.close()
    return by_worker, logged


def test_every_job_is_done_once_some_by_a_worker_and_its_warnings_come_back(tmp_path: Path) -> None:
    def work(job: str) -> None:
        time.sleep(0.02)
        logging.getLogger("mkdocs.plugins.somewhere").warning(f"about {job}")
        _did(tmp_path, job)

    jobs = [f"page{n}" for n in range(8)]
    by_worker, logged = _run(jobs, work, tmp_path)
    done = _doers(tmp_path)
    assert sorted(done) == jobs and all(len(pids) == 1 for pids in done.values()), done  # once each
    for job in jobs:
        assert (done[job][0] != os.getpid()) == by_worker[job], job  # a worker's job, done by a worker
    assert by_worker["page7"]
    assert logged == [("mkdocs.plugins.somewhere", logging.WARNING, f"about {j}") for j in jobs if by_worker[j]]


def test_a_job_that_fails_or_a_worker_that_dies_is_left_to_the_build(tmp_path: Path) -> None:
    build = os.getpid()

    def work(job: str) -> None:
        if os.getpid() != build and job == "page6":
            raise RuntimeError("a page the worker cannot render")
        if os.getpid() != build and job == "page5":
            os._exit(3)  # killed mid-page
        _did(tmp_path, job)

    jobs = [f"page{n}" for n in range(8)]
    by_worker, _logged = _run(jobs, work, tmp_path)
    done = _doers(tmp_path)
    assert sorted(done) == jobs and all(len(pids) == 1 for pids in done.values()), done
    assert done["page6"] == [build] and done["page5"] == [build]
    assert by_worker["page7"] and not by_worker["page6"] and not by_worker["page5"]
    assert all(pids == [build] for job, pids in done.items() if job < "page5")  # nobody left to take them


def test_late_jobs_are_done_by_whoever_is_free_and_close_waits_for_them(tmp_path: Path) -> None:
    """A worker's own late jobs (from its pages) are done by it after its pages; the build's are done
    by a worker or by the build itself (while it waits, or at close()); each at least once, and every
    one before close() returns. A late job that fails is dropped (the build makes what it lacks)."""
    build = os.getpid()

    def work(job: str) -> None:
        time.sleep(0.02)
        _did(tmp_path, job)
        pool = Prerender.serving
        assert pool is not None  # in a worker: the pool it works for
        pool.later(f"own-{job}")

    def late(item: str) -> None:
        if item == "late-bad":
            raise RuntimeError("a late job that fails")
        time.sleep(0.01)
        _did(tmp_path, item)

    jobs = [f"page{n}" for n in range(6)]
    pool = Prerender(jobs, work, 1, late)
    assert Prerender.serving is None  # the build works for no pool
    for n in range(4):
        pool.later(f"late-{n}")
    pool.later("late-bad")
    _wait_for("page5.*", tmp_path)  # the worker starts from the back
    for job in jobs:
        if pool.take(job):
            _did(tmp_path, job)
        else:
            assert pool.wait(job)[0]
    pool.close()
    done = _doers(tmp_path)
    mine = [job for job in jobs if done[job] != [build]]
    assert mine and sorted(f"own-{job}" for job in mine) == sorted(j for j in done if j.startswith("own-"))
    assert all(done[f"own-{job}"] == done[job] for job in mine)  # by the worker that rendered the page
    assert all(len(done[f"late-{n}"]) == 1 for n in range(4)), done
    assert "late-bad" not in done


def test_netsim_workers_sets_the_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETSIM_WORKERS", "0")
    assert workers_wanted() == 0
    monkeypatch.setenv("NETSIM_WORKERS", "3")
    assert workers_wanted() == 3
    monkeypatch.delenv("NETSIM_WORKERS")
    assert workers_wanted() == min(len(os.sched_getaffinity(0)), 8) - 1


def test_a_build_with_workers_writes_the_same_site_and_a_false_claim_still_fails_it(tmp_path: Path) -> None:
    # A small site (tests/sitecopy.py) whose last post is a third one: what the workers share does not
    # depend on the number of posts, and post one is the costliest to render.
    root = copy_small_site(tmp_path / "src", ("rooms-inside-rooms", "three-ways-to-say-no", "the-whole-path"))
    # The last page in the build's order, so a worker renders it (the workers take from the back).
    edit(
        root / "docs" / "posts" / "three-ways-to-say-no.md",
        'claim("handshake", outcome="connected", counts=',
        'claim("handshake", outcome="refused", counts=',
    )
    # A draft (the last post, so the series stays whole) is left out of the build: the workers,
    # which start before mkdocs lists the pages (macros.py, at pre_build), leave it out too.
    edit(root / "docs" / "posts" / "the-whole-path.md", "\nnumber: 3\n", "\ndraft: true\nnumber: 3\n")
    pages = len(list((root / "docs").rglob("*.md"))) - 1
    env = {**os.environ, "NETSIM_WORKERS": "1", "NETSIM_CACHE_DIR": str(tmp_path / "cache")}
    shared = mkdocs_build(root, tmp_path / "shared", env=env)
    log = shared.stdout + shared.stderr
    assert stopped_by_warnings(shared), log[-3000:]
    assert log.count("outcome='refused', counts=") == 1, log[-3000:]  # logged once, by the build
    rendered = [line for line in log.splitlines() if "rendered by 1 worker process" in line]
    assert rendered and not rendered[0].split("INFO")[-1].strip(" -").startswith("0 of"), rendered
    assert f" of {pages} pages rendered" in rendered[0], (pages, rendered)  # every page but the draft
    assert not (tmp_path / "shared" / "posts" / "the-whole-path.html").exists()
    assert 'class="ns-error"' in (tmp_path / "shared" / "posts" / "three-ways-to-say-no.html").read_text()
    # What a page needs only at the end was left to late jobs: its try-it script's highlighting (put
    # back by hooks.on_post_page) and its share image (named, not drawn, in the page's entry).
    entries = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "pages").glob("*/*.json")]
    assert any(part.startswith(LATE_CODE) for e in entries for part in e.get("set_aside", {}).values()), entries
    assert any(e.get("preview") and isinstance(e["preview"][1], list) for e in entries), entries
    alone = mkdocs_build(root, tmp_path / "alone", env={**env, "NETSIM_WORKERS": "0", "NETSIM_CACHE_DIR": "off"})
    assert stopped_by_warnings(alone)
    same_files(tmp_path / "shared", tmp_path / "alone")
