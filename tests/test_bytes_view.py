"""The bytes view explains every byte: each byte of each frame belongs to exactly one named field,
with a sentence and a post; the hex shown is the frame's bytes; short frames stay short on a veth."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netsim import wire
from netsim.render import bytes_view
from netsim.scenario import load_scenario
from netsim.simulation import run

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "diagrams").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_byte_of_every_frame_belongs_to_one_explained_field(path: Path) -> None:
    scenario = load_scenario(path)
    frames = 0
    for step in run(scenario).steps:
        for hop in step.frames:
            frames += 1
            data = wire.encode(hop)
            owners = [0] * len(data)
            for field in wire.fields(hop):
                assert field.means.endswith(".") and field.post.endswith(".html"), field
                for i in range(field.start, field.start + field.length):
                    owners[i] += 1
            assert owners == [1] * len(data), f"{step.id}: {hop.what}: bytes explained {owners}"
        if step.frames:
            html = bytes_view.render(scenario, step)
            shown = re.findall(r'data-f="\d+">([0-9a-f]{2})</span>', html)
            assert "".join(shown) == b"".join(wire.encode(h) for h in step.frames).hex()
    assert frames > 0


def test_short_frames_are_not_padded_on_a_veth() -> None:
    # drivers/net/veth.c passes the skb to its peer as it is; only NIC drivers pad (eth_skb_pad).
    scenario = load_scenario(ROOT / "diagrams" / "margarets-room.yaml")
    arp = next(h for s in run(scenario).steps for h in s.frames if h.ethertype == 0x0806)
    assert len(wire.encode(arp)) == 42
    names = [f.name for f in wire.fields(arp)]
    assert names[3:7] == ["hardware type", "protocol type", "hardware size", "protocol size"]


def test_an_arp_reply_names_the_answerer_as_its_sender() -> None:
    # In a reply the sender is the one answering and the target is the asker (arp_process(),
    # net/ipv4/arp.c); the fields' sentences follow the opcode, not the question's roles.
    scenario = load_scenario(ROOT / "diagrams" / "margarets-room.yaml")
    hops = [h for s in run(scenario).steps for h in s.frames if h.ethertype == 0x0806]
    for op, sender, target in ((1, "asker", "asked for"), (2, "answer", "asker")):
        hop = next(h for h in hops if h.payload.op == op)
        means = {f.name: f.means for f in wire.fields(hop)}
        assert sender in means["sender MAC"] and target in means["target MAC"], means
