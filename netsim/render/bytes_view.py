"""The byte view of a step: every byte of each frame, coloured by layer, each field explained.

Like The Illustrated TLS Connection: the hex on one side, the fields on the other; pointing at
(or tapping, or focusing) a field lights its bytes and pointing at a byte lights its field
(docs/assets/diagrams.js). Every byte belongs to exactly one field (netsim.wire.fields).
"""

from __future__ import annotations

from netsim import wire
from netsim.render.escape import html as escape
from netsim.render.words import who
from netsim.scenario import Scenario
from netsim.trace import StepTrace

ROW = 8  # bytes per line of hex: narrow enough for a phone


def render(scenario: Scenario, step: StepTrace, root: str = "../") -> str:
    """`root` leads from the page back to the site's root (the field's links go to posts/)."""
    frames = []
    for n, hop in enumerate(step.frames, 1):
        data = wire.encode(hop)
        fields = wire.fields(hop)
        owner = [0] * len(data)
        for k, f in enumerate(fields):
            owner[f.start : f.start + f.length] = [k] * f.length
        rows = "".join(
            f'<tr class="ns-l-{f.layer.lower()}" data-f="{k}" tabindex="0">'
            f"<td>{_field_name(f, root)}<br><small>{escape(f.layer)}, byte{'s' if f.length > 1 else ''} "
            f"{f.start}{f'–{f.start + f.length - 1}' if f.length > 1 else ''}</small></td>"
            f"<td><code>{escape(f.value)}</code></td><td>{escape(f.means)}</td></tr>"
            for k, f in enumerate(fields)
        )
        frames.append(
            f'<div class="ns-frame"><p><strong>Frame {n}</strong>: {escape(hop.what)}, '
            f"from {escape(who(scenario, hop.src, step))}, {len(data)} bytes</p>"
            f'<pre class="ns-hex" aria-label="the frame\'s bytes in hexadecimal">{_hexdump(data, fields, owner)}</pre>'
            '<table class="ns-fields"><thead><tr><th>field</th><th>value</th><th>what it means</th></tr>'
            f"</thead><tbody>{rows}</tbody></table></div>"
        )
    return (
        '<details class="ns-bytes"><summary>Show every byte of this step\'s frames</summary>'
        + "".join(frames)
        + "</details>"
    )


def _field_name(field: wire.Field, root: str) -> str:
    if not field.post:
        return escape(field.name)
    return f'<a href="{root}posts/{escape(field.post)}">{escape(field.name)}</a>'


def _hexdump(data: bytes, fields: list[wire.Field], owner: list[int]) -> str:
    lines = []
    for offset in range(0, len(data), ROW):
        cells = " ".join(
            f'<span class="ns-l-{fields[owner[i]].layer.lower()}" data-f="{owner[i]}">{data[i]:02x}</span>'
            for i in range(offset, min(offset + ROW, len(data)))
        )
        lines.append(f"{offset:04x}  {cells}")
    return "\n".join(lines)
