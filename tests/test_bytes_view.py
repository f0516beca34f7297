"""The bytes view explains every byte: each byte of each frame belongs to exactly one named field,
with a sentence and a post; the hex shown is the frame's bytes; short frames stay short on a veth."""

from __future__ import annotations

import re
from pathlib import Path

import golden
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


# The bytes view's own reading held to an independent one: scapy dissects the same bytes, and every
# field the view names must say what scapy reads there (over golden.bytes_corpus()).
DISSECTED = golden.bytes_corpus()
BIT_NAMES = [(0x01, "FIN"), (0x02, "SYN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK")]
RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


def _tcp_flag_words(flags: int) -> str:
    return ", ".join(name for bit, name in BIT_NAMES if flags & bit)


def _dissected(data: bytes) -> list[tuple[str, str, str]]:
    """(layer, field, value) for every field of the frame, as scapy reads its bytes, in the bytes view's
    words for each value."""
    from scapy.layers.dns import DNS
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
    from scapy.layers.l2 import ARP, Ether

    pkt = Ether(data)
    out = [("Ethernet", "destination MAC", pkt.dst), ("Ethernet", "source MAC", pkt.src)]
    out.append(("Ethernet", "EtherType", f"0x{pkt.type:04x}"))
    if ARP in pkt:
        a = pkt[ARP]
        assert (a.hwtype, a.ptype) == (1, 0x0800)
        out += [
            ("ARP", "hardware type", f"{a.hwtype} (Ethernet)"),
            ("ARP", "protocol type", f"0x{a.ptype:04x} (IPv4)"),
            ("ARP", "hardware size", str(a.hwlen)),
            ("ARP", "protocol size", str(a.plen)),
            ("ARP", "opcode", f"{a.op} ({ {1: 'request', 2: 'reply'}[a.op] })"),
            ("ARP", "sender MAC", a.hwsrc),
            ("ARP", "sender IP", a.psrc),
            ("ARP", "target MAC", a.hwdst),
            ("ARP", "target IP", a.pdst),
        ]
        return out
    if IP not in pkt:
        return [*out, ("payload", "the note", bytes(pkt.payload).decode())]
    ip = pkt[IP]
    out += [
        ("IPv4", "version and header length", f"{ip.version}, {ip.ihl * 4} bytes"),
        ("IPv4", "DSCP and ECN", f"0x{ip.tos:02x}"),
        ("IPv4", "total length", str(ip.len)),
        ("IPv4", "identification", str(ip.id)),
        ("IPv4", "flags and fragment offset", f"0x{(int(ip.flags) << 13) | ip.frag:04x}"),
        ("IPv4", "time to live", str(ip.ttl)),
        ("IPv4", "protocol", f"{ip.proto} ({ {1: 'ICMP', 6: 'TCP', 17: 'UDP'}[ip.proto] })"),
        ("IPv4", "header checksum", f"0x{ip.chksum:04x}"),
        ("IPv4", "source address", ip.src),
        ("IPv4", "destination address", ip.dst),
    ]
    if TCP in pkt:
        t = pkt[TCP]
        out += [
            ("TCP", "source port", str(t.sport)),
            ("TCP", "destination port", str(t.dport)),
            ("TCP", "sequence number", str(t.seq)),
            ("TCP", "acknowledgement number", str(t.ack)),
            ("TCP", "header length", f"{t.dataofs * 4} bytes"),
            ("TCP", "flags", _tcp_flag_words(int(t.flags))),
            ("TCP", "window", str(t.window)),
            ("TCP", "checksum", f"0x{t.chksum:04x}"),
            ("TCP", "urgent pointer", str(t.urgptr)),
        ]
    elif UDP in pkt and IPerror not in pkt:
        u, d = pkt[UDP], pkt[DNS]
        raw = bytes(u.payload)
        flags = int.from_bytes(raw[2:4], "big")
        kind = f"answer, {RCODES[d.rcode]}" if d.qr else "query, recursion desired"
        assert d.qdcount == 1 and (d.qd[0].qtype, d.qd[0].qclass) == (1, 1)
        out += [
            ("UDP", "source port", str(u.sport)),
            ("UDP", "destination port", str(u.dport)),
            ("UDP", "length", str(u.len)),
            ("UDP", "checksum", f"0x{u.chksum:04x}"),
            ("DNS", "id", str(d.id)),
            ("DNS", "flags", f"0x{flags:04x} ({kind})"),
            ("DNS", "counts", f"{d.qdcount} question, {d.ancount} answers"),
            ("DNS", "name asked", d.qd[0].qname.decode().rstrip(".")),
            ("DNS", "type and class", "A, IN"),
        ]
        at = 12 + len(d.qd[0].qname) + 1 + 4  # the first answer: "web." is 3web0 on the wire, then type, class
        for rr in d.an or []:
            assert raw[at : at + 2] == b"\xc0\x0c" and (rr.type, rr.rclass) == (1, 1)
            rdlen = int.from_bytes(raw[at + 10 : at + 12], "big")  # scapy keeps no length it read
            out += [
                ("DNS", "answer's name", "pointer to byte 12"),
                ("DNS", "answer's type, class, TTL", f"A, IN, {rr.ttl} s"),
                ("DNS", "address length", str(rdlen)),
                ("DNS", "address", rr.rdata),
            ]
            at += 16
    elif ICMP in pkt:
        i, q = pkt[ICMP], pkt[IPerror]
        kinds = {3: "destination unreachable", 11: "time exceeded"}
        out += [
            ("ICMP", "type", f"{i.type} ({kinds[i.type]})"),
            ("ICMP", "code", f"{i.code} ("),  # the code's words are the view's own (ICMP_WORDS)
            ("ICMP", "checksum", f"0x{i.chksum:04x}"),
            ("ICMP", "unused", str(int.from_bytes(data[38:42], "big"))),
            ("ICMP", "quoted IPv4 header", f"{q.src} > {q.dst}"),
        ]
        if TCPerror in pkt:
            t = pkt[TCPerror]
            out.append(
                ("ICMP", "quoted TCP segment", f"{t.sport} > {t.dport}, {_tcp_flag_words(int(t.flags))}, seq {t.seq}")
            )
        else:
            u = pkt[UDPerror]
            out.append(("ICMP", "quoted UDP header", f"{u.sport} > {u.dport}"))
            if len(data) > 70:
                question = DNS(data[70:])
                out.append(("ICMP", "quoted DNS message", question.qd[0].qname.decode().rstrip(".")))
    return out


