"""Graphviz's layout of a graph, kept under the graph's own text (issue 23).

Graphviz is deterministic: the same DOT text and the same Graphviz version give the same SVG. So
its output is cached under a hash of exactly that, whatever page or version of netsim asked for
it: a stepper and a prose figure of the same step, a scenario edit that leaves most steps'
drawings as they were, and an edit to netsim that changes no drawing all reuse the layout instead
of running it again. What netsim does with the SVG afterwards (graph._svg) runs every time, so an
edit there shows at once.

Kept in memory for this process and on disk beside the figure cache (outside the checkout, for
the reason netsim/pages/cache.py gives; NETSIM_CACHE_DIR=off turns both off, unless
NETSIM_LAYOUT_CACHE_DIR names a folder for the layouts alone).
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import cache
from pathlib import Path

import pygraphviz as pgv

from netsim.pages import writeback

CHECKOUT = Path(__file__).resolve().parents[2]
_MEMORY: dict[str, str] = {}
STATS = {"hits": 0, "misses": 0}  # layouts reused and layouts run, in this process


@cache
def graphviz_version() -> str:
    svg = pgv.AGraph().draw(format="svg", prog="dot").decode()
    found = re.search(r"graphviz version ([^\s]+)", svg)
    return f"pygraphviz {pgv.__version__}, graphviz {found.group(1) if found else 'unknown'}"


def default_dir(root: Path) -> Path:
    """$XDG_CACHE_HOME (else ~/.cache)/the-bottom-six/figures/<a hash of the checkout's path>."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "the-bottom-six" / "figures" / _checkout(root)


@cache
def _checkout(root: Path) -> str:
    """A hash of the checkout's real path. Resolving it walks the path on disk: once a process, not
    once for each of a build's ~270 layouts (issue 23)."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def _dir() -> Path | None:
    # NETSIM_LAYOUT_CACHE_DIR keeps layouts there even with NETSIM_CACHE_DIR=off: the tests render
    # every figure afresh (a fault planted in netsim must reach it) yet need not run Graphviz again
    # on a DOT text it laid out before, since the key is all Graphviz reads (tests/conftest.py).
    layouts = os.environ.get("NETSIM_LAYOUT_CACHE_DIR")
    if layouts:
        return Path(layouts)
    setting = os.environ.get("NETSIM_CACHE_DIR")
    if setting is None:
        setting = str(default_dir(CHECKOUT))
    return Path(setting) / "layouts" if setting != "off" else None


# Graphviz declares a node's default label in every graph printed after its first layout in a
# process: a change in the text, never in the drawing.
_DEFAULT_LABEL = re.compile(r'^\tnode \[label="\\N"\];\n', re.M)


def text(g: pgv.AGraph) -> str:
    """The graph's DOT text, the cache's key. Its name is part of it: graph._svg keeps Graphviz's
    name of each element (the graph's too) for netsim.render.figfacts to read back."""
    return _DEFAULT_LABEL.sub("", g.string(), count=1)


def svg(g: pgv.AGraph) -> str:
    """`dot` run on the graph, as SVG text: from the cache when the same text was laid out before."""
    folder = _dir()
    if folder is None:  # the cache off: every layout runs, and the graph's text, the key, is not needed
        STATS["misses"] += 1
        return g.draw(format="svg", prog="dot").decode("utf-8")
    dot = text(g)
    key = hashlib.sha256(f"{graphviz_version()}\0{dot}".encode()).hexdigest()
    if key in _MEMORY:
        STATS["hits"] += 1
        return _MEMORY[key]
    path = folder / f"{key}.svg"
    kept = writeback.pending(path)  # asked to be written, not yet on disk
    if kept is not None or path.exists():
        STATS["hits"] += 1
        drawn = kept.decode("utf-8") if kept is not None else path.read_text(encoding="utf-8")
    else:
        STATS["misses"] += 1
        # The graph itself, not one parsed back from its text: parsing can order nodes differently.
        drawn = g.draw(format="svg", prog="dot").decode("utf-8")
        writeback.write(path, drawn.encode("utf-8"))  # behind the build, atomically
    _MEMORY[key] = drawn
    return drawn
