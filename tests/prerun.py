"""`python -m mkdocs build ...` for the tests, in a fresh process that starts with the libraries loaded.

Most of a site build's fixed cost in a new process is importing mkdocs, the theme, Markdown, Jinja,
Pygments and Graphviz: about half a second of CPU per build, and the tests build about twenty
sites. Here each pytest process keeps one small server (a `python -c SERVER`, started on the first
build) that forks a child per build. The child is a new process as far as the site is concerned:
it changes to the build's folder, takes the build's environment, and imports netsim, macros.py
and hooks.py from that folder, as `python -m mkdocs` does there, so a copy of the site with a
fault planted in its netsim builds with that fault. Only modules from the standard library and
the venv are already loaded: after its first build the server imports the ones that build
loaded from there, and nothing else. A build's output, exit status and files are a fresh
process's; tests/test_prerun.py compares the two.

One thing carries over from build to build, as it does between `make serve`'s rebuilds: the
theme's compiled templates, which hooks.py keeps in memory (module _bottom_six_templates, each
under Jinja's checksum of its source, so an edited template compiles afresh). Compiling the
theme's ~50 templates was about a fifth of a build that replays its pages, ~0.35 CPU s a build.

The lab tests run `python -m netsim lab ...` in the checkout itself, hundreds of times: netsim()
gives them a second server of the same kind that keeps the checkout's own netsim loaded too (the
first run's modules from the checkout's netsim/ folder, imported with the checkout first on
sys.path) and runs nothing in any other folder. A short lab test cost ~0.73 CPU s, of which a new
interpreter importing netsim was ~0.14.

An environment that changes how Python itself starts (PYTHONPATH, the locale, ...) gets a real
new process instead, as does any call once the server has failed, and every call when the tests
run with PRERUN=off (to compare, or to rule this out).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# What Python reads as it starts (sys.path, hashing, the locale of its streams): a build whose
# environment differs from the server's here runs in a process of its own.
STARTUP = ("PYTHON", "LC_", "LANG", "LANGUAGE")

SERVER = r"""
import atexit, gc, importlib, io, json, marshal, os, runpy, sys, traceback, types

