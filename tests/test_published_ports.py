"""Published ports: destination NAT on the way in, the reply turned back, hairpin, loopback.

Each test reads like the behaviour it protects; the kernel agrees with the same scenarios in the
lab (diagrams/publishing-a-port.yaml, tests/lab_scenarios/publish-*.yaml, hairpin-without-snat.yaml).
"""

from __future__ import annotations

import shlex
import subprocess

import pytest

from netsim import plan
from netsim.errors import ScenarioError
from netsim.render import labscript
from netsim.scenario import parse_scenario
from netsim.simulation import run
from netsim.trace import ip_header, tcp_ports

ROOM = """
title: t
bridges:
  podman0: {host: laptop, address: 10.88.0.1/16, ports: {s2: {}, s3: {}}}
  wifi0: {host: ap, ports: {w23: {}, w77: {}}}
hosts:
  laptop:
    interfaces: {wlan0: {mac: '3c:22:fb:00:01:23', address: 192.168.1.23/24, plug: wifi0.w23}}
    ip_forward: true
    tcp_syn_retries: 1
  client:
    interfaces: {eth0: {mac: '0a:58:0a:58:00:02', address: 10.88.0.2/16, plug: podman0.s2}}
    gateway: 10.88.0.1
    tcp_syn_retries: 1
  agent:
    interfaces: {eth0: {mac: '0a:58:0a:58:00:03', address: 10.88.0.3/16, plug: podman0.s3}}
    gateway: 10.88.0.1
    listeners: ['0.0.0.0:9001']
  phone:
    interfaces: {wlan0: {mac: 'a4:83:e7:00:00:77', address: 192.168.1.77/24, plug: wifi0.w77}}
  ap: {}
steps:
"""


def trace(steps: str):
    return run(parse_scenario(ROOM + steps, "room.yaml"))


def headers(step, bridge: str) -> list[tuple[str, int, str, int]]:
    """(src, sport, dst, dport) of every TCP frame that crossed `bridge`, in order."""
    out = []
    for hop in step.frames:
        ports = tcp_ports(hop.payload)
        if hop.bridge == bridge and ports:
            header = ip_header(hop.payload)
            out.append((header["src"], ports["sport"], header["dst"], ports["dport"]))
    return out


PUBLISH = "  - {id: pub, publish: {by: laptop, port: 8080, to: '10.88.0.3:9001'}}\n"


def test_a_knock_on_the_published_port_reaches_the_container_and_the_answer_comes_back_from_the_host() -> None:
    t = trace(PUBLISH + "  - {id: k, connect: {by: phone, to: '192.168.1.23:8080', sport: 41000}}\n")
    k = t.step("k")
    assert k.outcome == "connected"
    wifi, room = headers(k, "wifi0"), headers(k, "podman0")
    assert ("192.168.1.77", 41000, "192.168.1.23", 8080) in wifi  # the phone knocks on the laptop
    assert ("192.168.1.77", 41000, "10.88.0.3", 9001) in room  # the agent sees the phone, on its own port
    assert ("10.88.0.3", 9001, "192.168.1.77", 41000) in room  # and answers the phone
    assert ("192.168.1.23", 8080, "192.168.1.77", 41000) in wifi  # which hears the laptop answer
    assert [(r.hook, r.before, r.after) for r in k.rewrites][:2] == [
        ("prerouting", "192.168.1.77:41000 > 192.168.1.23:8080", "192.168.1.77:41000 > 10.88.0.3:9001"),
        ("postrouting", "10.88.0.3:9001 > 192.168.1.77:41000", "192.168.1.23:8080 > 192.168.1.77:41000"),
    ]
    entry = k.conntrack["laptop"][0]
    assert (entry["state"], entry["original"], entry["reply"]) == (
        "ESTABLISHED",
        "src=192.168.1.77 dst=192.168.1.23 sport=41000 dport=8080",
        "src=10.88.0.3 dst=192.168.1.77 sport=9001 dport=41000",
    )


def test_without_a_published_port_the_same_knock_is_refused_by_the_laptop_itself() -> None:
    k = trace("  - {id: k, connect: {by: phone, to: '192.168.1.23:8080', sport: 41000}}\n").step("k")
    assert k.outcome == "refused" and headers(k, "podman0") == [] and k.rewrites == []


