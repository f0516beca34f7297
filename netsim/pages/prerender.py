"""Pages rendered on the machine's other cores while the build gets on with its own (issue 23).

A build with an empty cache spends most of its time in netsim's macros, one page after another,
on one core. The pages do not depend on each other: each page's macros read its own source and
its scenarios, and what they make is kept in the page store (netsim.pages.pagestore) under
everything that determined it. So a build that finds pages missing from the store forks worker
processes (a fork: each starts with everything the build has loaded, the simulator included);
each takes the pages missing from the end of the build's order, renders them exactly as the build
would (the same code, in a copy of the same process), and leaves each page's result in the store.
The build takes pages from the front; for a page a worker took, it waits for the worker and then
replays the page from the store as it replays any cached page, with the warnings its render
logged. Whoever takes a page first renders it; nothing is rendered twice.

Some of what a page makes is wanted only once every page is made: a post's share image and a
scenario's downloads are files written at the end of the build, not part of any page's Markdown.
Those are late jobs (`later()`): a worker does them once no page is left to take, and the build
does them while it waits for a worker's page and at close(); so they fill the time a worker would
sit idle while the build does its own work on the pages (the theme, the HTML, the search index).
A late job leaves its result where the build looks for it (a cache), and the build makes whatever
it does not find there itself, so a late job that fails or is never done costs time, not output.

Linux only (fork); NETSIM_WORKERS sets the number of workers (0: none; default one fewer than
the cores this process may use), and without a page store (NETSIM_CACHE_DIR=off) there is
nothing to hand results back through, so the build renders every page itself.
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import queue
import select
import struct
import sys
import traceback
from collections.abc import Callable
from multiprocessing import get_context
from typing import Any

# A log record as a worker hands it back: (logger name, level, message).
Record = tuple[str, int, str]
FREE, MAIN = 0, 255  # a job's claim: nobody yet, the build itself, or worker n (1..254)


def workers_wanted() -> int:
    """How many worker processes to fork: NETSIM_WORKERS, else one fewer than this process's cores."""
    setting = os.environ.get("NETSIM_WORKERS")
    if setting is not None:
        return max(0, min(int(setting), 64)) if setting.isdigit() else 0
    if sys.platform != "linux":  # fork is safe to rely on here only
        return 0
    return max(0, min(len(os.sched_getaffinity(0)), 8) - 1)


