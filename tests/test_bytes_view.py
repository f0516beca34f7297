"""The bytes view explains every byte: each byte of each frame belongs to exactly one named field,
with a sentence and a post; the hex shown is the frame's bytes; short frames stay short on a veth."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netsim import wire
from netsim.frames import Icmp
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


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_what_a_field_means_explains_the_value_shown(path: Path) -> None:
    """The 'what it means' column once was fixed text: flags 0x0000 were explained as '0x4000: do not
    split it', a TOS of 0x00 as '0xc0: network control'. A sentence may name no other hex value than
    the one shown, and says 'do not fragment' only where DF is set."""
    for step in run(load_scenario(path)).steps:
        for hop in step.frames:
            for field in wire.fields(hop):
                for number in re.findall(r"0x[0-9a-f]+", field.means):
                    assert number in field.value, f"{step.id}: {hop.what}: {field}"
                if field.name == "flags and fragment offset":
                    df = int(field.value, 16) & 0x4000
                    assert ("Do not fragment" in field.means) == bool(df), f"{step.id}: {field}"


def test_an_icmp_error_quotes_the_whole_packet_it_refuses() -> None:
    """__icmp_send() (net/ipv4/icmp.c) quotes as much of the offending packet as fits in 576 bytes:
    for netsim's 40-byte SYN, the whole of it, so the frame is 14 + 20 + 8 + 40 = 82 bytes (it was 70,
    RFC 792's header-and-8-bytes). The byte view says what is quoted and the frame's length."""
    scenario = load_scenario(ROOT / "diagrams" / "three-ways-to-say-no.yaml")
    step = run(scenario).step("firewall-says-no")
    hop = next(h for h in step.frames if isinstance(h.payload, Icmp))
    data, syn = wire.encode(hop), wire.tcp_ip(hop.payload.original)
    assert len(syn) == 40 and len(data) == 82 and data[42:] == syn
    fields = {f.name: f for f in wire.fields(hop)}
    assert (fields["quoted TCP segment"].start, fields["quoted TCP segment"].length) == (62, 20)
    assert "quoted whole" in fields["quoted IPv4 header"].means
    assert f"{hop.payload.original.dport}, SYN, seq {hop.payload.original.seq}" in fields["quoted TCP segment"].value
    assert "port unreachable, from the laptop, 82 bytes" in bytes_view.render(scenario, step)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_a_port_called_the_callers_is_the_callers(path: Path) -> None:
    """The port sentences once were fixed per field: a SYN-ACK's source port (the door knocked on, 19001)
    was 'the caller's door number' (cold read 8). Whatever a sentence calls the caller's door must be a
    port some SYN left from, and the door knocked on a port some SYN went to; a DNS answer's port 53 is
    its source."""
    steps = run(load_scenario(path)).steps
    hops = [h for s in steps for h in s.frames]
    syns = [h.payload for h in hops if getattr(h.payload, "flags", None) == "S"]
    callers, knocked = {str(p.sport) for p in syns}, {str(p.dport) for p in syns}
    for hop in hops:
        for field in wire.fields(hop):
            if "caller's door" in field.means:
                assert field.value in callers, f"{hop.what}: {field}"
            if "door knocked on" in field.means or "door that was knocked on" in field.means:
                assert field.value in knocked, f"{hop.what}: {field}"
            if field.layer == "UDP" and "Port 53" in field.means:
                assert field.value == "53", f"{hop.what}: {field}"
