"""Figures are claims too: what a diagram, caption and table depict is read back and held to the trace.

Each planted fault below is a plausible renderer bug; the check must name the figure's file and step.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType

import golden
import pytest
from conftest import corpus, quick
from sitecopy import ROOT, copy_small_site

from netsim.errors import ClaimError, FigureError
from netsim.pages import macros
from netsim.pages.book import Book
from netsim.pages.macros import check_page, split_front_matter
from netsim.render import figfacts, graph, palette, path, tables, words
from netsim.scenario import load_scenario
from netsim.simulation import run

LAB = sorted((ROOT / "tests" / "lab_scenarios").glob("*.yaml"))
POST_ONE = ROOT / "docs" / "posts" / "margarets-room.md"
# make mutants runs the tests in mutmut's copy (./mutants), which sets MUTANT_UNDER_TEST for them
# (mutmut.mutation.trampoline); a checkout that merely sits in a folder named "mutants" is no copy.
UNDER_MUTMUT = "MUTANT_UNDER_TEST" in os.environ


def plant(monkeypatch: pytest.MonkeyPatch, module: ModuleType, old: str, new: str) -> None:
    """A fault in a renderer's source: rewrite one spot, run the module again, patch what changed."""
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    if UNDER_MUTMUT:  # make mutants plants its own faults in its own copy
        pytest.skip("make mutants: the source is mutmut's rewritten copy")
    assert source.count(old) == 1, f"{old!r} is not once in {module.__name__}"
    monkeypatch.setenv("NETSIM_CACHE_DIR", "off")  # a faulty renderer's figures never reach the shared cache
    changed: dict[str, object] = {"__name__": module.__name__}
    exec(compile(source.replace(old, new), module.__file__ or "", "exec"), changed)  # noqa: S102
    for name, value in changed.items():
        if not name.startswith("__") and getattr(module, name, None) is not value:
            monkeypatch.setattr(module, name, value)


def figure_errors(
    page: Path, monkeypatch: pytest.MonkeyPatch, root: Path = ROOT, step: str | None = None
) -> list[FigureError]:
    """The figure check's errors on `page`, rendered afresh; with `step`, only the figures the page
    draws of that step are rendered (step_figures)."""
    monkeypatch.setenv("NETSIM_CACHE_DIR", "off")  # render afresh: a planted fault must reach the figure
    if step is None:
        errors = check_page(page, root, Book(root))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            alone = Path(tmp) / page.name
            alone.write_text(step_figures(page.read_text(encoding="utf-8"), step), encoding="utf-8")
            errors = check_page(alone, root, Book(root))
    return [e for e in errors if isinstance(e, FigureError)]


def step_figures(source: str, step: str) -> str:
    """The post with its front matter, its headings and its `figure()` and `claim()` calls of one
    step, every other line left blank: a planted renderer fault meant for that step is looked for
    in the figures the post draws of it, at the post's own lines. Rendering the whole of post one
    (~60 figures, its stepper's among them) cost ~0.4 CPU s a fault; a fault that shows only in
    the stepper's drawing of its step is looked for in the whole post. Every figure of every post
    is still drawn and checked (test_every_post_renders_cleanly_...), and a fault is still seen
    failing a whole site's strict build (test_a_planted_renderer_fault_fails_the_strict_build)."""
    _, body = split_front_matter(source)
    head = source[: len(source) - len(body)]
    call = re.compile(r"\{\{-?\s*(?:figure|claim)\(\s*\"" + re.escape(step) + r"\"[^}]*\}\}")
    # Headings stay: a figure drawn after the one `reveal:` names uses the real names.
    lines = [line if line.startswith("#") else "".join(call.findall(line)) for line in body.split("\n")]
    assert any("figure(" in line for line in lines), f"the post draws no figure() of {step}"
    return head + "\n".join(lines)


# --- every figure the site and the lab scenarios draw agrees with its trace ------------------------


def test_every_post_renders_cleanly_and_every_figure_is_the_golden_one() -> None:
    # Every post rendered afresh as the site does: any error fails, not only the figure check's (a
    # renderer that raises surfaces as a MacroError). Then how each figure looks, which figfacts
    # cannot see (a colour, a fill, a line's width, a box's shape, a title's wrapping, the order
    # things stand in), is compared with tests/golden (see tests/golden.py).
    now, before = golden.figures(), golden.kept()  # figures() fails on a post's errors
    assert before, "tests/golden holds no figure: run make golden"
    assert not any(golden.differences(now, before)), golden.summary(now, before) + "\n\n" + golden.MEANT


