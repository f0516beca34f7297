"""The bridge's decisions, one mechanism per test, as br_input.c and br_forward.c make them."""

from __future__ import annotations

from conftest import MAC, simulate

from netsim.addresses import is_group, is_valid_source


def test_unknown_unicast_floods_to_every_other_port_and_learns_the_sender() -> None:
    step = simulate("- {id: s, send: {by: a, dst: b}}").steps[0]
    (hop,) = step.frames
    assert (hop.decision, hop.out_ports) == ("flood", ("p2", "p3"))
    assert step.fdb == {"br0": {MAC["a"]: "p1"}}


def test_known_unicast_goes_out_of_one_port_only() -> None:
    trace = simulate("""
        - {id: b-speaks, send: {by: b, dst: a}}
        - {id: a-answers, send: {by: a, dst: b}}
    """)
    (hop,) = trace.steps[1].frames
    assert (hop.decision, hop.out_ports) == ("forward", ("p2",))
    assert [a.host for a in trace.steps[1].arrivals] == ["b"]


def test_bystanders_receive_a_flooded_copy_and_throw_it_away() -> None:
    step = simulate("- {id: s, send: {by: a, dst: b}}").steps[0]
    taken = {a.host: a.accepted for a in step.arrivals}
    assert taken == {"b": True, "c": False}


def test_broadcast_floods_and_is_delivered_to_the_host() -> None:
    (hop,) = simulate("- {id: s, send: {by: a, dst: broadcast}}").steps[0].frames
    assert (hop.decision, hop.out_ports) == ("flood", ("p2", "p3", "br0"))


def test_a_frame_to_the_bridges_own_mac_goes_to_the_host_only() -> None:
    (hop,) = simulate(f"- {{id: s, send: {{by: a, dst: '{MAC['br0']}'}}}}").steps[0].frames
    assert (hop.decision, hop.out_ports) == ("local", ("br0",))


def test_a_frame_to_a_ports_own_mac_goes_to_the_host_only() -> None:
    from netsim.addresses import derived_mac

    port_mac = derived_mac("br0/p2")
    (hop,) = simulate(f"- {{id: s, send: {{by: a, dst: '{port_mac}'}}}}").steps[0].frames
    assert hop.decision == "local"


def test_group_source_is_dropped_and_not_learned() -> None:
    step = simulate("- {id: s, send: {by: a, src: '03:00:00:00:00:01', dst: b}}").steps[0]
    assert step.frames[0].decision == "drop"
    assert step.fdb == {"br0": {}}


def test_all_zero_source_is_dropped() -> None:
    step = simulate("- {id: s, send: {by: a, src: '00:00:00:00:00:00', dst: b}}").steps[0]
    assert step.frames[0].decision == "drop"


def test_a_frame_to_a_mac_on_its_own_ingress_port_is_dropped() -> None:
    # c's MAC is first seen on p1 (a spoofs it), then a sends to it: same port, dropped.
    trace = simulate(f"""
        - {{id: spoof, send: {{by: a, src: '{MAC["c"]}', dst: broadcast}}}}
        - {{id: s, send: {{by: a, dst: c}}}}
    """)
    assert trace.steps[1].frames[0].decision == "drop"


def test_hairpin_sends_it_back_out_of_the_same_port() -> None:
    trace = simulate(
        f"""
        - {{id: spoof, send: {{by: a, src: '{MAC["c"]}', dst: broadcast}}}}
        - {{id: s, send: {{by: a, dst: c}}}}
        """,
        p1="hairpin: true",
    )
    hop = trace.steps[1].frames[0]
    assert (hop.decision, hop.out_ports) == ("forward", ("p1",))


def test_a_mac_seen_on_another_port_moves_there() -> None:
    trace = simulate(f"""
        - {{id: first, send: {{by: a, dst: broadcast}}}}
        - {{id: moved, send: {{by: b, src: '{MAC["a"]}', dst: broadcast}}}}
    """)
    assert trace.steps[1].fdb["br0"][MAC["a"]] == "p2"
    assert trace.steps[1].frames[0].learned == "moved"


def test_a_frame_claiming_the_bridges_own_mac_does_not_move_it() -> None:
    trace = simulate(f"""
        - {{id: spoof, send: {{by: a, src: '{MAC["br0"]}', dst: b}}}}
        - {{id: to-host, send: {{by: b, dst: '{MAC["br0"]}'}}}}
    """)
    assert trace.steps[0].fdb == {"br0": {}}
    assert trace.steps[1].frames[0].decision == "local"


