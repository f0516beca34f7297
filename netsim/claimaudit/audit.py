"""Run the claim audit: replay every page's claims against faulted and perturbed traces."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from netsim import claims
from netsim.claimaudit.faults import FAULTS, Fault
from netsim.claimaudit.perturbations import perturbations
from netsim.errors import NetsimError
from netsim.pages import postguard
from netsim.pages.book import Book
from netsim.pages.macros import Page, RecordedClaim, split_front_matter
from netsim.scenario import Scenario
from netsim.simulation import Simulation
from netsim.trace import Trace


@dataclass
class ClaimResult:
    claim: RecordedClaim
    caught_by: dict[str, list[str]] = field(default_factory=dict)  # fact -> faults and perturbations

    def __post_init__(self) -> None:
        self.caught_by = {fact: [] for fact in self.claim.facts if fact != "frame"}

    @property
    def bites(self) -> bool:
        """Every fact of the claim can be made false: one that cannot only restates the input."""
        return all(self.caught_by.values())

    @property
    def idle_facts(self) -> list[str]:
        return [fact for fact, by in self.caught_by.items() if not by]

    @property
    def catchers(self) -> set[str]:
        return {b for by in self.caught_by.values() for b in by}


@dataclass
class PageResult:
    file: str
    claims: list[ClaimResult]
    faults_caught: set[str]
    errors: list[NetsimError]  # claims that are false (or cannot be checked) in the real trace

    @property
    def restating(self) -> list[ClaimResult]:
        """Claims nothing falsifies and that the page does not mark as set-up."""
        return [c for c in self.claims if not c.bites and not c.claim.setup]


@dataclass
class Report:
    pages: list[PageResult]
    faults: tuple[Fault, ...]
    crashed: dict[str, str]  # variant -> why the simulation could not run under it
    variants: int

    @property
    def ok(self) -> bool:
        return not any(p.restating or p.errors for p in self.pages)


CRASHED = "crashed at"  # a run that failed part way with an error of the simulator's code, not a refused step
PART_WAY = ("could not carry out", CRASHED)


def run(scenario: Scenario, stopped: list[str] | None = None) -> Trace:
    """Simulate as far as the (perhaps broken) simulator gets: steps before a crash still count.

    Why it stopped, if it did, goes into `stopped`: a fault whose own code fails part way tests no
    claim after that step, and must not pass unnoticed for a fault that catches nothing."""
    steps = []
    try:
        sim = Simulation(scenario)
        for step in scenario.steps:
            steps.append(sim.run_step(step))
    except Exception as exc:  # noqa: BLE001 - a broken simulator may fail any way at all
        if not steps:
            raise
        if stopped is not None:  # a step the broken belief cannot carry out is one thing, a broken fault another
            how = "could not carry out" if isinstance(exc, NetsimError) else CRASHED
            first = str(exc).splitlines()[0] if str(exc) else ""
            stopped.append(f"{how} step {scenario.steps[len(steps)].id}: {type(exc).__name__}: {first}")
    return Trace(scenario.name, steps)


def _falsify(result: ClaimResult, scenario: Scenario, trace: Trace, by: str) -> None:
    """Record `by` against each fact of the claim that this trace makes false."""
    claim = result.claim
    try:
        trace.step(claim.step)
    except KeyError:
        return  # the step is gone in this variant: nothing to say
    frame = claim.facts.get("frame", 0)
    for fact, value in claim.facts.items():
        if fact != "frame" and claims.check(scenario, trace, claim.step, {fact: value, "frame": frame}):
            result.caught_by[fact].append(by)


def _claims_of(path: Path, root: Path, book: Book) -> Page:
    """Render a page's claims only: figures, steppers and scripts are not needed to replay them."""
    import jinja2

    source = path.read_text(encoding="utf-8")
    meta, body = split_front_matter(source)
    try:
        display = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        display = str(path)
    postguard.check(body, display, postguard.body_offset(source, body), Page.MACROS)  # literal calls only
    page = Page(book, display, source, meta.get("scenario"))
    macros = {name: (lambda *a, **k: "") for name in Page.MACROS}
    macros.update(claim=page.claim, given=page.given)
    jinja2.Environment(undefined=jinja2.ChainableUndefined).from_string(body).render(**macros)
    return page


# What one fault or the perturbations did to one scenario's text: the traces (or why the run
# crashed), which depend on nothing else, so a caller auditing several page sets may share them.
Variants = list[tuple[str, str | None, Scenario, Trace | str]]  # (label, perturbed step, scenario, trace)
Memo = MutableMapping[tuple[str, str], Variants]


