"""Cache files written behind the build, by a thread of their own (issue 23).

A build with an empty cache writes some 700 small files into it (layouts, figures, diagrams, page
entries). Creating a file costs little CPU but can wait on the disk, a millisecond or more each on a
busy machine, and that wait sat on the build's path. Here each write goes into a queue that one
thread drains in order while the build computes, and the build waits for the queue only at its
end (macros.py's on_post_build). In order matters: a page entry (netsim.pages.pagestore) is written
after the diagrams it names, so a reader that finds the entry finds them too.

Each file is written under a temporary name and renamed into place, so a reader never sees half of
one. Until a file is on disk, `pending()` gives its contents to this process's own readers.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
from pathlib import Path

_QUEUE: queue.Queue[tuple[Path, bytes] | None] = queue.Queue()
_PENDING: dict[Path, bytes] = {}
_LOCK = threading.Lock()
_MADE: set[Path] = set()  # folders known to exist
_STATE: dict[str, threading.Thread | BaseException | None] = {"thread": None, "error": None}


def _drain() -> None:
    while True:
        item = _QUEUE.get()
        try:
            if item is None:
                return
            path, data = item
            try:
                if path.parent not in _MADE:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _MADE.add(path.parent)
                tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
            except OSError as exc:  # reported by flush(): a cache that cannot be written is a fault
                _STATE["error"] = exc
            finally:
                with _LOCK:
                    if _PENDING.get(path) is data:
                        del _PENDING[path]
        finally:
            _QUEUE.task_done()


def write(path: Path, data: bytes) -> None:
    """Write `data` to `path` soon, atomically, after every write asked for before it."""
    with _LOCK:
        _PENDING[path] = data
        thread = _STATE["thread"]
        if not isinstance(thread, threading.Thread) or not thread.is_alive():
            thread = threading.Thread(target=_drain, name="netsim-cache-writes", daemon=True)
            _STATE["thread"] = thread
            thread.start()
    _QUEUE.put((path, data))


def pending(path: Path) -> bytes | None:
    """The contents of a file this process asked to write and has not written yet, else None."""
    with _LOCK:
        return _PENDING.get(path)


def flush() -> None:
    """Wait until every write asked for so far is on disk; raise the first one that failed."""
    _QUEUE.join()
    error = _STATE["error"]
    if isinstance(error, BaseException):
        _STATE["error"] = None
        raise error


def _forked() -> None:
    """In a forked child (netsim.pages.prerender): a queue, a lock and a writer of its own."""
    global _QUEUE, _LOCK
    _QUEUE = queue.Queue()
    _LOCK = threading.Lock()
    _PENDING.clear()
    _STATE.update(thread=None, error=None)


os.register_at_fork(after_in_child=_forked)
atexit.register(lambda: _QUEUE.join())  # a process that ends before a build's end (a test) still writes its cache
