"""Post one's claims hold, and they bite: break the simulator on purpose and watch them fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from netsim import bridge, fdb, tcp
from netsim.errors import UnclaimedStep
from netsim.pages.macros import check_page

ROOT = Path(__file__).resolve().parent.parent
POST_ONE = ROOT / "docs" / "posts" / "margarets-room.md"
POSTS = sorted((ROOT / "docs" / "posts").glob("*.md"))


@pytest.mark.parametrize("post", POSTS, ids=lambda p: p.name)
def test_every_claim_in_every_post_holds(post: Path) -> None:
    errors = check_page(post, ROOT)
    assert errors == [], "\n".join(map(str, errors))


def test_every_step_a_post_shows_has_a_claim() -> None:
    text = POST_ONE.read_text(encoding="utf-8")
    shown = text.count("{{ figure(")
    assert shown >= 10  # post one shows its story step by step
    assert check_page(POST_ONE, ROOT) == []  # finish() would report a figure with no claim


def test_a_figure_without_a_claim_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('---\nscenario: margarets-room\n---\n\nText.\n\n{{ figure("alice-replies") }}\n')
    (error,) = check_page(page, ROOT)
    assert isinstance(error, UnclaimedStep) and error.kind == "Claim is missing"
    assert str(error).endswith(
        "page.md:7: margarets-room/alice-replies: this step is shown but no claim checks its outcome"
    )


def test_a_false_claim_names_the_file_the_line_and_what_happened(tmp_path: Path) -> None:
    text = POST_ONE.read_text(encoding="utf-8").replace(
        'claim("alice-replies", decision="forward", copies_to=["bob"])',
        'claim("alice-replies", decision="flood", copies_to=["bob"])',
    )
    page = tmp_path / "margarets-room.md"
    page.write_text(text)
    line = text[: text.index('decision="flood", copies_to=["bob"]')].count("\n") + 1
    (error,) = check_page(page, ROOT)
    assert f"margarets-room.md:{line}: claim alice-replies" in str(error)
    assert "decision: the page says 'flood', the simulation did 'forward'" in str(error)


def test_an_unknown_step_or_fact_is_an_error_not_a_pass(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        '---\nscenario: margarets-room\n---\n{{ claim("no-such-step", outcome="refused") }}\n'
        '{{ claim("alice-replies", flooded=True) }}\n{{ claim("alice-replies") }}\n'
    )
    errors = [str(e) for e in check_page(page, ROOT)]
    assert "no step 'no-such-step'" in errors[0]
    assert "unknown fact 'flooded'" in errors[1]
    assert "at least one fact" in errors[2]


# --- Deliberate faults in the simulator: each must make post one's claims fail ---------------


def _fails(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    # Figures drawn from a faulty simulator must never reach the figure cache others read.
    monkeypatch.setenv("NETSIM_CACHE_DIR", "off")
    return [str(e) for e in check_page(POST_ONE, ROOT)]


def test_fault_learning_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fdb.Fdb, "learn", lambda self, mac, port, now: "")
    failures = _fails(monkeypatch)
    assert any("learns:" in f for f in failures)
    assert any("decision: the page says 'forward', the simulation did 'flood'" in f for f in failures)


def test_fault_floods_sent_back_out_of_the_ingress_port(monkeypatch: pytest.MonkeyPatch) -> None:
    def flood_everywhere(self: bridge.Bridge, in_port: str | None, flag: str) -> tuple[str, ...]:
        return tuple(name for name, flags in self.ports.items() if getattr(flags, flag))

    monkeypatch.setattr(bridge.Bridge, "_flood_ports", flood_everywhere)
    assert any("copies_to:" in f for f in _fails(monkeypatch))


def test_fault_broadcast_treated_as_unknown_unicast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge, "is_broadcast", lambda mac: False)
    monkeypatch.setattr(bridge, "is_group", lambda mac: False)
    failures = _fails(monkeypatch)
    assert any("copies_to:" in f and "laptop" in f for f in failures)


def test_fault_listener_lookup_ignores_the_bound_address(monkeypatch: pytest.MonkeyPatch) -> None:
    def any_address(listeners: set[tuple[str, int]], dst_ip: str, dport: int) -> tuple[str, int] | None:
        return next((entry for entry in sorted(listeners) if entry[1] == dport), None)

    monkeypatch.setattr(tcp, "find_listener", any_address)
    failures = _fails(monkeypatch)
    assert any("outcome: the page says 'refused', the simulation did 'connected'" in f for f in failures)


# --- what a contributor reads when a claim is false, or cannot be checked ---------------------------


def test_a_false_claim_says_what_the_page_said_and_what_happened() -> None:
    from netsim import claims
    from netsim.scenario import load_scenario
    from netsim.simulation import run

    scenario = load_scenario(ROOT / "diagrams" / "margarets-room.yaml")
    trace = run(scenario)
    step = "bob-writes-to-alice"  # Bob's first frame: flooded to three seats
    assert claims.check(scenario, trace, step, {"copies_to": []}) == [
        "copies_to: the page says nothing, the simulation did [alice, carlos, portainer]"
    ]
    assert claims.check(scenario, trace, step, {"copies_to": ["alice"], "decision": "forward", "frame": 0}) == [
        "copies_to: the page says [alice], the simulation did [alice, carlos, portainer]",
        "decision: the page says 'forward', the simulation did 'flood'",
    ]
    assert claims.check(scenario, trace, step, {"decision": "flood", "frame": 3}) == [
        "decision: cannot be checked: only 1 frame(s) crossed a bridge in this step"
    ]
    assert claims.check(scenario, trace, step, {})[0].startswith("a claim must state at least one fact; expected")
    assert claims.check(scenario, trace, step, {"colour": "red"})[0].startswith("unknown fact 'colour'; expected")
    # The tick's tooltip says the same facts in words.
    assert claims.describe(step, {"copies_to": [], "decision": "flood", "frame": 0}) == (
        "Checked against step bob-writes-to-alice: copies_to = nothing; decision = 'flood'"
    )
    assert claims.describe(step, {"copies_to": ["a", "b"]}, setup=True) == (
        "The set-up of step bob-writes-to-alice, not an outcome (checked all the same): copies_to = [a, b]"
    )


def test_a_claim_that_states_no_fact_lists_the_facts_it_could_state() -> None:
    # The message a writer reads for an empty claim names every fact, one after the other.
    from conftest import room

    from netsim import claims
    from netsim.simulation import run

    scenario = room("- {id: s, send: {by: a, dst: b}}")
    (message,) = claims.check(scenario, run(scenario), "s", {})
    said, listed = message.split("; expected one of: ")
    assert said == "a claim must state at least one fact"
    assert listed.split(", ") == list(claims.FACTS) and len(claims.FACTS) > 1


def test_a_seat_whose_device_the_step_does_not_list_is_named_from_the_scenario() -> None:
    # Names.host_at() follows a port's cable in the step's links when the step lists the port's
    # device; a port it does not list (deleted, or not made yet) is named from the scenario's
    # plugs, or as bridge.port. (make mutants: claims host_at__mutmut_7, a crash on such a port,
    # survived as a "timeout".)
    import dataclasses

    from conftest import room

    from netsim.claims import Names
    from netsim.simulation import run

    scenario = room("- {id: s, send: {by: a, dst: b}}")
    step = run(scenario).steps[0]
    names = Names(scenario)
    assert names.host_at("br0", "p1", step) == "a"
    assert names.host_at("br0", "p1", dataclasses.replace(step, links={"host": {}})) == "a"
    assert names.host_at("br0", "p9", dataclasses.replace(step, links={})) == "br0.p9"
