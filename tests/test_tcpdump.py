"""The tcpdump lines a post shows (on_your_machine("tcpdump", ...)) are the real tcpdump's: it reads the
same frames from a capture file, and every line must match, for every bridge of every scenario."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import corpus

from netsim.lab.netns import apt_install
from netsim.render import tcpdump
from netsim.scenario import load_scenario
from netsim.simulation import run
from netsim.wire import pcap

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(ROOT.glob("diagrams/*.yaml")) + sorted((ROOT / "tests" / "lab_scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def real_tcpdump() -> str:
    """The tcpdump binary: installed with apt (it prints a line) when we are root and it is missing."""
    found = shutil.which("tcpdump") or (apt_install("tcpdump") and shutil.which("tcpdump"))
    if not found:
        pytest.skip("tcpdump is not installed, and installing it needs root and apt (Debian package tcpdump)")
    return found


def read_back(binary: str, hops: list, tmp_path: Path) -> list[str]:
    capture = tmp_path / "frames.pcap"
    # A first packet stamped 0 s means "none yet" to -ttttt, so the capture's clock starts later.
    capture.write_bytes(pcap(hops, epoch=1_000_000_000))
    done = subprocess.run(
        [binary, "-ttttt", "-enr", str(capture)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TZ": "UTC"},
    )
    return done.stdout.splitlines()


@pytest.mark.parametrize("path", corpus(SCENARIOS), ids=lambda p: p.stem)
def test_every_line_is_the_real_tcpdumps(path: Path, real_tcpdump: str, tmp_path: Path) -> None:
    trace = run(load_scenario(path))
    every = [hop for step in trace.steps for hop in step.frames]
    for bridge in sorted({hop.bridge for hop in every}):
        seen = tcpdump.seen_on(bridge, every)
        if seen:
            assert tcpdump.lines(seen) == read_back(real_tcpdump, seen, tmp_path), (path.stem, bridge)


def test_a_capture_on_the_bridge_sees_no_frame_with_a_group_source() -> None:
    """br_handle_frame() drops a frame whose source is a group address before the bridge device sees it."""
    trace = run(load_scenario(ROOT / "tests" / "lab_scenarios" / "bad-sources.yaml"))
    every = [hop for step in trace.steps for hop in step.frames]
    bad = {"03:00:00:00:00:01", "00:00:00:00:00:00"}
    assert bad <= {hop.src for hop in every}
    assert [hop.src for hop in tcpdump.seen_on("br0", every)] == ["02:00:00:00:00:0a"]


def test_a_conversation_first_seen_from_its_higher_port_is_numbered_as_tcpdump_numbers_it(
    real_tcpdump: str, tmp_path: Path
) -> None:
    """print-tcp.c keys a conversation with the lower port first and records both initial numbers
    from its first segment with ACK. When that segment comes from the higher port (a capture that
    starts after the handshake: the client's ACK), the two numbers are stored the other way round;
    every later line, either way, is relative to them."""
    from netsim.frames import SSH_BANNER, Tcp
    from netsim.trace import Hop

    def hop(t: float, tcp: Tcp) -> Hop:
        macs = ("02:00:00:00:00:01", "02:00:00:00:00:02")
        src, dst = macs if tcp.sport == 41000 else macs[::-1]  # port 22: tcpdump reads the banner as SSH
        return Hop("br0", "p1", src, dst, "forward", ("p2",), "tcp", "", time=t, ethertype=0x0800, payload=tcp)

    a, b = "10.0.0.1", "10.0.0.2"
    n = len(SSH_BANNER)  # netsim's data segment ("PA") carries sshd's banner
    hops = [
        hop(1.0, Tcp(a, b, 41000, 22, "A", 1000, 5001)),
        hop(1.1, Tcp(b, a, 22, 41000, "PA", 5001, 1000)),
        hop(1.2, Tcp(a, b, 41000, 22, "A", 1000, 5001 + n)),
        hop(1.3, Tcp(a, b, 41000, 22, "PA", 1000, 5001 + n)),
    ]
    said = tcpdump.lines(hops)
    assert said == read_back(real_tcpdump, hops, tmp_path)
    assert f", seq 1:{1 + n}, ack 0," in said[1], said  # relative, from the numbers the first ACK gave