def test_a_golden_figure_s_change_is_reported_file_by_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The report a contributor reads: which figure changed, and the changed line itself.
    before = {"s/a.room.dot": 'digraph {\n\ta [style="rounded,filled"];\n}\n', "s/gone.room.dot": "digraph {}\n"}
    now = {"s/a.room.dot": "digraph {\n\ta [style=rounded];\n}\n", "s/b.room.dot": "digraph {}\n"}
    report = golden.summary(now, before)
    assert report.splitlines()[:4] == [
        "2 figures: 1 changed, 1 new, 1 gone",
        "  changed: s/a.room.dot",
        "  new: s/b.room.dot",
        "  gone: s/gone.room.dot",
    ]
    assert '-\ta [style="rounded,filled"];' in report and "+\ta [style=rounded];" in report
    # make golden writes the figures as drawn, removes those no post draws, and reports the same.
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x.room.dot").write_text("digraph {}\n")
    monkeypatch.setattr(golden, "figures", lambda: {"s/b.room.dot": "digraph {}\n"})
    monkeypatch.setattr(golden, "bytes_words", lambda: "IPv4 | protocol | p.html | What it carries.\n")
    monkeypatch.setattr(golden, "tick_sentences", lambda: "s | Checked: in the simulation, it floods.\n")
    monkeypatch.setattr(golden, "plan_lines", lambda: "## s\nip netns add lab-a\n")
    assert golden.write(tmp_path) == 0
    assert golden.kept(tmp_path) == {"s/b.room.dot": "digraph {}\n"}
    # ...and the bytes view's words beside them, in the same folder (never the checkout's from a test).
    assert (tmp_path / "bytes-view-words.txt").read_text() == "IPv4 | protocol | p.html | What it carries.\n"
    assert (tmp_path / "tick-sentences.txt").read_text() == "s | Checked: in the simulation, it floods.\n"
    assert (tmp_path / "plan-lines.txt").read_text() == "## s\nip netns add lab-a\n"
    assert not (tmp_path / "old").exists()


