"""Read YAML keeping the line of every value, so errors can point at the file and line.

A scenario is plain data, and it comes from strangers: no anchors, aliases, merge keys or tags
(no billion laughs, no custom constructors), at most MAX_BYTES, at most MAX_DEPTH levels deep,
UTF-8 without NUL bytes, read only from a regular file that is not a symlink. Each refusal is a
ScenarioError with the file and line.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netsim.errors import ScenarioError

Path_ = tuple[str | int, ...]

# libyaml's parser when PyYAML was built with it (the wheels are): the same nodes, faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# One loader used only to turn scalar nodes into Python values, exactly as safe_load would.
_SCALARS = yaml.SafeLoader("")
MAX_BYTES = 256 * 1024  # the largest scenario today is under 8 KiB
MAX_DEPTH = 16  # a scenario nests five levels deep


@dataclass
class Source:
    """A parsed YAML document: plain data plus the 1-based line of each value by its path."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    # The text as written of each value YAML read as a number: a field that wants text takes
    # this, not str() of the number (YAML 1.1 reads 0123 as octal 83, 1_000 as 1000, 1:30 as 90).
    texts: dict[Path_, str] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        """The line of `path`, or of its nearest parent that has one (for a missing key)."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: Path_, message: str) -> ScenarioError:
        return ScenarioError(self.file, self.line(path), dotted(path), message)


def dotted(path: Path_) -> str:
    """('hosts', 'alice', 'mac') -> 'hosts.alice.mac'; list indices as [n]."""
    out = ""
    for part in path:
        if not isinstance(part, int) and not _PLAIN_KEY.fullmatch(part):
            part = repr(part[:40] + "..." if len(part) > 40 else part)  # a stranger's key: one short line
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def read(path: str | Path, display: str | None = None) -> Source:
    """A scenario file's YAML: a regular file, not a symlink, FIFO or device, at most MAX_BYTES."""
    name = display or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: O_NOFOLLOW met a symlink
            raise ScenarioError(name, 0, "", "is a symbolic link; expected a regular file") from None
        raise ScenarioError(name, 0, "", f"cannot read file: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device would block or never end
            raise ScenarioError(name, 0, "", "is not a regular file; expected a scenario file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(name, 0, "", f"cannot read file: {exc.strerror}") from None
    finally:
        os.close(fd)
    return parse_bytes(data, name)


def parse_bytes(data: bytes, name: str) -> Source:
    """Bytes to a Source: size, NUL and UTF-8 checked first, each with its line."""
    if len(data) > MAX_BYTES:
        raise ScenarioError(name, 0, "", f"is larger than {MAX_BYTES // 1024} KiB; expected a small scenario file")
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise ScenarioError(name, line, "", "contains a NUL byte; expected UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(name, line, "", f"byte 0x{data[exc.start]:02x} is not UTF-8; expected UTF-8 text") from None
    return parse(text, name)


def parse(text: str, name: str) -> Source:
    if len(text) > MAX_BYTES:
        raise ScenarioError(name, 0, "", f"is larger than {MAX_BYTES // 1024} KiB; expected a small scenario file")
    if "\0" in text:
        raise ScenarioError(name, text.count("\n", 0, text.index("\0")) + 1, "", "contains a NUL character")
    try:
        events = _plain_data_only(text, name)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ScenarioError(name, line, "", f"not valid YAML: {exc.problem}") from exc
    except yaml.reader.ReaderError as exc:  # a control character: it has a position, not a mark
        line = text.count("\n", 0, exc.position) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise ScenarioError(name, line, "", f"character {char!r} is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(name, 0, "", f"not valid YAML: {_one_line(str(exc))}") from None
    documents = [e for e in events if isinstance(e, yaml.DocumentStartEvent)]
    if len(documents) > 1:  # what yaml.compose says of a second document
        line = documents[1].start_mark.line + 1
        raise ScenarioError(name, line, "", "not valid YAML: but found another document")
    if not documents:
        raise ScenarioError(name, 1, "", "the file is empty; expected a scenario mapping")
    src = Source(name, None)
    src.data = _build(events, src)
    return src


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


# The event classes, compared by identity in the two loops below (each event is exactly one of these;
# isinstance() on every event was a fifth of reading a scenario).
_SCALAR, _ALIAS = yaml.ScalarEvent, yaml.AliasEvent
_MAP_START, _SEQ_START = yaml.MappingStartEvent, yaml.SequenceStartEvent
_MAP_END, _SEQ_END = yaml.MappingEndEvent, yaml.SequenceEndEvent
_DOC_END = yaml.DocumentEndEvent
_SKIPPED = (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentStartEvent)


def _plain_data_only(text: str, name: str) -> list[yaml.Event]:
    """Refuse what makes YAML more than data, before anything is built from it; the events, for _build.

    The whole text is parsed first, so a syntax error anywhere is reported before a mistake in
    the data (a key given twice, a value Python cannot hold) that comes earlier in the file.
    """
    depth = 0
    events = []
    loader = _LOADER(text)  # what yaml.parse() does, without its generator around each event
    try:
        while loader.check_event():
            event = loader.get_event()
            events.append(event)
            kind = type(event)
            if kind is _ALIAS:
                line = event.start_mark.line + 1
                raise ScenarioError(
                    name, line, "", f"an alias (*{event.anchor}); a scenario is plain data: write it out"
                )
            if kind is _SCALAR or kind is _MAP_START or kind is _SEQ_START:
                if event.anchor is not None:
                    line = event.start_mark.line + 1
                    raise ScenarioError(
                        name, line, "", f"an anchor (&{event.anchor}); a scenario is plain data: no anchors"
                    )
                if event.tag is not None:  # an explicit tag: the parser leaves plain and quoted values untagged
                    line = event.start_mark.line + 1
                    raise ScenarioError(name, line, "", f"a tag ({event.tag}); a scenario is plain data: no tags")
                if kind is _SCALAR:
                    if event.value == "<<" and event.implicit[0]:
                        line = event.start_mark.line + 1
                        raise ScenarioError(name, line, "", "a merge key (<<); a scenario is plain data: no merge keys")
                else:
                    depth += 1
                    if depth > MAX_DEPTH:
                        line = event.start_mark.line + 1
                        raise ScenarioError(name, line, "", f"nested more than {MAX_DEPTH} levels deep")
            elif kind is _MAP_END or kind is _SEQ_END:
                depth -= 1
    finally:
        loader.dispose()
    return events


class _Mapping:
    """A mapping being built: its path, its keys so far, and the key whose value comes next."""

    __slots__ = ("key", "out", "path")

    def __init__(self, path: Path_) -> None:
        self.path = path
        self.out: dict[str, Any] = {}
        self.key: str | None = None


def _build(events: list[yaml.Event], src: Source) -> Any:
    """The one document's events to plain data, the line of each value by its path.

    What yaml.compose and a walk of its nodes would give, from the events already parsed: each
    scalar's tag resolved as the composer resolves it, its value made as safe_load makes it.
    """
    stack: list[_Mapping | tuple[Path_, list[Any]]] = []
    root: Any = None

    def place(value: Any) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        if top.__class__ is _Mapping:
            assert top.key is not None
            top.out[top.key] = value
            top.key = None
        else:
            top[1].append(value)

    for event in events:
        kind = type(event)
        if kind in _SKIPPED:
            continue
        if kind is _DOC_END:
            break
        top = stack[-1] if stack else None
        line = event.start_mark.line + 1
        if top.__class__ is _Mapping and top.key is None and kind is not _MAP_END:
            # A key.
            if kind is not _SCALAR:  # a mapping or list as a key
                raise ScenarioError(src.file, line, dotted(top.path), "a key must be plain text")
            # The key as written: YAML would read a key 0123 as the number 83, yes as True.
            key = event.value
            if key in top.out:
                raise ScenarioError(src.file, line, dotted((*top.path, key)), "key given twice")
            top.key = key
            continue
        if kind is _MAP_END or kind is _SEQ_END:
            done = stack.pop()
            place(done.out if done.__class__ is _Mapping else done[1])
            continue
        # The path of the value this event starts (inside a mapping, after its key).
        if top is None:
            path: Path_ = ()
        elif top.__class__ is _Mapping:
            path = (*top.path, top.key)
        else:
            path = (*top[0], len(top[1]))
        src.lines[path] = line
        if kind is _MAP_START:
            stack.append(_Mapping(path))
        elif kind is _SEQ_START:
            stack.append((path, []))
        else:
            place(_scalar_of(event, path, src))
    return root


_STR = "tag:yaml.org,2002:str"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


@functools.lru_cache(maxsize=4096)
def _tag(value: str, implicit: tuple[bool, bool]) -> str:
    """The tag yaml.compose gives an untagged scalar (a pure function of its text and style)."""
    return _SCALARS.resolve(yaml.ScalarNode, value, implicit)


def _scalar_of(event: yaml.ScalarEvent, path: Path_, src: Source) -> Any:
    tag = _tag(event.value, event.implicit)
    if tag == _STR:  # SafeConstructor.construct_yaml_str: the text as it is
        return event.value
    if tag in _NUMBERS:
        src.texts[path] = event.value
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        return _scalar(node, path, src)
    finally:
        _SCALARS.constructed_objects.pop(node, None)  # the loader remembers every node it made


def _scalar(node: yaml.Node, path: Path_, src: Source) -> Any:
    """A scalar as safe_load reads it; a value Python cannot hold is an error with its line."""
    try:
        return _SCALARS.construct_object(node)
    except (ValueError, OverflowError, yaml.YAMLError) as exc:  # e.g. an integer of 5000 digits
        where = node.start_mark.line + 1
        raise ScenarioError(src.file, where, dotted(path), f"cannot read this value: {_one_line(str(exc))}") from None
