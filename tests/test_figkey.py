"""A figure is cached under what it is drawn from (netsim.pages.figkey, issue 23), not under its
scenario file's bytes: an edit to a scenario re-renders the figures it changes, and only those.

A key that misses an input serves a stale figure, a page that disagrees with its scenario: so the
fields the key leaves out are changed in every scenario here and no figure may change, each kind
of field a figure draws is edited under make serve's rebuilds and the post's figures must show it,
and the served site must then be the files a build without any cache writes."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import prerun
import pytest
from conftest import quick
from sitecopy import copy_small_site
from test_serve_rebuild import files, serve

from netsim.errors import NetsimError
from netsim.pages import figkey
from netsim.pages.book import Book
from netsim.pages.macros import Page, _auto_view
from netsim.render.words import NoStoryWords
from netsim.scenario import Scenario, load_scenario
from netsim.simulation import run
from netsim.trace import StepTrace, Trace

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "diagrams").glob("*.yaml"))


class Given(Book):
    """A book holding one scenario and its trace as given, not as read from diagrams/."""

    def __init__(self, scenario: Scenario, trace: Trace) -> None:
        super().__init__(ROOT)
        self._loaded[scenario.name] = (scenario, trace)
        self._digest[scenario.name] = "given"


def drawn(scenario: Scenario, trace: Trace, step: StepTrace) -> list[str]:
    """Every figure of `step` the site can show, with its read-back check's verdicts: in the prose,
    in the stepper (with its bytes), and in the story's words where its view is the room."""
    page = Page(Given(scenario, trace), "docs/posts/test.md", "", scenario.name)
    index = trace.steps.index(step) + 1
    made = [
        page._step_figure(scenario, trace, step, f"{scenario.name}-figure-{index}"),
        page._step_figure(scenario, trace, step, f"{scenario.name}-step-{index}", "auto", None, "ns-step", True),
    ]
    if _auto_view(scenario, step) == "room":
        try:
            made.append(page._step_figure(scenario, trace, step, f"{scenario.name}-story-{index}", story=True))
        except (NetsimError, NoStoryWords) as exc:  # a scenario without the story's words: the same error
            made.append(repr(exc))
    for marker, inner in page.set_aside.items():  # as the site's on_post_page hook puts them back
        made = [html.replace(marker, inner) for html in made]
    return made + [str(e) for e in page.errors]


def retitled(scenario: Scenario, keep: str) -> Scenario:
    """The scenario with every field figkey leaves out changed, except the title of step `keep`."""
    steps = [s if s.id == keep else dataclasses.replace(s, title=f"Retitled {s.id}") for s in scenario.steps]
    return dataclasses.replace(scenario, title="Retitled", description="Described otherwise.", steps=steps)


@pytest.mark.parametrize("path", SCENARIOS[::4] if quick() else SCENARIOS, ids=lambda p: p.stem)
def test_no_figure_draws_what_its_key_leaves_out(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scenario's title and description and every other step's title change, and each step's
    figures are drawn again from the changed scenario: byte for byte the same, as the key says."""
    changed = {("Scenario", "title"), ("Scenario", "description"), ("Step", "title")}  # what retitled() changes
    assert changed == figkey.LEFT_OUT, "a field left out of the key must be changed by retitled() too"
    monkeypatch.setenv("NETSIM_CACHE_DIR", "off")  # every figure drawn, none served
    scenario = load_scenario(path)
    trace = run(scenario)
    for step in trace.steps:
        other = retitled(scenario, step.id)
        other_trace = run(other)
        other_step = other_trace.step(step.id)
        assert figkey.figure_key(other, other_trace, other_step) == figkey.figure_key(scenario, trace, step)
        assert drawn(other, other_trace, other_step) == drawn(scenario, trace, step), (path.stem, step.id)


def test_the_key_changes_with_what_is_drawn_and_refuses_what_it_cannot_write() -> None:
    scenario = load_scenario(ROOT / "diagrams" / "margarets-room.yaml")
    trace = run(scenario)
    step = trace.steps[0]
    key = figkey.figure_key(scenario, trace, step)

    def changed(**fields: object) -> str:
        other = dataclasses.replace(step, **fields)
        return figkey.figure_key(scenario, dataclasses.replace(trace, steps=[other, *trace.steps[1:]]), other)

    assert changed(title="Other") != key
    assert changed(time=step.time + 1e-9) != key
    hosts = dict(reversed(scenario.hosts.items()))  # the order of hosts is drawn
    assert figkey.figure_key(dataclasses.replace(scenario, hosts=hosts), trace, step) != key
    assert figkey.canonical([1]) != figkey.canonical([1.0]) != figkey.canonical([True]) != figkey.canonical(["1"])
    with pytest.raises(TypeError):
        figkey.canonical(object())


def test_make_serve_works_out_a_step_s_key_once_per_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    """Books sharing traces and a memo (make serve's rebuilds while netsim's code is unchanged) work
    a step's key out once: a prose edit does not write its scenario's traces out again."""
    calls: list[str] = []
    real = figkey.figure_key
    monkeypatch.setattr(figkey, "figure_key", lambda s, t, step: calls.append(step.id) or real(s, t, step))
    traces: dict = {}
    memo: dict = {}
    for _rebuild in range(2):
        page = Page(Book(ROOT, traces, memo), "docs/posts/test.md", "", "margarets-room")
        page.figure("alice-replies")
        page.stepper()
    _scenario, trace = Book(ROOT).get("margarets-room")
    assert sorted(calls) == sorted(step.id for step in trace.steps)


# make serve's rebuilds (tests/test_serve_rebuild.py), each followed by the figures it rendered: the
# files it added to the figure cache that hold a figure.
COUNTED = """
import json, sys
from pathlib import Path
from mkdocs.config import load_config
from mkdocs.commands.build import build

root, out, cache, edits = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4])
URL = "http://127.0.0.1:8000/"
import serve
serve.keep_between_rebuilds()

