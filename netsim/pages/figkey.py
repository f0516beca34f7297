"""What a figure of a step is made from, as a digest: its key in the figure cache (issue 23).

Keyed by the scenario file's bytes, a comment or one step's title re-rendered every figure of the
post under `make serve`. Here the key is a digest of the very objects a figure's renderer is given
(netsim.pages.macros.Page._render_figure: the scenario, the step's trace, the step's place among
the steps), written out canonically: every field of every dataclass, each dict in its order. So
whatever field a renderer reads is in the key, one added later too, except the few left out here by
name, which no figure draws:

- the scenario's own title and description (the page shows them outside its figures);
- every step's title: a figure's caption names its own step only, and that title is in the key
  through the step's trace (StepTrace.title).

tests/test_figkey.py changes each of those in every scenario and checks that no figure, figure
check or share image changes; netsim's own code is in the cache's key already (cache.code_salt).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netsim.scenario import Scenario
    from netsim.trace import StepTrace, Trace

# (class name, field) left out of the key: display text no figure draws (see above).
LEFT_OUT = frozenset({("Scenario", "title"), ("Scenario", "description"), ("Step", "title")})


@functools.cache
def _fields(cls: type, whole: bool) -> tuple[str, ...]:
    """The fields of a dataclass the key is made of (all of them if `whole`), in their declared order."""
    return tuple(f.name for f in dataclasses.fields(cls) if whole or (cls.__name__, f.name) not in LEFT_OUT)


def _write(obj: Any, out: list[str], whole: bool = False) -> None:
    """Append obj's canonical text: type-tagged, so 1, 1.0, True and "1" all differ; the fields
    LEFT_OUT names are left out unless `whole`."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        out.append(f"{type(obj).__name__}:{obj!r},")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        out.append(f"{cls.__module__}.{cls.__qualname__}(")
        for name in _fields(cls, whole):  # declared fields only: not what a class caches in its __dict__
            out.append(name + "=")
            _write(getattr(obj, name), out, whole)
        out.append("),")
    elif isinstance(obj, dict):  # in its order: the order of hosts and ports is drawn
        out.append("{")
        for key, value in obj.items():
            _write(key, out, whole)
            _write(value, out, whole)
        out.append("},")
    elif isinstance(obj, (list, tuple)):
        out.append("[" if isinstance(obj, list) else "(")
        for item in obj:
            _write(item, out, whole)
        out.append("],")
    elif isinstance(obj, (set, frozenset)):
        out.append("set{" + "".join(sorted(canonical(item, whole) for item in obj)) + "},")
    else:  # never a repr that might carry an address in memory, or leave out what it holds
        raise TypeError(f"no canonical form for a {type(obj).__name__} in a figure's inputs")


def canonical(obj: Any, whole: bool = False) -> str:
    """obj written out so that equal inputs give equal text and different inputs different text
    (less the fields LEFT_OUT names, unless `whole`)."""
    out: list[str] = []
    _write(obj, out, whole)
    return "".join(out)


def scenario_key(scenario: Scenario, whole: bool = False) -> str:
    """A digest of the scenario less its display text (LEFT_OUT; all of it if `whole`), worked out
    once per scenario object: Book keeps a scenario between make serve's rebuilds while its file
    is unchanged."""
    kept = "_figkey_whole" if whole else "_figkey"
    found = scenario.__dict__.get(kept)
    if found is None:  # a frozen dataclass: kept beside its fields, as Scenario.host_at keeps its plugs
        found = scenario.__dict__[kept] = hashlib.sha256(canonical(scenario, whole).encode()).hexdigest()
    return found


def figure_key(scenario: Scenario, trace: Trace, step: StepTrace) -> str:
    """The digest of what any figure of `step` is drawn from (its arguments are keyed beside it)."""
    place = (trace.steps.index(step) + 1, len(trace.steps))
    text = f"{scenario_key(scenario)}\0{place}\0{canonical(step)}"
    return hashlib.sha256(text.encode()).hexdigest()
