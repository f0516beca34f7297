"""One palette and one type scale for every diagram, in both of the reader's colour schemes.

Graphviz needs a colour to lay out and draw with, so the renderers draw with each role's stand-in
(`gv(role)`); `classes()` then turns every colour attribute of the SVG into a class (`nc-f-flood`
for a fill, `nc-s-flood` for a stroke), and the page colours those classes from the theme's CSS
variables (`css()`), so a diagram follows the reader's light or dark scheme. A colour without a
role is refused: nothing gets baked into a figure.

Text colours were measured against the fill they sit on (at least 4.5:1 in both schemes,
tests/test_browser.py measures the rendered page).
"""

from __future__ import annotations

import re

FONT = "Helvetica"
FONT_STACK = "Helvetica,Arial,sans-serif"
# The type scale, in points of the drawing (1pt = 4/3 CSS px at natural size): every word in a
# diagram is TEXT, a room's name is TITLE. A figure is never shown below 0.96 of its natural size,
# so text stays at least 12.8 px, the page's small text (see netsim.css, .ns-table).
TEXT = 10
TITLE = 11
MIN_SCALE = 0.96  # the smallest a figure is drawn at: TEXT * 4/3 * 0.96 = 12.8 px
FIT_STEP = 40  # the wide layout's room, rounded up to this many px: one CSS rule per step
FIT_MAX = 2000

# role -> (Graphviz's stand-in, light scheme, dark scheme). A value starting with "var(" is the
# theme's own variable, the same in both schemes (it changes with the scheme by itself).
ROLES: dict[str, tuple[str, str, str]] = {
    "paper": ("#fffffe", "var(--md-default-bg-color)", ""),
    "ink": ("#000001", "var(--md-default-fg-color)", ""),
    "frame": ("#57606a", "var(--md-default-fg-color--light)", ""),
    "cable": ("#8c959f", "var(--md-default-fg-color--lighter)", ""),
    "box": ("#f6f8fa", "#f3f4f6", "#2b2f3b"),
    "host": ("#ede9fe", "#ede9fe", "#352d55"),
    "bridge": ("#fff7ed", "#fff7ed", "#3d2b16"),
    "own": ("#fef3c7", "#fef3c7", "#3f3412"),
    "bad": ("#fee2e2", "#fee2e2", "#4d1f1f"),
    "good": ("#dcfce7", "#dcfce7", "#163a24"),
    # Decisions and outcomes: lines and the words beside them, on the paper.
    "forward": ("#1f6feb", "#0550ae", "#79b8ff"),
    "flood": ("#d97706", "#a64d00", "#f6b54b"),
    "local": ("#7c3aed", "#6d28d9", "#c4b5fd"),
    "drop": ("#dc2626", "#b91c1c", "#ff9b9b"),
    "ok": ("#15803d", "#13723a", "#5fdc8c"),
}
_BY_STANDIN = {standin: role for role, (standin, _l, _d) in ROLES.items()}
_NAMED = {"black": "ink", "white": "paper"}  # Graphviz's defaults where a renderer set nothing


def gv(role: str) -> str:
    """The colour Graphviz draws `role` with."""
    return ROLES[role][0]


# Greedy to the element's end ("/" taken off after): a lazy match tried the end at every character.
_PAINTED = re.compile(r"<(polygon|path|ellipse|polyline|text)\b([^>]*)>")
_PAINT = re.compile(r' (fill|stroke)="([^"]*)"')


def classes(svg: str) -> str:
    """Every fill and stroke colour of a Graphviz SVG as a palette class; text without one is ink."""
    # One split of the drawing and one of each painted element's attributes, each element's classes
    # looked up by its tag and colours: a callback per element was most of a figure's post-processing
    # (issue 23: a cold build draws some 270 figures).
    parts = _PAINTED.split(svg)  # text, then tag and attributes, text, for each element
    for at in range(1, len(parts), 3):
        tag, attrs = parts[at : at + 2]
        end = "/" if attrs.endswith("/") else ""
        attrs = attrs[: len(attrs) - len(end)]
        pieces = _PAINT.split(attrs)  # the other attributes, then kind, colour, the others, ...
        key = (tag, *pieces[1::3], "", *pieces[2::3])
        names = _CLASSES.get(key)
        if names is None:
            names = _CLASSES[key] = _class_names(tag, list(zip(pieces[1::3], pieces[2::3], strict=True)))
        parts[at : at + 2] = (f'<{tag} class="{names}"{"".join(pieces[0::3])}{end}>', "")
    return "".join(parts)


