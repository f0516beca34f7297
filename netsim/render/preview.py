"""The picture a link to a post shows where it is shared (og:image): the post's first diagram.

Graphviz draws it straight to PNG at build time (cairo, inside the pygraphviz wheel), with the
machine's own fonts: no web font, no browser, no network. It is the wide layout of the post's
first figure, laid out exactly as on the page, the post's title above it, scaled to fit and
centred on a 1200 x 630 canvas (the size link previews show), in the light scheme.
"""

from __future__ import annotations

import pygraphviz as pgv

from netsim.render import palette
from netsim.render.graph import _text

WIDTH, HEIGHT = 1200, 630  # pixels
DPI = 100
MARGIN = 0.3  # inches of paper kept free on every side


def png(g: pgv.AGraph, title: str) -> bytes:
    """`g` (as a renderer built it) with `title` above, as a WIDTH x HEIGHT PNG."""
    g.graph_attr.update(label=_text(title), labelloc="t", fontsize="20", fontname=palette.FONT, dpi=str(DPI))
    g.graph_attr.update(pad="0", size="", ratio="")
    g.layout(prog="dot")
    left, bottom, right, top = (float(v) for v in g.graph_attr["bb"].split(","))
    width, height = (right - left) / 72, (top - bottom) / 72  # inches at natural size
    room_w, room_h = WIDTH / DPI - 2 * MARGIN, HEIGHT / DPI - 2 * MARGIN
    scale = min(room_w / width, room_h / height)
    # `size` bounds the drawing with its `pad` (the ! lets it grow to fill): a pad that makes the
    # two the canvas's shape, so the drawing lands centred, `scale` times its natural size.
    pad_x, pad_y = (WIDTH / DPI / scale - width) / 2, (HEIGHT / DPI / scale - height) / 2
    g.graph_attr.update(size=f"{WIDTH / DPI},{HEIGHT / DPI}!", pad=f"{pad_x:.4f},{pad_y:.4f}")
    return g.draw(format="png", prog="dot")  # the same layout again (dot is deterministic)
