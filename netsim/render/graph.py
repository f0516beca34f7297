"""Graphviz diagrams of a step, drawn in-process by pygraphviz (its wheel bundles Graphviz).

Layout comes from the cables alone (frame edges have constraint=false), so every step of a
scenario draws the room in the same place and only the paths change. Decisions differ in line
style and label as well as colour, so the diagram keeps its meaning in greyscale.
"""

from __future__ import annotations

import re

import pygraphviz as pgv

from netsim.render import words
from netsim.scenario import Scenario
from netsim.trace import Hop, StepTrace

# The classes below mark what a drawn element stands for (`ns-h2 ns-out`: the second frame's copy
# leaving the bridge). _svg keeps them, with Graphviz's own name for the element, in the SVG, and
# netsim.render.figfacts reads the figure back from there and holds it to the step's trace.

FONT = "Helvetica"
STYLE = {  # decision -> (edge style, colour, word on the edge)
    "forward": ("solid", "#1f6feb", "forward"),
    "flood": ("dashed", "#d97706", "flood"),
    "local": ("bold", "#7c3aed", "to host"),
    "drop": ("dotted", "#dc2626", "drop"),
}


def _text(value: str) -> str:
    """Scenario text as a plain Graphviz label: never an HTML label, never an escape sequence.

    pygraphviz makes a label that starts with '<' and ends with '>' an HTML label, and Graphviz
    reads backslash sequences (\\N, \\G, \\l) in plain ones. '\\<' is drawn as '<' and '\\\\' as '\\'.
    """
    return value.replace("\\", "\\\\").replace("<", "\\<")


def label(scenario: Scenario, host: str) -> str:
    return _text(words.label(scenario, host))


def port_label(scenario: Scenario, bridge: str, port: str) -> str:
    return _text(words.port_label(scenario, bridge, port))


def _base(name: str) -> pgv.AGraph:
    g = pgv.AGraph(directed=True, strict=False, name=name)
    g.graph_attr.update(bgcolor="white", fontname=FONT, rankdir="TB", nodesep="0.35", ranksep="0.55", pad="0.2")
    g.node_attr.update(fontname=FONT, fontsize="11", shape="box", style="rounded,filled", fillcolor="#f6f8fa")
    g.edge_attr.update(fontname=FONT, fontsize="10")
    return g


def _host_label(scenario: Scenario, host: str, dev: str, step: StepTrace | None = None) -> str:
    link = step.links.get(host, {}).get(dev) if step is not None else None
    if link is not None:
        lines = [label(scenario, host), link["mac"], *(a.split("/")[0] for a in link["addresses"])]
    else:
        iface = scenario.hosts[host].interfaces[dev]
        lines = [label(scenario, host), scenario.host_mac(host, dev)]
        if iface.address:
            lines.append(iface.address.split("/")[0])
    return "\\n".join(lines)


def room(scenario: Scenario, step: StepTrace) -> str:
    """The bridge as a room: its decision-maker on top, the seats, everyone under their seat.

    A frame is drawn as sender -> seat -> bridge -> seat(s) -> receiver(s); the bridge node
    states the decision in words.
    """
    g = _base(f"{scenario.name}-{step.id}")
    g.graph_attr["class"] = "ns-view-room"
    for bname, bridge in scenario.bridges.items():
        sub = g.add_subgraph(
            name=f"cluster_{bname}",
            label=_text(bname + (f" · {bridge.label}" if bridge.label else "")),
            style="rounded",
            color="#57606a",
            fontsize="12",
        )
        sub.add_node(f"{bname}", label=_decisions(step, bname), shape="ellipse", fillcolor="#fff7ed", **_tag("bridge"))
        seat = [port_label(scenario, bname, bname), scenario.bridge_mac(bname)]
        if bridge.address:
            seat.append(bridge.address.split("/")[0])
        seats = [*bridge.ports, bname]
        for port in seats:
            text = "\\n".join(seat) if port == bname else port_label(scenario, bname, port)
            fill = "#ede9fe" if port == bname else "#ffffff"
            sub.add_node(f"{bname}:{port}", label=text, fillcolor=fill)
            g.add_edge(bname, f"{bname}:{port}", style="invis")  # seats sit below the bridge
        sub.add_subgraph([f"{bname}:{p}" for p in seats], rank="same")
        owner = bridge.host
        g.add_node(owner, label=label(scenario, owner), shape="box3d", fillcolor="#ede9fe")
        g.add_edge(f"{bname}:{bname}", owner, dir="none", color="#8c959f")
    seating = _seating(scenario, step)
    for (bname, port), (host, dev) in seating.items():
        g.add_node(host, label=_host_label(scenario, host, dev, step))
        # The veth cable: one end in the host, the other end is the seat.
        g.add_edge(f"{bname}:{port}", host, dir="none", color="#8c959f")
    for n, hop in enumerate(step.frames, 1):
        _draw_hop(g, scenario, hop, n if len(step.frames) > 1 else 0, seating)
    return _svg(g)


