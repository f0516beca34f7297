"""What the Jinja in a post may do: call the site's own macros with literal arguments. Nothing else.

mkdocs-macros renders every page as a Jinja template, and full Jinja is a programming language
with a way out to Python (`{{ cycler.__init__.__globals__ ... }}`). A post arrives in a pull
request that is reviewed for its prose, so before a page is rendered its parsed template is
walked here against a whitelist: text, `{{ macro(literal, key=literal) }}` and `{{ "literal" }}`.
No variables, attributes, filters, tests, operators, `{% set %}`, loops, imports or includes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes

from netsim.errors import NetsimError

# The functions a post may call (netsim.pages.macros.Page has one method for each). Here, not
# there, so that a build replaying every page (macros.py) registers them without importing netsim.
MACROS = (
    "claim",
    "given",
    "figure",
    "mac",
    "ip",
    "seat",
    "step_link",
    "connect_error",
    "field_reference",
    "fact_reference",
    "try_it",
    "stepper",
    "command",
    "on_your_machine",
    "decoder",
)
EXPECTED = "a post's Jinja may only call the site's macros with literal arguments, like {{ ip(\"alice\") }}"
LITERALS = (nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Neg, nodes.Pos)


@dataclass
class PostError(NetsimError):
    """A post's template does more than call the site's macros."""

    kind = "Macro error"

    file: str
    line: int
    found: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.found}; {EXPECTED}"


def body_offset(source: str, body: str) -> int:
    """Lines of front matter before `body` in the whole file, so Jinja's line 1 is the file's line N+1."""
    return source.count("\n", 0, len(source) - len(body)) if source.endswith(body) else 0


def check(
    body: str,
    file: str,
    offset: int,
    macros: Collection[str],
    environment: jinja2.Environment | None = None,
) -> nodes.Template:
    """Raise PostError at the first construct a post may not use; `offset` is the front matter's lines.
    Returns the parsed template (macros.py compiles it rather than parse the text again)."""
    env = environment or jinja2.Environment()
    try:
        tree = env.parse(body)
    except jinja2.TemplateSyntaxError as exc:
        raise PostError(file, offset + (exc.lineno or 1), f"the template does not parse ({exc.message})") from None
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            raise PostError(file, offset + node.lineno, f"{_describe(node)} is not allowed")
        for part in node.nodes:
            if isinstance(part, nodes.TemplateData) or _literal(part):
                continue
            if not isinstance(part, nodes.Call):
                raise PostError(file, offset + part.lineno, f"{_describe(part)} is not allowed")
            _check_call(part, file, offset, macros)
    return tree


def render(tree: nodes.Template, lookup: Callable[[str], Any]) -> str:
    """What Jinja renders from a tree check() passed, without compiling it to Python first.

    Such a tree is text, literals and calls of a name with literal arguments, so this is all of
    Jinja's work on it: each part in order; text as it is (the lexer already applied whitespace
    control and dropped the last newline); a literal or a call's result through str(), as the
    code Jinja generates does with no autoescape and no `finalize` (mkdocs-macros' environment);
    `lookup(name)` finds the function as a render's context does (the render's variables, then
    the environment's globals). Compiling a post's tree took about as long as parsing it (~0.1 s
    of a cold build's CPU at eight posts); tests/test_post_guard.py checks that every page of the
    site and every allowed construct renders here exactly as Jinja renders it.
    """
    out: list[str] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            raise TypeError(f"{type(node).__name__}: not a tree check() passed")
        for part in node.nodes:
            if isinstance(part, nodes.TemplateData):
                out.append(part.data)
            elif isinstance(part, nodes.Call) and isinstance(part.node, nodes.Name):
                args = [arg.as_const() for arg in part.args]
                kwargs = {kw.key: kw.value.as_const() for kw in part.kwargs}
                out.append(str(lookup(part.node.name)(*args, **kwargs)))
            elif _literal(part):
                out.append(str(part.as_const()))
            else:
                raise TypeError(f"{type(part).__name__}: not a tree check() passed")
    return "".join(out)


def _check_call(call: nodes.Call, file: str, offset: int, macros: Collection[str]) -> None:
    line = offset + call.lineno
    if not (isinstance(call.node, nodes.Name) and call.node.name in macros):
        raise PostError(file, line, f"a call of {_describe(call.node)} is not allowed (macros: {', '.join(macros)})")
    if call.dyn_args is not None or call.dyn_kwargs is not None:
        raise PostError(file, line, f"*args or **kwargs in {call.node.name}() are not allowed")
    for arg in [*call.args, *(kw.value for kw in call.kwargs)]:
        if not _literal(arg):
            raise PostError(file, offset + arg.lineno, f"{_describe(arg)} as an argument of {call.node.name}()")


def _dotted(node: nodes.Node) -> str | None:
    """`a.b["c"]` for a chain of attribute and item lookups on a name, else None."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _dotted(node.node)
        return f"{base}[{node.arg.value!r}]" if base else None
    return None


def _literal(node: nodes.Node) -> bool:
    """A string, number, boolean or None, or a list, tuple or dict made only of those."""
    return isinstance(node, LITERALS) and all(_literal(child) for child in node.iter_child_nodes())


def _describe(node: nodes.Node) -> str:
    dotted = _dotted(node)
    if isinstance(node, nodes.Name):
        return f"the name {node.name!r}"
    if dotted is not None:
        return f"attribute access {dotted!r}"
    if isinstance(node, nodes.Filter):
        return f"the filter {node.name!r}"
    if isinstance(node, nodes.FilterBlock):
        return f"the filter {node.filter.name!r}"
    kind = {
        "Assign": "{% set %}",
        "AssignBlock": "{% set %}",
        "Include": "{% include %}",
        "Import": "{% import %}",
        "FromImport": "{% from ... import %}",
        "Extends": "{% extends %}",
        "For": "{% for %}",
        "If": "{% if %}",
        "Macro": "{% macro %}",
        "CallBlock": "{% call %}",
        "With": "{% with %}",
        "Block": "{% block %}",
    }.get(type(node).__name__)
    return kind or f"a {type(node).__name__} expression"
