"""Watching the bridge: which port a frame came in by and which ports it left by.

An AF_PACKET socket on every bridge port and on the bridge device records each frame with its
direction. A frame coming *in* on a port entered the bridge there; the same bytes going *out*
of a port left by it. On the bridge device it is the other way round: outgoing is the host
sending into the room, incoming is the bridge passing a frame up to the host.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from netsim import wire
from netsim.addresses import BROADCAST, is_group, is_valid_source, link_local_group
from netsim.frames import ICMP_WORDS, TCP_FLAG_WORDS
from netsim.lab.netns import inside
from netsim.wire import decode_dns

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35


@dataclass
class Seen:
    when: int
    bridge: str
    dev: str
    outgoing: bool
    data: bytes


@dataclass
class Watch:
    sockets: dict[socket.socket, tuple[str, str]] = field(default_factory=dict)  # -> (bridge, dev)
    seen: list[Seen] = field(default_factory=list)
    _last: dict[tuple[socket.socket, bool], int] = field(default_factory=dict)  # latest time per socket, way
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add(self, host: str, bridge: str, dev: str) -> None:
        with inside(host):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind((dev, 0))
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # the kernel's time, not ours
        sock.setblocking(False)
        self.sockets[sock] = (bridge, dev)

    def remove(self, bridge: str, dev: str) -> None:
        """Stop watching a device that left the bridge (between steps, so no reader is running)."""
        for sock, where in list(self.sockets.items()):
            if where == (bridge, dev):
                del self.sockets[sock]
                sock.close()

    def start(self) -> None:
        self._drain_all(record=False)  # forget what happened before this step
        self.seen = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self, settle: float = 0.15) -> list[Seen]:
        time.sleep(settle)  # let the last frames of the step reach every port
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._drain_all(record=True)
        return sorted(self.seen, key=lambda s: s.when)

    def close(self) -> None:
        """Stop the reading thread first, then close its sockets (never under its feet)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select(list(self.sockets), [], [], 0.02)
            for sock in ready:
                self._read(sock, record=True)

    def _drain_all(self, record: bool) -> None:
        for sock in self.sockets:
            self._read(sock, record)

    def _read(self, sock: socket.socket, record: bool) -> None:
        while True:
            try:
                data, ancdata, _flags, addr = sock.recvmsg(65535, 64)
            except BlockingIOError:
                return
            except OSError:  # ENETDOWN, ENXIO: its device went away with a deleted link or namespace
                return
            if record:
                bridge, dev = self.sockets[sock]
                when = time.time_ns()
                for level, kind, value in ancdata:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                        sec, nsec = struct.unpack("qq", value[:16])
                        when = sec * 1_000_000_000 + nsec or when
                # One socket's queue holds its device's frames in the order its tap saw them, but their
                # stamps come from different moments: netif_rx() stamps a frame as it enters the backlog
                # (netdev_tstamp_prequeue), while one that carries TCP's monotonic departure time (a
                # SYN-ACK, tcp_make_synack()) keeps it across the veth and is read at the tap
                # (skb_tstamp_cond(), ktime_get_real()). A frame queued after such a one can so read
                # as earlier; it is no earlier than the frame before it in its own queue that went the
                # same way. (Frames the device sends are stamped where its tap sees them,
                # dev_queue_xmit_nit(), not on the way in: across the two ways the queue's order is not
                # the order of the stamps, and the stamps are right: hairpin-on-a-bridge-link.)
                outgoing = addr[2] == PACKET_OUTGOING
                when = self._last[(sock, outgoing)] = max(when, self._last.get((sock, outgoing), 0))
                self.seen.append(Seen(when, bridge, dev, outgoing, data))


