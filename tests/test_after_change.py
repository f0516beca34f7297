"""After things change: what the kernel does once state exists, and what it refuses then.

Each behaviour here was first seen in the lab (tests/lab_scenarios/, named beside each test);
these tests hold netsim to it without root.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netsim.errors import ScenarioError
from netsim.routing import route_get_text
from netsim.scenario import parse_scenario
from netsim.simulation import run

ROOT_DIR = Path(__file__).resolve().parent.parent

ROOM = """\
title: t
bridges:
  br0:
    host: h
    mac: 02:00:00:00:00:01
    address: 10.0.0.1/24
    ports:
      p1: {}
      p2: {}
      p3: {}
hosts:
  h: {listeners: ['0.0.0.0:80']}
  a:
    gateway: 10.0.0.1
    interfaces: {eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}}
  b:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0b", address: 10.0.0.11/24, plug: br0.p2}
      eth1: {mac: "02:00:00:00:00:1b", address: 10.0.0.21/24, plug: br0.p3}
  c: {}
  z: {absent: true}
steps:
  - {id: c-made-and-gone, netns_del: c}
"""
FIRST_STEP_LINE = ROOM.count("\n")  # the appended step's line in the file


def trace(steps: str):  # noqa: ANN201 - a Trace
    return run(parse_scenario(ROOM + steps, "after.yaml"))


def refusal(step: str) -> str:
    with pytest.raises(ScenarioError) as info:
        trace(step)
    return str(info.value)


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (
            "  - {id: again, netns_del: c}",
            "steps[1].netns_del: c's namespace was deleted at step 'c-made-and-gone'; the kernel refuses "
            '(Cannot remove namespace file "/run/netns/lab-c": No such file or directory)',
        ),
        (
            "  - {id: never, netns_del: z}",
            "steps[1].netns_del: z's namespace does not exist yet; the kernel refuses "
            '(Cannot remove namespace file "/run/netns/lab-z": No such file or directory)',
        ),
        (
            "  - {id: ask, arp: {by: c, target: 10.0.0.1}}",
            "steps[1].arp.by: c's namespace was deleted at step 'c-made-and-gone'; the kernel refuses "
            '(Cannot open network namespace "lab-c": No such file or directory)',
        ),
        (
            "  - {id: ear, listen: {by: c, bind: '0.0.0.0:81'}}",
            "steps[1].listen.bind: c's namespace was deleted at step 'c-made-and-gone'; the kernel refuses "
            '(Cannot open network namespace "lab-c": No such file or directory)',
        ),
        (
            "  - {id: into-c, link_move: {by: a, dev: eth0, to: c}}",
            "steps[1].link_move.to: c's namespace was deleted at step 'c-made-and-gone'",
        ),
        (
            "  - {id: move-bridge, link_move: {by: h, dev: br0, to: a}}",
            "steps[1].link_move.dev: br0 cannot leave its namespace; the kernel refuses "
            "(The interface netns is immutable.)",
        ),
    ],
)
def test_a_step_naming_a_deleted_or_missing_namespace_is_refused_with_the_kernels_words(step: str, words: str) -> None:
    message = refusal(step)
    assert message.startswith(f"after.yaml:{FIRST_STEP_LINE + 1}: "), message
    assert words in message


def test_a_port_whose_cable_went_with_a_namespace_is_gone_for_flags_and_links() -> None:
    gone = "  - {id: b-gone, netns_del: b}\n"
    flags = refusal(gone + "  - {id: flags, set_port: {bridge: br0, port: p2, flood: false}}")
    assert 'p2 is not a port of br0 at this step; the kernel refuses (Cannot find bridge device "p2")' in flags
    link = refusal(gone + "  - {id: up, link_set: {by: h, dev: p3, up: true}}")
    assert "h has no interface 'p3' at this step; the kernel refuses (Cannot find device \"p3\")" in link


def test_flags_on_an_unplugged_port_are_refused_as_the_kernel_does() -> None:
    message = refusal("  - {id: out, nomaster: {by: h, dev: p1}}\n  - {id: flags, set_port: {bridge: br0, port: p1}}")
    assert "p1 is not a port of br0 at this step; the kernel refuses (RTNETLINK answers: Operation not supported)" in (
        message
    )


def test_flags_for_a_port_moved_to_another_bridge_are_refused_naming_that_bridge() -> None:
    # `bridge link set dev j0` names the device alone: br_setlink() sets the flags of the bridge j0 is a
    # port of now (seen with unshare -n), so "the kernel refuses" would be wrong here.
    scenario = """\
