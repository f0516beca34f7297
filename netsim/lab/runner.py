"""Build a scenario out of real kernel objects, play its steps, and record what the kernel did.

Runs inside the lab's private namespaces (see netsim.lab.cli). The result has the same JSON
shape as `python -m netsim run --json`.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import subprocess
import sys
import time
from typing import Any

from netsim import tcp
from netsim.addresses import BROADCAST, ZERO_MAC, derived_mac, normalise_mac
from netsim.errors import LabError
from netsim.frames import ETH_P_ARP, ETH_P_TEST
from netsim.lab.capture import Watch, hops
from netsim.lab.netns import NETNS_DIR, bridge_cmd, inside, ip, ns_name, run, sysctl
from netsim.scenario import (
    AddrAdd,
    Connect,
    LinkMove,
    LinkRename,
    LinkSet,
    Resolve,
    RouteAdd,
    Scenario,
    Send,
    SetBridge,
    SetPort,
    Socket,
    Step,
    VethAdd,
)

# The kernel's errno -> the trace's outcome, from the one table in netsim.tcp.
ERRNO_OUTCOME = {getattr(errno, name): outcome for outcome, name in tcp.ERRNO_NAME.items() if name}
SETTLE = 0.3  # seconds for links to come up before the first step


class Lab:
    def __init__(self, scenario: Scenario, progress: bool = True) -> None:
        self.s = scenario
        self.progress = progress
        self.listeners: dict[tuple[str, str], socket.socket] = {}
        # Connections stay open until the lab ends, as in netsim: closing them would put FIN and
        # RST segments on the wire that no step narrates.
        self.connections: list[socket.socket] = []
        self.watch = Watch()
        self._nonce = 0
        self.present: set[str] = set()  # hosts whose namespace exists now

    def say(self, text: str) -> None:
        if self.progress:
            print(f"lab: {text}", file=sys.stderr, flush=True)

    # --- building -------------------------------------------------------------------------

    def build(self) -> None:
        s = self.s
        run("mkdir", "-p", NETNS_DIR)
        for host, h in s.hosts.items():
            if not h.absent:
                self._netns(host)
                ip(host, "link", "set", "lo", "up")
        for name, br in s.bridges.items():
            ageing = str(br.ageing_time * 100)  # iproute2 counts centiseconds
            ip(
                br.host,
                "link",
                "add",
                name,
                "type",
                "bridge",
                "ageing_time",
                ageing,
                "stp_state",
                "0",
                "mcast_snooping",
                "0",
            )
            ip(br.host, "link", "set", name, "address", s.bridge_mac(name))
        for host, h in s.hosts.items():
            for dev, iface in h.interfaces.items():
                if not iface.plug or h.absent:
                    continue
                target, _, end = iface.plug.partition(".")
                if target in s.bridges:
                    owner = s.bridges[target].host
                    ip(owner, "link", "add", "name", end, "type", "veth", "peer", "name", dev, "netns", ns_name(host))
                    ip(owner, "link", "set", end, "address", s.port_mac(target, end))
                    ip(owner, "link", "set", end, "master", target)
                elif host < target:  # a cable between two hosts, made once
                    ip(host, "link", "add", "name", dev, "type", "veth", "peer", "name", end, "netns", ns_name(target))
                ip(host, "link", "set", dev, "address", s.host_mac(host, dev))
        dynamic = s.dynamic_ports()
        for name, br in s.bridges.items():
            for port, flags in br.ports.items():
                if (name, port) in dynamic:
                    continue  # a later step plugs it in
                if s.host_at(name, port) is None:  # an empty seat still needs a device
                    # Its far end stays in the lab's own root namespace, out of every host's tables.
                    run("ip", "link", "add", "name", port, "type", "veth", "peer", "name", f"{port}-x")
                    run("ip", "link", "set", f"{port}-x", "up")
                    run("ip", "link", "set", port, "netns", ns_name(br.host))
                    ip(br.host, "link", "set", port, "address", s.port_mac(name, port))
                    ip(br.host, "link", "set", port, "master", name)
                self._port_flags(br.host, port, flags)
        for host, h in s.hosts.items():
            for dev, iface in h.interfaces.items():
                if h.absent:
                    continue
                if h.reachable_time != 30:  # per interface: a namespace has no `default` to inherit from
                    sysctl(host, f"net.ipv4.neigh.{dev}.base_reachable_time_ms", str(int(h.reachable_time * 1000)))
                if iface.address:
                    ip(host, "addr", "add", iface.address, "dev", dev)
                ip(host, "link", "set", dev, "up")
        for name, br in s.bridges.items():
            if br.address:
                ip(br.host, "addr", "add", br.address, "dev", name)
            ip(br.host, "link", "set", name, "up")
            for port in br.ports:
                if (name, port) not in dynamic:
                    ip(br.host, "link", "set", port, "up")
        for host, h in s.hosts.items():
            if h.absent:
                continue
            if h.gateway:
                ip(host, "route", "add", "default", "via", h.gateway)
            for route in h.routes:
                extra = (["via", route.via] if route.via else []) + (["dev", route.dev] if route.dev else [])
                ip(host, "route", "add", route.to, *extra)
            for text in h.listeners:
                self.listen(host, text)
            if h.drop_tcp_ports or h.reject_tcp_ports:
                self._firewall(host, h.drop_tcp_ports, h.reject_tcp_ports)
        for name, br in s.bridges.items():
            self.watch.add(br.host, name, name)
            for port in br.ports:
                if (name, port) not in dynamic:
                    self.watch.add(br.host, name, port)
        time.sleep(SETTLE)

    def _firewall(self, host: str, drop: list[int], reject: list[int]) -> None:
        """An nftables input filter inside the host's own namespace, nowhere else."""
        rules = [f"tcp dport {port} drop" for port in drop]
        rules += [f"tcp dport {port} reject with icmp type port-unreachable" for port in reject]
        ruleset = "table inet lab {\n  chain input {\n    type filter hook input priority 0; policy accept;\n"
        ruleset += "".join(f'    iifname != "lo" {rule}\n' for rule in rules) + "  }\n}\n"
        done = subprocess.run(
            ["ip", "netns", "exec", ns_name(host), "nft", "-f", "-"],
            input=ruleset,
            text=True,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise LabError(f"nft could not load the firewall of {host}: {done.stderr.strip()}")

    def _netns(self, host: str) -> None:
        run("ip", "netns", "add", ns_name(host))
        # IPv6 off, or neighbour discovery would teach the bridge behind the scenario's back.
        sysctl(host, "net.ipv6.conf.all.disable_ipv6", "1")
        sysctl(host, "net.ipv6.conf.default.disable_ipv6", "1")
        sysctl(host, "net.ipv4.tcp_syn_retries", str(self.s.hosts[host].tcp_syn_retries))
        self.present.add(host)

    def _port_flags(self, owner: str, port: str, flags: Any) -> None:
        def onoff(value: bool) -> str:
            return "on" if value else "off"

        args = []
        for key in ("learning", "flood", "mcast_flood", "bcast_flood", "hairpin"):
            value = getattr(flags, key)
            if value is not None:
                args += [key, onoff(value)]
        if args:
            bridge_cmd(owner, "link", "set", "dev", port, *args)

    # --- steps ----------------------------------------------------------------------------

    def play(self) -> dict[str, Any]:
        steps = []
        fdb = self.fdb()
        for n, step in enumerate(self.s.steps, 1):
            self.say(f"[{n}/{len(self.s.steps)}] {step.id} ({step.action})")
            known = {bridge: set(table) for bridge, table in fdb.items()}
            self.watch.start()
            started = time.monotonic()
            outcome = getattr(self, f"_{step.action}")(getattr(step, step.action), step)
            elapsed = time.monotonic() - started
            seen = self.watch.stop()
            if step.link_set and step.link_set.master:  # a new port: watch it from the next step on
                self.watch.add(step.link_set.by, step.link_set.master, step.link_set.dev)
            fdb = self.fdb()
            steps.append(
                {
                    "id": step.id,
                    "frames": [self._ordered(hop) for hop in hops(seen, known)],
                    "fdb": fdb,
                    "neigh": self.neigh(),
                    "outcome": outcome,
                    "seconds": round(elapsed, 3),
                    "links": self.links(),
                }
            )
        return {"scenario": self.s.name, "steps": steps}

    def _send(self, send: Send, step: Step) -> None:
        dev = send.dev or self.s.default_dev(send.by)
        src = send.src or self._mac_of(send.by, dev)
        named = BROADCAST if send.dst == "broadcast" else normalise_mac(send.dst)
        dst = named or self.s.host_mac(send.dst)
        self._nonce += 1
        payload = f"netsim {self.s.name} {step.id} {self._nonce}".encode().ljust(46, b"\0")
        self._raw(send.by, dev, _mac(dst) + _mac(src) + ETH_P_TEST.to_bytes(2, "big") + payload)

    def _arp(self, resolve: Resolve, step: Step) -> None:
        # The kernel sends an ARP request only when it has a packet to deliver, and that packet
        # would add frames the step does not narrate. So the lab writes the asker's request
        # itself, with the bytes the kernel would use, after creating the INCOMPLETE entry the
        # kernel would have made. The reply, and every table change, are the kernel's own.
        host = resolve.by
        route = json.loads(ip(host, "-j", "route", "get", resolve.target))[0]
        dev = route["dev"]
        mac = self._mac_of(host, dev)
        ip(host, "neigh", "replace", resolve.target, "dev", dev, "nud", "incomplete")
        arp = (
            (1).to_bytes(2, "big")
            + (0x0800).to_bytes(2, "big")
            + bytes([6, 4])
            + (1).to_bytes(2, "big")
            + _mac(mac)
            + ipaddress.IPv4Address(route["prefsrc"]).packed
            + _mac(ZERO_MAC)
            + ipaddress.IPv4Address(resolve.target).packed
        )
        self._raw(host, dev, _mac(BROADCAST) + _mac(mac) + ETH_P_ARP.to_bytes(2, "big") + arp)
        time.sleep(0.1)

    def _connect(self, connect: Connect, step: Step) -> str:
        addr, port = connect.to.rsplit(":", 1)
        limit = tcp.syn_timeout(self.s.hosts[connect.by].tcp_syn_retries) + 5
        with inside(connect.by):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(limit)
        try:
            sock.connect((addr, int(port)))
        except TimeoutError:
            sock.close()
            return "timeout"
        except OSError as exc:
            sock.close()
            return ERRNO_OUTCOME.get(exc.errno or 0, f"errno {exc.errno}: {exc.strerror}")
        self.connections.append(sock)
        self._accept_all()
        return "connected"

    def _accept_all(self) -> None:
        """Take finished handshakes off every listener's queue, so closing it resets nothing."""
        for listener in self.listeners.values():
            listener.setblocking(False)
            while True:
                try:
                    conn, _ = listener.accept()
                except (BlockingIOError, OSError):
                    break
                self.connections.append(conn)

    def listen(self, host: str, text: str) -> None:
        addr, port = text.rsplit(":", 1)
        with inside(host):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, int(port)))
        sock.listen(16)
        self.listeners[(host, text)] = sock

    def _listen(self, sock: Socket, step: Step) -> None:
        self.listen(sock.by, sock.bind)

    def _close(self, sock: Socket, step: Step) -> None:
        listener = self.listeners.pop((sock.by, sock.bind), None)
        if listener is not None:
            listener.close()

    def _wait(self, seconds: float, step: Step) -> None:
        self.say(f"waiting {seconds:g} s of real time")
        time.sleep(seconds)

    def _set_port(self, change: SetPort, step: Step) -> None:
        self._port_flags(self.s.bridges[change.bridge].host, change.port, change)

    def _set_bridge(self, change: SetBridge, step: Step) -> None:
        owner = self.s.bridges[change.bridge].host
        ip(owner, "link", "set", change.bridge, "type", "bridge", "ageing_time", str(change.ageing_time * 100))

    # --- steps that build rooms (post two) --------------------------------------------------

    def _netns_add(self, host: str, step: Step) -> None:
        self._netns(host)  # lo stays down, as in a fresh namespace

    def _veth_add(self, add: VethAdd, step: Step) -> None:
        mac = add.mac or derived_mac(f"veth/{add.by}/{add.name}")
        peer_mac = add.peer_mac or derived_mac(f"veth/{add.by}/{add.peer}")
        ip(
            add.by,
            "link",
            "add",
            "name",
            add.name,
            "address",
            mac,
            "type",
            "veth",
            "peer",
            "name",
            add.peer,
            "address",
            peer_mac,
        )

    def _link_move(self, move: LinkMove, step: Step) -> None:
        ip(move.by, "link", "set", "dev", move.dev, "netns", ns_name(move.to))

    def _link_rename(self, rename: LinkRename, step: Step) -> None:
        ip(rename.by, "link", "set", "dev", rename.dev, "name", rename.name)

    def _link_set(self, change: LinkSet, step: Step) -> None:
        if change.master is not None:
            ip(change.by, "link", "set", "dev", change.dev, "master", change.master)
            port = self.s.bridges[change.master].ports.get(change.dev)
            if port is not None:
                self._port_flags(change.by, change.dev, port)
        if change.up is not None:
            ip(change.by, "link", "set", "dev", change.dev, "up" if change.up else "down")
            time.sleep(0.05)

    def _addr_add(self, add: AddrAdd, step: Step) -> None:
        ip(add.by, "addr", "add", add.address, "dev", add.dev)

    def _route_add(self, add: RouteAdd, step: Step) -> None:
        ip(add.by, "route", "add", add.to, "via", add.via)

    def _mac_of(self, host: str, dev: str) -> str:
        """The MAC the kernel gave the interface (the lab pinned it from the scenario)."""
        return json.loads(ip(host, "-j", "link", "show", "dev", dev))[0]["address"]

    def _raw(self, host: str, dev: str, frame: bytes) -> None:
        with inside(host):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            sock.bind((dev, 0))
            sock.send(frame)
        finally:
            sock.close()

    # --- observing ------------------------------------------------------------------------

    def fdb(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for name, br in self.s.bridges.items():
            entries = json.loads(bridge_cmd(br.host, "-j", "fdb", "show", "br", name) or "[]")
            # Learned entries only: `master` lines that are not permanent (see linux-facts.md).
            learned = {
                e["mac"]: e["ifname"]
                for e in entries
                if e.get("master") == name and "permanent" not in (e.get("state") or "") and "vlan" not in e
            }
            out[name] = dict(sorted(learned.items()))
        return out

    def links(self) -> dict[str, dict[str, dict[str, Any]]]:
        """`ip -d addr show` in every namespace, in the trace's shape."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for host in self.s.hosts:
            if host not in self.present:
                continue
            table = {}
            for e in json.loads(ip(host, "-d", "-j", "addr", "show") or "[]"):
                kind = "loopback" if e.get("link_type") == "loopback" else (e.get("linkinfo") or {}).get("info_kind")
                table[e["ifname"]] = {
                    "kind": kind,
                    "state": "UP" if "UP" in e.get("flags", []) else "DOWN",
                    "mac": e.get("address"),
                    "addresses": [
                        f"{a['local']}/{a['prefixlen']}" for a in e.get("addr_info", []) if a["family"] == "inet"
                    ],
                    "master": e.get("master"),
                }
            out[host] = dict(sorted(table.items()))
        return out

    def neigh(self) -> dict[str, dict[str, dict[str, str | None]]]:
        out: dict[str, dict[str, dict[str, str | None]]] = {}
        for host in self.s.hosts:
            if host not in self.present:
                continue
            entries = json.loads(ip(host, "-j", "neigh", "show") or "[]")
            table = {}
            for e in entries:
                state = (e.get("state") or ["NONE"])[0]
                table[e["dst"]] = {"mac": e.get("lladdr"), "state": state}
            out[host] = dict(sorted(table.items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))
        return out

    def _ordered(self, hop: dict[str, Any]) -> dict[str, Any]:
        """Out ports in the scenario's order, the bridge itself last, as netsim lists them."""
        order = [*self.s.bridges[hop["bridge"]].ports, hop["bridge"]]
        return {**hop, "out_ports": sorted(hop["out_ports"], key=order.index)}

    def close(self) -> None:
        for sock in [*self.listeners.values(), *self.connections]:
            sock.close()
        self.watch.close()
        for host in self.present:
            run("ip", "netns", "del", ns_name(host), check=False)


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))
