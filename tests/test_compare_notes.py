"""The comparison names what the lab cannot see: a cable from host to host is not captured."""

from __future__ import annotations

from pathlib import Path

from netsim.lab.compare import notes_for
from netsim.scenario import load_scenario

LAB = Path(__file__).resolve().parent / "lab_scenarios"


def names_of(scenario: object, trace: dict | None = None) -> set[str]:
    return {line.split(":", 1)[0].strip() for line in notes_for(scenario, trace)}


def named(path: Path) -> set[str]:
    return names_of(load_scenario(path))


def test_a_cable_from_host_to_host_is_named_as_not_watched() -> None:
    # The lab captures on bridges only (netsim/lab/capture.py): a third outsider's 93 showed a stray
    # SYN-ACK on such a cable passing as "0 frame(s)" on both sides, with nothing said about it.
    assert "cables" in named(LAB / "route-del-falls-back.yaml")  # plugged host to host from the start
    assert "cables" in named(LAB / "link-move-up-addressed.yaml")


def test_a_room_where_every_cable_reaches_a_bridge_names_no_unwatched_cable() -> None:
    assert "cables" not in named(LAB / "ip-keywords-as-names.yaml")
    assert "cables" not in named(LAB / "ageing.yaml")


def test_a_run_long_enough_for_an_entry_to_age_out_names_the_bridge_s_late_cleanup() -> None:
    # br_handle_frame_finish() forwards to an expired entry until br_fdb_cleanup() runs; netsim floods at
    # once. A run shorter than every ageing time cannot meet that, one as long can.
    from netsim.simulation import run

    def with_trace(name: str) -> set[str]:
        scenario = load_scenario(LAB / name)
        return names_of(scenario, run(scenario).to_json())

    assert "fdb-gc" in with_trace("ageing.yaml")
    assert "fdb-gc" in with_trace("flags-ageing-lowered-mid-syn.yaml")
    assert "fdb-gc" in named(LAB / "flags-ageing-lowered-mid-syn.yaml")  # a step changes it: said without a run
    assert "fdb-gc" not in with_trace("ip-keywords-as-names.yaml")
    assert "fdb-gc" not in named(LAB / "ageing.yaml")


def _seg(src: str, sport: int, ttl: int) -> dict:
    return {
        "ip": {"src": src, "dst": "198.51.100.5", "ttl": ttl},
        "tcp": {"sport": sport, "dport": 80},
        "carries": "ACK",
    }


def test_a_port_masquerade_changed_is_seen_on_the_frames_even_when_its_entry_is_gone() -> None:
    # ctcombo-expired-port-reused's last step: a picked-up ACK masqueraded to another port, answered RST in
    # the same step, so its entry is in no table at the end: the port is known from the forwarded copy.
    from netsim.lab.compare import _nat_ports_seen

    moved = [_seg("10.0.0.10", 41000, 64), _seg("198.51.100.1", 25458, 63)]
    assert _nat_ports_seen(moved) == {25458}
    kept = [_seg("10.0.0.10", 41000, 64), _seg("198.51.100.1", 41000, 63)]
    assert _nat_ports_seen(kept) == set()
    two_senders = [_seg("10.0.0.10", 41000, 64), _seg("198.51.100.7", 5000, 64)]  # not one packet forwarded
    assert _nat_ports_seen(two_senders) == set()


SCENARIOS = sorted(LAB.glob("*.yaml")) + sorted((LAB.parent.parent / "diagrams").glob("*.yaml"))


def test_each_note_is_named_exactly_where_its_condition_holds() -> None:
    """Three of notes_for()'s rules restated, over every lab scenario and diagram: a name missing
    where its simplification applies hides it from whoever reads the comparison; one given where it
    does not applies to nothing."""
    seen = {"timers-meet": 0, "resolver": 0, "resolver only": 0, "conntrack": 0, "link_move only": 0}
    for path in SCENARIOS:
        scenario = load_scenario(path)
        names = names_of(scenario)
        connects = any(s.connect for s in scenario.steps)
        # Timers that fall due together: only a connect's SYN retries, and only with few of them.
        meet = connects and any(h.tcp_syn_retries < 3 for h in scenario.hosts.values())
        assert ("timers-meet" in names) == meet, path.name
        # The stub resolver: any step that resolves a name, whether or not a DNS server runs.
        resolves = scenario.needs_resolver() or scenario.needs_dnsmasq()
        assert ("resolver" in names) == resolves, path.name
        # NAT's notes come on top of the others, never instead of them.
        nat = any(h.masquerade for h in scenario.hosts.values())
        nat = nat or any(s.masquerade or s.publish for s in scenario.steps)
        assert ("conntrack" in names) == nat, path.name
        assert {"multicast", "timing"} <= names and ("open-connections" in names) == connects, path.name
        seen["timers-meet"] += meet
        seen["resolver"] += resolves
        seen["resolver only"] += resolves and not (scenario.needs_resolver() and scenario.needs_dnsmasq())
        seen["conntrack"] += nat and connects
        # The kernel's link watch: a device going, moving or changing its carrier, each action alone.
        acts = {s.action for s in scenario.steps} & {"link_set", "link_move", "link_del", "netns_del", "nomaster"}
        assert ("linkwatch" in names) == bool(acts), path.name
        seen["link_move only"] += acts == {"link_move"}
    # Each condition holds somewhere in the corpus (the resolver's by one of its two parts alone too).
    assert all(seen.values()), seen


def test_a_flood_that_reaches_no_port_is_named_from_the_trace() -> None:
    """empty-flood: named only when netsim's own trace has a flood that left by no port."""
    from netsim.simulation import run

    scenario = load_scenario(LAB / "bridges-joined-by-veth.yaml")
    assert "empty-flood" in names_of(scenario, run(scenario).to_json())
    assert "empty-flood" not in names_of(scenario)
