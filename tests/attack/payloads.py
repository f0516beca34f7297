"""The attack corpus: hostile values put into every field of every step kind, from the schema.

`cases(mark)` walks netsim.scenario's dataclasses (the same declarations that parse a
scenario), so a field added to any of them is attacked without this file changing. Each case is
a scenario file's bytes: tests/attack/base.yaml with one field (or one name used as a key)
replaced by one payload. Import it from other tests (`from attack.payloads import cases`):
the page tests reuse the same cases for escaping.

`mark` is a file path: every command-injection payload tries to create it, so a test only has
to look for the file after running what netsim generated.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import yaml

from netsim.scenario import ACTIONS, Scenario, Step

BASE = Path(__file__).with_name("base.yaml")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Raw bytes that YAML cannot carry as text: spliced into the encoded file in place of a marker.
BINARY = {  # spliced into the file inside quotes
    "nul-byte": b"x\x00y",
    "invalid-utf8": b"x\xff\xfey",
    "lone-surrogate-bytes": b"x\xed\xa0\x80y",
}


def payloads(mark: str) -> dict[str, Any]:
    """Payload name -> the value put into a field (text, numbers, and YAML-level tricks)."""
    touch = f"touch {mark}"
    return {
        # shells
        "newline-command": f"x\n{touch}",
        "trailing-newline": "eth0\n",
        "semicolon": f"x; {touch}",
        "substitution": f"$({touch})",
        "backticks": f"`{touch}`",
        "single-quote": f"x'; {touch}; echo '",
        "double-quote": f'x"; {touch}; echo "',
        "dash-option": f"-exec={touch}",
        "glob-and-redirect": f"* > {mark}",
        "carriage-return": f"x\r{touch}",
        "unicode-line-separator": f"x\u2028{touch}",
        # pages and figures
        "script-tag": "<script>alert(1)</script>",
        "close-svg": "</svg><script>alert(1)</script>",
        "close-fence": "```\n<img src=x onerror=alert(1)>",
        "jinja": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        # sizes and shapes
        "overlong-name": "a" * 16,
        "overlong-text": "a" * 5000,
        "empty": "",
        "path-traversal": "../../etc/passwd",
        "control-character": "x\x07y",
        # numbers
        "infinity": float("inf"),
        "minus-infinity": float("-inf"),
        "nan": float("nan"),
        "huge-int": 10**40,
        "huge-float": 1e300,
        "negative": -1,
        "zero": 0,
        "int-overflow-u32": 2**32,
        "boolean": True,
        "null": None,
        "list": [1, 2],
        "mapping": {"a": 1},
        # YAML beyond data
        "alias": _Alias(),
        **{name: _Binary(name) for name in BINARY},
    }


# Which payloads each kind of field gets: all of its own kind, and a few of every other, since a
# wrong type is refused by the same one check whatever the value.
NUMERIC = ("infinity", "minus-infinity", "nan", "huge-int", "huge-float", "negative", "zero", "int-overflow-u32")
SHAPES = ("boolean", "null", "list", "mapping", "alias")
CROSS_TEXT = ("semicolon", "substitution", "trailing-newline")  # text where a number or flag belongs
CROSS_NUMBER = ("infinity", "nan", "huge-int", "negative")  # numbers where text belongs


def selected(kind: str, names: list[str]) -> list[str]:
    """The payloads a field of this kind gets."""
    text = [n for n in names if n not in NUMERIC and n not in SHAPES]
    if kind == "text":
        return [*text, *CROSS_NUMBER, *SHAPES]
    if kind == "key":
        return [*text, *CROSS_NUMBER, "boolean", "null"]
    if kind == "number":
        return [*NUMERIC, *CROSS_TEXT, *SHAPES]
    return [*CROSS_TEXT, *CROSS_NUMBER, *SHAPES]  # flags, mappings and lists


class _Alias:
    """An anchor at the field and an alias to it at the end of the file."""


@dataclass(frozen=True)
class _Binary:
    name: str


@dataclass(frozen=True)
class Case:
    field: str  # a dotted path, e.g. steps[9].veth_add.peer, or hosts.<key> for a name as a key
    payload: str
    text: bytes  # the scenario file


@functools.cache
def fields() -> tuple[tuple[tuple[Any, ...], str], ...]:
    """Every field of the base scenario, and every name used as a key, found from the schema.

    Each is (path, kind): a path of keys and indices, ("key", path) for the last key of `path`
    itself; kind is text, number, flag, mapping, list or key. Worked out once per process (it
    reads only base.yaml and the schema's types): each of the corpus's ~40 tests asks for it,
    and the walk cost ~0.06 CPU s a time.
    """
    base = yaml.safe_load(BASE.read_text())
    out: list[tuple[tuple[Any, ...], str]] = []
    _walk(Scenario, base, (), out)
    return tuple(out)


def _kind(tp: Any) -> str:
    tp = _unwrap(tp)
    if tp in (int, float):
        return "number"
    if tp is bool:
        return "flag"
    if dataclasses.is_dataclass(tp) or get_origin(tp) is dict:
        return "mapping"
    if get_origin(tp) is list:
        return "list"
    return "text"


def _walk(
    tp: Any, value: Any, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], str]], seen: set[Any] | None = None
) -> None:
    """Each field of each dataclass once, where the base first gives a value for it if it does;
    each mapping's keys once (they are names)."""
    seen = set() if seen is None else seen
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        hints = get_type_hints(tp, include_extras=True)
        present = value if isinstance(value, dict) else {}
        for f in dataclasses.fields(tp):
            if f.name in ("name", "file") and tp is Scenario:
                continue  # set from the file's name, never written
            if tp is Step and f.name in ACTIONS:
                continue  # each step kind is attacked in the base's first step of that kind (below)
            if (tp, f.name) not in seen and (f.name in present or not _given_later(tp, f.name)):
                seen.add((tp, f.name))
                out.append(((*path, f.name), _kind(hints[f.name])))
            if f.name in present and not (tp is Scenario and f.name == "steps"):
                _walk(hints[f.name], present[f.name], (*path, f.name), out, seen)
        if tp is Scenario:
            _walk(Step, value["steps"][0], ("steps", 0), out, seen)
            hints = get_type_hints(Step, include_extras=True)
            for action in ACTIONS:
                index = next((i for i, st in enumerate(value["steps"]) if action in st), None)
                if index is None:
                    raise AssertionError(f"tests/attack/base.yaml has no {action} step: add one so it is attacked")
                out.append((("steps", index, action), _kind(hints[action])))
                _walk(hints[action], value["steps"][index][action], ("steps", index, action), out, seen)
        return
    if origin is dict and isinstance(value, dict):
        for key, item in value.items():
            if ("key", path[-1]) not in seen:
                seen.add(("key", path[-1]))
                out.append((("key", (*path, key)), "key"))
            _walk(get_args(tp)[1], item, (*path, key), out, seen)
    elif origin is list and isinstance(value, list):
        for i, item in enumerate(value):
            _walk(get_args(tp)[0], item, (*path, i), out, seen)


_BASE_FIELDS: dict[Any, set[str]] = {}


def _given_later(tp: Any, name: str) -> bool:
    """Whether the base gives this field a value somewhere (then it is attacked there)."""
    if not _BASE_FIELDS:
        _collect(Scenario, yaml.safe_load(BASE.read_text()))
    return name in _BASE_FIELDS.get(tp, set())


def _collect(tp: Any, value: Any) -> None:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        hints = get_type_hints(tp, include_extras=True)
        for f in dataclasses.fields(tp):
            if f.name in value:
                _BASE_FIELDS.setdefault(tp, set()).add(f.name)
                _collect(hints[f.name], value[f.name])
    elif origin is dict and isinstance(value, dict):
        for item in value.values():
            _collect(get_args(tp)[1], item)
    elif origin is list and isinstance(value, list):
        for item in value:
            _collect(get_args(tp)[0], item)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            tp = rest[0]
        elif origin is Annotated:
            args = get_args(tp)
            if get_origin(args[0]) in (list, dict) or args[0] in (int, float):
                tp = args[0]
            else:
                return tp
        else:
            return tp


def dotted(path: tuple[Any, ...]) -> str:
    if path and path[0] == "key":
        return dotted(path[1]) + ".<key>"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_HOLE = "ATTACK-HOLE-7f3a"  # where the payload goes in a field's template


def _encode(value: Any) -> bytes:
    """A payload as YAML source: text double-quoted (JSON's escapes are YAML's), numbers as YAML writes them."""
    if isinstance(value, _Binary):
        return b'"' + BINARY[value.name] + b'"'  # raw bytes inside quotes: the reader must refuse them
    if isinstance(value, _Alias):
        return b"&hole [x]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value).encode()
    if isinstance(value, float):
        if math.isnan(value):
            return b".nan"
        if math.isinf(value):
            return b".inf" if value > 0 else b"-.inf"
        return f"{value:.1e}".replace("e", ".0e", 1).encode() if "." not in f"{value:.1e}" else f"{value:.1e}".encode()
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, list | dict):
        return json.dumps(value).encode()  # a flow collection
    return json.dumps(value).encode()


def cases(mark: str) -> Iterator[Case]:
    """Every payload for its kind of field in every field of the base scenario, as scenario files."""
    base = yaml.safe_load(BASE.read_text())
    values = payloads(mark)
    for path, kind in fields():
        doc = copy.deepcopy(base)
        if path[0] == "key":
            _rename(doc, path[1], _HOLE)
        else:
            _set(doc, path, _HOLE)
        template = yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=1000).encode()
        assert template.count(_HOLE.encode()) == 1
        for name in selected(kind, list(values)):
            value = values[name]
            text = template.replace(_HOLE.encode(), _encode(value))
            if isinstance(value, _Alias):
                text += b"zz-alias: *hole\n"
            yield Case(dotted(path), name, text)


def _container(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    _container(doc, path)[path[-1]] = value


def _rename(doc: Any, path: tuple[Any, ...], new: Any) -> None:
    parent = _container(doc, path)
    items = [(new if k == path[-1] else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)
