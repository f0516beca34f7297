"""Read YAML keeping the line of every value, so errors can point at the file and line."""

from __future__ import annotations

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


@dataclass
class Source:
    """A parsed YAML document: plain data plus the 1-based line of each value by its path."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

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
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read(path: str | Path, display: str | None = None) -> Source:
    name = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(name, 0, "", f"cannot read file: {exc.strerror}") from exc
    return parse(text, name)


def parse(text: str, name: str) -> Source:
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ScenarioError(name, line, "", f"not valid YAML: {exc.problem}") from exc
    src = Source(name, None)
    if node is None:
        raise ScenarioError(name, 1, "", "the file is empty; expected a scenario mapping")
    src.data = _convert(node, (), src)
    return src


def _convert(node: yaml.Node, path: Path_, src: Source) -> Any:
    src.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_SCALARS.construct_object(key_node))
            if key in out:
                where = key_node.start_mark.line + 1
                raise ScenarioError(src.file, where, dotted((*path, key)), "key given twice")
            out[key] = _convert(value_node, (*path, key), src)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), src) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node)
