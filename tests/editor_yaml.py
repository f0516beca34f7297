"""A scenario file as a contributor's editor reads it, for tests of the published JSON Schema.

Editors check a scenario against diagrams/scenario.schema.json (its first line names it) with a
YAML language server, which speaks YAML 1.2: `52:54:00:00:01:50` and `yes` are text there, where
netsim's reader (PyYAML, YAML 1.1) sees a base-60 number and true, and keeps the text as written.
So the schema must be judged on what YAML 1.2's core schema makes of the file, with every key as
text (JSON's keys are), and its patterns matched as ECMA-262 matches them: `$` only at the very end
(Python's `$` also matches before a final newline, which would let "alice\\n" pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError


class _Core12(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.2's core schema (yaml.org/spec/1.2.2, 10.3): no yes/no, no base 60, no 0123 octal."""


_Core12.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
):
    _Core12.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(rf"^(?:{_regexp})$"), list(_first))


def _int(loader: Any, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    base = {"0o": 8, "0x": 16}.get(text[:2], 10)
    return int(text[2:] if base != 10 else text, base)


def _bool(loader: Any, node: yaml.Node) -> bool:
    return loader.construct_scalar(node).lower() == "true"


def _mapping(loader: Any, node: yaml.Node) -> dict[Any, Any]:
    out = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else loader.construct_object(key, deep=True)
        out[name] = loader.construct_object(value, deep=True)
    return out


_Core12.add_constructor("tag:yaml.org,2002:int", _int)
_Core12.add_constructor("tag:yaml.org,2002:bool", _bool)
_Core12.add_constructor("tag:yaml.org,2002:map", _mapping)


def load(text: str | bytes) -> Any:
    """The file's data as an editor's YAML 1.2 reads it."""
    return yaml.load(text, Loader=_Core12)  # noqa: S506 - a safe loader: the C SafeLoader, core tags only


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not re.search(re.sub(r"(?<!\\)\$$", r"\\Z", pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 2020-12, as the schema's $schema says, with patterns matched as ECMA-262 matches them.
EditorValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})
