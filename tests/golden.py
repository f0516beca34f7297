"""The golden figures: the Graphviz source of every diagram the posts draw, kept in tests/golden/.

figfacts (netsim.render.figfacts) holds each figure's meaning to the trace: which lines are
forwards, floods and drops, which doors are knocked on. It cannot see how a figure looks: a
colour, a fill, a line's thickness or dashes on a box, a wrapped title, the order things stand
in. A reader sees all of that, so tests/test_figfacts.py compares the DOT text of every figure of
every post (wide and narrow) with the copy kept here, and fails on any difference.

    make golden        # after a change that should alter figures: rewrite tests/golden, print what changed

The same command keeps tests/golden/bytes-view-words.txt: every sentence the bytes view says of a
field, which tests/test_bytes_view.py compares; and tests/golden/tick-sentences.txt: every sentence a
tick says of what its claim checked, in the posts and on the decoder page, which
tests/test_story_words.py compares; and tests/golden/plan-lines.txt: every command of every
post's try-it script (the plan, which the lab runs too), which tests/test_plan.py compares. Review
`git diff tests/golden` before committing it: every changed line is a change a reader will see.
The DOT text, not the SVG, is kept: it is what netsim writes (Graphviz, pinned, lays it out the
same way every time), a third of the SVG's size, and a diff of it reads as what changed
(`style="rounded,filled"`, `label="..."`).
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def render_posts(root: Path) -> Any:
    """Render every post exactly as the site does (check_page); any error fails. Returns the Book used."""
    from netsim.pages.book import Book
    from netsim.pages.macros import check_page

    book = Book(root)
    for post in sorted((root / "docs" / "posts").glob("*.md")):
        # Every error, not only the figure check's: a renderer that raises is a MacroError.
        errors = check_page(post, root, book)
        if errors:
            raise AssertionError(f"{post.name} does not render cleanly:\n" + "\n".join(map(str, errors)))
    return book


def figures(root: Path = ROOT) -> dict[str, str]:
    """`scenario/step.view[.narrow].dot` -> the DOT text of that figure, for every figure the posts draw.

    The posts are rendered exactly as the site renders them (check_page), afresh, and must render
    without an error: a figure contradicting its trace (figfacts), a false claim, a renderer that
    raises. Each diagram drawn on the way is recorded as the DOT text netsim hands Graphviz for it,
    wide first, then narrow.
    """
    from netsim.pages.macros import Page
    from netsim.render import layout

    drawn: dict[str, str] = {}
    texts: list[str] = []  # the DOT text of each graph netsim hands Graphviz, before its layout
    diagram: Callable[..., tuple[str, str, str]] = Page._diagram
    lay_out: Callable[..., str] = layout.svg

    def recording(self: Page, scenario: object, step: object, view: str, story: bool = False) -> tuple[str, str, str]:
        texts.clear()
        result = diagram(self, scenario, step, view, story)
        wide, narrow = texts  # every view draws exactly these two
        # A figure before a post's reveal speaks the story's words: kept beside the kernel's.
        name = f"{scenario.name}/{step.id}.{view}" + (".story" if story else "")  # type: ignore[attr-defined]
        drawn[f"{name}.dot"], drawn[f"{name}.narrow.dot"] = wide, narrow
        return result

    def laying_out(g: object) -> str:
        texts.append(layout.text(g))  # type: ignore[arg-type]
        return lay_out(g)

    # Drawn afresh: the figure cache would hand back a page's figures without drawing them.
    cache, os.environ["NETSIM_CACHE_DIR"] = os.environ.get("NETSIM_CACHE_DIR"), "off"
    Page._diagram, layout.svg = recording, laying_out  # type: ignore[method-assign]
    try:
        render_posts(root)
    finally:
        Page._diagram, layout.svg = diagram, lay_out  # type: ignore[method-assign]
        if cache is None:
            del os.environ["NETSIM_CACHE_DIR"]
        else:
            os.environ["NETSIM_CACHE_DIR"] = cache
    return drawn


# The bytes view's sentences: what each field of a frame means, as the reader reads it beside the hex.
BYTES_WORDS = GOLDEN / "bytes-view-words.txt"


def bytes_corpus(root: Path = ROOT) -> list[Path]:
    """The posts' scenarios, and the lab's DNS, ICMP and UDP ones for the paths no post takes (an error
    quoting a DNS query, an answer saying NXDOMAIN)."""
    lab = root / "tests" / "lab_scenarios"
    return sorted((root / "diagrams").glob("*.yaml")) + sorted(
        p for p in lab.glob("*.yaml") if p.name.startswith(("dns", "icmp", "udp"))
    )


def bytes_words(root: Path = ROOT) -> str:
    """Every sentence the bytes view says of a field, once: `layer | field | post | sentence`, sorted."""
    from netsim import wire
    from netsim.scenario import load_scenario
    from netsim.simulation import run

    said = {
        f"{f.layer} | {f.name} | {f.post} | {f.means}"
        for path in bytes_corpus(root)
        for step in run(load_scenario(path)).steps
        for hop in step.frames
        for f in wire.fields(hop)
    }
    return "".join(f"{line}\n" for line in sorted(said))


# The sentence beside each tick: what a claim checked, in words (netsim.render.ticks), as the posts and
# the decoder page show it. A wrong word there is a false sentence a reader trusts as checked.
TICK_WORDS = GOLDEN / "tick-sentences.txt"


def tick_sentences(root: Path = ROOT) -> str:
    """Every sentence a tick says, once: `scenario | sentence`, sorted; the posts rendered as the site
    renders them (check_page, which must find no error), then the decoder's checked facts."""
    from netsim import decoder
    from netsim.render import ticks

    said: set[str] = set()
    sentence = ticks.sentence

    def recording(scenario: Any, facts: dict[str, Any], story: bool = False) -> str:
        text = sentence(scenario, facts, story)
        said.add(f"{scenario.name} | {text}")
        return text

    ticks.sentence = recording  # type: ignore[assignment]
    try:
        book = render_posts(root)
        for entry in decoder.load(root).entries:
            for shown in entry.shown_by:
                recording(book.get(shown.step.partition("/")[0])[0], dict(shown.facts))
    finally:
        ticks.sentence = sentence  # type: ignore[assignment]
    return "".join(f"{line}\n" for line in sorted(said))


