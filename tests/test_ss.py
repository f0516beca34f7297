"""The `ss -ltnp` a post shows (on_your_machine("ss -ltnp", ...)) is the real ss's, to the space: for every
set of listeners a scenario's host holds at some step, programs with the scenario's names listen on the
same addresses and descriptors in a private network namespace, and the real ss must print the page's
lines (with the pids the kernel gave them, which no page can know)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsim.lab.netns import missing_requirement
from netsim.render import text
from netsim.scenario import Program, load_scenario
from netsim.simulation import run

ROOT = Path(__file__).resolve().parent.parent
REASON = missing_requirement() or (None if shutil.which("ss") else "ss (iproute2) is not installed")

# One program: its comm set as the scenario names it, its socket moved to the scenario's descriptor,
# "ready" once it listens; then it waits to be killed. Started with only 0, 1 and 2 open.
PROGRAM = """
import os, signal, socket, sys
name, addr, port, fd, backlog = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open("/proc/self/comm", "w") as f:
    f.write(name)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(backlog)
if s.fileno() != fd:
    os.dup2(s.fileno(), fd, inheritable=False)
    os.close(s.fileno())
print("ready", flush=True)
signal.pause()
"""

# Inside `unshare --net`: lo up, the listeners' other addresses on a veth end, one program per
# listener, then `ss -ltnp` as a reader types it, piped.
DRIVER = """
import json, subprocess, sys
want = json.loads(sys.argv[1])
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=True)
for addr in sorted({w["addr"] for w in want} - {"0.0.0.0"}):
    if not addr.startswith("127."):
        subprocess.run(["ip", "addr", "add", addr + "/32", "dev", "v0"], check=True)
procs = []
try:
    for w in want:
        argv = [w["name"], w["addr"], str(w["port"]), str(w["fd"]), str(w["backlog"])]
        p = subprocess.Popen([sys.executable, "-c", PROGRAM, *argv], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "ready", w
    shown = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True, check=True).stdout
    pids = {f'{w["addr"]}:{w["port"]}': p.pid for w, p in zip(want, procs)}
    print(json.dumps({"ss": shown, "pids": pids}))
finally:
    for p in procs:
        p.kill()
        p.wait()
"""


def held(path: Path) -> list[tuple[str, dict[str, Program]]]:
    """Each different set of listeners a host with named programs holds at some step of a scenario."""
    scenario = load_scenario(path)
    trace = run(scenario)
    seen: list[tuple[str, dict[str, Program]]] = []
    for step in trace.steps:
        for host, h in scenario.hosts.items():
            listening = step.listeners.get(host, [])
            if h.programs and listening:
                programs = {listen: h.programs[listen] for listen in listening}
                if (host, programs) not in seen:
                    seen.append((host, programs))
    return seen


def cases(source: Path | str) -> list[tuple[str, dict[str, Program]]]:
    """The listener sets of one scenario, each named scenario-host-n; or the set named `source`.

    Worked out as the test runs, not as pytest collects: simulating every post's scenario cost
    each xdist worker of `make check` ~1 CPU s before any test started, test_ss's or not."""
    if isinstance(source, str):
        return [(source, WIDTHS)]
    return [(f"{source.stem}-{host}-{i}", programs) for i, (host, programs) in enumerate(held(source))]


SCENARIOS = sorted(ROOT.glob("diagrams/*.yaml"))
# Names and descriptors of different lengths, the longest last and then first: the header's padding
# leaves out the last line's process (see text.ss_table).
WIDTHS = {
    "127.0.0.1:19001": Program("ssh", 2817, 5),
    "0.0.0.0:9000": Program("portainer-agent", 1, 17),
    "10.88.0.1:22": Program("x", 2, 3),
}


def real_ss(programs: dict[str, Program]) -> tuple[list[str], dict[str, int]]:
    want = [
        {
            "addr": listen.rsplit(":", 1)[0],
            "port": int(listen.rsplit(":", 1)[1]),
            "name": p.name,
            "fd": p.fd,
            "backlog": p.backlog,
        }
        for listen, p in programs.items()
    ]
    driver = f"PROGRAM = {PROGRAM!r}\n{DRIVER}"
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", driver, json.dumps(want)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    got = json.loads(done.stdout)
    return got["ss"].splitlines(), got["pids"]


@pytest.mark.skipif(REASON is not None, reason=f"the real ss runs in a network namespace of its own: {REASON}")
@pytest.mark.parametrize("source", [*SCENARIOS, "widths"], ids=lambda s: s if isinstance(s, str) else s.stem)
def test_every_line_is_the_real_ss(source: Path | str) -> None:
    for name, programs in cases(source):
        lines, pids = real_ss(programs)
        # The kernel lists listeners in its listening hash's order, seeded per namespace: the page's
        # lines are laid out again in the order this ss printed them, each with the pid its program got.
        order = [re.split(r"\s+", line)[3] for line in lines[1:]]
        assert sorted(order) == sorted(programs), (name, lines)
        rows = [(listen, text.ss_users(programs[listen].name, pids[listen], programs[listen].fd)) for listen in order]
        assert text.ss_table(rows, {listen: p.backlog for listen, p in programs.items()}) == lines, name


def test_the_cases_cover_the_posts() -> None:
    """Post one's tunnel and post three's two listeners are among the sets checked against the real ss."""
    ids = [name for source in SCENARIOS for name, _ in cases(source)]
    assert any(i.startswith("margarets-room-laptop") for i in ids)
    assert any(i.startswith("three-ways-to-say-no-laptop") for i in ids)
