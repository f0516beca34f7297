"""The byte view of a step: each frame's real bytes, with every field named."""

from __future__ import annotations

from netsim import wire
from netsim.render.escape import html as escape
from netsim.render.words import who
from netsim.scenario import Scenario
from netsim.trace import StepTrace


def render(scenario: Scenario, step: StepTrace) -> str:
    frames = []
    for n, hop in enumerate(step.frames, 1):
        data = wire.encode(hop)
        rows = "".join(
            f"<tr><td>{escape(f.layer)}</td><td>{escape(f.name)}</td>"
            f"<td><code>{data[f.start : f.start + f.length].hex(' ')}</code></td><td>{escape(f.value)}</td></tr>"
            for f in wire.fields(hop)
        )
        frames.append(
            f"<p><strong>Frame {n}</strong>: {escape(hop.what)}, from {escape(who(scenario, hop.src, step))}, "
            f"{len(data)} bytes</p>"
            f'<pre class="ns-hex">{_hexdump(data)}</pre>'
            '<table class="ns-table"><thead><tr><th>layer</th><th>field</th><th>bytes</th><th>means</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>"
        )
    return (
        '<details class="ns-bytes"><summary>Show the bytes of this step\'s frames</summary>'
        + "".join(frames)
        + "</details>"
    )


def _hexdump(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        lines.append(f"{offset:04x}  {chunk.hex(' '):<47}")
    return "\n".join(lines)