@pytest.mark.parametrize("path", DISSECTED, ids=lambda p: p.stem)
def test_each_field_says_what_an_independent_dissector_reads_in_its_bytes(path: Path) -> None:
    frames = 0
    for step in run(load_scenario(path)).steps:
        for hop in step.frames:
            frames += 1
            shown = [(f.layer, f.name, f.value) for f in wire.fields(hop)]
            read = _dissected(wire.encode(hop))
            assert [s[:2] for s in shown] == [r[:2] for r in read], f"{step.id}: {hop.what}"
            for (layer, name, value), (_, _, scapy_value) in zip(shown, read, strict=True):
                if (layer, name) == ("ICMP", "code"):
                    assert value.startswith(scapy_value), f"{step.id}: {hop.what}: {layer} {name}"
                else:
                    assert value == scapy_value, f"{step.id}: {hop.what}: {layer} {name}"
    assert frames > 0 or path not in SCENARIOS  # two of the lab's DNS rooms talk over lo alone


def test_a_frame_longer_than_255_bytes_is_read_whole() -> None:
    """A question for a long name makes a frame of more than 255 bytes: every two-byte length the view
    shows is read from both its bytes."""
    from netsim.frames import Dns, Udp
    from netsim.trace import Hop

    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters, the most a name may have
    query = Udp("10.0.0.2", "10.0.0.1", 40003, 53, Dns(7, name))
    hop = Hop(
        "br0",
        "p1",
        "02:00:00:00:00:02",
        "02:00:00:00:00:01",
        "forward",
        ("p2",),
        query.summary(),
        "",
        ethertype=0x0800,
        payload=query,
    )
    data = wire.encode(hop)
    assert len(data) > 14 + 255
    shown = [(f.layer, f.name, f.value) for f in wire.fields(hop)]
    assert shown == _dissected(data)
    assert ("IPv4", "total length", str(len(data) - 14)) in shown


def _frame(udp_payload: bytes, sport: int = 53, dport: int = 40000) -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=sport, dport=dport) / udp_payload)


def test_the_lab_reads_back_every_dns_message_netsim_writes() -> None:
    """decode_dns() reads the DNS messages the lab captures (netsim.lab.capture): each one netsim
    writes, either way between port 53 and the asker, reads back as it was (its TTL aside)."""
    from netsim.frames import Dns, Udp

    messages = [
        Dns(7031, "web"),
        Dns(7031, "web", True, ("10.88.0.3",)),
        Dns(1, "a.long-name.example", True, ("192.0.2.1", "192.0.2.2")),
        Dns(65535, "agent", True, (), 3),  # NXDOMAIN
    ]
    ethernet = bytes(12) + b"\x08\x00"
    for msg in messages:
        for sport, dport in ((40003, 53), (53, 40003)):
            data = ethernet + wire._udp_ip(Udp("10.0.0.2", "10.0.0.1", sport, dport, msg))
            assert wire.decode_dns(data) == msg, (msg, sport, dport)


