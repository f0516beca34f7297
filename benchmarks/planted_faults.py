# ruff: noqa: E501 - each fault is a verbatim slice of source code
"""Plant each fault tests/test_edge_cases.py guards, one at a time, and check that its test fails.

Works on a throwaway copy of netsim and the tests, never on the checkout itself:
    .venv/bin/python benchmarks/planted_faults.py
"""

import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASES = [
    (
        "netsim/bridge.py",
        'out = self._flood_ports(in_port, "mcast_flood")',
        'out = self._flood_ports(in_port, "bcast_flood")',
        "multicast_obeys",
    ),
    (
        "netsim/bridge.py",
        'out = self._flood_ports(in_port, "flood")',
        'out = self._flood_ports(in_port, "mcast_flood")',
        "unknown_unicast_obeys",
    ),
    (
        "netsim/bridge.py",
        "if in_port is None or in_port not in index or self.ports[in_port].hairpin:",
        "if in_port is None or in_port not in index:",
        "hairpin_sends_a_flood",
    ),
    (
        "netsim/bridge.py",
        "        if self.ports[in_port].learning:\n            learned = self.fdb.learn(frame.src, in_port, now)  # before the decision, always\n",
        "",
        "learns_before",
    ),
    (
        "netsim/bridge.py",
        '        learned = ""\n        if self.ports[in_port].learning:\n            learned = self.fdb.learn(frame.src, in_port, now)  # before the decision, always\n\n        if is_broadcast(frame.dst):\n            out = self._flood_ports(in_port, "bcast_flood")\n            return Decision("flood", out, "broadcast: every port and the host", learned, self.name)\n        if is_group(frame.dst):\n            # Simplification: no IGMP snooping, so multicast floods like broadcast does.\n            out = self._flood_ports(in_port, "mcast_flood")\n            return Decision("flood", out, "multicast: flooded without snooping", learned, self.name)\n\n        entry = self.fdb.lookup(frame.dst, now)\n',
        '        learned = ""\n\n        if is_broadcast(frame.dst):\n            out = self._flood_ports(in_port, "bcast_flood")\n            return Decision("flood", out, "broadcast: every port and the host", learned, self.name)\n        if is_group(frame.dst):\n            # Simplification: no IGMP snooping, so multicast floods like broadcast does.\n            out = self._flood_ports(in_port, "mcast_flood")\n            return Decision("flood", out, "multicast: flooded without snooping", learned, self.name)\n\n        entry = self.fdb.lookup(frame.dst, now)\n        if self.ports[in_port].learning:\n            learned = self.fdb.learn(frame.src, in_port, now)  # before the decision, always\n',
        "learns_before",
    ),
    ("netsim/bridge.py", "and flags.enabled\n", "\n", "port_set_down"),
    ("netsim/bridge.py", "        return self.fdb.flush_port(port)\n", "        return []\n", "port_set_down"),
    (
        "netsim/neighbour.py",
        "                new = old  # same address",
        "                pass  # same address",
        "keeps_a_better_state",
    ),
    ("netsim/neighbour.py", "            entry.mac = mac\n", "", "new_mac_updates"),
    (
        "netsim/neighbour.py",
        "                return False  # a different answer",
        "                pass  # a different answer",
        "new_mac_updates",
    ),
    (
        "netsim/neighbour.py",
        '            entry.state, entry.updated = "DELAY", now\n            self._add_timer(entry, now + DELAY_FIRST_PROBE)',
        "            pass",
        "delay_then_probe",
    ),
    (
        "netsim/neighbour.py",
        'entry.state, entry.updated, entry.probes = "PROBE", now, 0',
        'entry.state, entry.updated, entry.probes = "STALE", now, 0',
        "delay_then_probe",
    ),
    (
        "netsim/neighbour.py",
        'return UCAST_SOLICIT + (0 if entry.state == "PROBE" else MCAST_SOLICIT)',
        'return UCAST_SOLICIT + (1 if entry.state == "PROBE" else MCAST_SOLICIT)',
        "unanswered_probe",
    ),
    ("netsim/arp.py", "dst = entry.mac if unicast and entry.mac else BROADCAST", "dst = BROADCAST", "unanswered_probe"),
    (
        "netsim/neighbour.py",
        "            if now <= entry.confirmed + DELAY_FIRST_PROBE:",
        "            if False:",
        "confirmed_connection",
    ),
    (
        "netsim/tcp.py",
        "    if (dst_ip, dport) in listeners:\n        return (dst_ip, dport)\n    if (str(ANY), dport) in listeners:\n        return (str(ANY), dport)",
        "    if (str(ANY), dport) in listeners:\n        return (str(ANY), dport)\n    if (dst_ip, dport) in listeners:\n        return (dst_ip, dport)",
        "exact_listener",
    ),
    (
        "netsim/simulation.py",
        "                ns.routes = [r for r in ns.routes if r.dev != iface.name]\n",
        "",
        "device_that_is_down",
    ),
    (
        "netsim/simulation.py",
        "iface.ns, iface.up, iface.addresses = move.to, False, []",
        "iface.ns = move.to",
        "arrives_down_and_bare",
    ),
    (
        "netsim/simulation.py",
        '        # dev_close() -> NETDEV_DOWN: fib_disable_ip() takes its routes, arp_ifdown() its neighbours.\n        ns.routes = [r for r in ns.routes if r.dev != iface.name]\n        self._flush_neighbours(ns, iface.name, "leaves")\n',
        '        self._flush_neighbours(ns, iface.name, "leaves")\n',
        "arrives_down_and_bare",
    ),
    (
        "netsim/simulation.py",
        "            iface.master = None\n        del ns.ifaces[iface.name]\n",
        "            iface.master = None\n",
        "name_is_free",
    ),
]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for name in ("netsim", "tests", "diagrams", "pyproject.toml"):
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, work / name)
        return plant_all(work)


def plant_all(work: pathlib.Path) -> int:
    bad = 0
    for f, old, new, test in CASES:
        p = work / f
        text = p.read_text()
        assert text.count(old) == 1, (f, old)
        p.write_text(text.replace(old, new))
        try:
            r = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-x",
                    "tests/test_edge_cases.py",
                    "-k",
                    test,
                    "-p",
                    "no:cacheprovider",
                ],
                cwd=work,
                capture_output=True,
                text=True,
            )
        finally:
            p.write_text(text)
        status = "CAUGHT" if r.returncode == 1 else f"MISSED rc={r.returncode}"
        bad += r.returncode != 1
        print(f"{status:10} {f}: {old.strip().splitlines()[0][:70]!r} -> test {test}", flush=True)
    print(f"{len(CASES) - bad} of {len(CASES)} planted faults caught")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