def hops(
    seen: list[Seen],
    known: dict[str, set[str]],
    unlearning: dict[str, set[str]] | None = None,
    ageing: dict[str, tuple[int, dict[str, int]]] | None = None,
) -> list[dict]:
    """Group sightings into bridge crossings in the trace's JSON shape.

    Forward and flood can look alike (a flood with one eligible port leaves by one port), so the
    decision for a unicast frame comes from the kernel's own table: `known[bridge]` holds the MACs
    in `bridge fdb show` before the step; sources seen earlier in the step are added as they pass,
    wherever the bridge learns them (_learns()), except where they came in by a port of
    `unlearning[bridge]` (learning off, or an ageing time of 0). `ageing[bridge]`,
    when given, is the bridge's ageing time and when each learned MAC known at the start was last
    refreshed (ns, on the sightings' clock): an entry older than the ageing time is gone, deleted by
    br_fdb_cleanup() (net/bridge/br_fdb.c) even in the middle of a step, and a frame to it floods.
    """
    crossings: list[dict] = []
    pending: dict[tuple[str, bytes], list[dict]] = {}  # identical frames crossing the same bridge
    # Entering sightings first at equal times: a frame passed up shares its ingress timestamp.
    ordered = sorted(seen, key=lambda s: (s.when, not _entering(s)))
    for s in ordered:
        key = (s.bridge, s.data)
        if _entering(s):
            hop = {
                "what": describe(s.data),
                "bridge": s.bridge,
                "in_port": s.dev,
                "src": _mac(s.data[6:12]),
                "dst": _mac(s.data[0:6]),
                "out_ports": [],
                "when": s.when,
                "data": s.data,
            }
            crossings.append(hop)
            pending.setdefault(key, []).append(hop)
    for s in ordered:
        if _entering(s):
            continue
        candidates = pending.get((s.bridge, s.data), [])
        # The latest crossing of these exact bytes that began before this copy left and has not left
        # by this port yet: a crossing leaves by a port once, so a second copy out of the same port is
        # another crossing's (two identical frames entering before either left: a router's two RSTs
        # to two identical SYN-ACKs, waitq-router-queue-let-out).
        earlier = [h for h in candidates if h["when"] <= s.when] or candidates[:1]
        free = [h for h in earlier if s.dev not in h["out_ports"]]
        if free:
            free[-1]["out_ports"].append(s.dev)
    # Each bridge's table: MAC -> when it was last refreshed (None: a port's own, or no clock known).
    learned: dict[str, dict[str, int | None]] = {}
    for bridge, macs in known.items():
        refreshed = (ageing or {}).get(bridge, (0, {}))[1]
        learned[bridge] = {mac: refreshed.get(mac) for mac in macs}
    for hop in crossings:
        table = learned.setdefault(hop["bridge"], {})
        life = (ageing or {}).get(hop["bridge"], (None, {}))[0]
        # Learning comes first: br_handle_frame_finish() (net/bridge/br_input.c) calls br_fdb_update()
        # for the source before br_fdb_find_rcu() looks the destination up, so a frame to its own
        # source MAC (a hairpin port) finds the entry it just made and is forwarded, not flooded.
        # A local entry (None: a port's own MAC) never moves or ages (br_fdb_update() warns and leaves it).
        if _learns(hop, (unlearning or {}).get(hop["bridge"], set())) and table.get(hop["src"], 0) is not None:
            table[hop["src"]] = hop["when"] if life is not None else None
        since = table.get(hop["dst"])
        knows = hop["dst"] in table and (since is None or life is None or hop["when"] < since + life)
        hop["decision"] = _decision(hop, knows)
    keys = ("bridge", "in_port", "src", "dst", "decision", "out_ports")
    out = []
    for hop in crossings:
        item = {k: hop[k] for k in keys}
        item["carries"] = carries(hop["data"])
        item["what"] = hop["what"]
        header = ip_header(hop["data"])
        if header is not None:
            item["ip"] = header
        arp = arp_fields(hop["data"])
        if arp is not None:
            item["arp"] = arp
        ports = tcp_ports(hop["data"])
        if ports is not None:
            item["tcp"] = ports
        dns = decode_dns(hop["data"])
        if dns is not None:
            item["dns"] = dns.summary()
        out.append(item)
    return out


def ip_header(data: bytes) -> dict | None:
    """The IPv4 addresses and time to live of a captured frame, as the trace keeps them."""
    if int.from_bytes(data[12:14], "big") != 0x0800:
        return None
    return {"src": ".".join(map(str, data[26:30])), "dst": ".".join(map(str, data[30:34])), "ttl": data[22]}


def arp_fields(data: bytes) -> dict | None:
    """An ARP packet's sender and target addresses, as the trace keeps them (netsim.trace.arp_fields)."""
    if int.from_bytes(data[12:14], "big") != 0x0806:
        return None
    return {
        "sender_mac": _mac(data[22:28]),
        "sender_ip": _ip(data[28:32]),
        "target_mac": _mac(data[32:38]),
        "target_ip": _ip(data[38:42]),
    }


# The lab names a segment's flags with netsim's own words for the bits netsim sends (FIN-ACK included:
# ssh closing a tunnel's connection; outsider4's F4), so a frame that crosses a watched bridge compares.
TCP_FLAGS = {bits: TCP_FLAG_WORDS[letters] for letters, bits in wire.TCP_FLAGS.items()}


