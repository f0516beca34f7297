"""The lab's routes written back from JSON, and its batch lines' words held at the writer.

The lab compares routes in the words `ip route show` prints, but reads them as the dicts `ip -j -d
route show` prints (netsim.lab.rtroute makes them from rtnetlink; test_rtables holds it to iproute2)
and writes them back (netsim.lab.routetext). Here the written-back lines are held to what iproute2
itself prints for the same routes, in a network namespace of the test's own: every kind of route the
kernel keeps in the main table that the lab could meet, and some it should not."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from netsim.errors import LabError
from netsim.lab import netns
from netsim.lab.netns import missing_requirement
from netsim.lab.routetext import route_text

REASON = missing_requirement()

# Routes of every shape: connected, via a gateway, through a device, a /32, a metric, a protocol, onlink,
# the three types that drop, scope host, a preferred source, a TOS, a link without carrier (linkdown),
# another table (not listed by `ip route show`), and metric 0 (not printed).
ROUTES = """set -e
ip link set lo up
ip link add v1 type veth peer name v2; ip link set v1 up; ip link set v2 up
ip link add v3 type veth peer name v4; ip link set v3 up
ip addr add 10.0.0.10/24 dev v1; ip addr add 10.5.0.10/24 dev v1; ip addr add 10.6.0.10/24 dev v3
ip route add default via 10.0.0.1
ip route add 192.168.9.0/24 dev v1
ip route add 10.9.9.9 dev v1
ip route add 172.17.0.0/16 via 10.0.0.2 metric 5
ip route add 172.18.0.0/16 via 10.0.0.3 proto static
ip route add 172.19.0.0/16 via 203.0.113.1 dev v1 onlink
ip route add blackhole 172.20.0.0/16
ip route add unreachable 172.21.0.0/16
ip route add prohibit 172.22.0.0/16 metric 7
ip route add 172.23.0.0/16 dev v1 scope host
ip route add 172.24.0.0/16 via 10.0.0.4 src 10.5.0.10
ip route add 172.28.0.0/16 via 10.0.0.5 proto static scope global src 10.5.0.10 metric 9
ip route add 172.25.0.0/16 tos 0x10 via 10.0.0.1
ip route add 172.26.0.0/16 via 10.6.0.1 dev v3 onlink
ip route add 172.27.0.0/16 dev v1 proto 99
ip route add 10.0.0.0/8 dev v1 table 7
ip route add 10.0.0.0/25 dev v1 metric 0
ip route show
echo ---
ip -j -d route show
"""


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_each_route_written_back_is_the_line_ip_route_show_prints() -> None:
    done = subprocess.run(["unshare", "--net", "sh", "-c", ROUTES], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    text, _, dumped = done.stdout.partition("---\n")
    printed = [line.strip() for line in text.splitlines() if line.strip()]
    assert len(printed) == 19, printed  # every route above but table 7's
    assert [route_text(r) for r in json.loads(dumped)] == printed


def test_what_a_plain_dump_leaves_out_is_left_out_and_the_order_is_print_route_s() -> None:
    route = {"type": "unicast", "dst": "10.0.0.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link",
             "prefsrc": "10.0.0.10", "flags": ["linkdown"]}  # fmt: skip
    assert route_text(route) == "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.10 linkdown"
    gateway = {"type": "unicast", "dst": "default", "gateway": "10.0.0.1", "dev": "eth0", "protocol": "boot",
               "scope": "global", "flags": []}  # fmt: skip
    assert route_text(gateway) == "default via 10.0.0.1 dev eth0"
    assert route_text({"type": "blackhole", "dst": "10.9.0.0/16", "protocol": "static", "metric": 3}) == (
        "blackhole 10.9.0.0/16 proto static metric 3"
    )


@pytest.mark.parametrize("key", ["table", "metrics", "nexthops", "expires", "pref", "mark"])
def test_a_route_field_the_lab_does_not_write_back_is_an_error_not_dropped(key: str) -> None:
    with pytest.raises(LabError, match=rf"printed {key} for .*which the lab does not write back"):
        route_text({"type": "unicast", "dst": "default", "gateway": "10.0.0.1", key: 1, "flags": []})


@pytest.mark.parametrize("word", ["a b", "x#y", 'q"', "q'", "back\\slash", "new\nline", "", "tab\t"])
def test_a_batch_word_iproute2_would_split_or_quote_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, word: str
) -> None:
    # iproute2 splits a batch line itself (makeargs()): quotes, backslashes, `#` and blanks mean
    # something there. No such word is written into a line, and no process starts.
    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(netns, "run", lambda *args, **kw: started.append(args) or "")
    with pytest.raises(LabError, match="is not one a batch line may hold"):
        netns.batch("bridge", "h", (), [["fdb", "show", "br", word]])
    assert started == []


def test_batch_lines_are_the_words_joined_one_command_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[str, ...], str | None]] = []

    def run(*args: str, check: bool = True, stdin: str | None = None) -> str:
        calls.append((args, stdin))
        return "printed"

    monkeypatch.setattr(netns, "run", run)
    assert netns.batch("bridge", "h", ("-s", "-d"), [["fdb", "show", "br", "br0"], ["link", "show"]]) == "printed"
    assert calls == [(("bridge", "-n", "lab-h", "-s", "-d", "-batch", "-"), "fdb show br br0\nlink show\n")]


def test_a_failing_batch_line_is_named_with_its_line_number(monkeypatch: pytest.MonkeyPatch) -> None:
    def run(*args: str, check: bool = True, stdin: str | None = None) -> str:
        raise LabError(f"`{' '.join(args)}` failed: RTNETLINK answers: File exists\nCommand failed -:2")

    monkeypatch.setattr(netns, "run", run)
    with pytest.raises(
        LabError, match=r"^`ip -n lab-h addr add 10\.0\.0\.1/24 dev eth0` \(batch line 2\) failed: .*File exists"
    ):
        netns.batch(
            "ip", "h", (), [["link", "set", "dev", "eth0", "up"], ["addr", "add", "10.0.0.1/24", "dev", "eth0"]]
        )


def test_setup_batches_only_commands_that_make_or_configure_in_one_namespace() -> None:
    from netsim.lab.runner import _batchable
    from netsim.plan import Op

    assert _batchable(Op(("ip", "-n", "lab-h", "link", "set", "dev", "eth0", "up")))
    assert _batchable(Op(("ip", "-n", "lab-h", "addr", "add", "10.0.0.2/24", "dev", "eth0")))
    # A rename or a deletion would leave iproute2's cache of names in a batch stale (ll_map.c).
    assert not _batchable(Op(("ip", "-n", "lab-h", "link", "del", "dev", "eth0")))
    assert not _batchable(Op(("ip", "-n", "lab-h", "route", "del", "default")))
    assert not _batchable(Op(("ip", "-n", "lab-h", "link", "set", "dev", "tmp0", "name", "eth0")))
    assert not _batchable(Op(("ip", "-n", "lab-h", "link", "set", "dev", "eth0", "netns", "lab-c")))
    assert _batchable(
        Op(("ip", "-n", "lab-h", "link", "add", "name", "v0", "type", "veth", "peer", "name", "e0", "netns", "lab-c"))
    )
    assert not _batchable(Op(("ip", "netns", "add", "lab-h")))  # not inside a namespace
    assert not _batchable(
        Op(("ip", "-n", "lab-h", "link", "set", "dev", "eth0", "alias", "a b"))
    )  # a word with a blank
    assert not _batchable(Op(("ip", "-n", "lab-h", "link", "set", "dev", "eth0", "up"), show=True))
    assert not _batchable(Op(("bridge", "-n", "lab-h", "link", "set", "dev", "p1", "learning", "off")))


def test_every_scenario_s_setup_batches_most_of_its_ip_commands() -> None:
    # What the batching buys, measured on the plans themselves: the commands that still start a
    # process each are the namespaces' own (`ip netns add`), the lone ones, and those it must not batch.
    from pathlib import Path

    from netsim import plan
    from netsim.lab.runner import _batchable
    from netsim.scenario import load_scenario

    root = Path(__file__).resolve().parent.parent
    ops = [op for path in sorted(root.glob("diagrams/*.yaml")) for op in plan.setup(load_scenario(path))]
    batched = [op for op in ops if _batchable(op)]
    assert batched and all(op.argv[3:5] != ("link", "del") for op in batched)
    assert len(batched) > len([op for op in ops if op.argv[:2] == ("ip", "-n")]) * 0.9


# In a mount and network namespace of the test's own, with /run a tmpfs there (as the lab does): three
# named namespaces, a process in each, and one more in `a` that has left its parent (as an sshd
# session does when sshd is gone). `c`'s processes are found, then `c` is deleted by name, as a
# netns_del step deletes it (its process keeps it alive). Ending `a`'s and what was found in `c`
# ends those three and leaves `b`'s.
LEFT_BEHIND = """
import os, subprocess, sys, time
from netsim.lab.netns import end_processes, processes_in
def alive(pid):  # a zombie waiting for its parent to reap it does not count
    try:
        return open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