def _seating(scenario: Scenario, step: StepTrace) -> dict[tuple[str, str], tuple[str, str]]:
    """(bridge, port) -> (host, interface) at the other end of the port's cable, at this step."""
    seats: dict[tuple[str, str], tuple[str, str]] = {}
    for bname, bridge in scenario.bridges.items():
        for port, link in step.links.get(bridge.host, {}).items():
            if link.get("master") == bname and link.get("peer"):
                host, dev = link["peer"].split("/", 1)
                seats[(bname, port)] = (host, dev)
    if not step.links:  # a trace read back from the lab has no cables: use the scenario's
        for host, h in scenario.hosts.items():
            for dev, iface in h.interfaces.items():
                if iface.plug and iface.plug.split(".")[0] in scenario.bridges:
                    bname, port = iface.plug.split(".", 1)
                    seats[(bname, port)] = (host, dev)
    return seats


def _decisions(step: StepTrace, bridge: str) -> str:
    lines = [f"{bridge}'s decision" if step.frames else "no frame this step"]
    hops = [h for h in step.frames if h.bridge == bridge]
    for n, hop in enumerate(hops, 1):
        tag = f"{n}. " if len(hops) > 1 else ""
        what = hop.what.replace("who-has", "who has")
        lines.append(f"{tag}{what} → {STYLE[hop.decision][2]} ({hop.reason})")
    return "\\n".join(lines)


def _endpoint(scenario: Scenario, bridge: str, port: str, seating: dict[tuple[str, str], tuple[str, str]]) -> str:
    if port == bridge:
        return scenario.bridges[bridge].host
    found = seating.get((bridge, port))
    return found[0] if found else f"{bridge}:{port}"


def _draw_hop(
    g: pgv.AGraph, scenario: Scenario, hop: Hop, number: int, seating: dict[tuple[str, str], tuple[str, str]]
) -> None:
    style, colour, word = STYLE[hop.decision]
    tag = f"{number}. " if number else ""
    attrs = dict(style=style, color=colour, fontcolor=colour, penwidth="2", constraint="false")
    sent = dict(color="#24292f", fontcolor="#24292f", penwidth="2", constraint="false")
    ingress = f"{hop.bridge}:{hop.in_port}"
    sender = _endpoint(scenario, hop.bridge, hop.in_port, seating)
    # Drawn along the cable (seat -> host, arrow reversed) so it runs beside it, not around.
    g.add_edge(ingress, sender, label=f"{tag}sends", dir="back", **sent, **_tag(f"h{number}", "sends"))
    g.add_edge(ingress, hop.bridge, **sent, **_tag(f"h{number}", "in"))
    if hop.decision == "drop":
        node = f"drop-{number}-{hop.in_port}"
        _drop_mark(g, node, hop.reason, colour)
        g.add_edge(hop.bridge, node, label=f"{tag}{word}", **attrs, **_tag(f"h{number}", "out"))
        return
    for port in hop.out_ports:
        seat = f"{hop.bridge}:{port}"
        g.add_edge(hop.bridge, seat, label=f"{tag}{word}", **attrs, **_tag(f"h{number}", "out"))
        target = _endpoint(scenario, hop.bridge, port, seating)
        if target != seat:  # an empty seat: the copy leaves and nobody takes it
            g.add_edge(seat, target, **attrs, **_tag(f"h{number}", "deliver"))


def _drop_mark(g: pgv.AGraph, node: str, reason: str, colour: str) -> None:
    g.add_node(node, label=f"✗ dropped\\n{reason}", shape="note", fillcolor="#fee2e2", color=colour, **_tag("drop"))


def _tag(*names: str) -> dict[str, str]:
    """Graphviz's `class` attribute: what the element stands for, kept in the SVG for figfacts."""
    return {"class": " ".join(f"ns-{n}" for n in names)}


