"""`python -m netsim lab FILE [--json | --compare]`: the real kernel as the referee."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

from netsim.errors import LabError, NetsimError
from netsim.lab.netns import dnsmasq_missing, missing_requirement, nft_missing, run, ssh_missing

# Imported here, not in the forked child that plays: a module the child imports is imported afresh
# on every run and gone with the child, while tests/prerun.py's server keeps what this process
# loaded for the next run (~25 ms of CPU a lab run).
from netsim.lab.runner import Lab
from netsim.scenario import load_scenario
from netsim.simulation import run as simulate  # imported at once: the lab may drop root before it plays

PARENT = "NETSIM_LAB_PARENT"  # the outer process's pid, in the environment of every program the lab starts
PR_SET_PDEATHSIG = 1
CLONE_NEWNS = 0x00020000  # include/uapi/linux/sched.h
CLONE_NEWNET = 0x40000000
MS_PRIVATE = 1 << 18  # include/uapi/linux/mount.h
MS_REC = 16384
EXIT_UNAVAILABLE = 3


def lab_main(file: Path, *, as_json: bool, compare: bool) -> int:
    scenario = load_scenario(file)  # a bad scenario is reported before any namespace exists
    simulate(scenario)  # what `check` refuses as the story plays (a step the kernel would refuse) stops here too
    reason = missing_requirement()
    if reason is None and scenario.needs_nft():
        reason = nft_missing()  # installing is the test setup's job (tests/test_lab.py), not the lab's
    if reason is None and scenario.needs_ssh():
        reason = ssh_missing()  # the same: tests/test_lab.py installs OpenSSH, the lab never does
    if reason is None and scenario.needs_dnsmasq():
        reason = dnsmasq_missing()
    if reason is not None:
        print(f"lab unavailable: {reason}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    kernel = kernel_trace(file)
    if compare:
        from netsim.lab.compare import CLOCK_NOTE, compare_with_kernel, notes_for, ssh_link_neighbours, timer_notes

        agree, lines, trace, replayed = compare_with_kernel(scenario, kernel, loose=ssh_link_neighbours(scenario))
        ours = trace.to_json()
        print(f"# {scenario.file}: netsim against the kernel ({os.uname().release}, HZ {kernel.get('hz') or '?'})")
        print("\n".join(lines))
        print("Named simplifications (known, not hidden):")
        notes = notes_for(scenario, ours) + ([CLOCK_NOTE] if replayed else []) + timer_notes(lines)
        print("\n".join(notes))
        print("agree" if agree else "DISAGREE")
        return 0 if agree else 1
    if as_json:
        print(json.dumps(kernel, indent=2))
    else:
        from netsim.render.text import render
        from netsim.trace import Trace

        print(render(scenario, Trace.from_json(kernel)))
    return 0


def kernel_trace(file: Path) -> dict:
    """Run the lab in a fresh private network and mount namespace and return its trace.

    The lab runs in a child forked from this process, which has netsim imported and the scenario
    read already: an `unshare ... python -m netsim lab` cost a second interpreter's start and
    imports, about 0.2 CPU s, a third of a short scenario's whole run. The child takes the
    namespaces as unshare(1) does (unshare(2), then every mount private), so nothing it mounts
    or builds reaches the machine, and dies with this process (PR_SET_PDEATHSIG)."""
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read)
        _play_inside(file, parent, write)
    os.close(write)
    try:
        with os.fdopen(read, encoding="utf-8") as pipe:
            text = pipe.read()
        _, status = os.waitpid(pid, 0)
    except BaseException:  # Ctrl-C or a CI's SIGTERM: the child had the same signal; a moment, then no more
        _stop(pid)
        raise
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise LabError(f"the lab run failed (exit {code}); its messages are above")
    return json.loads(text)


def _stop(pid: int) -> None:
    """End the lab's child: it may be tidying up after the same Ctrl-C (a quarter of a second, as
    subprocess.run() gives), then SIGKILL; its namespaces go with it whatever it left."""
    deadline = time.monotonic() + 0.25
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _play_inside(file: Path, parent: int, out: int) -> NoReturn:
    """The forked child: private namespaces, the lab, its trace as JSON on `out`, and _exit()."""
    code = 1
    try:
        os.dup2(2, 1)  # the command's stdout is the parent's (its report or JSON); anything else is a message
        _die_with_parent(parent)
        _private_namespaces()
        os.environ[PARENT] = str(parent)  # on every program the lab starts, for whoever looks for them
        trace = _inside(file)
        with os.fdopen(out, "w", encoding="utf-8") as pipe:
            json.dump(trace, pipe)
        code = 0
    except KeyboardInterrupt:  # the same Ctrl-C reached the parent, which says so
        code = 130
    except NetsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except BaseException as exc:  # a bug: said, never a traceback from a forked copy of the command
        print(f"error: internal error in the lab: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        sys.stderr.flush()
        os._exit(code)  # not the parent's atexit handlers nor its buffers: they are the parent's


def _private_namespaces() -> None:
    """`unshare --net --mount --propagation private`: a network and a mount namespace of this
    process's own, with every mount in it private, so that the tmpfs the lab mounts over /run
    never propagates to the machine's mount table (unshare(2), mount(2) with MS_REC | MS_PRIVATE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET | CLONE_NEWNS) != 0:
        raise LabError(f"unshare(CLONE_NEWNET | CLONE_NEWNS) failed: {os.strerror(ctypes.get_errno())}")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise LabError(f"making every mount private failed: {os.strerror(ctypes.get_errno())}")


def _die_with_parent(parent: int) -> None:
    """PR_SET_PDEATHSIG: when the outer lab process dies, however it dies, this one gets SIGKILL at
    once (its namespaces vanish with it) instead of playing on and failing on a closed pipe."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)  # the parent was already gone before the signal was armed


def _inside(file: Path) -> dict:
    # A tmpfs of our own over /run: `ip netns` keeps its files there, out of the machine's sight.
    run("mount", "-t", "tmpfs", "netsim-lab", "/run")
    lab = Lab(load_scenario(file))
    try:
        lab.build()
        return lab.play()
    finally:
        lab.close()