# The commands of every post's try-it script, which readers run as root: the plan (netsim.plan) as
# labscript writes it, setup then each step, without the script's constant header.
PLAN_LINES = GOLDEN / "plan-lines.txt"
# And a few lab scenarios for what no post does yet: a bridge's port flags, an empty seat, a namespace
# deleted (a step before it reads the deleted host's tables, a step after does not).
PLAN_LAB = (
    "corners-port-flags-all-off.yaml",
    "empty-seat-quiet.yaml",
    "flags-reset-on-replug.yaml",
    "stale-reachable-after-netns-del.yaml",
)


def plan_lines(root: Path = ROOT) -> str:
    """Every command line of each diagram scenario's plan (and PLAN_LAB's), under `## NAME` and `# step ID`."""
    from netsim import plan
    from netsim.render.labscript import line
    from netsim.scenario import load_scenario

    out: list[str] = []
    for path in [
        *sorted((root / "diagrams").glob("*.yaml")),
        *(root / "tests" / "lab_scenarios" / n for n in PLAN_LAB),
    ]:
        s = load_scenario(path)
        out += [f"## {s.name}", *(line(op) for op in plan.setup(s))]
        for step in s.steps:
            out += [f"# step {step.id}", *(line(op) for op in plan.step_ops(s, step))]
    return "".join(f"{text}\n" for text in out)


MEANT = "If the change is meant, run `make golden` and review `git diff tests/golden`."


def words_differ(said: str, kept: Path) -> str:
    """ "" when `said` is the golden file `kept` line for line; else the diff from it, and what to do."""
    now, before = said.splitlines(), kept.read_text(encoding="utf-8").splitlines()
    if now == before:
        return ""
    return "\n".join(difflib.unified_diff(before, now, "golden", "said", lineterm="")) + "\n" + MEANT


def kept(golden: Path = GOLDEN) -> dict[str, str]:
    return {str(p.relative_to(golden)): p.read_text(encoding="utf-8") for p in sorted(golden.rglob("*.dot"))}


def differences(now: dict[str, str], before: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(changed, new, gone) file names."""
    changed = sorted(n for n in now.keys() & before.keys() if now[n] != before[n])
    return changed, sorted(now.keys() - before.keys()), sorted(before.keys() - now.keys())


def summary(now: dict[str, str], before: dict[str, str], diff_lines: int = 40) -> str:
    """What differs, file by file, and the first lines of the first changed file's diff."""
    changed, new, gone = differences(now, before)
    lines = [f"{len(now)} figures: {len(changed)} changed, {len(new)} new, {len(gone)} gone"]
    lines += [f"  changed: {n}" for n in changed] + [f"  new: {n}" for n in new] + [f"  gone: {n}" for n in gone]
    if changed:
        first = changed[0]
        diff = difflib.unified_diff(
            before[first].splitlines(), now[first].splitlines(), f"golden/{first}", f"drawn/{first}", lineterm="", n=1
        )
        lines += list(diff)[:diff_lines]
    return "\n".join(lines)


def write(golden: Path = GOLDEN) -> int:
    now, before = figures(), kept(golden)
    for name, text in now.items():
        path = golden / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if before.get(name) != text:
            path.write_text(text, encoding="utf-8")
    for name in before.keys() - now.keys():
        (golden / name).unlink()
    for folder in sorted(golden.iterdir()) if golden.exists() else []:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    for words, kept_words, whose in (
        (bytes_words(), golden / BYTES_WORDS.name, "the bytes view's words"),
        (tick_sentences(), golden / TICK_WORDS.name, "the ticks' sentences"),
        (plan_lines(), golden / PLAN_LINES.name, "the try-it scripts' commands"),
    ):
        if not kept_words.exists() or kept_words.read_text(encoding="utf-8") != words:
            kept_words.write_text(words, encoding="utf-8")
            print(f"{whose} changed: {kept_words.name}")
    print(summary(now, before, diff_lines=0))
    shown = golden.relative_to(ROOT) if golden.is_relative_to(ROOT) else golden
    print(f"written: {shown}/ (review `git diff {shown}` before committing)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(write())