def test_the_lab_reads_a_dns_answer_written_another_way() -> None:
    """A real server may write the answer's name in full rather than as a pointer, and put a CNAME
    before the A record: decode_dns() steps over both and keeps the address."""
    from scapy.layers.dns import DNS, DNSQR, DNSRR

    from netsim.frames import Dns

    answer = DNS(
        id=7,
        qr=1,
        rd=1,
        ra=1,
        qd=DNSQR(qname="web"),
        an=[DNSRR(rrname="web", type="CNAME", rdata="srv."), DNSRR(rrname="srv", type="A", ttl=60, rdata="10.0.0.3")],
    )
    assert bytes(answer)[6:8] == b"\x00\x02"  # two answers
    assert wire.decode_dns(_frame(bytes(answer))) == Dns(7, "web", True, ("10.0.0.3",))


def test_the_lab_reads_no_dns_message_where_there_is_none() -> None:
    from scapy.layers.dns import DNS, DNSQR

    query = bytes(DNS(id=9, qd=DNSQR(qname="web")))
    assert wire.decode_dns(_frame(query)) is not None  # the same bytes, between the right ports
    assert wire.decode_dns(_frame(query, 5353, 40000)) is None  # no port 53 either way
    assert wire.decode_dns(_frame(query)[:41]) is None  # shorter than its headers
    assert wire.decode_dns(_frame(query[:14])) is None  # a message cut inside its question
    assert wire.decode_dns(_frame(query[:4] + b"\x00\x02" + query[6:])) is None  # a count of two questions
    tcp = bytearray(_frame(query))
    tcp[23] = 6  # the same bytes said to be TCP
    assert wire.decode_dns(bytes(tcp)) is None
    arp = bytearray(_frame(query))
    arp[12:14] = b"\x08\x06"
    assert wire.decode_dns(bytes(arp)) is None


def test_every_sentence_the_bytes_view_says_is_the_golden_one() -> None:
    """What each field means, word for word: a reader reads these beside the hex, and no check above
    reads a sentence (a field could lose its words, or be told with another field's)."""
    differ = golden.words_differ(golden.bytes_words(), golden.BYTES_WORDS)
    assert not differ, differ


def test_each_row_of_the_view_says_its_field_s_name_place_value_and_meaning() -> None:
    """The table beside the hex, row by row: the reader reads the field's name (a link to the post that
    explains it), its layer and bytes, its value and what it means, each as wire.fields() has it."""
    from netsim.render.escape import html as escape

    scenario = load_scenario(ROOT / "diagrams" / "a-name-for-the-host.yaml")
    step = next(s for s in run(scenario).steps if len(s.frames) >= 3)
    html = bytes_view.render(scenario, step, root="../../")
    rows = re.findall(
        r'<tr class="ns-l-([a-z0-9]+)" data-f="(\d+)" tabindex="0"><td>(.*?)<br><small>(.*?)</small></td>'
        r"<td><code>(.*?)</code></td><td>(.*?)</td></tr>",
        html,
    )
    expected = []
    for hop in step.frames:
        for k, f in enumerate(wire.fields(hop)):
            span = f"{f.start}–{f.start + f.length - 1}" if f.length > 1 else f"{f.start}"
            name = f'<a href="../../posts/{escape(f.post)}">{escape(f.name)}</a>' if f.post else escape(f.name)
            place = f"{escape(f.layer)}, byte{'s' if f.length > 1 else ''} {span}"
            expected.append((f.layer.lower(), str(k), name, place, escape(f.value), escape(f.means)))
    assert rows == expected and len(rows) > 30


def test_a_field_no_post_explains_is_named_without_a_link() -> None:
    unexplained = wire.Field("IPv4", "options <b>", 20, 4, "00 00 00 00")
    assert bytes_view._field_name(unexplained, "../") == "options &lt;b&gt;"
    explained = wire.Field("IPv4", "TTL", 8, 1, "64", "Hops left.", "finding-the-way-out.html")
    assert bytes_view._field_name(explained, "../") == '<a href="../posts/finding-the-way-out.html">TTL</a>'
