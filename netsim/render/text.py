"""The terminal view of a trace: a line per frame, then tables shaped like iproute2's."""

from __future__ import annotations

from netsim.scenario import Scenario
from netsim.trace import StepTrace, Trace


def fdb_lines(step: StepTrace) -> list[str]:
    """The learned lines of `bridge fdb show`, one per MAC."""
    return [f"{mac} dev {port} master {bridge}" for bridge, table in step.fdb.items() for mac, port in table.items()]


def neigh_lines(step: StepTrace, namespace: str) -> list[str]:
    """`ip neigh show` inside one namespace."""
    out = []
    for ip, n in step.neigh.get(namespace, {}).items():
        lladdr = f" lladdr {n['mac']}" if n["mac"] else ""
        out.append(f"{ip.split(' dev ')[0]} dev {n.get('dev', '?')}{lladdr} {n['state']}")
    return out


def frame_line(hop) -> str:  # noqa: ANN001 - trace.Hop
    out = ", ".join(hop.out_ports) or "nowhere"
    return f"{hop.in_port} -> {hop.decision} -> {out}   {hop.src} > {hop.dst}  {hop.what}  ({hop.reason})"


def render(scenario: Scenario, trace: Trace) -> str:
    lines = [f"# {scenario.title}  ({scenario.file})", ""]
    for n, step in enumerate(trace.steps, 1):
        title = f" - {step.title}" if step.title else ""
        lines.append(f"[{n}/{len(trace.steps)}] {step.id}{title}   t={step.time:g}s")
        for hop in step.frames:
            lines.append(f"  {hop.bridge}: {frame_line(hop)}")
        for event in step.events:
            lines.append(f"  * {event}")
        if step.outcome is not None:
            verb = "ip link set" if step.action == "link_set" else "connect"
            lines.append(f"  => {verb}: {step.outcome}")
        if step.resolved is not None:
            lines.append(f"  => getaddrinfo({step.resolved.name}): {step.resolved.address or step.resolved.error}")
        fdb = fdb_lines(step)
        lines.append("  bridge fdb show (learned):" + ("" if fdb else " (empty)"))
        lines.extend(f"    {line}" for line in fdb)
        for ns in step.neigh:
            rows = neigh_lines(step, ns)
            if rows:
                lines.append(f"  ip neigh ({ns}):")
                lines.extend(f"    {row}" for row in rows)
        lines.append("")
    return "\n".join(lines)