# The venv's and Python's own folders; with `own` (argv[1]), also the checkout's netsim, which then
# comes first on sys.path, as it does for `python -m netsim` run in the checkout.
OWN = sys.argv[1] if len(sys.argv) > 1 else None
LIBRARIES = tuple(
    {os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    | ({os.path.join(os.path.realpath(OWN), "netsim") + os.sep} if OWN else set())
)
if OWN:
    sys.path.insert(0, OWN)
first = True
TEMPLATES = "_bottom_six_templates"


def child(request, modules_file, templates_file):
    if OWN and os.path.realpath(request["cwd"]) != os.path.realpath(OWN):
        os._exit(71)  # the checkout's netsim is loaded here: a run elsewhere would not get its folder's own
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    encoding = sys.stdout.encoding
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=encoding)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding=encoding, errors="backslashreplace", line_buffering=True
    )
    kind, target, *rest = request["argv"]
    code = 0
    try:
        if kind == "-m":  # what python -m runs: the folder first on sys.path, argv[0] the module's file
            sys.path[0] = os.getcwd()
            sys.argv = ["-m", *rest]
            runpy._run_module_as_main(target, alter_argv=True)
        else:  # python -c
            sys.path[0] = ""
            sys.argv = ["-c", *rest]
            exec(compile(target, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException as exc:  # as Python prints it: from the code's own frame down
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        code = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    compiled = getattr(sys.modules.get(TEMPLATES), "compiled", None)  # hooks.py's, see above
    if compiled:
        try:
            with open(templates_file, "wb") as f:
                marshal.dump(dict(compiled), f)
        except (OSError, ValueError):
            pass
    if modules_file:  # the libraries this build loaded, for the server to load before the next
        names = [
            name
            for name, module in list(sys.modules.items())
            if os.path.realpath(getattr(module, "__file__", None) or os.sep).startswith(LIBRARIES)
        ]
        with open(modules_file, "w") as f:
            json.dump(names, f)
    os._exit(code)


for line in sys.stdin:
    request = json.loads(line)
    modules_file = request["stdout"] + ".modules" if first else None
    templates_file = request["stdout"] + ".templates"
    pid = os.fork()
    if pid == 0:
        try:
            child(request, modules_file, templates_file)
        finally:
            os._exit(70)
    _, status = os.waitpid(pid, 0)
    try:  # the theme's templates as that build compiled them, each under its source's checksum
        with open(templates_file, "rb") as f:
            kept = marshal.load(f)
        os.unlink(templates_file)
    except (OSError, ValueError, EOFError, TypeError):
        kept = None
    if isinstance(kept, dict):
        holder = sys.modules.setdefault(TEMPLATES, types.ModuleType(TEMPLATES))
        holder.__dict__.setdefault("compiled", {}).update(kept)
    if first:
        first = False
        try:
            with open(modules_file) as f:
                names = json.load(f)
            os.unlink(modules_file)
        except OSError:
            names = []
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                pass
        gc.freeze()  # the children's collector leaves the loaded libraries alone (fewer pages copied)
    sys.stdout.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
    sys.stdout.flush()
# The pytest process is gone (an xdist worker ends without running atexit): leave no folder.
import shutil
shutil.rmtree(os.getcwd(), ignore_errors=True)
"""


class _Server:
    def __init__(self, own: Path | None = None) -> None:
        self.home = tempfile.mkdtemp(prefix="prerun-")  # its cwd: nothing there shadows a library
        self.env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, *([str(own)] if own else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.home,
            env=self.env,
            start_new_session=True,  # a build that hangs is killed with its server
        )

    def run(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float | None) -> tuple[int, str, str]:
        out = os.path.join(self.home, "out")
        err = os.path.join(self.home, "err")
        request = {"argv": args, "cwd": str(cwd), "env": env, "stdout": out, "stderr": err}
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.stop()
            raise subprocess.TimeoutExpired([sys.executable, *args], timeout or 0)
        line = self.proc.stdout.readline()
        if not line:
            raise OSError("the build server ended")
        code = json.loads(line)["code"]
        with (
            open(out, encoding=sys.stdout.encoding or "utf-8", errors="replace") as f_out,
            open(err, encoding=sys.stdout.encoding or "utf-8", errors="replace") as f_err,
        ):
            return code, f_out.read(), f_err.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)


_server: _Server | None = None
_own: _Server | None = None  # netsim run in the checkout itself (`python -m netsim lab ...`)
_broken = os.environ.get("PRERUN") == "off"
_lock = threading.Lock()
CHECKOUT = Path(__file__).resolve().parent.parent


def _stop() -> None:
    for server in (_server, _own):
        if server is not None:
            server.stop()


def netsim(args: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m netsim ARGS` in the checkout, as subprocess.run(..., capture_output=True, text=True).

    Its own server, which after the first run keeps the checkout's netsim loaded as well as the
    libraries: each lab test ran a new interpreter that imported netsim (dataclasses, regular
    expressions: ~0.14 CPU s of the ~0.7 a short lab test costs). Only for the checkout: a copy
    of the site with a fault planted in its netsim goes through python(), which loads its own.
    """
    return python(["-m", "netsim", *args], cwd=CHECKOUT, env=env, own=True)


def _same_start(server: _Server, env: dict[str, str]) -> bool:
    """Whether a process started with `env` would start as the server did (see STARTUP)."""
    return all(env.get(k) == server.env.get(k) for k in {*env, *server.env} if k.startswith(STARTUP))


def python(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    own: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` (`-m module ...` or `-c code ...`) in `cwd`, output captured as text, as
    subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True).
    `own`: on the server that keeps the checkout's netsim loaded (netsim(); `cwd` is the checkout)."""
    global _server, _own, _broken
    env = dict(os.environ if env is None else env)
    assert args[0] in ("-m", "-c"), args
    with _lock:
        server = _own if own else _server
        if not _broken and server is None:
            server = _Server(own=CHECKOUT if own else None)
            if own:
                _own = server
            else:
                _server = server
            atexit.register(_stop)
        if server is not None and not _broken and _same_start(server, env):
            try:
                code, out, err = server.run(args, cwd, env, timeout)
                return subprocess.CompletedProcess([sys.executable, *args], code, out, err)
            except subprocess.TimeoutExpired:
                if own:  # killed with its run; the next call starts another
                    _own = None
                else:
                    _server = None
                raise
            except OSError:
                _broken = True
                server.stop()
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