def rooms(scenario: Scenario, step: StepTrace, host: str, knock: tuple[str, str] | None) -> str:
    """The rooms a host sits in (each bridge and its lo), the doormen, and a knock on a door.

    `knock` is (who, "ADDR:PORT") for a connect step; the edge carries the outcome.
    """
    g = _base(f"{scenario.name}-{step.id}-rooms")
    g.graph_attr.update(rankdir="LR", compound="true", **{"class": "ns-view-rooms"})
    seats: dict[str, str] = {}  # address -> node id of the host's seat with that address
    seats["127.0.0.1"] = _lo_room(g, host, f"{label(scenario, host)}'s one-seat room", "#ede9fe")
    for bname, bridge in scenario.bridges.items():
        if bridge.host != host:
            continue
        sub = g.add_subgraph(
            name=f"cluster_{bname}",
            label=_text(bname + (f" · {bridge.label}" if bridge.label else "")),
            style="rounded",
            color="#57606a",
        )
        addr = bridge.address.split("/")[0] if bridge.address else "?"
        sub.add_node(f"{host}:{bname}", label=f"{addr}\\n({_text(bname)})", fillcolor="#ede9fe")
        seats[addr] = f"{host}:{bname}"
        others = []
        for other, h in scenario.hosts.items():
            for dev, iface in h.interfaces.items():
                if not (iface.plug and iface.plug.startswith(f"{bname}.")):
                    continue
                if knock is not None and other == knock[0]:
                    sub.add_node(other, label=_host_label(scenario, other, dev))
                else:
                    others.append(label(scenario, other))
        if others:  # the rest of the room, in one box: this view is about doors, not seats
            sub.add_node(
                f"{bname}:others",
                label="also here:\\n" + "\\n".join(others),
                fillcolor="#ffffff",
                style="rounded,dashed,filled",
            )
    g.add_node(host, label=label(scenario, host), shape="box3d", fillcolor="#ede9fe")
    for seat in seats.values():
        g.add_edge(host, seat, dir="none", color="#8c959f")
    for n, text in enumerate(step.listeners.get(host, [])):
        addr, port = text.rsplit(":", 1)
        doors = list(seats.values()) if addr == "0.0.0.0" else [seats[a] for a in seats if a == addr]
        if addr.startswith("127.") and addr not in seats:
            doors = [seats["127.0.0.1"]]
        node = f"doorman-{n}"
        g.add_node(
            node,
            label=f"doorman\\nlistening on\\n{text}",
            shape="octagon",
            fillcolor="#dcfce7",
            color="#15803d",
            **_tag("doorman"),
        )
        for door in doors:
            g.add_edge(door, node, dir="none", color="#15803d", style="bold")
    if knock is not None:
        who, target = knock
        addr, port = target.rsplit(":", 1)
        ok = step.outcome == "connected"
        colour = "#15803d" if ok else "#dc2626"
        words = "connected ✓" if ok else f"{step.outcome} ✗"
        if addr.startswith("127.") and who != host:
            # The knocker's own loopback: a room of its own that the host's doorman never stands in.
            door = _lo_room(g, who, f"{label(scenario, who)}'s own one-seat room", "#fef3c7")
        else:
            door = seats.get(addr, seats.get("127.0.0.1") if addr.startswith("127.") else None) or addr
        source = who if who != host else f"{host}-terminal"
        if who == host:
            g.add_node(source, label=f"{label(scenario, host)}'s terminal", shape="box", fillcolor="#ffffff")
        g.add_edge(
            source,
            door,
            label=f"knock: {port}\\n{words}",
            color=colour,
            fontcolor=colour,
            penwidth="2.5",
            style="solid" if ok else "dashed",
            **_tag("knock"),
        )
    return _svg(g)


_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TITLE = re.compile(r"<title>[^<]*</title>")
_IDS = re.compile(r' (?:id|font-family|xml:space)="[^"]*"| class="(?!ns-)[^"]*"')
# A marked element: Graphviz's <g class="node ns-..."> and its <title> (the element's own name,
# "tail->head" for an edge) become <g class="ns-..." data-gv="..."> with no tooltip.
_MARKED = re.compile(
    r'<g id="[^"]*" class="(?:node|edge|graph)((?: ns&#45;[^" ]*)+)"([^>]*)>\n(?:<title>([^<]*)</title>)?'
)
_NUMBER = re.compile(r"(-?\d+\.\d+)")
_GEOMETRY = re.compile(r'( (?:points|d|x|y|cx|cy|rx|ry|width|height|viewBox|transform)=")([^"]*)"')


def _lo_room(g: pgv.AGraph, host: str, title: str, fill: str) -> str:
    """A host's loopback drawn as a one-seat room; returns the seat's node id."""
    room = g.add_subgraph(name=f"cluster_lo_{host}", label=f"lo · {title}", style="rounded", color="#57606a")
    room.add_node(f"{host}:lo", label="127.0.0.1\\n(lo)", fillcolor=fill)
    return f"{host}:lo"


def _svg(g: pgv.AGraph) -> str:
    svg = g.draw(format="svg", prog="dot").decode("utf-8")
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG goes inline
    # Graphviz's comments, tooltips, ids and 2-decimal coordinates cost a third of the page.
    svg = _MARKED.sub(_marked, _COMMENT.sub("", svg))
    svg = _IDS.sub("", _TITLE.sub("", svg))
    svg = svg.replace("<svg ", '<svg font-family="Helvetica,Arial,sans-serif" ', 1)
    # Round geometry only: the numbers inside attributes, never the text a reader sees.
    return _GEOMETRY.sub(lambda m: m.group(1) + _NUMBER.sub(_whole, m.group(2)) + '"', svg)