# make check draws a sample of the edge cases (tests/conftest.py, corpus(): each in one view, in
# turn), make test every one in every view: the edge cases grow with each round of lab exploration
# (153, then 420, then 490), and drawing them was make check's largest single cost (~23 CPU s of
# ~150); the posts' own figures are all drawn either way.
@pytest.mark.parametrize("path", corpus(LAB), ids=lambda p: p.stem)
def test_every_step_of_every_edge_case_draws_what_happened(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lab's edge cases (drops, hairpin, flood flags, ageing) drawn in every view they can take.
    (tmp_path / "diagrams").mkdir()
    shutil.copy(path, tmp_path / "diagrams" / path.name)
    monkeypatch.setenv("NETSIM_CACHE_DIR", "off")
    book = Book(tmp_path)  # the page's own: the scenario is read and simulated once, here and for the page
    steps = [s.id for s in book.get(path.stem)[0].steps]
    views = ("room", "rooms", "path")
    if quick():  # make check: each edge case drawn in one of the views, in turn (tests/conftest.py); make test: all
        views = (views[LAB.index(path) % len(views)],)
    calls = [f'{{{{ figure("{s}", view="{v}") }}}}{{{{ claim("{s}") }}}}' for s in steps for v in views]
    page = tmp_path / "page.md"
    page.write_text(f"---\nscenario: {path.stem}\n---\n" + "\n".join(calls) + "\n{{ stepper() }}\n")
    # The claims name no fact (each fails for that alone); every other error counts, a renderer
    # that raises (a MacroError) as much as a figure that contradicts its trace (a FigureError).
    errors = [e for e in check_page(page, tmp_path, book) if not isinstance(e, ClaimError)]
    assert errors == []


def test_the_svg_is_read_back_edge_by_edge() -> None:
    scenario = load_scenario(ROOT / "diagrams" / "margarets-room.yaml")
    step = run(scenario).steps[0]  # Bob's first frame floods to three seats
    fig = figfacts.read_svg(graph.room(scenario, step))
    assert fig.view == "room"
    outs = fig.with_role("h0", "out")
    assert sorted(m.ends for m in outs) == [("podman0", f"podman0:{p}") for p in ("seat3", "seat7", "seat9")]
    assert all(figfacts.drawn_decisions(m) == {"flood"} for m in outs)
    assert [m.ends[0] for m in fig.with_role("h0", "sends")] == ["podman0:seat5"]


def test_a_narrow_figure_reads_a_line_by_the_words_in_its_box() -> None:
    # On a phone the knock's words stand in a box of their own in the column (graph._stack); the
    # box shares a mark with its line, and the figure is read as if the words were on the line.
    scenario = load_scenario(ROOT / "diagrams" / "publishing-a-port.yaml")
    step = next(s for s in run(scenario).steps if s.outcome == "refused")
    action = scenario.step(step.id)
    svg = path.render(scenario, step, (action.connect.by, action.connect.to), narrow=True)
    box = re.search(r'<g class="ns-words (ns-w\d+)"[^>]*>(?:(?!</g>).)*knock: ', svg, re.S)
    assert box is not None, "the narrow path view draws no box with the knock's words"
    (knock,) = figfacts.read_svg(svg).with_role("knock")
    assert box.group(1)[3:] in knock.roles and "refused ✗" in [t.strip() for t in knock.texts]
    assert figfacts.check_doors(step, figfacts.read_svg(svg), knocks=True) == []
    # The same words belonging to no line, or to two: the figure is refused, not read half.
    lost = svg.replace(f"ns-words {box.group(1)}", "ns-words ns-w999")
    with pytest.raises(ValueError, match="belong to 0 lines"):
        figfacts.read_svg(lost)
    (other,) = re.findall(r'<g class="((?!ns-words)ns-[^"]*)" data-gv="[^"]*&#45;&gt;', svg)[:1]
    twice = svg.replace(f'class="{other}"', f'class="{other} {box.group(1)}"', 1)
    with pytest.raises(ValueError, match="belong to 2 lines"):
        figfacts.read_svg(twice)


# --- planted renderer faults: each one fails with the figure's file and step --------------------


def _one_step(errors: list[FigureError], step: str) -> FigureError:
    assert errors, "the planted fault went unnoticed"
    for error in errors:
        assert re.fullmatch(r"figures/[0-9a-f]{20}\.svg", error.figure)
        assert error.file.endswith("margarets-room.md") and error.line > 0
    found = [e for e in errors if f"({step})" in e.step]
    assert found, [str(e) for e in errors]
    return found[0]


def test_a_forward_drawn_as_a_flood_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, graph, '"forward": ("solid", "forward", "forward")', '"forward": ("dashed", "flood", "flood")')
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="alice-replies"), "alice-replies")
    assert "as flood; the trace says forward" in str(error)


def test_a_forward_drawn_in_flood_s_dashes_alone_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(
        monkeypatch, graph, '"forward": ("solid", "forward", "forward")', '"forward": ("dashed", "forward", "forward")'
    )
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="alice-replies"), "alice-replies")
    assert "the trace says forward" in str(error)


def test_a_flood_drawn_to_one_seat_too_few_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, graph, "    for port in hop.out_ports:\n", "    for port in hop.out_ports[1:]:\n")
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="bob-writes-to-alice"), "bob-writes-to-alice")
    assert "draws copies to [seat7, seat9]; the trace sends them to [seat3, seat7, seat9]" in str(error)


def test_a_caption_that_says_flooded_to_for_a_forward_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, words, '"forward": "forwarded to"', '"forward": "flooded to"')
    # Seen only in the stepper's drawing of the step (the figure() there tells the story's words).
    error = _one_step(figure_errors(POST_ONE, monkeypatch), "alice-replies")
    assert "the caption says frame 1 was 'flooded to'; the trace says forward" in str(error)


def test_a_caption_that_names_the_wrong_seats_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(
        monkeypatch,
        words,
        "    ports = [port_label(scenario, hop.bridge, p, story) for p in hop.out_ports]",
        "    ports = []",
    )
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="alice-replies"), "alice-replies")
    assert "the caption sends frame 1 to []; the trace to ['seat5']" in str(error)


