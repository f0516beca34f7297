"""`python -m netsim lab FILE [--json | --compare]`: the real kernel as the referee."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from netsim.errors import LabError
from netsim.lab.netns import dnsmasq_missing, missing_requirement, nft_missing, run, ssh_missing
from netsim.scenario import load_scenario
from netsim.simulation import run as simulate  # imported at once: the lab may drop root before it plays

INSIDE = "NETSIM_LAB_INSIDE"
PARENT = "NETSIM_LAB_PARENT"  # the outer process's pid, which the inner one dies with
PR_SET_PDEATHSIG = 1
EXIT_UNAVAILABLE = 3


def lab_main(file: Path, *, as_json: bool, compare: bool) -> int:
    scenario = load_scenario(file)  # a bad scenario is reported before any namespace exists
    if os.environ.get(INSIDE) == "1":
        return _inside(file)
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
    """Run the lab in a fresh private network and mount namespace and return its trace."""
    env = {
        **os.environ,
        INSIDE: "1",
        PARENT: str(os.getpid()),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    cmd = [
        "unshare",
        "--net",
        "--mount",
        "--propagation",
        "private",
        "--",
        sys.executable,
        "-m",
        "netsim",
        "lab",
        str(file),
        "--json",
    ]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, check=False)
    if done.returncode != 0:
        raise LabError(f"the lab run failed (exit {done.returncode}); its messages are above")
    return json.loads(done.stdout)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: when the outer lab process dies, however it dies, this one gets SIGKILL at
    once (its namespaces vanish with it) instead of playing on and failing on a closed pipe."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.environ.get(PARENT) and str(os.getppid()) != os.environ[PARENT]:
        os._exit(1)  # the parent was already gone before the signal was armed


def _inside(file: Path) -> int:
    from netsim.lab.runner import Lab

    _die_with_parent()

    # A tmpfs of our own over /run: `ip netns` keeps its files there, out of the machine's sight.
    run("mount", "-t", "tmpfs", "netsim-lab", "/run")
    lab = Lab(load_scenario(file))
    try:
        lab.build()
        trace = lab.play()
    finally:
        lab.close()
    print(json.dumps(trace))
    return 0
