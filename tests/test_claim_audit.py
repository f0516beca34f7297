"""The claim audit: every claim on every post can fail, and one that cannot is named."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from netsim import bridge, fdb, tcp
from netsim.claimaudit import audit as audit_module
from netsim.claimaudit.audit import Memo, audit, render
from netsim.claimaudit.faults import FAULTS
from netsim.pages.macros import render_page

ROOT = Path(__file__).resolve().parent.parent
# `make check` runs this file on one worker (--dist loadfile), so that its audits share the faulted
# and perturbed traces of each scenario (`memo`) instead of each simulating them afresh.


@pytest.fixture(scope="module")
def memo() -> Memo:
    """Traces by fault and scenario text, for this file's audits only: nothing here patches netsim."""
    return {}


def _page(tmp_path: Path, body: str, scenario: str = "margarets-room") -> Path:
    page = tmp_path / "page.md"
    page.write_text(f"---\nscenario: {scenario}\n---\n\n{body}\n", encoding="utf-8")
    return page


def test_every_claim_on_every_post_can_be_made_false(memo: Memo) -> None:
    report = audit(ROOT, memo=memo)
    assert report.ok, render(report)
    for page in report.pages:
        assert page.claims, f"{page.file} has no claims at all"
        assert page.faults_caught, f"no fault falsifies any claim of {page.file}"


def test_a_claim_that_only_restates_its_step_is_named_with_its_line(tmp_path: Path, memo: Memo) -> None:
    page = _page(tmp_path, 'Bob asks.\n{{ claim("bob-asks-for-toasters", sent_by="bob") }}')
    report = audit(ROOT, [page], memo)
    assert not report.ok
    text = render(report)
    assert "page.md:6: claim bob-asks-for-toasters: no fault and no perturbation falsifies sent_by='bob'" in text
    assert "given()" in text


def test_the_same_fact_stated_with_given_passes_and_is_counted_as_set_up(tmp_path: Path, memo: Memo) -> None:
    page = _page(
        tmp_path, 'The tunnel moves.\n{{ given("bind-to-bridge", listening={"laptop": ["10.88.0.1:19001"]}) }}'
    )
    report = audit(ROOT, [page], memo)
    assert report.ok, render(report)
    assert [c.claim.setup for c in report.pages[0].claims] == [True]


def test_one_restating_fact_is_not_hidden_by_a_biting_one_beside_it(tmp_path: Path, memo: Memo) -> None:
    page = _page(tmp_path, '{{ claim("portainer-connects", outcome="refused", decision="flood") }}')
    report = audit(ROOT, [page], memo)
    (result,) = report.pages[0].claims
    assert result.caught_by["outcome"]  # lookup-ignores-address, no-reset, ... make it false
    assert result.idle_facts == ["decision"] or not result.idle_facts  # decision is caught only by a group fault
    assert result.caught_by["outcome"] and any("lookup-ignores-address" in b for b in result.caught_by["outcome"])


def test_a_false_claim_fails_the_audit_too(tmp_path: Path, memo: Memo) -> None:
    page = _page(tmp_path, '{{ claim("portainer-connects", outcome="connected") }}')
    report = audit(ROOT, [page], memo)
    assert not report.ok
    assert "outcome: the page says 'connected'" in str(report.pages[0].errors[0])


def test_given_renders_apart_from_a_checked_outcome(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        '{{ given("bind-to-bridge", listening={"laptop": ["10.88.0.1:19001"]}) }}\n'
        '{{ claim("portainer-connects", outcome="refused") }}',
    )
    rendered = render_page(page, ROOT)
    assert rendered.finish() == []
    html = (tmp_path / "page.md").read_text()  # the source, for the line numbers below
    assert "given(" in html
    given, claim = rendered.recorded
    assert given.setup and not claim.setup
    out = rendered.functions()["given"]("bind-to-bridge", listening={"laptop": ["10.88.0.1:19001"]})
    assert 'class="ns-given"' in out and "✓" not in out and "not an outcome" in out


def test_a_false_given_is_still_an_error(tmp_path: Path) -> None:
    page = _page(tmp_path, '{{ given("bind-to-bridge", listening={"laptop": ["0.0.0.0:19001"]}) }}')
    (error,) = render_page(page, ROOT).finish()
    assert "listening: the page says" in str(error)


def test_every_fault_patches_something_that_exists() -> None:
    for fault in FAULTS:  # raises, naming the fault, if a mechanism it breaks was renamed
        with fault.applied():
            pass


def test_every_fault_puts_the_simulator_back_as_it_found_it() -> None:
    before = (bridge.Bridge.receive, fdb.Fdb.learn, tcp.find_listener, tcp.retransmit_times, bridge.is_broadcast)
    for fault in FAULTS:
        with fault.applied():
            pass
    assert before == (
        bridge.Bridge.receive,
        fdb.Fdb.learn,
        tcp.find_listener,
        tcp.retransmit_times,
        bridge.is_broadcast,
    )