def test_a_missing_drop_mark_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, graph, '        fillcolor=gv("bad"),\n        color=colour,\n        **_tag("drop"),\n', "")
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="group-badge-note"), "group-badge-note")
    assert "draws no drop mark" in str(error)


def test_a_drop_drawn_as_a_forward_to_a_seat_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(
        monkeypatch,
        graph,
        '    if hop.decision == "drop":\n        node',
        '    if hop.decision == "never":\n        node',
    )
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="group-badge-note"), "group-badge-note")
    assert "draws no drop mark" in str(error)


def test_a_wrong_new_table_row_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(
        monkeypatch,
        tables,
        "new = mac in step.fdb_new[bridge]",
        "new = mac not in step.fdb_new[bridge]",
    )
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="bob-writes-to-alice"), "bob-writes-to-alice")
    assert "MAC table of podman0 marks [] new; the trace learned ['ba:11:22:33:44:55']" in str(error)


def test_a_table_row_on_the_wrong_seat_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, tables, "(<code>{escape(port)}</code>)</td>", "(<code>{escape(bridge)}</code>)</td>")
    # Seen only in the stepper's drawing of the step (the figure() there tells the story's words).
    error = _one_step(figure_errors(POST_ONE, monkeypatch), "bob-writes-to-alice")
    assert "MAC table of podman0 shows" in str(error)


def test_a_wrong_arp_state_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, tables, "<td><code>{escape(n['state'])}</code>", "<td><code>REACHABLE</code>")
    errors = figure_errors(POST_ONE, monkeypatch, step="bob-asks-for-toasters")
    error = _one_step(errors, "bob-asks-for-toasters")
    assert "ARP tables show" in str(error) and "'REACHABLE'" in str(error)


def test_missing_arp_tables_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, tables, "    names = [h for h, t in step.neigh.items() if t]", "    names = []")
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="bob-asks-for-toasters"), "bob-asks-for-toasters")
    assert "the figure says nobody's ARP table has an entry; the trace has entries" in str(error)


def test_arp_tables_left_out_of_an_arp_step_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, macros, "any(h.ethertype == 0x0806 for h in step.frames)", "False")
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="bob-asks-for-toasters"), "bob-asks-for-toasters")
    assert "the room shows no ARP tables for a step that sends ARP" in str(error)


def test_a_knock_that_says_connected_for_a_refusal_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    old = 'words.knock_words(step.outcome)\n        if addr.startswith("127.") and who != host:'
    plant(monkeypatch, graph, old, old.replace("words.knock_words(step.outcome)", '"connected ✓"'))
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="portainer-connects"), "portainer-connects")
    assert "the knock says 'connected'; the trace's connect() returned 'refused'" in str(error)


