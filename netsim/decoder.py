"""The error decoder: the words of a connection error, each explained and tied to a post.

The words live in one data file, `decoder/messages.yaml`. This module reads it (validation at the
reader: every field, with file and line), checks every entry that says what was on the wire
against the scenario step it names (the same checker as a post's claims, so the decoder cannot
drift from the simulation), and turns it into the page's data and its static reference.

`decode()` is the matcher. The page runs a JavaScript copy of it (docs/assets/decoder.js) so it
works offline and from a folder; the browser test holds the two to the same answers.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netsim import claims
from netsim.errors import ScenarioError
from netsim.yamlsource import Source, read

DATA = Path("decoder") / "messages.yaml"
KINDS = ("outcome", "wording")
ENTRY_FIELDS = {
    "id": "a short name: lower-case letters, digits and dashes",
    "kind": "outcome (what the kernel answered, checked against a scenario) or wording (how a program says it)",
    "token": "the words as the reader sees them",
    "match": "a list of words that find this entry in a pasted line, compared without regard to case",
    "layer": "who speaks these words",
    "meaning": "what they mean, in plain sentences",
    "shown_by": "outcome only: a list of {step: SCENARIO/STEP, facts: {...}} checked like a claim",
    "causes": "outcome only: a list of {cause, check}, in the order to try them",
    "post": "the post that explains it (a file name in docs/posts/, without .md)",
    "anchor": "optional: a heading's anchor in that post",
}
ADDRESS_FIELDS = {"prefix": "an IPv4 network, a.b.c.d/len", "says": "what an address there is", "post": "a post"}
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
_WORD = re.compile(r"[^\x00-\x1f\x7f]{2,60}")
# An IPv4 address with an optional port, as error lines print them (the JavaScript copy is the same).
ADDRESS = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?(?![\d.])")


@dataclass(frozen=True)
class Shown:
    step: str  # scenario/step
    facts: dict[str, Any]
    line: int


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    token: str
    match: tuple[str, ...]
    layer: str
    meaning: str
    shown_by: tuple[Shown, ...]
    causes: tuple[tuple[str, str], ...]
    post: str
    anchor: str
    line: int


@dataclass(frozen=True)
class AddressNote:
    prefix: ipaddress.IPv4Network
    says: str
    post: str


@dataclass(frozen=True)
class Decoder:
    file: str
    entries: tuple[Entry, ...]
    addresses: tuple[AddressNote, ...]


def load(root: Path) -> Decoder:
    """Read and validate the data file; every problem is a ScenarioError with its line."""
    src = read(root / DATA, str(DATA))
    data = src.data
    if not isinstance(data, dict) or set(data) - {"entries", "addresses"} or "entries" not in data:
        raise src.error((), "expected a mapping with 'entries' (and optionally 'addresses')")
    posts = {p.stem: p for p in (root / "docs" / "posts").glob("*.md")}
    entries = [_entry(src, ("entries", i), raw, posts) for i, raw in enumerate(_list(src, ("entries",)))]
    seen: dict[str, int] = {}
    for e in entries:
        if e.id in seen:
            raise ScenarioError(src.file, e.line, "entries.id", f"{e.id!r} is used twice (first at line {seen[e.id]})")
        seen[e.id] = e.line
    notes = []
    for i, raw in enumerate(_list(src, ("addresses",)) if "addresses" in data else []):
        path = ("addresses", i)
        raw = _fields(src, path, raw, ADDRESS_FIELDS, required=set(ADDRESS_FIELDS))
        try:
            prefix = ipaddress.IPv4Network(_text(src, (*path, "prefix"), raw["prefix"]))
        except ValueError as exc:
            raise src.error((*path, "prefix"), f"{raw['prefix']!r} is not an IPv4 network: {exc}") from None
        notes.append(
            AddressNote(
                prefix, _text(src, (*path, "says"), raw["says"]), _post(src, (*path, "post"), raw["post"], posts)
            )
        )
    return Decoder(src.file, tuple(entries), tuple(notes))


def _list(src: Source, path: tuple[str | int, ...]) -> list[Any]:
    value = src.data
    for part in path:
        value = value[part]
    if not isinstance(value, list) or not value:
        raise src.error(path, f"expected a non-empty list, found {type(value).__name__}")
    return value


def _fields(src: Source, path: tuple[str | int, ...], raw: Any, known: dict[str, str], required: set[str]) -> dict:
    if not isinstance(raw, dict):
        raise src.error(path, f"expected a mapping, found {type(raw).__name__}")
    for key in raw:
        if key not in known:
            raise src.error((*path, key), f"unknown field {key!r}; expected one of: {', '.join(known)}")
    for key in sorted(required - set(raw)):
        raise src.error(path, f"missing field {key!r}: {known[key]}")
    return raw


def _text(src: Source, path: tuple[str | int, ...], value: Any, limit: int = 600) -> str:
    if isinstance(value, bool):  # YAML 1.1 reads no/yes/on/off as booleans
        raise src.error(path, f"expected text, found the boolean {value!r}; put the text in quotes")
    if not isinstance(value, str) or not value.strip():
        raise src.error(path, f"expected text, found {value!r}")
    if len(value) > limit or re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value):
        raise src.error(path, f"expected at most {limit} characters of plain text")
    return " ".join(value.split())


def _post(src: Source, path: tuple[str | int, ...], value: Any, posts: dict[str, Path]) -> str:
    if not isinstance(value, str) or value not in posts:
        raise src.error(path, f"no post {value!r}; expected one of: {', '.join(sorted(posts))}")
    return value


def _entry(src: Source, path: tuple[str | int, ...], raw: Any, posts: dict[str, Path]) -> Entry:
    required = {"id", "kind", "token", "match", "layer", "meaning", "post"}
    raw = _fields(src, path, raw, ENTRY_FIELDS, required)
    ident = raw["id"]
    if not isinstance(ident, str) or not _ID.fullmatch(ident):
        raise src.error((*path, "id"), f"{ident!r} is not a short name; expected {ENTRY_FIELDS['id']}")
    kind = raw["kind"]
    if kind not in KINDS:
        raise src.error((*path, "kind"), f"{kind!r}; expected one of: {', '.join(KINDS)}")
    match = raw["match"]
    if not isinstance(match, list) or not match:
        raise src.error((*path, "match"), "expected a non-empty list of words")
    for j, word in enumerate(match):
        if not isinstance(word, str) or not _WORD.fullmatch(word):
            raise src.error((*path, "match", j), f"{word!r}; expected 2 to 60 printable characters")
    post = _post(src, (*path, "post"), raw["post"], posts)
    anchor = raw.get("anchor", "")
    if anchor:
        anchors = headings(posts[post])
        if anchor not in anchors:
            raise src.error(
                (*path, "anchor"), f"no heading {anchor!r} in {post}; expected one of: {', '.join(anchors)}"
            )
    shown: list[Shown] = []
    causes: list[tuple[str, str]] = []
    if kind == "outcome":
        for key in ("shown_by", "causes"):
            if key not in raw:
                raise src.error(path, f"missing field {key!r}: {ENTRY_FIELDS[key]}")
        for j, item in enumerate(_list(src, (*path, "shown_by"))):
            where = (*path, "shown_by", j)
            item = _fields(src, where, item, {"step": "SCENARIO/STEP", "facts": "claim facts"}, {"step", "facts"})
            if not isinstance(item["step"], str) or item["step"].count("/") != 1:
                raise src.error((*where, "step"), f"{item['step']!r}; expected SCENARIO/STEP")
            if not isinstance(item["facts"], dict) or not item["facts"]:
                raise src.error((*where, "facts"), "expected a mapping of facts, as a claim states them")
            shown.append(Shown(item["step"], dict(item["facts"]), src.line((*where, "step"))))
        for j, item in enumerate(_list(src, (*path, "causes"))):
            where = (*path, "causes", j)
            item = _fields(
                src, where, item, {"cause": "a likely cause", "check": "the command that tells"}, {"cause", "check"}
            )
            causes.append(
                (_text(src, (*where, "cause"), item["cause"]), _text(src, (*where, "check"), item["check"], 120))
            )
    else:
        for key in ("shown_by", "causes"):
            if key in raw:
                raise src.error((*path, key), f"only an outcome has {key!r}; this entry is {kind!r}")
    return Entry(
        id=ident,
        kind=kind,
        token=_text(src, (*path, "token"), raw["token"], 60),
        match=tuple(match),
        layer=_text(src, (*path, "layer"), raw["layer"], 120),
        meaning=_text(src, (*path, "meaning"), raw["meaning"]),
        shown_by=tuple(shown),
        causes=tuple(causes),
        post=post,
        anchor=anchor,
        line=src.line(path),
    )


def published(decoder: Decoder, root: Path) -> Decoder:
    """The words whose post is published: a draft post is not in the built site, so its words wait
    with it (they are still validated and checked against their scenarios)."""
    import yaml

    drafts = set()
    for path in (root / "docs" / "posts").glob("*.md"):
        match = re.match(r"\A---\n(.*?)\n---\n", path.read_text(encoding="utf-8"), re.S)
        if match and (yaml.safe_load(match.group(1)) or {}).get("draft") is True:
            drafts.add(path.stem)
    return Decoder(
        decoder.file,
        tuple(e for e in decoder.entries if e.post not in drafts),
        tuple(n for n in decoder.addresses if n.post not in drafts),
    )


def headings(post: Path) -> list[str]:
    """The anchors of a post's headings, as the site's table of contents makes them."""
    from markdown.extensions.toc import slugify

    text = post.read_text(encoding="utf-8")
    return [slugify(m.group(1).strip(), "-") for m in re.finditer(r"^#{2,4}\s+(.+?)\s*$", text, re.M)]


def check(decoder: Decoder, book: Any) -> list[ScenarioError]:
    """Every `shown_by` against its simulation, as a post's claims are checked."""
    problems = []
    for entry in decoder.entries:
        for shown in entry.shown_by:
            name, _, step = shown.step.partition("/")
            try:
                scenario, trace = book.get(name)
                failures = claims.check(scenario, trace, step, dict(shown.facts))
            except KeyError as exc:
                failures = [str(exc.args[0]) if exc.args else str(exc)]
            except ScenarioError as exc:
                failures = [str(exc)]
            if failures:
                where = f"entries.{entry.id}.shown_by"
                problems.append(ScenarioError(decoder.file, shown.line, where, "; ".join(failures)))
    return problems


