"""The terminal view of a trace: a line per frame, then tables shaped like iproute2's."""

from __future__ import annotations

from netsim.scenario import Scenario
from netsim.tcp import LISTEN_BACKLOG
from netsim.trace import StepTrace, Trace


def fdb_lines(step: StepTrace) -> list[str]:
    """The learned lines of `bridge fdb show`, one per MAC."""
    return [f"{mac} dev {port} master {bridge}" for bridge, table in step.fdb.items() for mac, port in table.items()]


def neigh_lines(step: StepTrace, namespace: str) -> list[str]:
    """`ip neigh show` inside one namespace."""
    out = []
    for key, n in step.neigh.get(namespace, {}).items():
        ip, _, dev = key.partition(" dev ")
        dev = n.get("dev", dev)
        # The lab's trace keys an entry by its address alone and records no device: then no
        # `dev` is printed rather than a made-up one.
        on = f" dev {dev}" if dev else ""
        lladdr = f" lladdr {n['mac']}" if n["mac"] else ""
        out.append(f"{ip}{on}{lladdr} {n['state']}")
    return out


SS_HEADER = ("State", "Recv-Q", "Send-Q", "Local Address", "Port", "Peer Address", "Port", "Process")


def ss_users(name: str, pid: int, fd: int) -> str:
    """What `ss -p` prints for a socket one process holds (proc_ctx_print() in iproute2's misc/ss.c:
    `out(" users:(%s)")`, each holder as ("comm",pid=N,fd=N)), leading space included."""
    return f' users:(("{name}",pid={pid},fd={fd}))'


def ss_table(rows: list[tuple[str, str]], backlogs: dict[str, int] | None = None) -> list[str]:
    """`ss -ltn` or `ss -ltnp` as iproute2's ss prints it into a pipe: a header, then a LISTEN line
    per (ADDRESS:PORT, process text) row, with an empty accept queue and the listener's backlog
    (`backlogs`, ADDRESS:PORT -> listen()'s backlog; ssh's 128 when not given).

    Piped, ss sets each column to its widest value (render_calc_width(): compact output, no
    screen to spread over), addresses right-aligned against their colon. A column's width is
    measured when its field is flushed (field_flush()), and the last line's process field never
    is: the header is padded to the widest process of every line but the last."""
    cells = [
        (
            "LISTEN",
            "0",
            str((backlogs or {}).get(listen, LISTEN_BACKLOG)),
            *listen.rsplit(":", 1),
            "0.0.0.0",
            "*",
            users,
        )
        for listen, users in rows
    ]
    widths = [max(len(row[i]) for row in [SS_HEADER, *cells]) for i in range(len(SS_HEADER) - 1)]
    widths.append(max(len(row[-1]) for row in [SS_HEADER, *cells[:-1]]))

    def line(row: tuple[str, ...]) -> str:
        state, recv, send, local, port, peer, peer_port, process = row
        w = widths
        return (
            f"{state:<{w[0]}} {recv:<{w[1]}} {send:<{w[2]}} {local:>{w[3]}}:{port:<{w[4]}} "
            f"{peer:>{w[5]}}:{peer_port:<{w[6]}}{process:<{w[7]}}"
        )

    return [line(SS_HEADER), *(line(row) for row in cells)]


def ss_lines(
    step: StepTrace, namespace: str, users: dict[str, str] | None = None, backlogs: dict[str, int] | None = None
) -> list[str]:
    """`ss -ltn` inside one namespace, in the trace's order; with `users` (ADDRESS:PORT -> what
    ss_users() says for it), `ss -ltnp`. The kernel lists its listeners in the order of its
    listening hash, which is seeded per namespace: a real machine may print them in another order."""
    return ss_table([(listen, (users or {}).get(listen, "")) for listen in step.listeners.get(namespace, [])], backlogs)


def hosts_lines(step: StepTrace, namespace: str) -> list[str]:
    """`cat /etc/hosts` inside one namespace, each line as Podman writes it: the address, a tab, the
    names separated by spaces (formatLine() in containers/common pkg/etchosts/hosts.go)."""
    return [f"{address}\t{' '.join(names)}" for address, names in step.hosts_files.get(namespace, [])]


def frame_line(hop) -> str:  # noqa: ANN001 - trace.Hop
    out = ", ".join(hop.out_ports) or "nowhere"
    return f"{hop.in_port} -> {hop.decision} -> {out}   {hop.src} > {hop.dst}  {hop.what}  ({hop.reason})"


# What a step's outcome is the answer of, by the step's action: a listen or ssh -L step's bind() refused
# once read "connect: address-in-use".
OUTCOME_VERBS = {"link_set": "ip link set", "veth_add": "ip link add", "listen": "listen", "ssh_forward": "ssh -L"}


def render(scenario: Scenario, trace: Trace) -> str:
    lines = [f"# {scenario.title}  ({scenario.file})", ""]
    # A trace read back from JSON (the lab's) has neither actions nor titles: the scenario's are the same.
    actions = {s.id: s.action for s in scenario.steps}
    titles = {s.id: s.title for s in scenario.steps}
    for n, step in enumerate(trace.steps, 1):
        title = step.title or titles.get(step.id)
        title = f" - {title}" if title else ""
        lines.append(f"[{n}/{len(trace.steps)}] {step.id}{title}   t={round(step.time, 3):g}s")
        for hop in step.frames:
            lines.append(f"  {hop.bridge}: {frame_line(hop)}")
        for event in step.events:
            lines.append(f"  * {event}")
        if step.outcome is not None:
            verb = OUTCOME_VERBS.get(step.action or actions.get(step.id, ""), "connect")
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