def test_without_the_faults_the_claims_only_perturbations_reach_are_named(
    monkeypatch: pytest.MonkeyPatch, memo: Memo
) -> None:
    # The audit bites: take its faults away and the claims that only a broken mechanism can
    # falsify (that a question goes to everyone, that bystanders note nothing) are listed.
    monkeypatch.setattr(audit_module, "FAULTS", ())
    report = audit(ROOT, memo=memo)
    assert not report.ok
    restating = {(c.claim.step, f) for p in report.pages for c in p.restating for f in c.idle_facts}
    assert ("bob-asks-for-toasters", "broadcast") in restating
    assert ("bob-asks-for-toasters", "neighbours") in restating


def test_the_cli_exits_1_on_a_restating_claim_and_2_on_a_missing_page(
    tmp_path: Path, memo: Memo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netsim.cli import main

    # The CLI's audit with this file's shared traces: it reports what one simulating afresh reports
    # (test_an_audit_that_shares_traces_reports_what_one_that_simulates_afresh_reports).
    monkeypatch.setattr(audit_module, "audit", functools.partial(audit, memo=memo))
    page = _page(tmp_path, '{{ claim("bob-asks-for-toasters", sent_by="bob") }}')
    assert main(["claims", str(page)]) == 1
    assert main(["claims", str(tmp_path / "missing.md")]) == 2


def test_every_fault_takes_the_arguments_of_what_it_replaces() -> None:
    # A replacement with a narrower signature crashes the faulted run part way, and a crash is
    # not a falsified claim: such a fault would quietly catch nothing.
    import inspect

    from netsim.claimaudit.faults import FAULTS

    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for fault in FAULTS:
        for obj, attr, value in fault.patches():
            original = getattr(obj, attr)
            if not (inspect.isfunction(original) and callable(value)):
                continue
            given = inspect.signature(original).parameters.values()
            params = [p for p in given if p.kind in positional]
            keywords = {p.name: None for p in given if p.kind == inspect.Parameter.KEYWORD_ONLY}
            try:
                inspect.signature(value).bind(*range(len(params)), **keywords)
            except TypeError as exc:
                raise AssertionError(f"fault {fault.name}: {attr} cannot take {[p.name for p in params]}") from exc


def test_an_audit_that_shares_traces_reports_what_one_that_simulates_afresh_reports(tmp_path: Path, memo: Memo) -> None:
    # The tests above share each scenario's faulted and perturbed traces (memo); the CLI simulates
    # afresh. Both must say the same, or the shared traces would hide a claim that cannot fail.
    page = _page(tmp_path, '{{ claim("portainer-connects", outcome="refused", decision="flood") }}')
    audit(ROOT, [page], memo)  # fills the memo, if the tests above have not
    shared, fresh = audit(ROOT, [page], memo), audit(ROOT, [page])
    assert shared.variants == fresh.variants > len(FAULTS)
    assert render(shared, verbose=True) == render(fresh, verbose=True)


def test_no_fault_crashes_part_way_through_a_posts_scenario(memo: Memo) -> None:
    # A fault whose own code fails (a patch that writes the simulator's backlog in the wrong shape,
    # a flag it cannot read) stops its run at that step, and every claim after it goes untested:
    # shared-loopback caught nothing on any page for that reason. A step the broken belief cannot
    # carry out (a bind it refuses) is a consequence of the fault, not a crash, and may stop a run.
    # The faulted runs of the scenarios the posts claim are the first test's (memo); the others'
    # (a scenario only the guide shows, say) are run here.
    from netsim.claimaudit.audit import CRASHED, variants_of
    from netsim.pages.book import Book

    book = Book(ROOT)
    names = sorted({p.stem for p in (ROOT / "diagrams").glob("*.yaml")})
    crashes = [
        f"{label}: {why}"
        for fault in FAULTS
        for name in names
        for label, _step, _scenario, why in variants_of(book, name, fault, memo)
        if isinstance(why, str) and (why.startswith(CRASHED) or not why.startswith("could not"))
    ]
    assert crashes == [], "\n".join(crashes)


def test_shared_loopback_catches_the_knock_on_an_empty_container_door(tmp_path: Path, memo: Memo) -> None:
    # Post two's container knocks on its own 127.0.0.1:19001 after its doorman left; with every
    # namespace's 127.0.0.1 the laptop's lo, the laptop's tunnel would answer instead.
    page = _page(tmp_path, '{{ claim("knock-on-empty-door", outcome="refused") }}', scenario="rooms-inside-rooms")
    (result,) = audit(ROOT, [page], memo).pages[0].claims
    assert "fault shared-loopback" in result.caught_by["outcome"]
