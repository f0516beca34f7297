"""The macros a post calls: figures of steps, checked claims, and values from the scenario.

One `Page` lives for the rendering of one Markdown file. Its methods are the functions a page
can call (`claim`, `figure`, `mac`, ...). The same class serves mkdocs-macros during a build and
`check_page()` in the tests, so what the tests check is what the site renders.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from netsim import claims, tcp
from netsim.errors import (
    ClaimError,
    FigureError,
    MacroError,
    NetsimError,
    ScenarioError,
    UnclaimedStep,
    UnknownName,
)
from netsim.pages import figkey, lazy, postguard
from netsim.pages.book import LATE_CODE, Book, SharedImage
from netsim.render import bytes_view, escape, figfacts, graph, palette, path, preview, tables, tcpdump, text, ticks
from netsim.render.words import NoStoryWords, capital, kernel_words, label, port_label, read_words, step_caption
from netsim.scenario import Scenario, Step
from netsim.schema import field_reference
from netsim.trace import StepTrace, Trace

log = logging.getLogger("mkdocs.plugins.netsim")
# The commands on_your_machine() knows.
ON_YOUR_MACHINE = ("ip neigh", "bridge fdb show", "ss -ltn", "ss -ltnp", "cat /etc/hosts", "tcpdump")
CLAIM_CALL = re.compile(r"\{\{-?\s*(?:claim|given)\(")
MACRO_CALL = re.compile(r"\{\{-?\s*(\w+)\(")
ERRNO_TEXT = {
    "refused": "connection refused",
    "host-unreachable": "no route to host",
    "network-unreachable": "network is unreachable",
    "timeout": "connection timed out",
    # Go's own deadline: net.Dialer returns os.ErrDeadlineExceeded, whose text is "i/o timeout", in an
    # OpError with no "connect:" (no system call failed; the dialer stopped waiting).
    "deadline": "i/o timeout",
}


def _in_netns(host: str, command: str) -> str:
    """A laptop's command run in a container's network namespace. Not `podman exec`: many images
    (Portainer's among them, built FROM scratch) carry no ip, ss or cat; nsenter brings the laptop's."""
    return f"sudo nsenter -n -t \"$(sudo podman inspect -f '{{{{.State.Pid}}}}' {host})\" {command}"


@dataclass(frozen=True)
class RecordedClaim:
    """One claim() or given() call on a page, as the claim audit replays it."""

    file: str
    line: int
    scenario: str
    step: str
    facts: dict[str, Any]
    setup: bool


class Page:
    MACROS = postguard.MACROS

    def __init__(self, book: Book, file: str, source: str, scenario: str | None, inline: bool = False) -> None:
        self.book = book
        # With a generator that runs no hooks after a page (Zensical), nothing is set aside to be put
        # back later: figures go into the page as they are, and an error is its box at once.
        self.inline = inline
        self.file = file  # as a person finds it: docs/posts/...md
        self.source = source  # the whole file, front matter included, for line numbers
        self.default = scenario
        self.errors: list[NetsimError] = []
        self.set_aside: dict[str, str] = {}  # marker -> figure contents, restored after Markdown
        self._claims = 0
        self._shown: dict[str, int] = {}  # "scenario/step" -> line of the figure
        self._claimed: set[str] = set()
        self.recorded: list[RecordedClaim] = []  # every claim and given, for the claim audit
        self._claim_lines = [source.count("\n", 0, m.start()) + 1 for m in CLAIM_CALL.finditer(source)]
        # Where each macro call is, in the whole file (front matter included), in the order Jinja
        # makes them: a post calls macros only with literal arguments (postguard), never in loops.
        self._call_lines: dict[str, list[int]] = {}
        for m in MACRO_CALL.finditer(source):
            self._call_lines.setdefault(m.group(1), []).append(source.count("\n", 0, m.start()) + 1)
        self._calls: dict[str, int] = {}
        self._line = 0  # the line of the macro call running now
        # Each error is a mark in the page (letters and digits only: safe in prose, code spans and
        # attributes alike), replaced in the finished HTML by hooks.on_post_page with a red box, or
        # with plain text inside a tag. A mark with None becomes nothing (a claim that was there).
        self.marks: dict[str, tuple[str, str] | None] = {}
        self._pending: dict[str, list[str]] = {}  # "scenario/step" -> marks for a missing claim
        self._seen: set[str] = set()
        # Set-aside markers of the figures drawn in the prose, and of the stepper's steps after
        # the first (shown later, netsim.pages.lazy): a later step reuses a drawing of the prose.
        self._prose: list[str] = []
        self._later: list[str] = []
        self._lazy: list[str] = []  # other set-aside parts inside a noscript (the try-it script)
        # Inline mode (Zensical): the drawings the prose has drawn so far. A post's stepper comes
        # after its prose, so its later steps point at those as finish() does under MkDocs.
        self._drawn_inline: set[str] = set()
        self.first: tuple[Scenario, StepTrace, str] | None = None  # the first figure: the share image
        self._reveal: int | tuple[int, Any] | None = None  # the reveal heading's line (0: none), or where it is wrong
        self._keys: dict[int, tuple[StepTrace, str]] = {}  # id(step) -> (step, its figkey.figure_key), for this page

    # --- looking things up --------------------------------------------------------------

    def _resolve(self, ref: str) -> tuple[Scenario, Trace, str]:
        name, _, step = ref.rpartition("/")
        name = name or self.default
        if not name:
            raise MacroError(self.file, self._line, f"{ref!r} names no scenario; set 'scenario:' in the front matter")
        if not self.book.path(name).exists():
            known = sorted(p.stem for p in self.book.path(name).parent.glob("*.yaml"))
            # From the front matter: one cause, at its line, however many macros ask.
            line = self._line_of("\nscenario:") + 1 if name == self.default else self._line
            raise UnknownName(self.file, line, f"no scenario {name!r} (diagrams/{name}.yaml)", known)
        scenario, trace = self.book.get(name)
        return scenario, trace, step

    def _scenario(self, name: str | None = None) -> Scenario:
        return self._resolve(f"{name or ''}/x" if name else "x")[0]

    def _fail(self, error: NetsimError, mark: str | None = None) -> str:
        """Report an error once per cause: one log line per build, one box in the page, here."""
        message = str(error)
        if message in self._seen:
            return ""
        self._seen.add(message)
        self.errors.append(error)
        if message not in self.book.logged:
            self.book.logged.add(message)
            log.warning(f"{error.kind}: {message}")
        mark = mark or self._mark()
        self.marks[mark] = (error.kind, message)
        if self.inline:
            return error_box(error.kind, message)
        return mark

    def _mark(self) -> str:
        mark = f"nsmark{zlib.crc32(self.file.encode())}x{len(self.marks)}x"  # the same on every build
        self.marks[mark] = None
        return mark

    def _unknown(self, macro: str, args: tuple[Any, ...], kwargs: dict[str, Any], exc: KeyError) -> NetsimError:
        """A KeyError from a lookup, as an Unknown name error listing the names there are."""
        text = str(exc.args[0]) if exc.args else ""
        if text.startswith("no step "):  # Trace.step: "no step 'x' in scenario s; expected one of: ..."
            what, _, known = text.partition("; expected one of: ")
            return UnknownName(self.file, self._line, f"{macro}(): {what}", known.split(", "))
        try:
            scenario = self._scenario(kwargs.get("scenario"))
        except NetsimError:
            return MacroError(self.file, self._line, f"{macro}(): unknown name {text!r}")
        if text not in scenario.hosts:
            return UnknownName(
                self.file, self._line, f"{macro}(): no host {text!r} in {scenario.name}", sorted(scenario.hosts)
            )
        host = scenario.hosts[text]
        devs = sorted(host.interfaces)
        return UnknownName(self.file, self._line, f"{macro}(): {text!r} has no such interface", devs)

    # --- macros: claims -----------------------------------------------------------------

    def claim(self, ref: str, **facts: Any) -> str:
        """State facts about a step's outcome; rendered as a small tick, or as a red box when false."""
        return self._check(ref, facts, setup=False)

    def given(self, ref: str, **facts: Any) -> str:
        """State facts that describe a step's set-up (what was done, not what came of it).

        Checked like a claim, but rendered apart from the ticks: the claim audit cannot make such
        a fact false without changing the input itself, so it must not look like a checked outcome.
        """
        return self._check(ref, facts, setup=True)

    def _check(self, ref: str, facts: dict[str, Any], setup: bool) -> str:
        index = self._claims
        self._claims += 1
        line = self._claim_lines[index] if index < len(self._claim_lines) else 0
        text = f"{ref} " + ", ".join(f"{k}={v!r}" for k, v in facts.items())
        try:
            scenario, trace, step = self._resolve(ref)
            failures = claims.check(scenario, trace, step, dict(facts))
        except NetsimError as exc:
            return self._fail(exc)
        except KeyError as exc:
            self._line = line
            return self._fail(self._unknown("claim", (ref,), facts, exc))
        self._claimed.add(f"{scenario.name}/{step}")
        self.recorded.append(RecordedClaim(self.file, line, scenario.name, step, dict(facts), setup))
        if failures:
            return self._fail(ClaimError(self.file, line, text, "; ".join(failures)))
        # In the middle of prose, which Markdown reads after this: escaped for Markdown (character
        # references, valid in an attribute too), since the sentence carries the scenario's labels.
        self._line = line or self._line  # the claim's own line: where it stands against the reveal
        try:  # before the reveal, the tick speaks the story, as the figures there do
            said = ticks.sentence(scenario, dict(facts), story=self._before_reveal())
        except NoStoryWords as exc:
            self._line = line
            return self._fail(MacroError(self.file, line, f"claim {text}: {exc}"))
        tip = escape.markdown(said)
        if setup:  # set-up, not an outcome: no tick, so it never passes for a checked result
            given = "Set-up, not an outcome (the scenario says so; the simulation agrees): " + escape.markdown(
                said.removeprefix("Checked: ")
            )
            return f'<button type="button" class="ns-given" aria-label="{given}" data-tip="{given}">set-up</button>'

        return f'<button type="button" class="ns-claim" aria-label="{tip}" data-tip="{tip}">✓</button>'

    # --- macros: figures ----------------------------------------------------------------

    def figure(self, ref: str, view: str = "auto", neigh: bool | None = None) -> str:
        """The diagram of one step, its caption, the MAC table and (for ARP) the ARP tables."""
        try:
            scenario, trace, step_id = self._resolve(ref)
            step = trace.step(step_id)
        except NetsimError as exc:
            return self._fail(exc)
        except KeyError as exc:
            return self._fail(self._unknown("figure", (ref,), {}, exc))
        key = f"{scenario.name}/{step.id}"
        self._shown.setdefault(key, self._line or self._line_of(f'"{step.id}"'))
        index = trace.steps.index(step) + 1
        story = self._before_reveal()
        figure = self._step_figure(scenario, trace, step, f"{scenario.name}-figure-{index}", view, neigh, story=story)
        self._prose += SET_ASIDE.findall(figure)
        if self.inline:  # nothing set aside: the drawings are in the figure itself
            self._drawn_inline |= lazy.drawn_inline(figure)
        if self.first is None:
            self.first = (scenario, step, _auto_view(scenario, step) if view == "auto" else view)
        return figure + self._claim_mark(key)

    def _before_reveal(self) -> bool:
        """Whether the macro running now stands before the heading the front matter's `reveal:` names:
        the story's part of the post, whose figures speak the story's words (netsim.render.words)."""
        if self._reveal is None:  # the page's source is fixed: its headings are read once, not per macro
            meta, _body = split_front_matter(self.source)
            heading = meta.get("reveal")
            found = headings(self.source).get(str(heading).strip()) if heading is not None else 0
            self._reveal = found if found is not None else (_key_line(self.source, "reveal"), heading)
        if isinstance(self._reveal, tuple):
            at, heading = self._reveal
            raise MacroError(
                self.file, at, f"reveal: {heading!r} is no heading of this page; expected the heading's text"
            )
        return self._line < self._reveal if self._reveal else False

    def _claim_mark(self, key: str) -> str:
        """A place for the box saying no claim checks this step; empty once a claim does (finish())."""
        if self.inline:  # no end of page to come back at: the primary build is the one that checks this
            return ""
        mark = self._mark()
        self._pending.setdefault(key, []).append(mark)
        return mark

    def _step_figure(
        self,
        scenario: Scenario,
        trace: Trace,
        step: StepTrace,
        element_id: str,
        view: str = "auto",
        neigh: bool | None = None,
        extra_class: str = "",
        show_bytes: bool = False,
        story: bool = False,
    ) -> str:
        parts = (
            scenario.name,
            self._figure_key(scenario, trace, step),  # what it is drawn from, not the whole file (issue 23)
            step.id,
            element_id,
            view,
            repr(neigh),
            extra_class,
            repr(show_bytes),
            repr(story),
        )
        figure = self.book.figures.get(
            parts,
            lambda: self._render_figure(scenario, trace, step, element_id, view, neigh, extra_class, show_bytes, story),
        )
        self.book.used_figures.update(FIGURE_NAME.findall(figure))
        before = set(self.marks)
        self._check_figure(scenario, trace, step, figure, neigh)
        problems = "".join(  # boxes right below the figure
            error_box(*self.marks[m]) if self.inline and self.marks[m] else m for m in self.marks if m not in before
        )
        return self._set_aside(figure.replace(FIGURE_ROOT, self._root())) + problems

    def _check_figure(
        self, scenario: Scenario, trace: Trace, step: StepTrace, figure: str, neigh: bool | None = None
    ) -> None:
        """Read back what the shipped figure depicts and fail the build where it contradicts the trace.

        Runs on every build, on cached figures too: a cache hit is checked like a fresh render.
        """
        drawn = INLINE_SVG.findall(figure)  # (layout, name, svg) as the page ships them
        caption = re.search(r"<figcaption>(.*?)</figcaption>", figure, re.S)
        body = figure[caption.end() :] if caption else figure
        index = trace.steps.index(step) + 1
        where = f"step {index} ({step.id})"
        line = self._shown.get(f"{scenario.name}/{step.id}", 0)
        if [layout for layout, _n, _s in drawn] != ["wide", "narrow"] or caption is None:
            found = f"{len(drawn)} diagram(s)" + ("" if caption else " and no caption")
            self._fail(
                FigureError(
                    self.file,
                    line,
                    "(no diagram)",
                    where,
                    f"expected a wide and a narrow diagram and a caption, found {found}",
                )
            )
            return
        said = caption.group(1)

        def check() -> list[tuple[str, list[str]]]:
            return [(name, figfacts.check(scenario, step, svg, said, body, neigh)) for _l, name, svg in drawn]

        # The same figure of the same step checks the same: make serve checks it again only when it changed.
        key = ("figfacts", scenario.name, self._figure_key(scenario, trace, step), step.id, figure, repr(neigh))
        for name, problems in self.book.remember(key, check):  # each layout is a figure of its own: both must agree
            if problems:
                self._fail(FigureError(self.file, line, f"figures/{name}.svg", where, "; ".join(problems)))

    def _figure_key(self, scenario: Scenario, trace: Trace, step: StepTrace) -> str:
        """figkey.figure_key(), once per step on this page (its prose figure and its stepper's share it)
        and, under make serve, once per scenario: the whole of it (its titles too) determines its
        trace while netsim's code is unchanged (Book's memo lasts no longer), so a prose edit pays
        nothing. Not by the file's digest: Book.get may read a file again that changed meanwhile."""
        found = self._keys.get(id(step))
        if found is None or found[0] is not step:
            memo = ("figkey", scenario.name, figkey.scenario_key(scenario, whole=True), step.id)
            found = self._keys[id(step)] = (
                step,
                self.book.remember(memo, lambda: figkey.figure_key(scenario, trace, step)),
            )
        return found[1]

    def _set_aside(self, figure: str) -> str:
        """Keep the figure's inside out of Markdown and search: they only need its outer element.

        The same keeps escaped HTML (code blocks, the try-it box) away from Markdown, which
        could otherwise read a scenario's text as a fence, a link or a new block.

        The page gets `<figure ...><!--netsim:N--></figure>`, so its id still anchors links; the
        site's on_post_page hook puts the inside back into the finished HTML.
        """
        match = re.match(r"(<([a-z]+)\b[^>]*>)(.*)(</\2>)\Z", figure, re.S)
        if match is None:
            return figure
        if self.inline:
            # Nothing can be set aside (no hook puts it back), so the search is told to skip it, as
            # it skips what is set aside under MkDocs: Zensical leaves out an element so marked
            # (and drops the attribute from the page it writes).
            return match.group(1)[:-1] + lazy.UNSEARCHED + ">" + match.group(3) + match.group(4)
        marker = f"<!--netsim:{len(self.set_aside)}-->"
        self.set_aside[marker] = match.group(3)
        return match.group(1) + marker + match.group(4)

    def _late_code(self, text: str, language: str) -> str:
        """What _set_aside(escape.code(text, language)) gives, its inside left to a late job: the page
        needs it only when hooks.on_post_page puts it back, once every page is made."""
        head, tail = _code_outside(language)
        marker = f"<!--netsim:{len(self.set_aside)}-->"
        self.set_aside[marker] = LATE_CODE + language + "\0" + text
        self.book.late.later(("code", self.set_aside[marker]))
        return head + marker + tail

    def _root(self) -> str:
        """From this page back to the site's root: docs/posts/x.md -> '../'."""
        return "../" * max(0, len(Path(self.file).parts) - 2)

    def _render_figure(
        self,
        scenario: Scenario,
        trace: Trace,
        step: StepTrace,
        element_id: str,
        view: str,
        neigh: bool | None,
        extra_class: str,
        show_bytes: bool,
        story: bool = False,
    ) -> str:
        index = trace.steps.index(step) + 1
        if view == "auto":
            view = _auto_view(scenario, step)
        key = (scenario.name, step.id, view, story)
        if key not in self.book.diagrams:  # an inline figure and the stepper show the same diagram
            self.book.diagrams[key] = self._diagram(scenario, step, view, story)
        wide, narrow, alt = self.book.diagrams[key]
        show_neigh = neigh if neigh is not None else any(h.ethertype == 0x0806 for h in step.frames)
        parts = [
            f'<figure class="ns-figure {extra_class}" id="{escape.html(element_id)}" data-step="{index}" '
            f'data-steps="{len(trace.steps)}">',
            self._drawing(wide, narrow, alt),
            f"<figcaption><strong>Step {index} of {len(trace.steps)}: "
            f"{escape.html(step.title or step.id)}.</strong> "
            f"{escape.html(step_caption(scenario, step, story))}</figcaption>",
        ]
        if view == "room":
            parts.append(tables.fdb_table(scenario, step, story))
            if show_neigh:
                parts.append(tables.neigh_table(scenario, step))
        if step.resolved is not None:
            lookup = scenario.step(step.id).resolve
            if lookup is not None:
                parts.append(tables.resolve_answer(scenario, step, lookup.by))
        if view == "path":
            action = scenario.step(step.id)
            if action.route_get is not None:
                parts.append(tables.route_answer(scenario, step, action.route_get.by, action.route_get.to))
            parts.append(tables.conntrack_table(scenario, step))
        if show_bytes and step.frames:
            parts.append(bytes_view.render(scenario, step, root=FIGURE_ROOT))
        parts.append("</figure>")
        return "\n".join(parts)

    def stepper(self, scenario: str | None = None) -> str:
        """Every step of a scenario in one figure, with Previous / Next, keys and a link per step."""
        s = self._scenario(scenario)
        _, trace = self.book.get(s.name)
        capture = self._root() + f"captures/{escape.url(s.name + '.pcap')}"
        for step in trace.steps:  # every step is shown here, so each needs a claim somewhere
            self._shown.setdefault(f"{s.name}/{step.id}", self._line or self._line_of("stepper("))
        missing = "".join(self._claim_mark(f"{s.name}/{step.id}") for step in trace.steps)
        if self.first is None and trace.steps:
            self.first = (s, trace.steps[0], _auto_view(s, trace.steps[0]))
        figures = []
        for n, step in enumerate(trace.steps, 1):
            ident = f"{s.name}-step-{n}"
            figure = self._step_figure(s, trace, step, ident, extra_class="ns-step", show_bytes=True)
            markers = SET_ASIDE.findall(figure)
            if n == 1:  # on show at first: live, but its bytes wait until the reader opens them
                for marker in markers:
                    self.set_aside[marker] = lazy.bytes_later(self.set_aside[marker], f"{ident}-bytes")
                if self.inline:
                    figure = lazy.bytes_later(figure, f"{ident}-bytes")
            else:  # the rest wait until the reader steps to them (netsim.pages.lazy)
                self._later += markers
                if self.inline:
                    figure = lazy.shared_diagrams(figure, self._drawn_inline)
                figure = lazy.later(figure, ident)
            figures.append(figure)
        controls = (
            '<div class="ns-stepper-controls">'
            '<button type="button" class="md-button ns-prev" aria-label="Previous step">◀ Previous</button>'
            f'<span class="ns-count" aria-live="polite">Step 1 of {len(trace.steps)}</span>'
            '<button type="button" class="md-button ns-next" aria-label="Next step">Next ▶</button>'
            "</div>"
        )
        return (
            "\n".join(
                [
                    f'<div class="ns-stepper" data-scenario="{escape.html(s.name)}" tabindex="0" role="group" '
                    f'aria-label="{escape.html(s.title)}: step through the scenario with the arrow keys"'
                    f"{lazy.UNSEARCHED if self.inline else ''}>",
                    controls,
                    *figures,
                    f'<p class="ns-capture">Every frame of this scenario, with the simulated times: '
                    f'<a href="{capture}" download>{escape.html(s.name)}.pcap</a> (open it in Wireshark).</p>',
                    "</div>",
                ]
            )
            + missing
        )

    def _drawing(self, wide: str, narrow: str, alt: str) -> str:
        """Both layouts of a diagram, inline so the theme's colours reach them; the page shows the
        wide one only where it fits without shrinking its text below the page's small text."""
        fit = palette.fit_class(wide)
        inner = "".join(
            _inline(self.book.figures.store_svg(svg), svg, alt, layout)
            for layout, svg in (("wide", wide), ("narrow", narrow))
        )
        return f'<div class="ns-diagram {fit}">{inner}</div>'

    def _diagram(self, scenario: Scenario, step: StepTrace, view: str, story: bool = False) -> tuple[str, str, str]:
        """(wide SVG, narrow SVG, text alternative) of one step in one view; `story`: in the story's words."""
        if story and view != "room":
            raise MacroError(
                self.file, self._line, f"figure(): the story's words are drawn in the room view only, not {view!r}"
            )
        if view == "namespaces":
            action = scenario.step(step.id)
            knock = (action.connect.by, action.connect.to) if action.connect else None
            alt = _namespaces_alt(scenario, step, knock)
            return graph.namespaces(scenario, step, knock), graph.namespaces(scenario, step, knock, narrow=True), alt
        if view == "rooms":
            return self._rooms(scenario, step)
        if view == "tunnel":
            return self._tunnel(scenario, step)
        if view == "path":
            action = scenario.step(step.id)
            knock = (action.connect.by, action.connect.to) if action.connect else None
            alt = _path_alt(scenario, step, knock)
            return path.render(scenario, step, knock), path.render(scenario, step, knock, narrow=True), alt
        return (
            graph.room(scenario, step, story=story),
            graph.room(scenario, step, narrow=True, story=story),
            _room_alt(scenario, step, story),
        )

    def _tunnel(self, scenario: Scenario, step: StepTrace) -> tuple[str, str, str]:
        forward = next(s.ssh_forward for s in scenario.steps if s.ssh_forward)
        client = forward.by
        # The host whose sshd answered, as the simulation found it (of two holding the address, the one
        # the route reached); before the tunnel stands, the first host holding the address.
        held = (h for h in scenario.hosts if any(str(a.ip) == forward.server for a in scenario.addresses(h)))
        server = next((t["server"] for t in step.tunnels if t["client"] == client), None) or next(held)
        action = scenario.step(step.id)
        knock = (action.connect.by, action.connect.to) if action.connect else None
        tunnels = [t["listen"] for t in step.tunnels]
        alt = capital(
            f"{label(scenario, client)} and {label(scenario, server)}, each with its rooms; "
            f"ssh -L listens on {', '.join(tunnels) or 'nothing yet'}, each joined to sshd by an SSH connection."
        )
        if knock:
            alt += " " + _knock_alt(scenario, step, knock)
        if step.reads is not None:
            alt += f" Then it reads {read_words(step.reads)}."
        if step.channel is not None:
            alt += f" The server's channel {step.channel['n']}: {step.channel['outcome']}."
        return (
            graph.tunnel(scenario, step, client, server, knock),
            graph.tunnel(scenario, step, client, server, knock, narrow=True),
            alt,
        )

    def _rooms(self, scenario: Scenario, step: StepTrace) -> tuple[str, str, str]:
        action = scenario.step(step.id)
        owner = next(iter(scenario.bridges.values())).host if scenario.bridges else next(iter(scenario.hosts))
        knock = (action.connect.by, action.connect.to) if action.connect else None
        doors = ", ".join(step.listeners.get(owner, [])) or "nothing"
        alt = f"The rooms {label(scenario, owner)} sits in: its loopback room and each bridge. It listens on {doors}."
        if knock:
            alt += " " + _knock_alt(scenario, step, knock)
        return graph.rooms(scenario, step, owner, knock), graph.rooms(scenario, step, owner, knock, narrow=True), alt

    # --- macros: values from the scenario -------------------------------------------------

    def mac(self, host: str, dev: str | None = None, at: str | None = None, scenario: str | None = None) -> str:
        """A host's badge; `at` a step reads it from the trace, for interfaces that steps create."""
        if at is None:
            return _mac(self._scenario(scenario).host_mac(host, dev))
        _s, trace, step_id = self._resolve(f"{scenario}/{at}" if scenario else at)
        link = trace.step(step_id).links.get(host, {}).get(dev or "eth0")
        if link is None:
            devs = sorted(trace.step(step_id).links.get(host, {}))
            what = f"mac(): {host} has no interface {dev or 'eth0'} at {step_id}"
            raise UnknownName(self.file, self._line, what, devs)
        return _mac(link["mac"])

    def ip(self, host: str, scenario: str | None = None) -> str:
        return str(self._scenario(scenario).addresses(host)[0].ip)

    def seat(self, host: str, scenario: str | None = None) -> str:
        s = self._scenario(scenario)
        found = s.port_of(host)
        if found is None:
            raise MacroError(self.file, self._line, f"seat({host!r}): {host} is not plugged into a bridge")
        return escape.markdown(port_label(s, *found))

    def step_link(self, ref: str, text: str | None = None) -> str:
        scenario, trace, step_id = self._resolve(ref)
        index = trace.steps.index(trace.step(step_id)) + 1
        return f"[{escape.markdown(text or f'step {index}')}](#{escape.url(scenario.name)}-step-{index})"

    def connect_error(self, ref: str, name: str = "host.containers.internal", path: str = "/ping") -> str:
        """The Go error line a client prints for a connect step, built from the trace."""
        scenario, trace, step_id = self._resolve(ref)
        step = trace.step(step_id)
        target = scenario.step(step_id).connect
        if target is None or step.outcome not in ERRNO_TEXT:
            raise MacroError(self.file, self._line, f"connect_error(): step {step_id} is not a failed connect")
        port = target.to.rsplit(":", 1)[1]
        syscall = "" if step.outcome == "deadline" else "connect: "
        line = f'Get "https://{name}:{port}{path}": dial tcp {target.to}: {syscall}{ERRNO_TEXT[step.outcome]}'
        try:
            return escape.code_line(line)  # the post puts it inside its own ```text block
        except ValueError as exc:
            raise ScenarioError(scenario.file, 0, f"steps.{step_id}.connect.to", str(exc)) from None

    # --- the end of the page ----------------------------------------------------------------

    def finish(self) -> list[NetsimError]:
        """Every figure shown must have at least one claim about its step.

        Also: a later step of the stepper points at the prose's drawing where it is the same one.
        """
        drawn = set().union(*(lazy.drawn_inline(self.set_aside[m]) for m in self._prose))
        for marker in self._later:
            self.set_aside[marker] = lazy.shared_diagrams(self.set_aside[marker], drawn)
        for marker in self._later + self._lazy:  # what goes inside a noscript, once it is known
            if not self.set_aside[marker].startswith(LATE_CODE):  # code_block() checks those
                lazy.check(self.set_aside[marker], marker)
        for key, line in self._shown.items():
            marks = self._pending.get(key) or [self._mark()]
            if key not in self._claimed:
                self._fail(UnclaimedStep(self.file, line, key), mark=marks[0])
        return self.errors

    def preview(self, title: str) -> tuple[SharedImage, str] | None:
        """The page's share image (og:image) and its text alternative: what names the wide drawing of
        the page's first figure (Book.share_image() makes it a PNG, at once or at the build's end);
        None for a page without a figure."""
        if self.first is None:
            return None
        scenario, step, view = self.first
        alt = f"A diagram from {title}: {step.title or step.id}. {step_caption(scenario, step)}"
        _, trace = self.book.get(scenario.name)
        return (scenario.name, self._figure_key(scenario, trace, step), step.id, view, title), alt

    def _line_of(self, needle: str) -> int:
        at = self.source.find(needle)
        return self.source.count("\n", 0, at) + 1 if at >= 0 else 0

    # --- macros: the lab script -------------------------------------------------------------

    def try_it(self, scenario: str | None = None) -> str:
        """A folded block with the scenario's shell script and a link to download it.

        The script is escaped `<pre><code>` set aside from Markdown, so no line of it can close a
        fence or open a tag; the title is escaped HTML, the prose around it Markdown (for the
        glossary's tooltips) with the scenario's name escaped for Markdown.
        """
        s = self._scenario(scenario)
        name = escape.markdown(s.name)
        href = self._root() + f"scripts/{escape.url(s.name + '.sh')}"
        text = self.book.script(s.name)
        if self.book.late is not None and not self.inline:  # a cold build: highlighted at the end
            script = self._late_code(text, "bash")
        else:
            script = self._set_aside(self.book.remember(("code", text, "bash"), lambda: escape.code(text, "bash")))
        self._lazy += SET_ASIDE.findall(script)
        # A thousand highlighted words: made when opened, and never a search result.
        script = lazy.later(script, f"{s.name}-script", unsearched=self.inline)
        return "\n".join(
            [
                '<details class="example" markdown>',
                f"<summary>Try it yourself: {escape.html(s.title)}, on your own machine</summary>",
                "",
                f'Download <a href="{href}" download><code>{name}.sh</code></a> and run it as root on any Linux',
                f"machine with iproute2 and Python 3: <code>sudo bash {name}.sh</code>. It builds this post's room",
                "out of real network namespaces, a real bridge and veth cables, plays every step, and prints the",
                "MAC table, the ARP tables and each connection's result, so you can set them beside the diagrams.",
                "It moves itself into a private namespace first and touches nothing else on your machine.",
                "As in the site's lab, every connection it opens stays open until it ends, and a frame it writes",
                "by hand is the very frame shown under the diagrams, byte for byte.",
                "The tests of this site run exactly this script and compare what it prints with the post.",
                "",
                script,
                "</details>",
            ]
        )

    def command(self, ref: str) -> str:
        """The commands that perform a step, taken from the same code that writes the script."""
        from netsim.render.labscript import commands

        scenario, _trace, step_id = self._resolve(ref)
        lines = commands(scenario, scenario.step(step_id))
        if not lines:
            raise MacroError(self.file, self._line, f"command(): step {step_id} runs no ip or bridge command")
        return self._set_aside(escape.code("\n".join(lines) + "\n", "sh"))

    def on_your_machine(self, command: str, ref: str, host: str | None = None) -> str:
        """What a command prints on a real laptop at a step, under the command a reader would type
        with Podman: the lines come from the trace in the tool's own format. `ip neigh`, `bridge fdb
        show` and `ss -ltn` are iproute2's (netsim.render.text; the try-it test holds them to the
        kernel's output line for line); `tcpdump` is tcpdump 4.99's (netsim.render.tcpdump; the real
        tcpdump reads the same frames in tests/test_tcpdump.py); `cat /etc/hosts` is the file as
        Podman writes it (the try-it script writes it the same way and its resolver reads it)."""
        scenario, trace, step_id = self._resolve(ref)
        step = trace.step(step_id)
        if host is not None and host not in scenario.hosts:
            known = ", ".join(scenario.hosts)
            raise MacroError(
                self.file,
                self._line,
                f"on_your_machine(): host {host!r} is not in {scenario.name}; expected one of {known}",
            )
        if command in ("tcpdump", "bridge fdb show") and host is not None:
            why = f"on_your_machine(): {command} reads the bridge, not a host; leave out host={host!r}"
            raise MacroError(self.file, self._line, why)
        if host is not None and host not in step.listeners:  # the trace lists every namespace's listeners
            why = f"on_your_machine(): {host} has no network namespace at step {step_id}; nothing to run it in"
            raise MacroError(self.file, self._line, why)
        owned = [b for b, br in scenario.bridges.items() if br.host == host]
        if command == "ip neigh":
            if host not in scenario.hosts:
                raise MacroError(self.file, self._line, f"on_your_machine(): host {host!r} is not in {scenario.name}")
            lines = text.neigh_lines(step, host)
            if owned:  # the laptop: its entries on the bridge
                lines = [line for line in lines if f" dev {owned[0]} " in f"{line} "]
                typed = f"ip neigh show dev {owned[0]}"
            else:
                typed = _in_netns(host, "ip neigh")
        elif command == "bridge fdb show":
            bridges = list(scenario.bridges)
            if not bridges:
                raise MacroError(self.file, self._line, f"on_your_machine(): {scenario.name} has no bridge")
            lines = [line for line in text.fdb_lines(step) if line.endswith(f" master {bridges[0]}")]
            typed = f"bridge fdb show br {bridges[0]} | grep master | grep -v permanent"
        elif command == "cat /etc/hosts":
            if host not in scenario.hosts:
                raise MacroError(self.file, self._line, f"on_your_machine(): host {host!r} is not in {scenario.name}")
            lines = text.hosts_lines(step, host)
            typed = "cat /etc/hosts" if owned else f"cat \"$(podman inspect -f '{{{{.HostsPath}}}}' {host})\""
        elif command == "tcpdump":
            bridges = list(scenario.bridges)
            if not bridges:
                raise MacroError(self.file, self._line, f"on_your_machine(): {scenario.name} has no bridge")
            seen = tcpdump.seen_on(bridges[0], step.frames)
            if not seen:
                why = f"on_your_machine(): no frame crosses {bridges[0]} at {step_id}"
                raise MacroError(self.file, self._line, why)
            lines = [*tcpdump.banner(bridges[0]), *tcpdump.lines(seen)]
            typed = tcpdump.typed(bridges[0])
        elif command in ("ss -ltn", "ss -ltnp"):
            if host not in scenario.hosts:
                raise MacroError(self.file, self._line, f"on_your_machine(): host {host!r} is not in {scenario.name}")
            users = self._ss_users(scenario, step, host) if command == "ss -ltnp" else None
            # What each listener's program passed to listen(): the scenario's programs say it, else
            # the program the lab runs there (a DNS server's is dnsmasq, with 32).
            h = scenario.hosts[host]
            dns = {str(server.listen) for server in h.dns_servers}
            backlogs = {listen: tcp.program_backlog(listen, dns) for listen in step.listeners.get(host, [])}
            backlogs |= {listen: p.backlog for listen, p in h.programs.items()}
            lines = text.ss_lines(step, host, users, backlogs)
            typed = command if owned else _in_netns(host, command)  # the laptop owns the bridge
        else:
            raise MacroError(
                self.file,
                self._line,
                f"on_your_machine(): {command!r}; expected one of {', '.join(map(repr, ON_YOUR_MACHINE))}",
            )
        # A terminal shows a tab as spaces to the next multiple of eight, and so does the page.
        shown = "\n".join([f"$ {typed}", *(escape.code_line(line.expandtabs(8)) for line in lines)]) + "\n"
        return self._set_aside(escape.code(shown, "text"))

    def _ss_users(self, scenario: Scenario, step: StepTrace, host: str) -> dict[str, str]:
        """What `ss -p` says holds each of the host's listeners at the step: the program the
        scenario names for it (hosts.HOST.programs)."""
        programs = scenario.hosts[host].programs
        users = {}
        for listen in step.listeners.get(host, []):
            program = programs.get(listen)
            if program is None:
                why = (
                    f"on_your_machine(): ss -ltnp shows the program behind {listen}; name it in "
                    f"{scenario.name}'s hosts.{host}.programs, e.g. '{listen}': {{name: ssh, pid: 2817, fd: 5}}"
                )
                raise MacroError(self.file, self._line, why)
            users[listen] = text.ss_users(program.name, program.pid, program.fd)
        return users

    def decoder(self) -> str:
        """The error decoder: a paste box and every word it knows (decoder/messages.yaml)."""
        from netsim.pages import decoderpage

        return decoderpage.render(self)

    # --- macros: reference tables for contributors -------------------------------------------

    def field_reference(self) -> str:
        """Every scenario field with its type, default and documentation, from netsim.scenario."""
        rows = ["| field | accepts | default | what it means |", "|---|---|---|---|"]
        for name, kind, default, doc in field_reference(Scenario):
            if name in ("name", "file"):
                continue
            # A docstring's line break would end the table's row: the cell is one line.
            rows.append(f"| `{name}` | {kind} | {default.replace('|', '/')} | {' '.join(doc.split())} |")
        return "\n".join(rows)

    def fact_reference(self) -> str:
        """Every fact a claim may state, from netsim.claims."""
        rows = ["| fact | what it checks |", "|---|---|"]
        rows += [f"| `{name}` | {doc} |" for name, (_fn, doc) in claims.FACTS.items()]
        rows.append("| `frame` | Which frame of the step the frame facts are about: 0 (the first) unless given. |")
        return "\n".join(rows)

    def functions(self) -> dict[str, Callable[..., str]]:
        """The macros, each turning a netsim error into a visible box instead of a crash."""
        return {name: self._guarded(getattr(self, name)) for name in self.MACROS}

    def _guarded(self, fn: Callable[..., str]) -> Callable[..., str]:
        name = fn.__name__

        def macro(*args: Any, **kwargs: Any) -> str:
            count = self._calls.get(name, 0)
            self._calls[name] = count + 1
            lines = self._call_lines.get(name, [])
            self._line = lines[count] if count < len(lines) else 0
            try:
                return fn(*args, **kwargs)
            except NetsimError as exc:
                return self._fail(exc)
            except KeyError as exc:
                return self._fail(self._unknown(name, args, kwargs, exc))
            except (TypeError, ValueError) as exc:  # wrong arguments: the call as written cannot run
                return self._fail(MacroError(self.file, self._line, f"{name}(): {exc}"))

        return macro


@functools.cache
def _code_outside(language: str) -> tuple[str, str]:
    """The element escape.code() wraps a block of `language` in, opened and closed."""
    match = _OUTSIDE.match(escape.code("x\n", language))
    assert match is not None, language
    return match.group(1), match.group(3)


_OUTSIDE = re.compile(r"(<([a-z]+)\b[^>]*>).*(</\2>)\Z", re.S)  # as Page._set_aside splits a part


def code_block(text: str, language: str) -> str:
    """The inside of escape.code(text, language), as Page._late_code() set it aside: the same bytes
    _set_aside() keeps, checked as finish() checks what goes inside a noscript."""
    made = escape.code(text, language)
    head, tail = _code_outside(language)
    if not (made.startswith(head) and made.endswith(tail)):
        raise ValueError(f"a highlighted {language} block is not wrapped as {head}...{tail}")
    inside = made[len(head) : len(made) - len(tail)]
    lazy.check(inside, f"a {language} block")
    return inside


def draw_share_image(book: Book, image: SharedImage) -> bytes:
    """A share image as a PNG (netsim.render.preview): the wide layout of the diagram it names, its title above.

    It is drawn from the scenario as this process reads it, which must be the file the page read."""
    name, key, step_id, view, title = image
    scenario, trace = book.get(name)
    if figkey.figure_key(scenario, trace, trace.step(step_id)) != key:
        raise ValueError(f"diagrams/{name}.yaml changed while the site was built; build again")
    with graph.kept_graphs() as kept:
        Page(book, "", "", None)._diagram(scenario, trace.step(step_id), view)
    return preview.png(kept[0], title)  # the wide layout is drawn first


def error_box(kind: str, message: str) -> str:
    """An error as the reader sees it in the page: a red box, all text escaped."""
    return f'<span class="ns-error" role="alert"><strong>✗ {escape.html(kind)}.</strong> {escape.html(message)}</span>'


def _mac(value: str) -> str:
    """A MAC as the scenario's validation and the simulation make it; anything else is refused."""
    if not MAC.fullmatch(value):
        raise ScenarioError("", 0, "", f"{value!r} is not a MAC address")
    return value


MAC = re.compile(r"[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5}")
FIGURE_ROOT = "@@netsim-figures@@/"  # replaced per page by the path back to the site's root
SET_ASIDE = re.compile(r"<!--netsim:\d+-->")  # where _set_aside kept a figure's inside
ERROR_MARK = re.compile(r"nsmark\d+x\d+x")  # where Page._mark left room for an error box
FIGURE_NAME = re.compile(r"@@netsim-figures@@/figures/([0-9a-f]{20})\.svg")
INLINE_SVG = re.compile(  # one layout of a diagram as _inline writes it: (layout, name, svg)
    r'<a class="ns-open ns-(wide|narrow)" href="@@netsim-figures@@/figures/([0-9a-f]{20})\.svg"[^>]*>'
    r"(<svg\b.*?</svg>)</a>",
    re.S,
)


def _inline(name: str, svg: str, alt: str, layout: str) -> str:
    """One layout of a diagram, drawn in the page and linked to its own file (full screen).

    Inline, the SVG's palette classes take the theme's colours; its size is given in CSS pixels
    so it keeps its natural size where it fits and scales down (never below 0.96) where not.
    """
    width, height = palette.size_px(svg)
    svg = re.sub(
        r'<svg([^>]*?) width="\d+pt" height="\d+pt"',
        lambda m: (
            f'<svg{m.group(1)} class="ns-svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape.html(alt)}"'
        ),
        svg.strip(),
        count=1,
    )
    return f'<a class="ns-open ns-{layout}" href="{FIGURE_ROOT}figures/{name}.svg">{svg}</a>'


BUILD_STEPS = ("netns_add", "veth_add", "link_move", "link_rename", "link_set", "addr_add", "route_add")


ROUTING_STEPS = ("route_get", "ip_forward", "masquerade", "publish", "route_localnet")


def _builds_nothing(step: Step) -> bool:
    """A link_set that only asks for a MAC, or only switches a card off."""
    change = step.link_set
    if change is None:
        return False
    return change.address is not None or (change.up is False and change.master is None)


def _auto_view(scenario: Scenario, step: StepTrace) -> str:
    """Frames on a bridge: the room; building rooms: the namespaces; knocks: the doors; a way
    from room to room: the path."""
    if any(s.ssh_forward for s in scenario.steps) and step.action not in ("send", "arp", "wait"):
        return "tunnel"  # two hosts' rooms joined by SSH connections
    routing = any(s.action in ROUTING_STEPS for s in scenario.steps)
    if step.action in ROUTING_STEPS or (routing and step.action == "connect"):
        return "path"
    # A MAC asked for (link_set address, refused or taken) builds nothing, and a card switched off (a
    # machine that is down) takes nothing apart: neither builds a room.
    builds_rooms = any(s.action in BUILD_STEPS and not _builds_nothing(s) for s in scenario.steps)
    if step.action in BUILD_STEPS or (builds_rooms and step.action in ("connect", "listen", "close")):
        return "namespaces"
    return "rooms" if step.action in ("connect", "listen", "close") else "room"


def _knock_alt(scenario: Scenario, step: StepTrace, knock: tuple[str, str]) -> str:
    """'The container knocks on 10.88.0.1:19001: Connection refused (ECONNREFUSED).'"""
    return capital(f"{label(scenario, knock[0])} knocks on {knock[1]}: {kernel_words(step.outcome or '')}.")


def _path_alt(scenario: Scenario, step: StepTrace, knock: tuple[str, str] | None) -> str:
    rooms = ", ".join(scenario.bridges)
    middle = ", ".join(label(scenario, h) for h in path.routers(scenario, step)) or "nobody"
    text = f"Diagram of the rooms {rooms}, with {middle} between them."
    for numbers, hop, _receivers in path.grouped(scenario, step):
        times = f", {len(numbers)} times" if len(numbers) > 1 else ""
        text += f" Frame {numbers[0]}: {path.packet_words(hop)}{times}."
    for r in step.rewrites:
        text += " " + capital(f"{label(scenario, r.host)} rewrites {r.before} as {r.after}.")
    if knock:
        text += " " + _knock_alt(scenario, step, knock)
    return text


def _namespaces_alt(scenario: Scenario, step: StepTrace, knock: tuple[str, str] | None) -> str:
    rooms = []
    for host, links in step.links.items():
        devs = ", ".join(f"{dev} {link['state'].lower()}" for dev, link in links.items())
        rooms.append(f"{label(scenario, host)}'s namespace: {devs}")
    text = "Diagram of the namespaces. " + capital("; ".join(rooms)) + "."
    if knock:
        text += " " + _knock_alt(scenario, step, knock)
    return text


def _room_alt(scenario: Scenario, step: StepTrace, story: bool = False) -> str:
    rooms = []
    seating = graph._seating(scenario, step)  # who is at each seat at this step, as the figure draws it
    for bridge, br in scenario.bridges.items():
        seats = []
        for port in br.ports:
            found = seating.get((bridge, port))
            seat = port_label(scenario, bridge, port, story)
            seats.append(f"{seat}: {label(scenario, found[0]) if found else 'empty'}")
        rooms.append((f"{br.label} ({bridge})" if br.label else bridge, seats))
    caption = step_caption(scenario, step, story)
    if len(rooms) == 1:
        return f"Diagram of the room. Seats: {'; '.join(rooms[0][1])}. {caption}"
    # Each room with its own seats, as the figure draws them (cold read 8: one list put a container
    # in the café's Wi-Fi for a screen reader).
    each = " ".join(f"{capital(name)}, seats: {'; '.join(seats)}." for name, seats in rooms)
    return f"Diagram of {len(rooms)} rooms. {each} {caption}"


# --- Checking a page without mkdocs (tests, tools) -------------------------------------------

FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def headings(source: str) -> dict[str, int]:
    """A page's headings as Markdown reads them, by text, each with the 1-based line of its first
    appearance: `#` to `######` then the text, a closing run of `#` dropped (CommonMark 4.2); a
    line in the front matter (a YAML comment) or inside a fenced code block is not a heading."""
    front = FRONT_MATTER.match(source)
    first = source.count("\n", 0, front.end()) + 1 if front else 1
    found: dict[str, int] = {}
    fence = ""
    for number, line in enumerate(source.split("\n")[first - 1 :], start=first):
        opened = _FENCE.match(line)
        if fence:
            if (
                opened
                and opened.group(1)[0] == fence[0]
                and len(opened.group(1)) >= len(fence)
                and not line.strip(" `~")
            ):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        atx = _ATX.match(line)
        if atx:
            found.setdefault((atx.group(1) or "").strip(), number)
    return found


def _key_line(source: str, key: str) -> int:
    """The line of a front-matter key, written plain or quoted (`reveal:`, `"reveal":`, `'reveal':`)."""
    match = FRONT_MATTER.match(source)
    front = match.group(1) if match else ""
    start = match.start(1) if match else 0
    found = re.search(rf"""^[ \t]*(?:{key}|"{key}"|'{key}')[ \t]*:""", front, re.M)
    return source.count("\n", 0, start + found.start()) + 1 if found else 1


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text
    return copy.deepcopy(_front_matter(match.group(1))), text[match.end() :]


@functools.lru_cache(maxsize=256)
def _front_matter(yaml_text: str) -> dict[str, Any]:
    """A page's front matter, parsed once per text: every figure asks for `reveal:`, and every
    rebuild under `make serve` for every page (callers get a copy, so none can change another's)."""
    return yaml.safe_load(yaml_text) or {}


def check_page(path: Path, root: Path, book: Book | None = None) -> list[NetsimError]:
    """Render one page's macros exactly as the site does and return every failed claim."""
    return render_page(path, root, book).finish()


def render_page(path: Path, root: Path, book: Book | None = None) -> Page:
    """Render one page's macros exactly as the site does; the Page holds its claims and errors."""
    source = path.read_text(encoding="utf-8")
    meta, body = split_front_matter(source)
    try:
        display = str(path.resolve().relative_to(root))
    except ValueError:
        display = str(path)
    postguard.check(body, display, postguard.body_offset(source, body), Page.MACROS)
    page = Page(book or Book(root), display, source, meta.get("scenario"))
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    env.from_string(body).render(**page.functions())
    return page