def test_the_laptops_own_knock_is_rewritten_in_output_and_turned_back_in_input() -> None:
    k = trace(PUBLISH + "  - {id: k, connect: {by: laptop, to: '192.168.1.23:8080', sport: 41000}}\n").step("k")
    assert k.outcome == "connected"
    assert ("192.168.1.23", 41000, "10.88.0.3", 9001) in headers(k, "podman0")  # no source NAT
    assert [r.hook for r in k.rewrites][:2] == ["output", "input"]


def test_hairpin_is_masqueraded_to_the_bridge_address_so_the_answer_comes_back_through_the_host() -> None:
    k = trace(PUBLISH + "  - {id: k, connect: {by: client, to: '192.168.1.23:8080', sport: 41000}}\n").step("k")
    assert k.outcome == "connected"
    room = headers(k, "podman0")
    assert ("10.88.0.1", 41000, "10.88.0.3", 9001) in room  # the agent sees the laptop's seat
    assert ("192.168.1.23", 8080, "10.88.0.2", 41000) in room  # the client hears the address it knocked on


def test_hairpin_without_source_nat_answers_straight_across_the_bridge_and_the_client_resets() -> None:
    steps = "  - {id: pub, publish: {by: laptop, port: 8080, to: '10.88.0.3:9001', snat: false}}\n"
    k = trace(steps + "  - {id: k, connect: {by: client, to: '192.168.1.23:8080', sport: 41000}}\n").step("k")
    assert k.outcome == "timeout"
    direct = [h for h in k.frames if h.bridge == "podman0" and h.in_port == "s3" and h.out_ports == ("s2",)]
    answers = [h for h in direct if h.payload is not None and getattr(h.payload, "flags", "") == "SA"]
    resets = [h for h in k.frames if getattr(h.payload, "flags", "") == "R"]
    assert answers and all(ip_header(h.payload)["src"] == "10.88.0.3" for h in answers)  # never via the laptop
    assert len(resets) == len(answers)  # each one reset by a client that never knocked on 10.88.0.3
    assert k.conntrack["laptop"][0]["flags"] == ["UNREPLIED"]  # the laptop never saw an answer


def test_published_on_loopback_only_ignores_the_wifi_and_needs_route_localnet_from_the_laptop() -> None:
    steps = (
        "  - {id: pub, publish: {by: laptop, port: 8080, to: '10.88.0.3:9001', host_ip: 127.0.0.1}}\n"
        "  - {id: wifi, connect: {by: phone, to: '192.168.1.23:8080', sport: 41000}}\n"
        "  - {id: martian, connect: {by: laptop, to: '127.0.0.1:8080', sport: 41001}}\n"
        "  - {id: localnet, route_localnet: {by: laptop, dev: podman0, enabled: true}}\n"
        "  - {id: local, connect: {by: laptop, to: '127.0.0.1:8080', sport: 41002}}\n"
    )
    t = trace(steps)
    assert t.step("wifi").outcome == "refused" and headers(t.step("wifi"), "podman0") == []
    assert t.step("martian").outcome == "timeout" and headers(t.step("martian"), "podman0") == []
    local = t.step("local")
    assert local.outcome == "connected"
    assert ("10.88.0.1", 41002, "10.88.0.3", 9001) in headers(local, "podman0")  # masqueraded: marked 0x2000


def test_published_on_0_0_0_0_is_published_on_every_address_as_netavark_writes_it() -> None:
    # netavark reads HOST_IP 0.0.0.0 as "every address" and writes no `ip daddr` (its nft.rs,
    # get_dnat_rules_for_addr_family()); a rule matching daddr 0.0.0.0 would match no packet.
    steps = (
        "  - {id: pub, publish: {by: laptop, port: 8080, to: '10.88.0.3:9001', host_ip: 0.0.0.0}}\n"
        "  - {id: wifi, connect: {by: phone, to: '192.168.1.23:8080', sport: 41000}}\n"
    )
    assert trace(steps).step("wifi").outcome == "connected"
    s = parse_scenario(ROOM + steps, "room.yaml")
    words = [w for op in plan.step_ops(s, s.steps[0]) for w in (*op.argv, *(op.stdin or ()))]
    assert not any("daddr 0.0.0.0" in w for w in words), words
    assert any("NETAVARK-HOSTPORT-DNAT tcp dport 8080 jump" in w for w in words), words