def rebuild(first=False):
    config = load_config(config_file=str(root / "mkdocs.yml"), site_dir=str(out / "site"))
    if first:
        config.plugins.on_startup(command="serve", dirty=False)
    config.site_url = URL
    build(config, serve_url=URL)

def figures():
    return {p.name for p in (cache / "made").glob("*.html") if p.read_bytes().startswith(b"<figure")}

rebuild(first=True)
import shutil
shutil.copytree(out / "site", out / "before")
rendered = []
for file, old, new, keep in edits:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (file, old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    was = figures()
    rebuild()
    rendered.append(len(figures() - was))
    shutil.copytree(out / "site", out / keep)
print(json.dumps(rendered))
"""

SCENARIO = "diagrams/margarets-room.yaml"
POST = Path("posts") / "margarets-room.html"
# Each kind of field a figure of post one draws, then what none draws: (old, new, shown in a figure).
DRAWN = [
    ("label: Carlos", "label: Carla", "Carla"),  # a host's name as the figures say it
    ("address: 10.88.0.7/16", "address: 10.88.0.17/16", "10.88.0.17"),
    ("mac: ca:12:34:56:78:9a", "mac: ca:12:34:56:78:9c", "ca:12:34:56:78:9c"),
    ("seat7: {label: seat 7}", "seat7: {label: seat 8}", "seat 8"),  # a port
]
COMMENT = ("# Every address, badge and port the post mentions", "# Each address, badge and port the post mentions")
# One step's title: drawn by that step's figures alone, the one in the prose and the stepper's.
TITLE = ("title: Alice writes back", "title: Alice writes back at once", "Alice writes back at once")


def figures_of(page: str) -> list[str]:
    return re.findall(r'<figure class="ns-figure.*?</figure>', page, re.S)


# Post one, whose scenario every edit below is made to, and the cheapest other (tests/sitecopy.py;
# the decoder needs a post of its words): which figures an edit renders again is per scenario, and
# the first build and the uncached reference render every page, so a post more only costs.
POSTS = ("margarets-room", "a-name-for-the-host")


def test_a_scenario_edit_re_renders_the_figures_it_changes_and_only_those(tmp_path: Path) -> None:
    root = copy_small_site(tmp_path / "served", POSTS)
    out, cache = tmp_path / "served-out", tmp_path / "cache"
    edits = [(SCENARIO, COMMENT[0], COMMENT[1], "after-comment")]
    edits += [(SCENARIO, old, new, f"after-{n}") for n, (old, new, _shown) in enumerate(DRAWN)]
    edits += [(SCENARIO, TITLE[0], TITLE[1], "after-title")]
    done = prerun.python(
        ["-c", COUNTED, str(root), str(out), str(cache), json.dumps(edits)],
        cwd=root,
        env={**os.environ, "NETSIM_CACHE_DIR": str(cache)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rendered = json.loads(done.stdout.strip().splitlines()[-1])
    before = (out / "before" / POST).read_text(encoding="utf-8")
    # Every figure of the scenario the site shows (two of a step differ in their view or words), each
    # as the cache keeps it: the path back to the site's root is put in per page.
    every = len(
        {
            re.sub(r'"(\.\./)*figures/', '"figures/', f)
            for html in (out / "before").rglob("*.html")
            for f in figures_of(html.read_text(encoding="utf-8"))
            if re.match(r'<figure[^>]* id="margarets-room-', f)
        }
    )
    # A comment: no figure rendered, the post as it was.
    assert rendered[0] == 0, rendered
    assert (out / "after-comment" / POST).read_text(encoding="utf-8") == before
    # A drawn field: every figure of the scenario rendered again (each draws the room's hosts and
    # seats), and the post's figures show the new value.
    previous = before
    for n, (_old, _new, shown) in enumerate(DRAWN):
        page = (out / f"after-{n}" / POST).read_text(encoding="utf-8")
        assert rendered[1 + n] == every > 2, (shown, rendered, every)
        assert any(shown in f for f in figures_of(page)) and not any(shown in f for f in figures_of(previous)), shown
        previous = page
    # One step's title: its two figures (the prose's and the stepper's), no other.
    page = (out / "after-title" / POST).read_text(encoding="utf-8")
    assert rendered[-1] == 2, rendered
    changed = [f for f, g in zip(figures_of(page), figures_of(previous), strict=True) if f != g]
    assert len(changed) == 2 and all(TITLE[2] in f for f in changed), changed

    # The served site as each edit left it is the site a build without any cache writes (under
    # --quick, as the last edit left it: a figure an earlier edit left stale would still be there).
    for n in [len(edits) - 1] if quick() else range(len(edits)):
        fresh = copy_small_site(tmp_path / f"fresh-{n}", POSTS)
        for file, old, new, _keep in edits[: n + 1]:
            path = fresh / file
            path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        serve(fresh, tmp_path / f"fresh-{n}-out", [], cache="off")
        want, got = files(tmp_path / f"fresh-{n}-out" / "site"), files(out / edits[n][3])
        assert sorted(got) == sorted(want), set(got) ^ set(want)
        different = [name for name in want if got[name] != want[name]]
        assert not different, (edits[n][3], different)