def test_each_hop_records_its_decision_its_reason_and_what_learning_did() -> None:
    # Learning comes before the decision on every path of br_handle_frame_finish(), so Hop.learned
    # (trace.py) says new, refreshed (same port again: br_fdb_update() renews `updated`), moved, or
    # local (a frame claiming the bridge's own MAC never moves it) whatever the bridge then decided;
    # the reason is the caption's words for that decision. (Each field was once dropped or misspelt
    # unnoticed by make mutants: fdb learn _8, _30; bridge receive _74, _131.)
    trace = simulate(f"""
        - {{id: first, send: {{by: a, dst: broadcast}}}}
        - {{id: b-answers, send: {{by: b, dst: a}}}}
        - {{id: a-again, send: {{by: a, dst: b}}}}
        - {{id: moved, send: {{by: b, src: '{MAC["a"]}', dst: broadcast}}}}
        - {{id: spoof, send: {{by: c, src: '{MAC["br0"]}', dst: broadcast}}}}
        - {{id: same-port, send: {{by: b, dst: '{MAC["a"]}'}}}}
        - {{id: unknown, send: {{by: c, dst: '02:00:00:00:00:99'}}}}
        - {{id: group, send: {{by: c, dst: '01:00:5e:00:00:01'}}}}
    """)
    assert [(s.frames[0].decision, s.frames[0].learned, s.frames[0].reason) for s in trace.steps] == [
        ("flood", "new", "broadcast: every port and the host"),
        ("forward", "new", "destination learned on p1"),
        ("forward", "refreshed", "destination learned on p2"),
        ("flood", "moved", "broadcast: every port and the host"),
        ("flood", "local", "broadcast: every port and the host"),
        ("drop", "refreshed", "destination is on the port it came from"),
        ("flood", "new", "destination unknown"),
        ("flood", "refreshed", "multicast: flooded without snooping"),
    ]
    zero = simulate("- {id: s, send: {by: a, dst: broadcast}}", ageing=0).steps[0]
    assert zero.frames[0].learned == "not-learned"


def test_entries_age_out_after_ageing_time() -> None:
    trace = simulate(
        """
        - {id: learn, send: {by: a, dst: broadcast}}
        - {id: almost, wait: 9.5}
        - {id: gone, wait: 0.5}
        """,
        ageing=10,
    )
    assert MAC["a"] in trace.steps[1].fdb["br0"]
    assert trace.steps[2].fdb == {"br0": {}}


def test_ageing_time_zero_learns_nothing_and_floods_everything() -> None:
    trace = simulate(
        """
        - {id: b-speaks, send: {by: b, dst: a}}
        - {id: a-to-b, send: {by: a, dst: b}}
        """,
        ageing=0,
    )
    assert trace.steps[1].fdb == {"br0": {}}
    assert trace.steps[1].frames[0].decision == "flood"


def test_learning_off_on_a_port_learns_nothing_from_it() -> None:
    step = simulate("- {id: s, send: {by: a, dst: broadcast}}", p1="learning: false").steps[0]
    assert step.fdb == {"br0": {}}


def test_flood_off_skips_the_port_for_unknown_unicast_but_not_for_broadcast() -> None:
    trace = simulate("""
        - {id: flood-off, set_port: {bridge: br0, port: p3, flood: false}}
        - {id: unknown, send: {by: a, dst: b}}
        - {id: bcast, send: {by: a, dst: broadcast}}
    """)
    assert trace.steps[1].frames[0].out_ports == ("p2",)
    assert "p3" in trace.steps[2].frames[0].out_ports


def test_the_group_test_is_the_lowest_bit_of_the_first_byte() -> None:
    assert is_group("ff:ff:ff:ff:ff:ff")
    assert is_group("01:00:5e:00:00:01")
    assert is_group("bb:11:22:33:44:55")  # the essay's Bob: 0xbb is odd
    assert not is_group("ba:11:22:33:44:55")
    assert not is_valid_source("00:00:00:00:00:00")


def test_the_host_sending_to_a_down_ports_own_mac_is_dropped_at_that_port() -> None:
    # br_dev_xmit() finds the port's own MAC (a local entry, which disabling the port keeps) and
    # calls br_forward(); should_deliver() refuses a port that is not forwarding, so it is dropped.
    from netsim.bridge import Bridge, PortFlags
    from netsim.frames import Frame

    bridge = Bridge("br0", MAC["br0"], 300.0)
    bridge.add_port("p1", "02:00:00:00:01:01", PortFlags())
    bridge.add_port("p2", "02:00:00:00:01:02", PortFlags())
    bridge.disable_port("p1")
    decision = bridge.transmit(Frame(MAC["br0"], "02:00:00:00:01:01"), 0.0)
    assert (decision.decision, decision.out_ports, decision.reason) == ("drop", (), "p1 is down")
    bridge.enable_port("p1")
    assert bridge.transmit(Frame(MAC["br0"], "02:00:00:00:01:01"), 0.0).out_ports == ("p1",)


def test_a_pause_frame_is_dropped_before_learning_and_says_so() -> None:
    # br_handle_frame(): 01:80:c2:00:00:01 (802.3x pause) is dropped before learning; the reason is
    # the caption's words. (make mutants: bridge receive__mutmut_34 misspelt it unnoticed.)
    step = simulate("- {id: s, send: {by: a, dst: '01:80:c2:00:00:01'}}").steps[0]
    (hop,) = step.frames
    assert (hop.decision, hop.learned) == ("drop", "")
    assert hop.reason == "a pause frame, 01:80:c2:00:00:01: dropped before learning"
    assert step.fdb == {"br0": {}}
