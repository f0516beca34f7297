"""A figure's nodes and edges added to its pygraphviz graph through the cgraph calls themselves.

pygraphviz's add_node and add_edge wrap every node they touch in a Node object, and each wrapper
looks the graph's charset up (a KeyError when none is set, as in every figure here); one add_edge
builds four of them and an Edge. A figure adds a few dozen nodes and edges and the lab's edge
cases draw thousands of figures: that wrapping cost more than Graphviz's own SVG rendering (issues
15 and 23). These two make the same cgraph calls, with the same arguments in the same order, as
pygraphviz 2.0's AGraph.add_node and AGraph.add_edge, so the graph, its DOT text and its layout
are the same; tests/golden and the built site show it byte for byte.
"""

from __future__ import annotations

import pygraphviz as pgv
from pygraphviz import graphviz as gv

FIND, CREATE = 0, 1  # pygraphviz.agraph._Action
NODE, EDGE = 1, 3  # cgraph's AGNODE and AGEDGE, the kinds pygraphviz's ItemAttribute is given
GRAPHS, NODES, EDGES = 0, 1, 2  # whose defaults: pygraphviz's graph_attr, node_attr and edge_attr


def defaults(g: pgv.AGraph, kind: int, /, **attr: str) -> None:
    """g.graph_attr.update(**attr) (or node_attr, edge_attr) on a root graph: each attribute's
    default for the whole graph, declared in turn, as pygraphviz's Attribute.__setitem__ does."""
    if gv.agroot(g.handle) != g.handle:
        raise ValueError("defaults() sets a root graph's defaults; a subgraph's take graph_attr")
    for key, value in attr.items():
        gv.agattr_label(g.handle, kind, key.encode("utf-8"), value.encode("utf-8"))


def add_node(g: pgv.AGraph, name: str, /, **attr: str) -> None:
    """g.add_node(name, **attr): the node found or created in `g`, then each attribute set."""
    _set(_node(g, name), NODE, attr)


def add_edge(g: pgv.AGraph, tail: str, head: str, /, **attr: str) -> None:
    """g.add_edge(tail, head, **attr): a new edge (the graphs are not strict), then each attribute set."""
    th, hh = _node(g, tail), _node(g, head)
    try:
        eh = gv.agedge(g.handle, th, hh, None, CREATE)
    except KeyError:  # as pygraphviz does: a strict graph's edge that is there already
        eh = gv.agedge(g.handle, th, hh, None, FIND)
    _set(eh, EDGE, attr)


def _node(g: pgv.AGraph, name: str) -> object:
    raw = name.encode("utf-8")  # pygraphviz's encoding when the graph sets no charset
    try:
        return gv.agnode(g.handle, raw, FIND)
    except KeyError:
        return gv.agnode(g.handle, raw, CREATE)


def _set(handle: object, kind: int, attr: dict[str, str]) -> None:
    """pygraphviz's ItemAttribute.__setitem__ for each attribute in turn: declared on the root
    graph if it is new there, with Graphviz's default (a node's label is its name, "\\N")."""
    root = gv.agraphof(handle)
    for key, value in attr.items():
        default = b"\\N" if kind == NODE and key == "label" else b""
        gv.agsafeset_label(root, handle, key.encode("utf-8"), str(value).encode("utf-8"), default)