def _marked(match: re.Match[str]) -> str:
    classes = match.group(1).replace("&#45;", "-").strip()
    name = f' data-gv="{match.group(3)}"' if match.group(3) is not None else ""
    return f'<g class="{classes}"{name}{match.group(2)}>\n'


def _whole(match: re.Match[str]) -> str:
    return f"{float(match.group(1)):.0f}"


def namespaces(scenario: Scenario, step: StepTrace, knock: tuple[str, str] | None = None) -> str:
    """Every namespace as a room of its own with its interfaces, the veth cables between them,
    the doormen (listening sockets), and for a connect step the knock and its answer.

    Drawn from the trace's `links` (what `ip addr` would show), so it follows the rooms as steps
    create namespaces, move cable ends and bring links up.
    """
    g = _base(f"{scenario.name}-{step.id}-namespaces")
    g.graph_attr.update(rankdir="LR", compound="true", newrank="true", **{"class": "ns-view-namespaces"})
    for host, links in step.links.items():
        sub = g.add_subgraph(
            name=f"cluster_ns_{host}",
            label=f"{label(scenario, host)}'s namespace",
            style="rounded",
            color="#57606a",
        )
        for dev, link in links.items():
            down = link["state"] == "DOWN"
            text = [_text(dev), *link["addresses"]]
            if link["master"]:
                text.append(_text(f"port of {link['master']}"))
            text.append(link["state"])
            fill = {"loopback": "#ede9fe", "bridge": "#fff7ed"}.get(link["kind"], "#ffffff")
            sub.add_node(
                f"{host}/{dev}",
                label="\\n".join(text),
                fillcolor=fill,
                style="rounded,dashed,filled" if down else "rounded,filled",
                color="#8c959f" if down else "black",
            )
            if link["master"]:
                g.add_edge(f"{host}/{dev}", f"{host}/{link['master']}", dir="none", color="#d97706", style="bold")
        for n, text in enumerate(step.listeners.get(host, [])):
            addr, _port = text.rsplit(":", 1)
            node = f"{host}/doorman-{n}"
            sub.add_node(
                node,
                label=f"doorman\\n{text}",
                shape="octagon",
                fillcolor="#dcfce7",
                color="#15803d",
                **_tag("doorman"),
            )
            for dev, link in links.items():
                mine = [a.split("/")[0] for a in link["addresses"]]
                if addr in mine or (addr == "0.0.0.0" and mine) or (addr.startswith("127.") and dev == "lo"):
                    g.add_edge(f"{host}/{dev}", node, dir="none", color="#15803d", style="bold")
    drawn: set[frozenset[str]] = set()
    for host, links in step.links.items():
        for dev, link in links.items():
            peer = link.get("peer")
            if not peer or frozenset((f"{host}/{dev}", peer)) in drawn:
                continue
            drawn.add(frozenset((f"{host}/{dev}", peer)))
            if peer.split("/")[0] in step.links:
                g.add_edge(f"{host}/{dev}", peer, dir="none", label=" veth cable ", color="#1f6feb", penwidth="2.5")
    if knock is not None:
        who, target = knock
        addr, port = target.rsplit(":", 1)
        where = _landing(step, who, addr)
        ok = step.outcome == "connected"
        colour = "#15803d" if ok else "#dc2626"
        words = "connected ✓" if ok else f"{step.outcome} ✗"
        source = f"{who}/program"
        g.add_node(source, label=f"a program in\\n{label(scenario, who)}", shape="box", fillcolor="#ffffff")
        if where is not None:
            g.add_edge(
                source,
                where,
                label=f"knock: {addr}:{port}\\n{words}",
                color=colour,
                fontcolor=colour,
                penwidth="2.5",
                style="solid" if ok else "dashed",
                **_tag("knock"),
            )
        else:
            nowhere = f"{who}/nowhere"
            g.add_node(nowhere, label=f"no way to {addr}", shape="note", fillcolor="#fee2e2", color=colour)
            g.add_edge(
                source,
                nowhere,
                label=words,
                color=colour,
                fontcolor=colour,
                style="dashed",
                penwidth="2.5",
                **_tag("knock"),
            )
    return _svg(g)


def _landing(step: StepTrace, who: str, addr: str) -> str | None:
    """The interface a connect lands on: the knocker's own lo for 127/8, else whoever has `addr`."""
    if addr.startswith("127."):
        lo = step.links.get(who, {}).get("lo")
        return f"{who}/lo" if lo and lo["state"] == "UP" else None
    for host, links in step.links.items():
        for dev, link in links.items():
            if any(a.split("/")[0] == addr for a in link["addresses"]):
                return f"{host}/{dev}"
    return None