@pytest.mark.skipif(UNDER_MUTMUT, reason="make mutants: no site to build in mutmut's copy")
def test_a_planted_renderer_fault_fails_the_strict_build(tmp_path: Path) -> None:
    # Post one and the cheapest other (tests/sitecopy.py): `make build` fails on the first post's
    # figure however many posts follow it; every figure of every post is checked above.
    root = copy_small_site(tmp_path / "src", ("margarets-room", "a-name-for-the-host"))
    renderer = root / "netsim" / "render" / "graph.py"
    text = renderer.read_text(encoding="utf-8")
    renderer.write_text(
        text.replace('"forward": ("solid", "forward", "forward")', '"forward": ("dashed", "flood", "flood")')
    )
    shutil.copy2(ROOT / "Makefile", root / "Makefile")
    for req in ROOT.glob("requirements*"):
        shutil.copy2(req, root / req.name)
    (root / ".venv").symlink_to((ROOT / ".venv").resolve())
    result = subprocess.run(
        ["make", "-o", ".venv/.installed", "-o", ".venv/.installed-build", "build"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"NETSIM_CACHE_DIR": "off", "NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode != 0
    assert re.search(
        r"docs/posts/margarets-room\.md:\d+: figure figures/[0-9a-f]{20}\.svg of step \d+ \(alice-replies\): "
        r"frame 1: draws the line podman0->podman0:seat5 as flood; the trace says forward",
        result.stderr,
    ), result.stderr[-3000:]


# --- colours are classes: the figure is read back from them ----------------------------------


def test_a_palette_that_paints_forward_lines_in_flood_s_colour_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # Forward's stand-in colour now turns into flood's class: the drawn line says flood.
    plant(monkeypatch, palette, '"forward": ("#1f6feb",', '"forward": ("#d97706",')
    error = _one_step(figure_errors(POST_ONE, monkeypatch, step="alice-replies"), "alice-replies")
    assert "the trace says forward" in str(error)


def test_no_colour_is_baked_into_a_shipped_diagram() -> None:
    scenario = load_scenario(ROOT / "diagrams" / "margarets-room.yaml")
    for step in run(scenario).steps[:3]:
        for svg in (graph.room(scenario, step), graph.room(scenario, step, narrow=True)):
            assert not re.search(r' (?:fill|stroke)="', svg)
            assert "nc-s-cable" in svg and "nc-f-ink" in svg
    with pytest.raises(ValueError, match="#123456, which is no role"):
        palette.classes('<svg><path fill="#123456" d="M0,0"/></svg>')


# --- the path view of post four: IP headers, rewritten headers, the ledger, ip route get ----------

POST_FOUR = ROOT / "docs" / "posts" / "finding-the-way-out.md"


def _four_step(errors: list[FigureError], step: str) -> FigureError:
    assert errors, "the planted fault went unnoticed"
    assert all(e.file.endswith("finding-the-way-out.md") and e.line > 0 for e in errors)
    found = [e for e in errors if f"({step})" in e.step]
    assert found, [str(e) for e in errors]
    return found[0]


def test_a_ttl_drawn_wrong_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, path, "TTL {header['ttl']}", "TTL 64")
    errors = figure_errors(POST_FOUR, monkeypatch, step="no-way-back")
    error = _four_step(errors, "no-way-back")
    assert "is labelled ('10.88.0.2', '192.168.1.50', 64); its IP header is 10.88.0.2 → 192.168.1.50 TTL 63" in str(
        error
    )


def test_a_rewrite_drawn_backwards_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(
        monkeypatch,
        path,
        'f"before: {rewrite.before}", f"after: {rewrite.after}"',
        'f"before: {rewrite.after}", f"after: {rewrite.before}"',
    )
    error = _four_step(figure_errors(POST_FOUR, monkeypatch, step="masqueraded"), "masqueraded")
    assert "shows header rewrites" in str(error)


def test_a_router_drawn_forwarding_when_it_does_not_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, path, "state = ROUTER_WORDS[step.forwarding.get(host, False)]", "state = ROUTER_WORDS[True]")
    error = _four_step(figure_errors(POST_FOUR, monkeypatch, step="forwarding-off"), "forwarding-off")
    assert "draws laptop with forwarding on; the trace disagrees" in str(error)


def test_a_ledger_row_with_its_directions_swapped_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    reply, original = "tuple_words(str(e['reply']))", "tuple_words(str(e['original']))"
    plant(monkeypatch, tables, f"<td>{{escape({reply})}}</td>", f"<td>{{escape({original})}}</td>")
    errors = figure_errors(POST_FOUR, monkeypatch)
    assert any("the conntrack table of laptop shows" in str(e) for e in errors)


def test_a_route_answer_from_the_wrong_table_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, tables, "{route_get_text(step.route)}", "{route_get_text({'error': 'Network is unreachable'})}")
    errors = figure_errors(POST_FOUR, monkeypatch, step="the-way-out")
    error = _four_step(errors, "the-way-out")
    assert "shows `ip route get` answering 'RTNETLINK answers: Network is unreachable'" in str(error)


POST_SIX = ROOT / "docs" / "posts" / "a-name-for-the-host.md"


def test_a_resolve_answer_from_the_wrong_source_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, tables, 'lines.append(f"answer: {result.address} (from', 'lines.append(f"answer: 10.9.9.9 (from')
    errors = figure_errors(POST_SIX, monkeypatch)
    assert any("shows getaddrinfo() giving '10.9.9.9'; the trace has '10.88.0.1'" in str(e) for e in errors), errors


def test_a_caption_that_names_another_answer_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(scenario: object, step: object, story: bool = False) -> str:
        return words.step_caption(scenario, step, story).replace(": 10.88.0.1.", ": 10.88.0.9.")  # type: ignore[arg-type]

    monkeypatch.setattr(macros, "step_caption", wrong)
    errors = figure_errors(POST_SIX, monkeypatch)
    assert any("the caption says getaddrinfo gave" in str(e) for e in errors), errors