def _variants(book: Book, name: str, fault: Fault | None) -> Variants:
    """The traces of `name` under `fault`, or (fault None) under each perturbation of its file."""
    scenario, _ = book.get(name)
    if fault is not None:
        stopped: list[str] = []
        try:
            with fault.applied():
                out: Variants = [(f"fault {fault.name}", None, scenario, run(scenario, stopped))]
        except Exception as exc:  # noqa: BLE001 - a broken simulator may fail any way at all
            return [(f"fault {fault.name} on {name}", None, scenario, f"{type(exc).__name__}: {exc}")]
        # The part-way stop, as a variant of its own that tests nothing: the report lists it.
        return out + [(f"fault {fault.name} on {name}", None, scenario, why) for why in stopped]
    out: Variants = []
    for p in perturbations(scenario, book.path(name).read_text(encoding="utf-8")):
        try:
            out.append((f"perturbation {p.what}", p.step, p.scenario, run(p.scenario)))
        except Exception as exc:  # noqa: BLE001 - e.g. a step that no longer makes sense
            out.append((f"{name}: {p.what}", p.step, p.scenario, f"{type(exc).__name__}: {exc}"))
    return out


def variants_of(book: Book, name: str, fault: Fault | None, memo: Memo | None = None) -> Variants:
    """_variants(), kept in `memo` (when given) by fault and the scenario file's text."""
    key = (f"fault {fault.name}" if fault else "perturbations", book.path(name).read_text(encoding="utf-8"))
    found = memo.get(key) if memo is not None else None
    if found is None:
        found = _variants(book, name, fault)
        if memo is not None:
            memo[key] = found
    return found


def audit(root: Path, posts: Iterable[Path] | None = None, memo: Memo | None = None) -> Report:
    """Replay the claims of `posts` (every post) against every fault and perturbation.

    `memo`, when given, keeps each scenario's faulted and perturbed traces by fault and file text
    for the next call (the tests audit several small pages against the same scenarios). It must
    not outlive the simulator it was filled with: a process that patches netsim starts afresh."""
    book = Book(root)
    files = sorted(posts if posts is not None else (root / "docs" / "posts").glob("*.md"))
    pages = []
    recorded: list[tuple[str, list[RecordedClaim]]] = []
    errors: dict[str, list[NetsimError]] = {}
    for path in files:
        page = _claims_of(path, root, book)
        recorded.append((page.file, page.recorded))
        errors[page.file] = page.errors
    names = sorted({c.scenario for _, cs in recorded for c in cs})
    results = {id(c): ClaimResult(c) for _, cs in recorded for c in cs}
    by_scenario = {n: [c for _, cs in recorded for c in cs if c.scenario == n] for n in names}
    crashed: dict[str, str] = {}
    variants = 0

    for fault in (*FAULTS, None):  # None: the perturbations of each scenario's file
        for name in names:
            for label, step, scenario, trace in variants_of(book, name, fault, memo):
                if isinstance(trace, str):
                    crashed[label] = trace
                    variants += not trace.startswith(PART_WAY)  # a whole run that crashed was still tried
                    continue
                variants += 1
                for c in by_scenario[name]:
                    if step is None or c.step != step:
                        _falsify(results[id(c)], scenario, trace, label)

    for file, cs in recorded:
        rs = [results[id(c)] for c in cs]
        caught = {b.removeprefix("fault ") for r in rs for b in r.catchers if b.startswith("fault ")}
        pages.append(PageResult(file, rs, caught, errors[file]))
    return Report(pages, FAULTS, crashed, variants)


def render(report: Report, verbose: bool = False) -> str:
    lines = [f"claim audit: {len(report.faults)} faults, {report.variants} faulted or perturbed traces"]
    lines.append(f"{'page':45} {'claims':>6} {'set-up':>6} {'bite':>5} {'faults caught':>14}")
    for p in report.pages:
        checked = [c for c in p.claims if not c.claim.setup]
        bite = sum(c.bites for c in checked)
        setup = len(p.claims) - len(checked)
        lines.append(
            f"{p.file:45} {len(p.claims):>6} {setup:>6} {bite:>5} {len(p.faults_caught):>8}/{len(report.faults)}"
        )
    for p in report.pages:
        for c in p.restating:
            facts = ", ".join(f"{k}={c.claim.facts[k]!r}" for k in c.idle_facts)
            lines.append(
                f"{c.claim.file}:{c.claim.line}: claim {c.claim.step}: no fault and no perturbation falsifies "
                f"{facts}, so it only restates the input; rewrite it to check an outcome, or state it with "
                "given() if it describes the set-up"
            )
    for label, why in report.crashed.items():
        if why.startswith(CRASHED):  # the fault's own code is broken: the claims after it go untested
            lines.append(f"note: {label} {why}; no claim after that step was tested against it")
    uncaught = [f for f in report.faults if not any(f.name in p.faults_caught for p in report.pages)]
    for f in uncaught:
        lines.append(f"note: fault {f.name} ({f.mechanism}: {f.what}) falsifies no claim on any page")
    if verbose:
        for p in report.pages:
            for c in p.claims:
                facts = ", ".join(f"{k}={v!r}" for k, v in c.claim.facts.items())
                tag = "set-up" if c.claim.setup else f"{len(c.catchers)} catch"
                lines.append(f"  {c.claim.file}:{c.claim.line} [{tag}] {c.claim.step} {facts}")
                for fact, by in c.caught_by.items():
                    lines.append(f"      {fact}: {', '.join(by[:4]) or 'nothing'}" + (" ..." if len(by) > 4 else ""))
        lines += [f"  crashed: {k}: {v}" for k, v in report.crashed.items()]
    return "\n".join(lines)
