"""Each scenario's .pcap holds real Ethernet, ARP, IPv4, TCP, ICMP, UDP and DNS bytes, checked by an independent
dissector (scapy; Wireshark too where it is installed) against the trace, field by field."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import corpus

from netsim.frames import Arp, Dns, Icmp, Tcp, Udp
from netsim.scenario import load_scenario
from netsim.simulation import run
from netsim.wire import TCP_FLAGS, _udp_ip, checksum, dns_message, pcap, tcp_ip

if TYPE_CHECKING:  # imported for real by the `scapy` fixture below, when this file's first test runs
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
    from scapy.layers.l2 import ARP, Ether
    from scapy.utils import rdpcap, wrpcap

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(ROOT.glob("diagrams/*.yaml")) + sorted((ROOT / "tests" / "lab_scenarios").glob("*.yaml"))


SCAPY = {
    "scapy.layers.dns": ("DNS", "DNSQR"),
    # not scapy.all: a third of the time
    "scapy.layers.inet": ("ICMP", "IP", "TCP", "UDP", "IPerror", "TCPerror", "UDPerror"),
    "scapy.layers.l2": ("ARP", "Ether"),
    "scapy.utils": ("rdpcap", "wrpcap"),
}


@pytest.fixture(autouse=True, scope="module")
def scapy() -> None:
    """scapy's layers, imported as this file's first test starts rather than as pytest collects it:
    the import (~1 CPU s: scapy reads the machine's interfaces and routes over rtnetlink) was paid
    by every xdist worker of `make check`, though only one of them runs this file."""
    import importlib

    for module, names in SCAPY.items():
        loaded = importlib.import_module(module)
        globals().update({name: getattr(loaded, name) for name in names})


def capture(path: Path, tmp_path: Path) -> tuple[list, Path]:
    hops = [hop for step in run(load_scenario(path)).steps for hop in step.frames]
    file = tmp_path / f"{path.stem}.pcap"
    file.write_bytes(pcap(hops))
    return hops, file


@pytest.mark.parametrize("scenario", corpus(SCENARIOS), ids=lambda p: p.stem)
def test_every_frame_dissects_to_what_the_trace_says(scenario: Path, tmp_path: Path) -> None:
    hops, file = capture(scenario, tmp_path)
    packets = rdpcap(str(file))
    assert len(packets) == len(hops)
    times = [float(p.time) for p in packets]
    assert times == sorted(times) and len(set(times)) == len(times)
    for hop, pkt in zip(hops, packets, strict=True):
        assert (pkt[Ether].dst, pkt[Ether].src, pkt[Ether].type) == (hop.dst, hop.src, hop.ethertype)
        if isinstance(hop.payload, Arp):
            arp = pkt[ARP]
            p = hop.payload
            assert (arp.op, arp.hwsrc, arp.psrc, arp.hwdst, arp.pdst) == (
                p.op,
                p.sender_mac,
                p.sender_ip,
                p.target_mac,
                p.target_ip,
            )
        elif isinstance(hop.payload, Icmp):
            p = hop.payload
            icmp = pkt[ICMP]
            assert (pkt[IP].src, pkt[IP].dst, icmp.type, icmp.code) == (p.src_ip, p.dst_ip, p.type, p.code)
            quoted = pkt[IPerror]
            inner = pkt[UDPerror] if isinstance(p.original, Udp) else pkt[TCPerror]
            assert (quoted.src, quoted.dst, inner.sport, inner.dport) == (
                p.original.src_ip,
                p.original.dst_ip,
                p.original.sport,
                p.original.dport,
            )
            # __icmp_send() quotes the whole offending packet (up to 576 bytes in all), not RFC 792's
            # header and 8 bytes: the quote is the packet as its sender put it on the wire.
            original = tcp_ip(p.original) if isinstance(p.original, Tcp) else _udp_ip(p.original)
            assert bytes(quoted) == original
            assert len(pkt) == 14 + 20 + 8 + len(original) and pkt[IP].len == 20 + 8 + len(original)
            # no DF (icmp_sk_init(): IP_PMTUDISC_DONT), so ip_select_ident() numbers it; TOS 0xc0
            assert (pkt[IP].flags, pkt[IP].tos) == (0, 0xC0) and pkt[IP].id != 0
            rebuilt = Ether(bytes(pkt))
            del rebuilt[IP].chksum, rebuilt[ICMP].chksum
            again = Ether(bytes(rebuilt))
            assert (again[IP].chksum, again[ICMP].chksum) == (pkt[IP].chksum, icmp.chksum)
        elif isinstance(hop.payload, Tcp):
            p = hop.payload
            ip, tcp = pkt[IP], pkt[TCP]
            assert (ip.src, ip.dst, ip.len, ip.ihl) == (p.src_ip, p.dst_ip, 40 + len(p.data), 5)
            assert bytes(tcp.payload) == p.data  # sshd's banner, or nothing
            assert (tcp.sport, tcp.dport, int(tcp.flags), tcp.seq, tcp.ack) == (
                p.sport,
                p.dport,
                TCP_FLAGS[p.flags],
                p.seq,
                p.ack,
            )
            rebuilt = Ether(bytes(pkt))
            del rebuilt[IP].chksum, rebuilt[TCP].chksum  # let scapy compute them itself
            again = Ether(bytes(rebuilt))
            assert (again[IP].chksum, again[TCP].chksum) == (ip.chksum, tcp.chksum)
        elif isinstance(hop.payload, Udp):
            p = hop.payload
            ip, udp, dns = pkt[IP], pkt[UDP], pkt[DNS]
            assert (ip.src, ip.dst, ip.proto, udp.sport, udp.dport) == (p.src_ip, p.dst_ip, 17, p.sport, p.dport)
            assert udp.len == len(bytes(udp))
            assert (dns.id, dns.qr, dns.rcode, _first(dns.qd).qname) == (
                p.payload.id,
                int(p.payload.response),
                p.payload.rcode,
                p.payload.name.encode() + b".",
            )
            answers = [record.rdata for record in _records(dns.an)]
            assert answers == list(p.payload.answers)
            rebuilt = Ether(bytes(pkt))
            del rebuilt[IP].chksum, rebuilt[UDP].chksum
            again = Ether(bytes(rebuilt))
            assert (again[IP].chksum, again[UDP].chksum) == (ip.chksum, udp.chksum)


def _records(section: object) -> list:
    """A DNS section as scapy (2.6, pinned) gives it: a list of records, or None when empty."""
    return [] if section is None else list(section)


def _first(section: object) -> DNSQR:
    return _records(section)[0]


def test_the_handshake_numbers_line_up() -> None:
    trace = run(load_scenario(ROOT / "diagrams" / "margarets-room.yaml"))
    syn, synack, ack = (h.payload for h in trace.step("portainer-connects-to-bridge-listener").frames)
    assert (synack.ack, ack.seq, ack.ack) == (syn.seq + 1, synack.ack, synack.seq + 1)
    rst = trace.step("portainer-connects").frames[-1].payload
    assert rst.flags == "RA" and rst.ack == trace.step("portainer-connects").frames[-2].payload.seq + 1


def test_the_internet_checksum_of_a_known_header() -> None:
    # RFC 1071's worked example, and a header whose checksum field already holds its checksum.
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    filled = header[:10] + checksum(header).to_bytes(2, "big") + header[12:]
    assert checksum(filled) == 0


class Wireshark:
    """Wireshark's dissectors and expert analysis, one process for the whole file: sharkd (it ships
    with tshark) loads each capture in turn and answers with its expert items. A tshark per capture
    spent ~0.25 CPU s starting up (registering every dissector) to read a few frames; 128 of them
    were a sixth of `make check`. Each load starts a fresh dissection (cf_open(): the conversation,
    TCP sequence and ARP tables are the file's own), so one capture's frames never colour another's:
    loaded one after the other, two captures in which two badges claim the same address report
    nothing; merged into one file they report the duplicate."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["sharkd", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.calls = 0
        # Wireshark leaves the IPv4, TCP and UDP checksums unchecked unless asked (a capture taken on
        # the sending host carries the NIC's offloaded zeros); netsim's captures carry real ones.
        for proto in ("ip", "tcp", "udp"):
            assert self.call("setconf", name=f"{proto}.check_checksum", value="TRUE") == {"status": "OK"}

    def call(self, method: str, **params: object) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.calls += 1
        request = {"jsonrpc": "2.0", "id": self.calls, "method": method, "params": params}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"sharkd ended (exit {self.proc.poll()}) answering {method} {params}"
        answer = json.loads(line)
        assert answer.get("id") == self.calls and "result" in answer, answer
        return answer["result"]

    def warnings(self, file: Path, frames: int) -> set[str]:
        """What `tshark -r FILE -q -z expert,warn` lists: the warnings and errors, by message."""
        assert self.call("load", file=str(file)) == {"status": "OK"}
        assert self.call("status")["frames"] == frames, "Wireshark read another number of frames"
        (tap,) = self.call("tap", tap0="expert")["taps"]
        return {item["m"] for item in tap["details"] if item["s"] in ("Warning", "Error")}

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def wireshark() -> Iterator[Wireshark]:
    if shutil.which("sharkd") is None:
        pytest.skip("Wireshark (sharkd, with tshark) is not installed; scapy checked the captures")
    shark = Wireshark()
    yield shark
    shark.close()


@pytest.mark.parametrize("scenario", corpus(SCENARIOS), ids=lambda p: p.stem)
def test_wireshark_finds_nothing_wrong_but_what_the_story_is_about(
    scenario: Path, tmp_path: Path, wireshark: Wireshark
) -> None:
    hops, file = capture(scenario, tmp_path)
    messages = wireshark.warnings(file, len(hops))
    assert not any("Malformed" in m or "checksum" in m.lower() for m in messages), messages
    # Two warnings are the point of a step, not a fault of the capture: a note signed with a
    # group badge, and the reset that is "connection refused".
    allowed = set()
    if any(int(h.src[:2], 16) & 1 for h in hops):
        allowed.add("Source MAC must not be a group address")
    if any(isinstance(h.payload, Tcp) and h.payload.flags in ("RA", "R") for h in hops):
        allowed.add("Connection reset (RST)")
    # A challenge ACK (RFC 5961) answers a SYN on an established connection with the socket's own
    # rcv_nxt, not the SYN's seq + 1: Wireshark, taking the SYN for a new conversation, calls it the
    # ACK of a segment it never saw, as it does in the kernel's own capture.
    tcps = [h.payload for h in hops if isinstance(h.payload, Tcp)]
    syn_seq = {(p.src_ip, p.sport, p.dst_ip, p.dport): p.seq for p in tcps if p.flags == "S"}
    if any(
        p.flags == "A" and syn_seq.get((p.dst_ip, p.dport, p.src_ip, p.sport), p.ack - 1) + 1 != p.ack for p in tcps
    ):
        allowed.add("ACKed segment that wasn't captured (common at capture start)")
    # Two badges answering for one address is what the duplicate-address and gratuitous-ARP lab
    # scenarios are about: Wireshark's ARP dissector warns of exactly that, naming the address.
    badges: dict[str, set[str]] = {}
    for h in hops:
        if isinstance(h.payload, Arp) and h.payload.sender_ip != "0.0.0.0":
            badges.setdefault(h.payload.sender_ip, set()).add(h.payload.sender_mac)
    allowed |= {f"Duplicate IP address configured ({ip})" for ip, macs in badges.items() if len(macs) > 1}
    found = {m.split(":")[0].strip() for m in messages}
    assert found <= allowed, found - allowed


def test_wireshark_reads_each_capture_afresh(tmp_path: Path, wireshark: Wireshark) -> None:
    # The captures above share one sharkd: each load must forget the last. Two badges claim
    # 10.0.0.1, one per capture: read in turn, neither is a duplicate; merged into one file, it is.
    claims = [
        Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc="10.0.0.1", pdst="10.0.0.2")
        for mac in ("02:00:00:00:00:0a", "02:00:00:00:00:0b")
    ]
    first, second, both = tmp_path / "a.pcap", tmp_path / "b.pcap", tmp_path / "ab.pcap"
    wrpcap(str(first), claims[:1])
    wrpcap(str(second), claims[1:])
    wrpcap(str(both), claims)
    assert wireshark.warnings(first, 1) == wireshark.warnings(second, 1) == set()
    assert wireshark.warnings(both, 2) == {"Duplicate IP address configured (10.0.0.1)"}


# What the lab saw on seat9 of post six's bridge: the C library's questions and dnsmasq's answers,
# from the DNS header on (ids as captured). netsim writes the same bytes for the same id and name.
SEEN_ON_THE_WIRE = {
    Dns(0x1402, "web"): "140201000001000000000000037765620000010001",
    Dns(0x1402, "web", True, ("10.88.0.3",)): "14028580000100010000000003776562000001"
    "0001c00c000100010000000000040a580003",
    Dns(0x09E1, "protainer"): "09e1010000010000000000000970726f7461696e65720000010001",
    Dns(0x09E1, "protainer", True, (), 3): "09e1818300010000000000000970726f7461696e65720000010001",
}


@pytest.mark.parametrize("message", list(SEEN_ON_THE_WIRE), ids=lambda m: m.summary())
def test_dns_messages_have_the_bytes_the_kernel_lab_captured(message: Dns) -> None:
    assert dns_message(message).hex() == SEEN_ON_THE_WIRE[message]