# --- the matcher ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    id: str  # an entry's id, or "address"
    note: str = ""  # for an address: what it is


def decode(line: str, decoder: Decoder) -> list[Token]:
    """The tokens of a pasted line that the decoder knows, left to right, never overlapping.

    Every match word of every entry is looked for without regard to case; where two overlap,
    the one that starts first wins, and at the same start the longer. Addresses are matched by
    pattern and explained by their most specific prefix. The JavaScript copy does exactly this.
    """
    low = line.lower()
    found: list[Token] = []
    for entry in decoder.entries:
        for word in entry.match:
            w = word.lower()
            at = low.find(w)
            while at >= 0:
                found.append(Token(at, at + len(w), entry.id))
                at = low.find(w, at + 1)
    for m in ADDRESS.finditer(line):
        note = address_note(m.group(1), decoder)
        if note is not None:
            found.append(Token(m.start(), m.end(), "address", note))
    found.sort(key=lambda t: (t.start, -(t.end - t.start), t.id))
    chosen: list[Token] = []
    end = 0
    for token in found:
        if token.start >= end:
            chosen.append(token)
            end = token.end
    return chosen


def address_note(text: str, decoder: Decoder) -> str | None:
    try:
        addr = ipaddress.IPv4Address(text)
    except ValueError:
        return None
    best = None
    for note in decoder.addresses:
        if addr in note.prefix and (best is None or note.prefix.prefixlen > best.prefix.prefixlen):
            best = note
    return f"{best.prefix}" if best else "other"