class _Capture(logging.Handler):
    """Every warning a worker's render logs, kept to be logged again by the build."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[Record] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


class Prerender:
    """Jobs (page paths) shared between this process, from the front, and forked workers, from the back.

    `work(job)` runs in a worker; it must leave the job's result where the build will find it (the
    page store) before it returns. `late(item)` does a late job (see the module's docstring), in a
    worker or in the build; an error in it is dropped, since the build makes what it lacks itself.
    """

    serving: Prerender | None = None  # in a worker: the pool it works for

    def __init__(
        self,
        jobs: list[str],
        work: Callable[[str], None],
        workers: int,
        late: Callable[[Any], None] | None = None,
    ) -> None:
        self.jobs = list(jobs)
        self._late = late
        self._queue = get_context("fork").Queue()  # late jobs the build hands out; None: no more
        self._own: list[Any] = []  # a worker's late jobs from its own pages, done by itself first
        self._worker = 0  # this process's worker number (0: the build)
        self._index = {job: n for n, job in enumerate(self.jobs)}
        self._claims = mmap.mmap(-1, max(1, len(self.jobs)))  # shared with the workers (MAP_SHARED)
        self._lock = get_context("fork").Lock()
        self._done: dict[str, tuple[bool, list[Record]]] = {}
        self._readers: dict[int, int] = {}  # worker number -> read end of its pipe
        self._pids: list[int] = []
        for number in range(1, min(workers, 254) + 1):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: never returns
                for fd in [*self._readers.values(), read]:  # the earlier workers' write ends are closed
                    os.close(fd)
                self._work(number, write, work)
            os.close(write)
            self._readers[number] = read
            self._pids.append(pid)

    # --- in the build ---------------------------------------------------------------------

    def take(self, job: str) -> bool:
        """Whether the build should render `job` itself (no worker took it first; now nobody will)."""
        at = self._index.get(job)
        if at is None:
            return True
        with self._lock:
            if self._claims[at] == FREE:
                self._claims[at] = MAIN
                return True
            return self._claims[at] == MAIN

    def wait(self, job: str) -> tuple[bool, list[Record]]:
        """Wait for the worker that took `job`: (whether it rendered it, the warnings it logged).

        A worker that failed on the job, or died, leaves it to the build (False): the build then
        renders it itself, and so reports whatever went wrong as a build without workers would.
        """
        owner = self._claims[self._index[job]]
        while job not in self._done:
            if owner not in self._readers:  # that worker is gone
                return False, []
            ready, _w, _x = select.select([self._readers[owner]], [], [], 0)
            if ready or not self._do_one_late():  # a late job while the worker's page is not ready
                self._read(owner)
        return self._done[job]

    def later(self, item: Any) -> None:
        """A late job: in the build, for whichever process is free first; in a worker, for itself."""
        if self._worker:
            self._own.append(item)
        elif not self._claims.closed:
            self._queue.put(item)

    def _do_one_late(self) -> bool:
        """Do one late job from the queue here, if one is waiting."""
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return False
        _quietly(self._late, item)
        return True

    def _read(self, number: int) -> None:
        fd = self._readers[number]
        head = _read_exactly(fd, 4)
        body = _read_exactly(fd, struct.unpack("!I", head)[0]) if head else b""
        if not head or not body:  # end of the pipe: the worker has exited
            os.close(self._readers.pop(number))
            return
        job, ok, records = pickle.loads(body)  # noqa: S301 - from our own forked worker, over our own pipe
        self._done[job] = (ok, records)

    @property
    def workers(self) -> int:
        return len(self._pids)

    def by_workers(self) -> int:
        """How many jobs the workers have done so far (all of them, after close())."""
        return sum(1 for ok, _records in self._done.values() if ok)

    def close(self) -> None:
        """Let the workers finish and reap them (each exits when no job, late or not, is left)."""
        if self._claims.closed:
            return
        with self._lock:
            for at in range(len(self.jobs)):
                if self._claims[at] == FREE:
                    self._claims[at] = MAIN  # nobody asked for it: no worker starts it now
        while self._do_one_late():  # the build lends a hand with the late jobs left
            pass
        for _number in self._readers:
            self._queue.put(None)  # one end for each worker still there
        for number in list(self._readers):
            while number in self._readers:
                self._read(number)
        for pid in self._pids:
            os.waitpid(pid, 0)
        self._claims.close()
        self._queue.close()
        self._queue.cancel_join_thread()  # what is left (an end for a worker that died) is for nobody

    # --- in a worker ----------------------------------------------------------------------

    def _next(self, number: int) -> str | None:
        with self._lock:
            for at in range(len(self.jobs) - 1, -1, -1):
                if self._claims[at] == FREE:
                    self._claims[at] = number
                    return self.jobs[at]
        return None

    def _work(self, number: int, write: int, work: Callable[[str], None]) -> None:
        status = 0
        self._worker = number
        Prerender.serving = self
        try:
            capture = _Capture()
            # Nothing printed here: the build logs again what the render logged.
            logging.getLogger().handlers = [capture]
            logging.getLogger("mkdocs").handlers = []
            logging.getLogger("mkdocs").propagate = True
            while (job := self._next(number)) is not None:
                capture.records = []
                ok = True
                try:
                    work(job)
                except (Exception, SystemExit):  # the build renders it itself, and reports it (Ctrl-C ends us)
                    ok = False
                    if os.environ.get("NETSIM_WORKERS_DEBUG"):
                        traceback.print_exc()
                data = pickle.dumps((job, ok, capture.records))
                _write_all(write, struct.pack("!I", len(data)) + data)
            for item in self._own:  # what its own pages left, its scenarios already simulated here
                _quietly(self._late, item)
            if self._late is not None:
                self._late_from_the_build()
        except BaseException:  # noqa: BLE001 - Ctrl-C, or the build gone: a worker never returns into its code
            status = 1
        finally:
            os._exit(status)

    def _late_from_the_build(self) -> None:
        """The build's late jobs, until it says there are no more (or is gone: then nobody needs them)."""
        parent = os.getppid()
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:
                    return
                continue
            if item is None:
                return
            _quietly(self._late, item)


def _quietly(late: Callable[[Any], None] | None, item: Any) -> None:
    """A late job, its failure dropped: the build makes at the end whatever it does not find."""
    if late is None:
        return
    try:
        late(item)
    except Exception:  # noqa: BLE001 - made again by the build, which reports any error then
        if os.environ.get("NETSIM_WORKERS_DEBUG"):
            traceback.print_exc()


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def relog(records: list[Record], skip: str) -> None:
    """Log again what a worker's render logged, but for logger `skip` (the replay logs those itself)."""
    for name, level, message in records:
        if name != skip:
            logging.getLogger(name).log(level, message)