_CLASSES: dict[tuple[str, ...], str] = {}  # (tag, kinds, "", colours) -> the element's class names


def _class_names(tag: str, paints: list[tuple[str, str]]) -> str:
    names = []
    for kind, colour in paints:
        if colour in ("none", "transparent"):
            names.append(f"nc-{kind[0]}-none")
            continue
        role = _BY_STANDIN.get(colour.lower()) or _NAMED.get(colour.lower())
        if role is None:
            raise ValueError(f"a diagram was drawn with {colour}, which is no role of netsim.render.palette")
        names.append(f"nc-{kind[0]}-{role}")
    if tag == "text" and not any(n.startswith("nc-f-") for n in names):
        names.append("nc-f-ink")
    return " ".join(names)


def css() -> str:
    """The diagrams' colours for the page: theme variables, and a dark value under slate."""
    light = []
    dark = []
    rules = []
    for role, (_standin, day, night) in ROLES.items():
        light.append(f"--nc-{role}: {day};")
        if night:
            dark.append(f"--nc-{role}: {night};")
        rules.append(f".nc-f-{role} {{ fill: var(--nc-{role}); }}")
        rules.append(f".nc-s-{role} {{ stroke: var(--nc-{role}); }}")
    return (
        "/* Generated by netsim.render.palette: the diagrams' palette in both schemes. */\n"
        f":root, [data-md-color-scheme] {{ {' '.join(light)} }}\n"
        f'[data-md-color-scheme="slate"] {{ {" ".join(dark)} }}\n'
        ".nc-f-none { fill: none; }\n.nc-s-none { stroke: none; }\n" + "\n".join(rules) + "\n"
    )


def standalone_css() -> str:
    """The same palette for a diagram opened on its own: literal colours, the system's scheme."""
    fallback = {"paper": ("#ffffff", "#1e2129"), "ink": ("#1f2328", "#e2e4e9")}
    fallback |= {"frame": ("#57606a", "#9aa1ad"), "cable": ("#8c959f", "#6b7280")}
    light = []
    dark = []
    for role, (_standin, day, night) in ROLES.items():
        day, night = fallback.get(role, (day, night))
        light.append(f"--nc-{role}: {day};")
        dark.append(f"--nc-{role}: {night};")
    rules = "".join(f".nc-f-{r} {{ fill: var(--nc-{r}); }} .nc-s-{r} {{ stroke: var(--nc-{r}); }} " for r in ROLES)
    return (
        f"svg {{ {' '.join(light)} background: var(--nc-paper); }} "
        f"@media (prefers-color-scheme: dark) {{ svg {{ {' '.join(dark)} }} }} "
        f".nc-f-none {{ fill: none; }} .nc-s-none {{ stroke: none; }} {rules}"
    )


def size_px(svg: str) -> tuple[int, int]:
    """The natural size of a Graphviz SVG in CSS pixels (it states points)."""
    found = re.search(r'<svg[^>]*\bwidth="(\d+)pt" height="(\d+)pt"', svg)
    if found is None:
        raise ValueError("the SVG states no size in points")
    return round(int(found.group(1)) * 4 / 3), round(int(found.group(2)) * 4 / 3)


def fit_class(wide: str) -> str:
    """`ns-fit-N`: the wide layout needs a column of at least N px to keep its text readable."""
    need = size_px(wide)[0] * MIN_SCALE
    step = min(FIT_MAX, -(-int(need) // FIT_STEP) * FIT_STEP)
    return f"ns-fit-{step}"


def layout_css() -> str:
    """Which layout a figure shows: the wide one where its column is at least `ns-fit-N` wide."""
    rules = [
        ".ns-diagram { container-type: inline-size; }",
        ".ns-diagram > .ns-narrow { display: none; }",
    ]
    for step in range(FIT_STEP, FIT_MAX + FIT_STEP, FIT_STEP):
        rules.append(
            f"@container (max-width: {step - 0.02}px) {{ .ns-fit-{step} > .ns-wide {{ display: none; }} "
            f".ns-fit-{step} > .ns-narrow {{ display: block; }} }}"
        )
    return "\n".join(rules) + "\n"