def test_a_published_port_with_nobody_listening_is_refused_and_conntrack_forgets_it() -> None:
    steps = "  - {id: pub, publish: {by: laptop, port: 8080, to: '10.88.0.2:9001'}}\n"
    k = trace(steps + "  - {id: k, connect: {by: phone, to: '192.168.1.23:8080', sport: 41000}}\n").step("k")
    assert k.outcome == "refused"
    assert ("192.168.1.23", 8080, "192.168.1.77", 41000) in headers(k, "wifi0")  # the reset wears the laptop's address
    assert k.conntrack.get("laptop", []) == []


def test_a_published_address_must_be_on_one_of_the_hosts_bridges() -> None:
    with pytest.raises(ScenarioError, match=r"publish.to: 10.99.0.3 is on none of laptop's bridges' networks"):
        parse_scenario(ROOM + "  - {id: p, publish: {by: laptop, port: 80, to: '10.99.0.3:80'}}\n", "room.yaml")


def test_the_plan_writes_netavarks_rules_once_then_one_set_per_port_as_argument_vectors() -> None:
    s = parse_scenario(
        ROOM + PUBLISH + "  - {id: pub2, publish: {by: laptop, port: 8443, to: '10.88.0.3:443', host_ip: 127.0.0.1}}\n",
        "room.yaml",
    )
    first, second = (plan.step_ops(s, s.step(i)) for i in ("pub", "pub2"))
    # Each publish step is one nftables transaction (`nft -f -`, its lines on stdin), not a call per rule.
    batches = [op for op in first + second if not op.show and "nft" in op.argv]
    assert [op.argv[-3:] for op in batches] == [("nft", "-f", "-")] * 2
    rules = [tuple(text.split()) for op in batches for text in op.stdin]
    assert sum(r[:2] == ("add", "table") for r in rules) == 1  # the base once
    assert ("add", "chain", "inet", "netavark", "nv_10_88_0_0_nm16_dnat") in rules
    assert sum(r[:2] == ("add", "chain") for r in rules) == 6  # 5 base chains and the network's, once
    assert (
        "add", "rule", "inet", "netavark", "nv_10_88_0_0_nm16_dnat",
        "ip", "daddr", "127.0.0.1", "tcp", "dport", "8443", "dnat", "ip", "to", "10.88.0.3:443",
    ) in rules  # fmt: skip
    assert all(isinstance(a, str) for op in first + second for a in op.argv)


def test_an_nftables_line_with_a_character_outside_the_rules_words_is_refused() -> None:
    """The plan's nftables lines reach `nft -f` and the reader's shell: a quote, `#`, `;` outside a
    chain spec's words, a newline or `$` from a value that slipped past the reader is refused."""
    ok = plan.nft_batch("laptop", [("add", "rule", "inet", "netavark", "X", "tcp", "dport", "80", "accept")])
    assert ok.stdin == ("add rule inet netavark X tcp dport 80 accept",)
    for bad in ("80\nflush ruleset", "80 # x", "'80'", "$(reboot)", "80\\"):
        with pytest.raises(ValueError, match="outside the plan's nftables words"):
            plan.nft_batch("laptop", [("add", "rule", "inet", "netavark", "X", "tcp", "dport", bad, "accept")])
    with pytest.raises(ValueError, match="only `nft -f -` reads lines"):
        plan.Op(("ip", "link"), stdin=("add table ip x",))


def test_the_scripts_nftables_batch_reads_back_as_the_labs_lines() -> None:
    """The one quoting point: the script's `printf '%s\\n' LINE... | ip netns exec ... nft -f -` gives nft
    exactly the lines the lab pipes to it."""
    s = parse_scenario(ROOM + PUBLISH, "room.yaml")
    (op,) = [op for op in plan.step_ops(s, s.step("pub")) if op.stdin]
    text = labscript.line(op)
    feed, _, command = text.rpartition(" \\\n  | ")
    assert shlex.split(feed.replace(" \\\n  ", " ")) == ["printf", "%s\\n", *op.stdin]  # a shell joins continued lines
    assert shlex.split(command.split("   #")[0]) == list(op.argv)
    printed = subprocess.run(["bash", "-c", feed], capture_output=True, text=True, check=True).stdout
    assert printed.splitlines() == list(op.stdin)