subprocess.run(["mount", "-t", "tmpfs", "test-lab", "/run"], check=True)
for name in ("lab-a", "lab-b", "lab-c"):
    subprocess.run(["ip", "netns", "add", name], check=True)
a, b, c = (subprocess.Popen(["ip", "netns", "exec", f"lab-{x}", "sleep", "60"]) for x in "abc")
orphan = subprocess.run(["ip", "netns", "exec", "lab-a", "sh", "-c", "setsid sleep 61 >/dev/null 2>&1 & echo $!"],
                        capture_output=True, text=True, check=True).stdout.strip()
time.sleep(0.2)
in_c = processes_in(["c"])
subprocess.run(["ip", "netns", "del", "lab-c"], check=True)
ended = end_processes([*in_c, *processes_in(["a", "c", "nobody"])])
a.wait(timeout=5), c.wait(timeout=5)
print(ended, a.returncode, c.returncode, b.poll(), alive(int(orphan)))
b.kill()
"""


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_what_the_lab_s_programs_left_in_its_namespaces_is_ended_and_nothing_else() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        # A PID namespace too, with its own /proc: whatever processes_in() gets wrong (a fault
        # planted in its filter once sent SIGKILL to every process it could see), it can reach only
        # the processes of this test.
        ["unshare", "--net", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
         sys.executable, "-c", LEFT_BEHIND],
        capture_output=True, text=True, check=False, cwd=root, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "-9", "-9", "None", "False"], done.stdout + done.stderr


# In a mount and network namespace of the test's own, with /run a tmpfs there (as the lab does): three
# namespaces made by one `ip -batch`, each its own and none the one the batch ran in; making one that
# exists fails and names its line; a forced delete of four (one of them never made) deletes the three.
NAMESPACES = """
import os, subprocess
from netsim.errors import LabError
from netsim.lab.netns import NETNS_DIR, netns_batch
subprocess.run(["mount", "-t", "tmpfs", "test-lab", "/run"], check=True)
os.makedirs(NETNS_DIR)
netns_batch("add", ["a", "b", "c"])
own = os.stat("/proc/self/ns/net").st_ino
made = {os.stat(f"{NETNS_DIR}/lab-{x}").st_ino for x in "abc"}
print(len(made), own in made, sorted(os.listdir(NETNS_DIR)))
try:
    netns_batch("add", ["d", "b"])