def carries(data: bytes) -> str:
    """What a captured frame carries, in netsim.frames.carries' words, so the two can be compared."""
    ethertype = int.from_bytes(data[12:14], "big")
    if ethertype == 0x0806:
        return "ARP request" if int.from_bytes(data[20:22], "big") == 1 else "ARP reply"
    if ethertype == 0x0800:
        ihl = (data[14] & 0x0F) * 4
        if data[23] == 6:
            flags = data[14 + ihl + 13]
            return TCP_FLAGS.get(flags, f"TCP flags 0x{flags:02x}")
        if data[23] == 1:
            kind, code = data[14 + ihl], data[15 + ihl]
            return "ICMP " + ICMP_WORDS.get((kind, code), f"type {kind} code {code}")
        if data[23] == 17:  # netsim's only UDP is DNS: the QR bit of the header's flags says which way
            return "DNS answer" if data[14 + ihl + 8 + 2] & 0x80 else "DNS query"
        return f"IPv4 protocol {data[23]}"
    return "test frame" if ethertype == 0x88B5 else f"EtherType 0x{ethertype:04x}"


def tcp_ports(data: bytes) -> dict | None:
    """The TCP ports of a captured frame, as the trace keeps them."""
    if int.from_bytes(data[12:14], "big") != 0x0800 or data[23] != 6:
        return None
    tcp = data[14 + (data[14] & 0x0F) * 4 :]
    return {"sport": int.from_bytes(tcp[0:2], "big"), "dport": int.from_bytes(tcp[2:4], "big")}


def describe(data: bytes) -> str:
    """What a captured frame carries, in words: shown beside a disagreement, never compared."""
    ethertype = int.from_bytes(data[12:14], "big")
    if ethertype == 0x0806:
        op = int.from_bytes(data[20:22], "big")
        sender, target = ".".join(map(str, data[28:32])), ".".join(map(str, data[38:42]))
        return f"ARP who-has {target} tell {sender}" if op == 1 else f"ARP {sender} is-at {_mac(data[22:28])}"
    if ethertype == 0x0800:
        ihl = (data[14] & 0x0F) * 4
        src, dst, proto = ".".join(map(str, data[26:30])), ".".join(map(str, data[30:34])), data[23]
        if proto == 6:
            tcp = data[14 + ihl :]
            name = TCP_FLAGS.get(tcp[13], f"flags 0x{tcp[13]:02x}")
            sport, dport = int.from_bytes(tcp[0:2], "big"), int.from_bytes(tcp[2:4], "big")
            return f"TCP {src}:{sport} > {dst}:{dport} {name}"
        if proto == 1:
            return f"ICMP {src} > {dst} type {data[14 + ihl]} code {data[15 + ihl]}"
        dns = decode_dns(data)
        if dns is not None:
            return f"UDP {src} > {dst} {dns.summary()}"
        return f"IPv4 {src} > {dst} protocol {proto}"
    return "test frame" if ethertype == 0x88B5 else f"EtherType 0x{ethertype:04x}"


def _entering(s: Seen) -> bool:
    return s.outgoing if s.dev == s.bridge else not s.outgoing


def _ip(raw: bytes) -> str:
    return ".".join(map(str, raw))


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _learns(hop: dict, quiet: set[str]) -> bool:
    """Whether the bridge learned the frame's source, whatever it did with the frame after.

    br_handle_frame() (net/bridge/br_input.c) drops a frame whose source is not a valid unicast
    MAC, and a pause frame (01:80:c2:00:00:01), before learning; br_handle_frame_finish() and, for
    the other link-local groups, __br_handle_local_finish() call br_fdb_update() before they decide,
    so a frame then dropped (its destination on the port it came in by) still teaches its source.
    A port in `quiet` learns nothing (BR_LEARNING off, or ageing 0: br_fdb_update() returns at once).
    A frame a disabled port drops (its bridge down) is not learned either, but then the bridge
    forwards nothing this step could tell apart. What the host sends through the bridge device teaches nothing:
    br_dev_xmit() (net/bridge/br_device.c) never calls br_fdb_update().
    """
    return (
        hop["in_port"] != hop["bridge"]
        and hop["in_port"] not in quiet
        and is_valid_source(hop["src"])
        and link_local_group(hop["dst"]) != 0x01
    )


def _decision(hop: dict, knows: bool) -> str:
    """`knows`: the bridge holds the destination (learned, or a port's own MAC) as the frame crosses."""
    out, bridge = hop["out_ports"], hop["bridge"]
    if not out:
        return "drop"
    if hop["dst"] == BROADCAST or is_group(hop["dst"]):
        return "flood"
    if out == [bridge]:
        return "local"
    return "forward" if knows and len(out) == 1 else "flood"