title: t
bridges:
  br0: {host: h, ports: {s1: {}, j0: {}}}
  br1: {host: h, ports: {q1: {}}}
hosts:
  h: {}
  a: {interfaces: {eth0: {mac: "02:a0:00:00:00:0a", address: 10.7.0.10/24, plug: br0.s1}}}
steps:
  - {id: cable, veth_add: {by: h, name: j0, peer: k0}}
  - {id: in, link_set: {by: h, dev: j0, master: br0, up: true}}
  - {id: moved, link_set: {by: h, dev: j0, master: br1}}
  - {id: flags, set_port: {bridge: br0, port: j0, learning: false}}
"""
    with pytest.raises(ScenarioError) as info:
        run(parse_scenario(scenario, "moved.yaml"))
    assert "j0 is not a port of br0 at this step but of br1; the kernel would set br1's port flags" in str(info.value)


def test_the_last_address_deleted_takes_routes_and_neighbours_one_of_two_does_not() -> None:
    # tests/lab_scenarios/addr-del-last-address.yaml and addr-del-keeps-gateway.yaml
    t = trace(
        "  - {id: talk, connect: {by: a, to: '10.0.0.1:80'}}\n"
        "  - {id: second, addr_add: {by: a, dev: eth0, address: 10.5.0.10/24}}\n"
        "  - {id: first-gone, addr_del: {by: a, dev: eth0, address: 10.0.0.10/24}}\n"
        "  - {id: via, route_get: {by: a, to: 10.0.0.1}}\n"
        "  - {id: last-gone, addr_del: {by: a, dev: eth0, address: 10.5.0.10/24}}\n"
        "  - {id: nothing, route_get: {by: a, to: 10.0.0.1}}\n"
    )
    steps = {s.id: s for s in t.steps}
    assert steps["first-gone"].neigh["a"]["10.0.0.1"]["state"] == "REACHABLE"
    assert steps["first-gone"].routes["a"] == [
        "default via 10.0.0.1 dev eth0",
        "10.5.0.0/24 dev eth0 proto kernel scope link src 10.5.0.10",
    ]
    assert steps["via"].route == {
        "type": "unicast",
        "dst": "10.0.0.1",
        "gateway": "10.0.0.1",
        "dev": "eth0",
        "prefsrc": "10.5.0.10",
    }
    assert steps["last-gone"].neigh["a"] == {}
    assert steps["last-gone"].routes["a"] == []
    assert steps["nothing"].route == {"error": "Network is unreachable"}


def test_two_legs_on_one_network_hold_one_entry_each_and_lose_only_their_own() -> None:
    # tests/lab_scenarios/two-legs-one-bridge.yaml
    t = trace(
        "  - {id: ask, arp: {by: a, target: 10.0.0.11}}\n  - {id: leg-down, link_set: {by: b, dev: eth0, up: false}}"
    )
    both = t.steps[1].neigh["b"]
    assert set(both) == {"10.0.0.10 dev eth0", "10.0.0.10 dev eth1"}
    assert t.steps[2].neigh["b"] == {"10.0.0.10": {"mac": "02:00:00:00:00:0a", "state": "STALE", "dev": "eth1"}}


def test_a_port_moved_to_another_namespace_leaves_its_bridge_and_its_far_end_loses_carrier() -> None:
    # tests/lab_scenarios/port-moved-out.yaml and link-move-up-addressed.yaml
    t = trace(
        "  - {id: a-speaks, send: {by: a, dst: broadcast}}\n"
        "  - {id: ask, arp: {by: a, target: 10.0.0.1}}\n"
        "  - {id: z-made, netns_add: z}\n"
        "  - {id: moved, link_move: {by: h, dev: p1, to: z}}\n"
    )
    moved = t.steps[-1]
    assert "02:00:00:00:00:0a" in t.steps[1].fdb["br0"]
    assert moved.fdb["br0"] == {}
    assert "p1" not in moved.links["h"] and moved.links["z"]["p1"]["master"] is None
    assert moved.neigh["a"] == {}  # the far end lost carrier: neigh_carrier_down()


def test_a_replayed_clock_lets_the_time_between_steps_pass_with_its_timers() -> None:
    # tests/lab_scenarios/ageing-between-steps.yaml: what --compare does with the lab's measured clock
    from netsim.scenario import load_scenario

    scenario = load_scenario("tests/lab_scenarios/ageing-between-steps.yaml")
    back_to_back = run(scenario).steps[1]
    replayed = run(scenario, [(0.0, 0.2), (6.5, 6.7)]).steps[1]
    assert [h.decision for h in back_to_back.frames] == ["forward"]
    assert [h.decision for h in replayed.frames] == ["flood"]
    assert replayed.to_json()["clock"] == {"at": 6.5, "observed": 6.7}
    assert replayed.elapsed == back_to_back.elapsed == 0.0  # the step's own time is still its own


def test_the_labs_crafted_arp_packet_is_what_scapy_reads() -> None:
    from scapy.layers.l2 import ARP

    from netsim.lab.runner import arp_packet

    packet = ARP(arp_packet("reply", "02:00:00:00:00:0c", "10.0.0.11", "02:00:00:00:00:0a", "10.0.0.10"))
    assert (packet.op, packet.hwsrc, packet.psrc, packet.hwdst, packet.pdst) == (
        2,
        "02:00:00:00:00:0c",
        "10.0.0.11",
        "02:00:00:00:00:0a",
        "10.0.0.10",
    )


def test_locktime_a_gratuitous_arp_and_ones_own_address_claimed() -> None:
    # tests/lab_scenarios/garp-within-locktime.yaml: arp_process(), net/ipv4/arp.c
    t = run(parse_scenario((ROOT_DIR / "tests/lab_scenarios/garp-within-locktime.yaml").read_text(), "garp.yaml"))
    steps = {s.id: s for s in t.steps}
    a = {sid: s.neigh["a"]["10.0.0.11"] for sid, s in steps.items()}
    assert a["c-answers-too-inside-locktime"]["mac"] == "02:00:00:00:00:0b"  # the first answer stands
    assert a["c-gratuitous-inside-locktime"] == {"mac": "02:00:00:00:00:0c", "state": "STALE", "dev": "eth0"}
    assert a["b-answers-inside-locktime"]["mac"] == "02:00:00:00:00:0c"
    assert a["b-answers-after-locktime"] == {"mac": "02:00:00:00:00:0b", "state": "REACHABLE", "dev": "eth0"}
    gratuitous = steps["c-gratuitous-inside-locktime"]
    assert gratuitous.neigh["h"] == {} and "10.0.0.11" not in gratuitous.neigh["b"]  # arp_accept=0; martian
    assert len(gratuitous.frames) == 1  # b does not answer a request that claims its own address


KERNEL_WORDS = """
exec 2>&1
mount -t tmpfs netsim-words /run
ip netns add lab-c && ip netns add lab-h && ip netns add lab-d
ip -n lab-h link add br0 type bridge
ip -n lab-h link add p3 type veth peer name eth0 netns lab-c
ip -n lab-h link add p1 type veth peer name x1
ip -n lab-h link set p1 master br0 && ip -n lab-h link set p1 nomaster
ip netns del lab-c
sleep 0.5
echo "@netns_del"; ip netns del lab-c
echo "@never"; ip netns del lab-z
echo "@in_deleted"; ip -n lab-c link show
echo "@device"; ip -n lab-h link set dev p3 up
echo "@bridge_device"; bridge -n lab-h link set dev p3 flood off
echo "@unplugged"; bridge -n lab-h link set dev p1 flood off
echo "@immutable"; ip -n lab-h link set dev br0 netns lab-d
"""


@pytest.mark.lab
def test_the_refusals_quote_what_the_kernel_and_iproute2_really_say() -> None:
    """Each refusal above, performed for real in a private namespace: check's message holds the
    words ip and bridge print (the lab's own namespace names, lab-HOST)."""
    from netsim.lab.netns import missing_requirement

    if (why := missing_requirement()) is not None:
        pytest.skip(f"lab unavailable: {why}")
    import subprocess

    done = subprocess.run(
        ["unshare", "--net", "--mount", "--propagation", "private", "--", "sh", "-c", KERNEL_WORDS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = dict(part.split("\n", 1) for part in done.stdout.split("@")[1:])
    said = {k: v.strip().removeprefix("Error: ") for k, v in said.items()}
    gone = "  - {id: b-gone, netns_del: b}\n"
    unplugged = "  - {id: out, nomaster: {by: h, dev: p1}}\n  - {id: flags, set_port: {bridge: br0, port: p1}}"
    ours = {
        "netns_del": refusal("  - {id: again, netns_del: c}"),
        "never": refusal("  - {id: never, netns_del: z}"),
        "in_deleted": refusal("  - {id: ask, arp: {by: c, target: 10.0.0.1}}"),
        "device": refusal(gone + "  - {id: up, link_set: {by: h, dev: p3, up: true}}"),
        "bridge_device": refusal(gone + "  - {id: flags, set_port: {bridge: br0, port: p3, flood: false}}"),
        "unplugged": refusal(unplugged),
        "immutable": refusal("  - {id: move-bridge, link_move: {by: h, dev: br0, to: a}}"),
    }
    for case, message in ours.items():
        assert said[case] and said[case] in message, (case, said[case], message)


def test_a_source_port_the_kernel_picks_is_compared_as_one_from_its_range() -> None:
    from netsim.lab.compare import compare

    def one(sport: int, dport: int) -> dict:
        hop = {"bridge": "br0", "in_port": "p1", "src": "02:00:00:00:00:0a", "dst": "02:00:00:00:00:01"}
        hop |= {"decision": "local", "out_ports": ["br0"], "ip": {"src": "10.0.0.10", "dst": "10.0.0.1", "ttl": 64}}
        step = {"id": "s", "frames": [{**hop, "tcp": {"sport": sport, "dport": dport}}], "fdb": {}, "neigh": {}}
        return {"steps": [{**step, "outcome": "connected", "links": {}, "route": None}]}

    assert compare(one(40000, 80), one(54384, 80))[0]  # both picked from ip_local_port_range
    assert not compare(one(40000, 80), one(40000, 81))[0]  # a listener's port is compared as it is
    assert not compare(one(40000, 80), one(1024, 80))[0]  # and so is one outside the range


def test_a_source_port_the_kernel_picks_is_compared_as_one_from_its_range_in_conntrack_too() -> None:
    # The outsider's masquerade-icmp-back: a connect without sport behind masquerade agreed frame by
    # frame but disagreed on conntrack (kernel sport=42396, netsim 40000), its ports read literally.
    from netsim.lab.compare import compare

    def one(*conns: tuple[int, int]) -> dict:
        entries = [
            {
                "state": "ESTABLISHED",
                "flags": ["ASSURED"],
                "proto": "tcp",
                "original": f"src=10.88.0.2 dst=192.168.1.50 sport={sport} dport={dport}",
                "reply": f"src=192.168.1.50 dst=192.168.1.23 sport={dport} dport={sport}",
            }
            for sport, dport in conns
        ]
        step = {"id": "s", "frames": [], "fdb": {}, "neigh": {}, "outcome": None, "links": {}, "route": None}
        return {"steps": [{**step, "conntrack": {"laptop": entries}}]}

    assert compare(one((40000, 9001)), one((42396, 9001)))[0]  # picked from ip_local_port_range
    assert not compare(one((40000, 9001)), one((40000, 9002)))[0]  # the listener's port, as it is
    assert not compare(one((40000, 9001)), one((1024, 9001)))[0]  # one outside the range, as it is
    assert compare(one((40000, 9001), (40001, 9002)), one((51000, 9002), (47000, 9001)))[0]
    assert not compare(one((40000, 9001), (40001, 9001)), one((51000, 9001), (51000, 9001)))[0]  # shared or not


def test_a_udp_line_of_nf_conntrack_is_read_without_a_state_and_a_tcp_line_as_before() -> None:
    # /proc/net/nf_conntrack as ct_seq_show() prints it: a state only where the protocol prints one
    # (tcp_print_conntrack()); a UDP entry has none, [UNREPLIED] between its tuples, [ASSURED] after.
    from netsim.lab.runner import parse_conntrack

    tcp = (
        "ipv4     2 tcp      6 431999 ESTABLISHED src=10.88.0.2 dst=192.168.1.50 sport=40000 dport=80 "
        "src=192.168.1.50 dst=192.168.1.23 sport=80 dport=40000 [ASSURED] mark=0 zone=0 use=2"
    )
    assert parse_conntrack(tcp) == {
        "proto": "tcp",
        "state": "ESTABLISHED",
        "original": "src=10.88.0.2 dst=192.168.1.50 sport=40000 dport=80",
        "reply": "src=192.168.1.50 dst=192.168.1.23 sport=80 dport=40000",
        "flags": ["ASSURED"],
    }
    asked = (
        "ipv4     2 udp      17 28 src=10.88.0.2 dst=192.168.1.53 sport=45123 dport=53 [UNREPLIED] "
        "src=192.168.1.53 dst=192.168.1.23 sport=53 dport=45123 mark=0 zone=0 use=2"
    )
    assert parse_conntrack(asked) == {
        "proto": "udp",
        "original": "src=10.88.0.2 dst=192.168.1.53 sport=45123 dport=53",
        "reply": "src=192.168.1.53 dst=192.168.1.23 sport=53 dport=45123",
        "flags": ["UNREPLIED"],
    }
    stream = asked.replace(" [UNREPLIED]", "").replace("mark=0", "[ASSURED] mark=0").replace(" 28 ", " 119 ")
    assert parse_conntrack(stream)["flags"] == ["ASSURED"]  # type: ignore[index]
    assert parse_conntrack("ipv4     2 icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7") is None


def test_udp_entries_are_compared_by_tuples_and_flags_beside_tcp_ones() -> None:
    from netsim.lab.compare import compare

    def one(*udp: tuple[int, list[str]], tcp: bool = True) -> dict:
        entries: list[dict] = [
            {
                "proto": "udp",
                "original": f"src=10.88.0.2 dst=192.168.1.53 sport={sport} dport=53",
                "reply": f"src=192.168.1.53 dst=192.168.1.23 sport=53 dport={sport}",
                "flags": flags,
            }
            for sport, flags in udp
        ]
        if tcp:
            entries.append(
                {
                    "proto": "tcp",
                    "state": "SYN_SENT",
                    "original": "src=10.88.0.2 dst=192.168.1.50 sport=41000 dport=80",
                    "reply": "src=192.168.1.50 dst=192.168.1.23 sport=80 dport=41000",
                    "flags": ["UNREPLIED"],
                }
            )
        step = {"id": "s", "frames": [], "fdb": {}, "neigh": {}, "outcome": None, "links": {}, "route": None}
        return {"steps": [{**step, "conntrack": {"laptop": entries}}]}

    assert compare(one((40000, [])), one((51000, [])))[0]  # the resolver's port, picked at random
    assert not compare(one((40000, [])), one((40000, ["UNREPLIED"])))[0]  # the flags
    assert not compare(one((40000, [])), one((40000, ["ASSURED"])))[0]
    assert not compare(one((40000, [])), one())[0]  # an entry the other side does not have
    assert not compare(one((40000, []), (40001, [])), one((51000, []), (51000, [])))[0]  # one port or two
    assert not compare(one((40000, []), tcp=False), one((40000, [])))[0]  # TCP as before


def test_an_arp_packets_addresses_are_compared_not_only_its_kind() -> None:
    # RFC 826's sender and target fields: "who-has 10.0.0.11 tell 127.0.0.1" (arp_solicit() taking a
    # loopback source, net/ipv4/arp.c) is another packet than "... tell 10.0.0.10", with the same
    # MACs and the same kind. A recording from before frames kept them is held to what its words say.
    from netsim.lab.compare import compare

    def one(sender: str, target: str, target_mac: str = "00:00:00:00:00:00", words: bool = False) -> dict:
        hop = {"bridge": "br0", "in_port": "p1", "src": "02:00:00:00:00:0a", "dst": "ff:ff:ff:ff:ff:ff"}
        hop |= {"decision": "flood", "out_ports": ["p2"], "carries": "ARP request"}
        arp = {"sender_mac": "02:00:00:00:00:0a", "sender_ip": sender, "target_mac": target_mac, "target_ip": target}
        hop |= {"what": f"ARP who-has {target} tell {sender}"} if words else {"arp": arp}
        step = {"id": "s", "frames": [hop], "fdb": {}, "neigh": {}, "outcome": None, "links": {}, "route": None}
        return {"steps": [step]}

    ours = one("10.0.0.10", "10.0.0.11")
    assert compare(ours, one("10.0.0.10", "10.0.0.11"))[0]
    agree, lines = compare(ours, one("127.0.0.1", "10.0.0.11"))
    assert not agree
    assert "[ARP sender_mac 02:00:00:00:00:0a sender_ip 10.0.0.10" in lines[1]
    assert "sender_ip 127.0.0.1" in lines[1]
    assert not compare(ours, one("10.0.0.10", "10.0.0.12"))[0]
    assert not compare(ours, one("10.0.0.10", "10.0.0.11", target_mac="ff:ff:ff:ff:ff:ff"))[0]
    assert compare(ours, one("10.0.0.10", "10.0.0.11", words=True))[0]
    assert not compare(ours, one("127.0.0.1", "10.0.0.11", words=True))[0]
    assert not compare(ours, one("10.0.0.10", "10.0.0.12", words=True))[0]


GHOST = """
title: ghost
bridges:
  br0:
    host: h
    mac: 02:00:00:00:00:01
    ports: {p1: {}, p2: {}}
hosts:
  h: {}
  a:
    reachable_time: 1
    interfaces: {eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}}
  b:
    interfaces: {eth0: {mac: "02:00:00:00:00:0b", address: 10.0.0.11/24, plug: br0.p2}}
steps:
  - {id: a-asks, arp: {by: a, target: 10.0.0.11}}
  - {id: b-gone, netns_del: b}
  - {id: a-waits, wait: WAIT}
  - {id: a-connects-ghost, connect: {by: a, to: '10.0.0.11:80'}}
"""


@pytest.mark.parametrize(("wait", "again"), [(3.3, True), (0.3, False)])
def test_an_arp_failure_after_the_syn_backed_off_sends_it_once_more(wait: float, again: bool) -> None:
    # tests/lab_scenarios/ghost-rto-revert.yaml: tcp_ld_RTO_revert() (net/ipv4/tcp_ipv4.c). With the
    # wait, the probes to the vanished b fail (FAILED at 9 s) between the 1 s SYN timers: the SYN of
    # 7 s after the connect makes a new INCOMPLETE entry, whose failure at 10 s undoes one backoff
    # (4 s -> 2 s, 3 s since that SYN): the SYN goes once more, a fourth broadcast, the entry stays
    # INCOMPLETE. Without the wait the SYN that finds FAILED is the one of 11 s: 4 s, 3 s since, none.
    trace = run(parse_scenario(GHOST.replace("WAIT", str(wait)), "ghost.yaml"))
    step = trace.step("a-connects-ghost")
    assert step.outcome == "host-unreachable"
    broadcasts = [h for h in step.frames if h.dst == "ff:ff:ff:ff:ff:ff"]
    assert len(broadcasts) == (4 if again else 3)
    assert step.neigh["a"]["10.0.0.11"]["state"] == ("INCOMPLETE" if again else "FAILED")


@pytest.mark.parametrize(("later", "kept"), [(109, True), (118, False)])
def test_the_syn_a_revert_sends_once_more_does_not_renew_the_conntrack_entry(later: float, kept: bool) -> None:
    # The SYN tcp_ld_RTO_revert() sends goes out like any other (ip_queue_xmit(): OUTPUT, then
    # POSTROUTING, then the neighbour), and with conntrack on (a's masquerade rule) it is a SYN
    # retransmitted on a SYN_SENT entry that has seen no reply: nf_conntrack_tcp_packet()
    # (nf_conntrack_proto_tcp.c) does "not renew timeout on SYN retransmit", so the entry goes 120 s
    # after the first SYN (3.3 s), revert or not: there at 122.3 s, gone at 131.3 s
    # (tests/lab_scenarios/natport-syn-sent-entry-expires.yaml shows the kernel doing so).
    masquerade = "steps:\n  - {id: a-masquerades, masquerade: {by: a, saddr: 10.0.0.0/24}}\n"
    text = GHOST.replace("WAIT", "3.3").replace("steps:\n", masquerade) + f"  - {{id: later, wait: {later}}}\n"
    trace = run(parse_scenario(text, "ghost.yaml"))
    step = trace.step("a-connects-ghost")
    assert "a's TCP undoes one backoff (RFC 6069): the SYN is overdue and goes once more" in step.events
    assert len([h for h in step.frames if h.dst == "ff:ff:ff:ff:ff:ff"]) == 4
    assert trace.step("later").time == pytest.approx(13.3 + later)
    kept_entries = [("SYN_SENT", "src=10.0.0.10 dst=10.0.0.11 sport=40000 dport=80")] if kept else []
    assert [(c["state"], c["original"]) for c in trace.step("later").conntrack["a"]] == kept_entries


def test_a_syn_from_loopback_asks_tell_127_0_0_1_and_gets_no_answer() -> None:
    # tests/lab_scenarios/localnet-arp-tell-loopback.yaml: arp_solicit() takes the waiting packet's
    # local source, and arp_process() on the far side refuses a 127/8 sender (ip_route_input_slow()).
    trace = run(
        parse_scenario((ROOT_DIR / "tests/lab_scenarios/localnet-arp-tell-loopback.yaml").read_text(), "l.yaml")
    )
    knock = trace.step("laptop-knocks")
    assert [h.what for h in knock.frames] == ["ARP who-has 10.88.0.3 tell 127.0.0.1"] * 3
    assert knock.outcome == "host-unreachable"
    assert knock.neigh["agent"] == {}
    # An ordinary connect still asks with the bridge's own address, and is answered.
    assert trace.step("laptop-knew-the-agent").frames[0].what == "ARP who-has 10.88.0.3 tell 10.88.0.1"
    for step, sender in (("asked-from-127-0-0-2", "127.0.0.2"), ("asked-from-multicast", "224.0.0.5")):
        assert len(trace.step(step).frames) == 1  # the request only: nobody answers
        assert sender not in trace.step(step).neigh["agent"]  # and nobody learns the sender


def test_broadcast_multicast_and_any_destinations_route_as_the_kernels_local_table_says() -> None:
    # tests/lab_scenarios/odd-destinations.yaml: fib_add_ifaddr()'s broadcast route, tcp_v4_connect()
    # refusing it, 0.0.0.0 as the loopback (ip_route_output_key_hash_rcu()).
    trace = run(parse_scenario((ROOT_DIR / "tests/lab_scenarios/odd-destinations.yaml").read_text(), "odd.yaml"))
    assert trace.step("a-to-broadcast").outcome == "network-unreachable"
    assert trace.step("a-to-broadcast").frames == []  # refused before anything is sent
    assert trace.step("a-to-network").frames[0].what == "ARP who-has 10.0.0.0 tell 10.0.0.10"
    assert trace.step("a-to-any").outcome == "connected"
    assert trace.step("a-to-any").listener == "0.0.0.0:80"
    routes = {s.id: s.route for s in trace.steps if s.route}
    assert routes["route-broadcast"]["type"] == "broadcast"
    assert routes["route-network"]["type"] == "unicast"
    # As iproute2 prints them (print_route(): RTCF_BROADCAST|RTCF_LOCAL as <local,brd>, RTCF_MULTICAST
    # as <mc>); the lab's try-it test compares the same text with the kernel's, as root.
    said = {s: route_get_text(r).splitlines()[1] for s, r in routes.items()}
    assert said["route-broadcast"] == "    cache <local,brd> "
    assert said["route-multicast"] == "    cache <mc> "
    assert (routes["route-multicast"]["type"], routes["route-multicast"]["gateway"]) == ("multicast", None)
    assert (routes["route-any"]["type"], routes["route-any"]["prefsrc"]) == ("local", "127.0.0.1")


def test_a_bridge_set_down_disables_its_ports_and_up_again_they_learn_afresh() -> None:
    # tests/lab_scenarios/bridge-down.yaml: br_dev_stop() -> br_stp_disable_bridge(); br_handle_frame().
    trace = run(parse_scenario((ROOT_DIR / "tests/lab_scenarios/bridge-down.yaml").read_text(), "bd.yaml"))
    assert trace.step("br0-down").fdb["br0"] == {}  # every port forgot what it learned
    (frame,) = trace.step("a-to-b-bridge-down").frames
    assert (frame.decision, frame.out_ports) == ("drop", ())
    assert trace.step("a-connects-b-down").outcome == "deadline"
    assert trace.step("h-to-own-address").outcome == "connected"  # the local route stays
    assert trace.step("h-route").route == {"error": "Network is unreachable"}
    (frame,) = trace.step("a-to-b-bridge-up").frames
    assert frame.decision == "flood"  # up again, the ports learn afresh: b is unknown


DELETED_ROOM = """\
title: t
bridges:
  br0:
    host: laptop
    address: 10.88.0.1/16
    ports: {s2: {}}
hosts:
  laptop:
    reachable_time: 2
  ctr:
    interfaces:
      eth0: {mac: 02:00:00:00:00:02, address: 10.88.0.2/16, plug: br0.s2}
steps:
  - {id: knock, connect: {by: laptop, to: '10.88.0.2:81'}}
  - {id: room-gone, netns_del: ctr}
  - {id: later, wait: 8}
"""


def test_a_deleted_namespace_keeps_no_neighbour_timer() -> None:
    """outsider3's 21: the container's DELAY entry for the laptop (its RST used the entry it learned
    from the laptop's request) went with its namespace (cleanup_net(), neigh_ifdown(),
    net/core/neighbour.c); netsim's ghost probed three times into no cable and gave up."""
    trace = run(parse_scenario(DELETED_ROOM, "room.yaml"))
    assert "10.88.0.1" in trace.steps[0].neigh["ctr"]  # there was an entry with a timer to run
    said = [e for step in trace.steps[1:] for e in step.events]
    assert not [e for e in said if e.startswith("ctr ") or "has no cable" in e], said


def lab_scenario(name: str) -> Path:
    return ROOT_DIR / "tests" / "lab_scenarios" / f"{name}.yaml"


def test_a_closed_listener_sends_no_more_syn_acks() -> None:
    """outsider3's 52 (request-dies-with-its-listener): reqsk_timer_handler() drops a request whose
    listener is gone; netsim sent the SYN-ACK again after close()."""
    from netsim.scenario import load_scenario

    trace = run(load_scenario(lab_scenario("request-dies-with-its-listener")))
    after = trace.step("quiet-after")
    assert not [h for h in after.frames if h.what.endswith("SYN-ACK")]
    assert any("drops the half-open connections its listener had: 1" in e for e in trace.step("door-closes").events)


def test_a_request_whose_syn_ack_met_a_failed_neighbour_is_dropped() -> None:
    """outsider3's 48 and 66 (request-dies-with-its-neighbour): the host unreachable the server sends
    itself aborts the request (tcp_req_err()); netsim kept it and asked ARP again with each SYN-ACK."""
    from netsim.scenario import load_scenario

    trace = run(load_scenario(lab_scenario("request-dies-with-its-neighbour")))
    tail = trace.step("tail")
    asked = [h for h in tail.frames if h.what == "ARP who-has 10.3.0.99 tell 10.3.0.5"]
    assert len(asked) == 2  # the second and third of the first round (1 s apart); no new round after it fails
    assert tail.neigh["srv"]["10.3.0.99"]["state"] == "FAILED"
    assert any("drops the half-open connection from 10.3.0.99:45001: host unreachable" in e for e in tail.events)


def test_an_unnumbered_device_borrows_another_devices_address_not_loopbacks() -> None:
    """outsider3's 69 (unnumbered-device-borrows-source): inet_select_addr() skips 127.0.0.1 (scope host)."""
    from netsim.scenario import load_scenario

    trace = run(load_scenario(lab_scenario("unnumbered-device-borrows-source")))
    assert trace.step("ask").route["prefsrc"] == "10.5.0.1"
    assert [h.what for h in trace.step("knock").frames][:1] == ["ARP who-has 10.7.0.11 tell 10.5.0.1"]


def test_a_knock_on_a_lo_that_is_down_is_tracked_before_it_is_dropped() -> None:
    """outsider3's 58 (lo-down-syn-still-tracked): POSTROUTING confirms the entry before lo drops the SYN."""
    from netsim.scenario import load_scenario

    trace = run(load_scenario(lab_scenario("lo-down-syn-still-tracked")))
    step = trace.step("knock-lo-down")
    assert step.outcome == "timeout"
    tracked = [e for e in step.conntrack["box"] if "sport=41002" in e["original"]]
    assert [(e["state"], e["flags"]) for e in tracked] == [("SYN_SENT", ["UNREPLIED"])]


def test_with_no_address_to_borrow_the_source_is_zero_and_the_syns_are_martians() -> None:
    """outsider3's 102 (unnumbered-nothing-to-borrow): inet_select_addr() gives 0, not 127.0.0.1."""
    from netsim.scenario import load_scenario

    trace = run(load_scenario(lab_scenario("unnumbered-nothing-to-borrow")))
    assert trace.step("ask").route["prefsrc"] is None
    knock = trace.step("knock")
    assert [h.what for h in knock.frames][:2] == [
        "ARP who-has 10.7.0.11 tell 0.0.0.0",
        "ARP 10.7.0.11 is-at 02:b0:00:00:00:0b",
    ]
    assert knock.outcome == "timeout" and knock.neigh["x"]["10.7.0.11"]["state"] == "REACHABLE"
    assert any("drops a packet from 0.0.0.0 that arrived on eth0: a martian source" in e for e in knock.events)