except LabError as exc:
    print("refused:", str(exc).splitlines()[0])
netns_batch("del", ["a", "nobody", "b", "c", "d"], check=False)
print(sorted(os.listdir(NETNS_DIR)))
"""


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_namespaces_made_in_one_batch_are_each_their_own_and_a_forced_delete_deletes_the_rest() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ["unshare", "--net", "--mount", "--propagation", "private", sys.executable, "-c", NAMESPACES],
        capture_output=True, text=True, check=False, cwd=root, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "3 False ['lab-a', 'lab-b', 'lab-c']", done.stdout
    assert lines[1].startswith("refused: `ip netns add lab-b` (batch line 2) failed"), done.stdout
    assert lines[2] == "[]", done.stdout


def test_the_setup_makes_every_namespace_in_one_process_where_the_plan_makes_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Lab.build() with nothing run: what it would start, in order. The namespaces of the hosts
    # present from the start come in one `ip -batch`, where the plan's first `ip netns add` stood,
    # after what the plan does before it; no `ip netns add` is started on its own.
    from pathlib import Path

    from netsim.lab import runner
    from netsim.scenario import load_scenario

    root = Path(__file__).resolve().parent.parent
    started: list[tuple[str, ...]] = []

    def run(*args: str, check: bool = True, stdin: str | None = None) -> str:
        started.append((*args, *(["<<", *stdin.splitlines()] if stdin else [])))
        return ""

    monkeypatch.setattr(netns, "run", run)
    monkeypatch.setattr(runner, "run", run)
    monkeypatch.setattr(runner.Lab, "execute", lambda self, op: started.append(op.argv) and None)
    monkeypatch.setattr(runner.Lab, "_settle_links", lambda self, limit=1.5: None)
    lab = runner.Lab(load_scenario(root / "diagrams" / "margarets-room.yaml"))
    lab.watch = SimpleNamespace(add=lambda *args: None)  # the bridges' capture sockets: none here
    lab.build()
    made = [c for c in started if c[:3] == ("ip", "netns", "add") or any(w.startswith("netns add") for w in c)]
    hosts = ["laptop", "alice", "bob", "carlos", "portainer"]
    assert made == [("ip", "-batch", "-", "<<", *(f"netns add lab-{h}" for h in hosts))], made
    first = next(i for i, c in enumerate(started) if c[:3] == ("ip", "-batch", "-"))
    assert started[first - 1][0] == "sysctl"  # the lab's own namespace's setting, before, as the plan has it
    assert ("ip", "-n", "lab-laptop", "link", "set", "lo", "up") in started[first + 1 :]


def test_a_heading_of_the_script_does_not_break_a_run_of_one_namespace_s_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # margarets-room's script puts a heading before each cable; the lab has nothing to do for one,
    # so the commands on lab-laptop's side of the four cables go in one `ip -batch`, not four.
    from pathlib import Path

    from netsim.lab import runner
    from netsim.scenario import load_scenario

    root = Path(__file__).resolve().parent.parent
    batches: list[list[str]] = []
    monkeypatch.setattr(runner, "netns_batch", lambda *args, **kw: None)
    monkeypatch.setattr(
        runner, "batch", lambda tool, host, options, commands: batches.append([host, *map(" ".join, commands)])
    )
    monkeypatch.setattr(runner.Lab, "execute", lambda self, op: None)
    monkeypatch.setattr(runner.Lab, "_settle_links", lambda self, limit=1.5: None)
    lab = runner.Lab(load_scenario(root / "diagrams" / "margarets-room.yaml"))
    lab.watch = SimpleNamespace(add=lambda *args: None)
    lab.build()
    cables = [b for b in batches if b[0] == "laptop" and any(" type veth " in line for line in b)]
    assert len(cables) == 1, batches
    assert [line.split()[3] for line in cables[0] if " type veth " in line] == ["seat3", "seat5", "seat7", "seat9"]
