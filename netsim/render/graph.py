"""Graphviz diagrams of a step, drawn in-process by pygraphviz (its wheel bundles Graphviz).

Layout comes from the cables alone (frame edges have constraint=false), so every step of a
scenario draws the room in the same place and only the paths change. Decisions differ in line
style and label as well as colour, so the diagram keeps its meaning in greyscale.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import pygraphviz as pgv

from netsim.render import cgraph, layout, palette, words
from netsim.render.palette import gv
from netsim.scenario import Scenario
from netsim.trace import Hop, StepTrace

# The classes below mark what a drawn element stands for (`ns-h2 ns-out`: the second frame's copy
# leaving the bridge). _svg keeps them, with Graphviz's own name for the element, in the SVG, and
# netsim.render.figfacts reads the figure back from there and holds it to the step's trace.

STYLE = {  # decision -> (edge style, palette role of its colour, word on the edge)
    "forward": ("solid", "forward", "forward"),
    "flood": ("dashed", "flood", "flood"),
    "local": ("bold", "local", "to host"),
    "drop": ("dotted", "drop", "drop"),
}


def _text(value: str) -> str:
    """Scenario text as a plain Graphviz label: never an HTML label, never an escape sequence.

    pygraphviz makes a label that starts with '<' and ends with '>' an HTML label, and Graphviz
    reads backslash sequences (\\N, \\G, \\l) in plain ones. '\\<' is drawn as '<' and '\\\\' as '\\'.
    """
    return value.replace("\\", "\\\\").replace("<", "\\<")


def _lines(value: str, wrap: int = 0) -> str:
    """Plain text, broken into lines of at most `wrap` characters (0: one line)."""
    parts = textwrap.wrap(value, wrap, break_long_words=False, break_on_hyphens=False) if wrap else [value]
    return "\\n".join(_text(p) for p in parts)


def label(scenario: Scenario, host: str, wrap: int = 0) -> str:
    return _lines(words.label(scenario, host), wrap)


def port_label(scenario: Scenario, bridge: str, port: str, wrap: int = 0, story: bool = False) -> str:
    return _lines(words.port_label(scenario, bridge, port, story), wrap)


def _base(name: str) -> pgv.AGraph:
    g = pgv.AGraph(directed=True, strict=False, name=name)
    font = palette.FONT
    cgraph.defaults(g, cgraph.GRAPHS, bgcolor=gv("paper"), fontname=font, fontsize=str(palette.TITLE), rankdir="TB")
    cgraph.defaults(g, cgraph.GRAPHS, nodesep="0.35", ranksep="0.55", pad="0.2")
    text = str(palette.TEXT)
    cgraph.defaults(
        g, cgraph.NODES, fontname=font, fontsize=text, shape="box", style="rounded,filled", fillcolor=gv("box")
    )
    cgraph.defaults(g, cgraph.NODES, color=gv("ink"), fontcolor=gv("ink"))
    cgraph.defaults(g, cgraph.EDGES, fontname=font, fontsize=text, color=gv("ink"), fontcolor=gv("ink"))
    return g


def _host_label(scenario: Scenario, host: str, dev: str, step: StepTrace | None = None, wrap: int = 0) -> str:
    link = step.links.get(host, {}).get(dev) if step is not None else None
    if link is not None:
        lines = [label(scenario, host, wrap), link["mac"], *(a.split("/")[0] for a in link["addresses"])]
    else:
        iface = scenario.hosts[host].interfaces[dev]
        lines = [label(scenario, host, wrap), scenario.host_mac(host, dev)]
        if iface.address:
            lines.append(iface.address.split("/")[0])
    return "\\n".join(lines)


def room(scenario: Scenario, step: StepTrace, narrow: bool = False, story: bool = False) -> str:
    """The bridge as a room: its decision-maker on top, the seats, everyone under their seat.

    `story`: in the story's words (netsim.render.words), for a figure before the post's reveal.

    A frame is drawn as sender -> seat -> bridge -> seat(s) -> receiver(s); the bridge node
    states the decision in words. `narrow` is the phone's portrait layout: the seats in a column,
    each with its occupant beside it inside the room, the words wrapped, the lines unlabelled
    (the bridge's box and the caption say what each line is).
    """
    g = _base(f"{scenario.name}-{step.id}")
    g.graph_attr["class"] = "ns-view-room"
    wrap = WRAP if narrow else 0
    if narrow:
        _narrow(g)
        g.graph_attr["newrank"] = "true"
    seating = _seating(scenario, step)
    # Narrow: frames that take the same way (a SYN sent again) share one set of lines, marked
    # with every frame's number (the bridge's box still lists each), so a phone draws no bundles.
    ways: dict[tuple[object, ...], list[int]] = {}
    for n, hop in enumerate(step.frames, 1):
        way = (hop.bridge, hop.in_port, hop.decision, tuple(hop.out_ports), hop.reason)
        ways.setdefault(way if narrow else (n,), []).append(n if len(step.frames) > 1 else 0)
    bottom = ""  # narrow: the last room's owner, the next room stands under it
    for bname, bridge in scenario.bridges.items():
        if narrow and bottom:
            cgraph.add_edge(g, bottom, bname, style="invis", weight="10")
        bottom = bridge.host
        sub = g.add_subgraph(
            name=f"cluster_{bname}",
            label=_lines(words.bridge_title(scenario, bname, story), wrap),
            style="rounded",
            color=gv("frame"),
        )
        shape = "box" if narrow else "ellipse"
        box = _decisions(step, bname, wrap, story)
        cgraph.add_node(sub, bname, label=box, shape=shape, fillcolor=gv("bridge"), **_tag("bridge"))
        seat = [port_label(scenario, bname, bname, wrap and WRAP_LABEL, story), scenario.bridge_mac(bname)]
        if bridge.address:
            seat.append(bridge.address.split("/")[0])
        seats = [*bridge.ports, bname]
        chain = [bname]  # narrow: what stands in one column, top to bottom
        if narrow:  # a drop mark stands in the room, under the bridge
            for numbers in ways.values():
                hop = step.frames[max(numbers[0], 1) - 1]
                if hop.bridge == bname and hop.decision == "drop":
                    chain.append(_drop_name(hop, numbers[0]))
                    cgraph.add_node(sub, chain[-1])
                    cgraph.add_edge(g, chain[-2], chain[-1], style="invis", weight="10")
        for n, port in enumerate(seats):
            text = "\\n".join(seat) if port == bname else port_label(scenario, bname, port, wrap, story)
            fill = gv("host") if port == bname else gv("paper")
            cgraph.add_node(sub, f"{bname}:{port}", label=text, fillcolor=fill)
            if not narrow:
                cgraph.add_edge(g, bname, f"{bname}:{port}", style="invis")  # seats sit below the bridge
            else:  # one seat under the other
                above = chain[-1] if n == 0 else f"{bname}:{seats[n - 1]}"
                cgraph.add_edge(g, above, f"{bname}:{port}", style="invis", weight="10")
        if not narrow:
            sub.add_subgraph([f"{bname}:{p}" for p in seats], rank="same")
        owner = bridge.host
        cgraph.add_node(
            sub if narrow else g,
            owner,
            label=label(scenario, owner, wrap and WRAP_LABEL),
            shape="box3d",
            fillcolor=gv("host"),
        )
        cgraph.add_edge(g, f"{bname}:{bname}", owner, dir="none", color=gv("cable"))
        if narrow:  # the host under its own seat
            cgraph.add_edge(g, f"{bname}:{bname}", owner, style="invis", weight="10")
            for (where, port), (host, dev) in seating.items():
                if where == bname:  # the occupant beside the seat, inside the room
                    cgraph.add_node(sub, host, label=_host_label(scenario, host, dev, step, WRAP_LABEL))
                    sub.add_subgraph([f"{bname}:{port}", host], rank="same")
    for (bname, port), (host, dev) in seating.items():
        if not narrow:
            cgraph.add_node(g, host, label=_host_label(scenario, host, dev, step))
        # The veth cable: one end in the host, the other end is the seat.
        cgraph.add_edge(g, f"{bname}:{port}", host, dir="none", color=gv("cable"))
    for first, *also in ways.values():
        hop = step.frames[max(first, 1) - 1]
        _draw_hop(g, scenario, hop, first, seating, words_on_lines=not narrow, also=also, story=story)
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


def _narrow(g: pgv.AGraph) -> None:
    """The phone's layout: tight spacing, small margins (the words keep their size)."""
    cgraph.defaults(g, cgraph.GRAPHS, nodesep="0.04", ranksep="0.2", pad="0.05")
    cgraph.defaults(g, cgraph.NODES, margin="0.06,0.03", width="0.3", height="0.3")


def _stack(g: pgv.AGraph) -> None:
    """Narrow: everything in one column, one thing per row, each room's things together.

    Each thing stands next to what its lines join, so the lines stay short: whoever knocks right
    above the first room it knocks into, a router or doorman right under the first room it stands
    in (between the rooms it joins), a line's words next to its line, the rest at the bottom.
    Only this order places things (the drawn lines follow it, constraint=false), so nothing
    stands beside anything: the width is the widest box and the lines that go round it.
    """
    rooms = [list(sub.nodes()) for sub in g.subgraphs() if sub.name.startswith("cluster_") and sub.nodes()]
    room_of = {n: k for k, nodes in enumerate(rooms) for n in nodes}
    lines = [e for e in g.edges() if e.attr.get("style") != "invis"]
    boxes = _words_off_lines(g, lines)
    walls = list(g.subgraphs())
    while walls:  # a room's walls closer to what stands in it (Graphviz leaves 8pt)
        wall = walls.pop()
        wall.graph_attr["margin"] = "4"
        walls += wall.subgraphs()
    before, after, rest = [[] for _ in rooms], [[] for _ in rooms], []
    for node in g.nodes():
        if node in room_of or node in boxes:
            continue
        heads = [room_of[e[1]] for e in lines if e[0] == node and e[1] in room_of]
        tails = [room_of[e[0]] for e in lines if e[1] == node and e[0] in room_of]
        if heads and not tails:
            before[min(heads)].append(node)
        elif tails or heads:
            after[min(tails + heads)].append(node)
        else:
            rest.append(node)
    # Joined to nothing in a room (a NAT note, a router's own program): at the bottom, out of the
    # way of the lines between the rooms.
    order = [n for k, nodes in enumerate(rooms) for n in before[k] + nodes + after[k]] + rest
    for box, (tail, head) in boxes.items():  # a line's words under its tail, else above its head
        at = order.index(tail) + 1 if tail not in room_of else order.index(head) if head not in room_of else None
        if at is None:  # both ends in rooms: right after the tail's room and what follows it
            k = room_of[tail]
            at = order.index((rooms[k] + after[k])[-1]) + 1
        order.insert(at, box)
    for edge in lines:
        edge.attr["constraint"] = "false"
    for a, b in zip(order, order[1:], strict=False):
        cgraph.add_edge(g, a, b, style="invis", weight="10")
    g.node_attr["group"] = "column"


def _words_off_lines(g: pgv.AGraph, lines: list[pgv.Edge]) -> dict[str, tuple[str, str]]:
    """Narrow: each labelled line's words move off the line into a box of their own in the column.

    A line that does not shape the layout runs round the column, and its words would ride out
    beside it, wider than a phone. The box is outlined in the line's colour, and the two share a
    mark (`ns-wN`), so netsim.render.figfacts reads the box's words as the line's. Returns
    box -> (tail, head) of its line.
    """
    boxes: dict[str, tuple[str, str]] = {}
    for edge in lines:
        words = (edge.attr.get("label") or "").strip()
        if not words:
            continue
        mark = f"w{len(boxes) + 1}"
        box = f"words-{len(boxes) + 1}"
        colour = edge.attr.get("fontcolor") or edge.attr.get("color") or gv("ink")
        cgraph.add_node(
            g, box, label=words, shape="box", style="rounded,dashed,filled", fillcolor=gv("paper"),
            color=edge.attr.get("color") or gv("ink"), fontcolor=colour, **_tag("words", mark),
        )  # fmt: skip
        edge.attr["label"] = ""
        edge.attr["class"] = f"{edge.attr.get('class') or 'ns-line'} ns-{mark}"
        boxes[box] = (str(edge[0]), str(edge[1]))
    return boxes


WRAP = 24  # characters per line of the narrow layout's sentences
WRAP_LABEL = 16  # and of its names


def _decisions(step: StepTrace, bridge: str, wrap: int, story: bool = False) -> str:
    """The bridge's box: one line per frame, '... → flood (reason)'; `wrap` breaks long ones,
    keeping '→ word (' on one line (figfacts reads the decision from there)."""
    lines = [words.decision_head(bridge, story) if step.frames else "no frame this step"]
    hops = [h for h in step.frames if h.bridge == bridge]
    for n, hop in enumerate(hops, 1):
        tag = f"{n}. " if len(hops) > 1 else ""
        what = words.frame_words(hop.what, story).replace("who-has", "who has")
        said = f"→ {words.edge_word(hop.decision, story)} ({words.reason_words(hop.reason, story)})"
        if not wrap:
            lines.append(f"{tag}{what} {said}")
            continue
        lines += textwrap.wrap(f"{tag}{what}", wrap, break_on_hyphens=False)
        first, *rest = textwrap.wrap(said, wrap, break_on_hyphens=False)
        while "(" not in first and rest:  # the reason's bracket starts on the arrow's line
            first = f"{first} {rest.pop(0)}"
        lines += [first, *rest]
    return "\\n".join(_text(line) for line in lines)


def _endpoint(scenario: Scenario, bridge: str, port: str, seating: dict[tuple[str, str], tuple[str, str]]) -> str:
    if port == bridge:
        return scenario.bridges[bridge].host
    found = seating.get((bridge, port))
    return found[0] if found else f"{bridge}:{port}"


def _draw_hop(
    g: pgv.AGraph,
    scenario: Scenario,
    hop: Hop,
    number: int,
    seating: dict[tuple[str, str], tuple[str, str]],
    words_on_lines: bool = True,
    also: list[int] | None = None,
    story: bool = False,
) -> None:
    """One frame's lines, marked `ns-hN` (and `ns-hM` for each frame in `also` that took the same way)."""
    style, role, _word = STYLE[hop.decision]
    word = words.edge_word(hop.decision, story)
    h = [f"h{n}" for n in [number, *(also or [])]]
    colour = gv(role)
    tag = f"{number}. " if number else ""
    if not words_on_lines:
        word, tag = "", ""
    attrs = dict(style=style, color=colour, fontcolor=colour, penwidth="2", constraint="false")
    sent = dict(color=gv("ink"), fontcolor=gv("ink"), penwidth="2", constraint="false")
    ingress = f"{hop.bridge}:{hop.in_port}"
    sender = _endpoint(scenario, hop.bridge, hop.in_port, seating)
    # Drawn along the cable (seat -> host, arrow reversed) so it runs beside it, not around.
    sends = f"{tag}sends" if words_on_lines else ""
    cgraph.add_edge(g, ingress, sender, label=sends, dir="back", **sent, **_tag(*h, "sends"))
    cgraph.add_edge(g, ingress, hop.bridge, **sent, **_tag(*h, "in"))
    if hop.decision == "drop":
        node = _drop_name(hop, number)
        why = words.reason_words(hop.reason, story)
        _drop_mark(g, node, why, colour, 0 if words_on_lines else WRAP)
        cgraph.add_edge(g, hop.bridge, node, label=f"{tag}{word}", **attrs, **_tag(*h, "out"))
        return
    for port in hop.out_ports:
        seat = f"{hop.bridge}:{port}"
        cgraph.add_edge(g, hop.bridge, seat, label=f"{tag}{word}", **attrs, **_tag(*h, "out"))
        target = _endpoint(scenario, hop.bridge, port, seating)
        if target != seat:  # an empty seat: the copy leaves and nobody takes it
            cgraph.add_edge(g, seat, target, **attrs, **_tag(*h, "deliver"))


def _drop_name(hop: Hop, number: int) -> str:
    return f"drop-{number}-{hop.in_port}"


def _drop_mark(g: pgv.AGraph, node: str, reason: str, colour: str, wrap: int = 0) -> None:
    cgraph.add_node(
        g,
        node,
        label=f"✗ dropped\\n{_lines(reason, wrap)}",
        shape="note",
        fillcolor=gv("bad"),
        color=colour,
        **_tag("drop"),
    )


def _tag(*names: str) -> dict[str, str]:
    """Graphviz's `class` attribute: what the element stands for, kept in the SVG for figfacts."""
    return {"class": " ".join(f"ns-{n}" for n in names)}


def rooms(scenario: Scenario, step: StepTrace, host: str, knock: tuple[str, str] | None, narrow: bool = False) -> str:
    """The rooms a host sits in (each bridge and its lo), the doormen, and a knock on a door.

    `knock` is (who, "ADDR:PORT") for a connect step; the edge carries the outcome. `narrow`
    draws it top to bottom for a phone.
    """
    g = _base(f"{scenario.name}-{step.id}-rooms")
    g.graph_attr.update(rankdir="TB" if narrow else "LR", compound="true", **{"class": "ns-view-rooms"})
    if narrow:
        _narrow(g)
    seats: dict[str, str] = {}  # address -> node id of the host's seat with that address
    wrap = WRAP_LABEL if narrow else 0
    seats["127.0.0.1"] = _lo_room(g, host, f"{words.label(scenario, host)}'s one-seat room", gv("host"), wrap)
    for bname, bridge in scenario.bridges.items():
        if bridge.host != host:
            continue
        sub = g.add_subgraph(
            name=f"cluster_{bname}",
            label=_lines(bname + (f" · {bridge.label}" if bridge.label else ""), wrap),
            style="rounded",
            color=gv("frame"),
        )
        addr = bridge.address.split("/")[0] if bridge.address else "?"
        cgraph.add_node(sub, f"{host}:{bname}", label=f"{addr}\\n({_text(bname)})", fillcolor=gv("host"))
        seats[addr] = f"{host}:{bname}"
        others = []
        for other, h in scenario.hosts.items():
            for dev, iface in h.interfaces.items():
                if not (iface.plug and iface.plug.startswith(f"{bname}.")):
                    continue
                if knock is not None and other == knock[0]:
                    cgraph.add_node(sub, other, label=_host_label(scenario, other, dev))
                else:
                    others.append(label(scenario, other, WRAP_LABEL if narrow else 0))
        if others:  # the rest of the room, in one box: this view is about doors, not seats
            cgraph.add_node(
                sub,
                f"{bname}:others",
                label="also here:\\n" + "\\n".join(others),
                fillcolor=gv("paper"),
                style="rounded,dashed,filled",
            )
    cgraph.add_node(g, host, label=label(scenario, host), shape="box3d", fillcolor=gv("host"))
    for seat in seats.values():
        cgraph.add_edge(g, host, seat, dir="none", color=gv("cable"))
    for n, text in enumerate(step.listeners.get(host, [])):
        addr, port = text.rsplit(":", 1)
        doors = list(seats.values()) if addr == "0.0.0.0" else [seats[a] for a in seats if a == addr]
        if addr.startswith("127.") and addr not in seats:
            doors = [seats["127.0.0.1"]]
        node = f"doorman-{n}"
        cgraph.add_node(
            g,
            node,
            label=f"doorman\\nlistening on\\n{text}",
            shape="octagon",
            fillcolor=gv("good"),
            color=gv("ok"),
            **_tag("doorman"),
        )
        for door in doors:
            cgraph.add_edge(g, door, node, dir="none", color=gv("ok"), style="bold")
    if knock is not None:
        who, target = knock
        addr, port = target.rsplit(":", 1)
        ok = step.outcome == "connected"
        colour = gv("ok") if ok else gv("drop")
        said = words.knock_words(step.outcome)
        if addr.startswith("127.") and who != host:
            # The knocker's own loopback: a room of its own that the host's doorman never stands in.
            door = _lo_room(g, who, f"{words.label(scenario, who)}'s own one-seat room", gv("own"), wrap)
        else:
            door = seats.get(addr, seats.get("127.0.0.1") if addr.startswith("127.") else None) or addr
        source = who if who != host else f"{host}-terminal"
        if who == host:
            cgraph.add_node(g, source, label=f"{label(scenario, host)}'s terminal", shape="box", fillcolor=gv("paper"))
        cgraph.add_edge(
            g,
            source,
            door,
            label=f"knock: {port}\\n{said}",
            color=colour,
            fontcolor=colour,
            penwidth="2.5",
            style="solid" if ok else "dashed",
            **_tag("knock"),
        )
    if narrow:
        _stack(g)
    return _svg(g)


def tunnel(
    scenario: Scenario, step: StepTrace, client: str, server: str, knock: tuple[str, str] | None, narrow: bool = False
) -> str:
    """Two hosts' rooms joined by SSH connections: the client's rooms with its doormen (ssh's among
    them), the server's rooms with its own, one edge per tunnel from the client to sshd, a knock,
    and the channel the server opened for it (the far end's connect, and what the knocker read)."""
    g = _base(f"{scenario.name}-{step.id}-tunnel")
    g.graph_attr.update(rankdir="TB" if narrow else "LR", compound="true", **{"class": "ns-view-tunnel"})
    if narrow:
        _narrow(g)
    seats: dict[str, dict[str, str]] = {}  # host -> address -> node id of its seat
    wrap = WRAP_LABEL if narrow else 0
    for host in (client, server):
        box = g.add_subgraph(
            name=f"cluster_host_{host}", label=label(scenario, host, wrap), style="rounded,dashed", color=gv("frame")
        )
        seats[host] = {"127.0.0.1": _lo_room(box, host, "its one-seat room", gv("host"), wrap)}
        for bname, bridge in scenario.bridges.items():
            if bridge.host != host:
                continue
            addrs = step.links.get(host, {}).get(bname, {}).get("addresses", [])
            addr = addrs[0].split("/")[0] if addrs else "no address yet"
            sub = box.add_subgraph(
                name=f"cluster_{bname}", label=_lines(bname + (f" · {bridge.label}" if bridge.label else ""), wrap),
                style="rounded", color=gv("frame"),
            )  # fmt: skip
            cgraph.add_node(
                sub, f"{host}:{bname}", label=f"{addr}\\n({_text(bname)})", fillcolor=gv("host"), **_tag("seat")
            )
            if addrs:
                seats[host][addr] = f"{host}:{bname}"
            for other, h in scenario.hosts.items():
                for dev, iface in h.interfaces.items():
                    if iface.plug and iface.plug.startswith(f"{bname}."):
                        cgraph.add_node(sub, other, label=_host_label(scenario, other, dev, step, wrap))
        for dev, link in step.links.get(host, {}).items():
            if link["kind"] == "veth" and link["addresses"] and not link["master"]:
                addr = link["addresses"][0].split("/")[0]
                cgraph.add_node(
                    box, f"{host}:{dev}", label=f"{addr}\\n({_text(dev)})", fillcolor=gv("host"), **_tag("seat")
                )
                seats[host][addr] = f"{host}:{dev}"
    doormen: dict[str, dict[str, str]] = {client: {}, server: {}}
    tunnels = {t["listen"]: t for t in step.tunnels if t["client"] == client}
    for host in (client, server):
        for n, text in enumerate(step.listeners.get(host, [])):
            addr, port = text.rsplit(":", 1)
            mine = seats[host]
            doors = list(mine.values()) if addr == "0.0.0.0" else [mine[addr]] if addr in mine else []
            who = "ssh -L" if text in tunnels else "sshd" if host == server and port == "22" else "doorman"
            node = f"doorman-{host}-{n}"
            cgraph.add_node(
                g, node, label=f"{who}\\nlistening on\\n{text}", shape="octagon", fillcolor=gv("good"), color=gv("ok"),
                **_tag("doorman"),
            )  # fmt: skip
            doormen[host][text] = node
            for door in doors:
                cgraph.add_edge(g, door, node, dir="none", color=gv("ok"), style="bold")
    sshd = doormen[server].get("0.0.0.0:22")
    for listen, t in tunnels.items():
        if sshd is not None and listen in doormen[client]:
            cgraph.add_edge(
                g, doormen[client][listen], sshd, label=f"SSH connection\\nto {t['target']}",
                color=gv("cable"), penwidth="3", dir="both", arrowhead="none", arrowtail="none", **_tag("ssh"),
            )  # fmt: skip
    if knock is not None:
        who, target = knock
        addr, port = target.rsplit(":", 1)
        ok = step.outcome == "connected"
        colour = gv("ok") if ok else gv("drop")
        words_ = words.knock_words(step.outcome)
        if step.reads is not None:
            words_ += "\\nthen reads " + words.read_words(step.reads)
        door = None
        if who != client or not addr.startswith("127."):
            # a seat of the client's, or one of the server's own (a knock straight on its sshd)
            door = seats.get(client, {}).get(addr) or seats.get(server, {}).get(addr)
        if addr.startswith("127."):
            # Every namespace has a lo of its own: a knock on 127/8 lands in the knocker's own room.
            own = f"{label(scenario, who)}'s own one-seat room"
            door = seats[who]["127.0.0.1"] if who in seats else _lo_room(g, who, own, gv("own"))
        door = door or addr  # an address no seat drawn holds: the knock ends at the bare address
        source = who if who not in (client, server) else f"{who}-terminal"
        if who in (client, server):
            cgraph.add_node(g, source, label=f"{label(scenario, who)}'s terminal", shape="box", fillcolor=gv("paper"))
        cgraph.add_edge(
            g, source, door, label=f"knock: {port}\\n{words_}", color=colour, fontcolor=colour, penwidth="2.5",
            style="solid" if ok else "dashed", **_tag("knock"),
        )  # fmt: skip
        channel = step.channel
        if channel is not None and sshd is not None:
            # A channel is opened for a connection one of the drawn client's tunnels accepted.
            target_t = tunnels[channel["listen"]]["target"]
            t_host, t_port = target_t.rsplit(":", 1)
            t_addr = "127.0.0.1" if t_host == "localhost" else t_host
            far = seats[server].get(t_addr, t_addr)
            good = channel["outcome"] == "connected"
            said = words.channel_words(channel["outcome"])
            cgraph.add_edge(
                g, sshd, far, label=f"channel {channel['n']}: connect {t_port}\\n{said}",
                color=gv("ok") if good else gv("drop"), fontcolor=gv("ok") if good else gv("drop"),
                style="solid" if good else "dashed", penwidth="2", **_tag("channel"),
            )  # fmt: skip
    if narrow:
        _stack(g)
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


def _lo_room(g: pgv.AGraph, host: str, title: str, fill: str, wrap: int = 0) -> str:
    """A host's loopback drawn as a one-seat room (`title` plain text); returns the seat's node id."""
    room = g.add_subgraph(
        name=f"cluster_lo_{host}", label=_lines(f"lo · {title}", wrap), style="rounded", color=gv("frame")
    )
    cgraph.add_node(room, f"{host}:lo", label="127.0.0.1\\n(lo)", fillcolor=fill, **_tag("seat"))
    return f"{host}:lo"


_KEPT: list[list[pgv.AGraph]] = []  # kept_graphs() listening, innermost last


@contextmanager
def kept_graphs() -> Iterator[list[pgv.AGraph]]:
    """The graphs drawn while this lasts, in order (netsim.render.preview rasterises one)."""
    kept: list[pgv.AGraph] = []
    _KEPT.append(kept)
    try:
        yield kept
    finally:
        _KEPT.remove(kept)


def _svg(g: pgv.AGraph) -> str:
    if _KEPT:
        _KEPT[-1].append(g)
    svg = layout.svg(g)  # Graphviz's output, reused for a graph of the same text (netsim.render.layout)
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG goes inline
    # Graphviz's comments, tooltips, ids and 2-decimal coordinates cost a third of the page.
    svg = _MARKED.sub(_marked, _COMMENT.sub("", svg))
    svg = _IDS.sub("", _TITLE.sub("", svg))
    svg = svg.replace("<svg ", f'<svg font-family="{palette.FONT_STACK}" ', 1)
    svg = palette.classes(svg)  # colours become classes: the page paints them in the reader's scheme
    # Round geometry only: the numbers inside attributes, never the text a reader sees.
    return _fit_words(_rounded(svg))


_TEXT = re.compile(r'<text [^>]*?text-anchor="(\w+)" x="(-?\d+)" y="(-?\d+)" font-size="([\d.]+)">([^<]*)</text>')
_BOX = re.compile(r'width="(\d+)pt" height="(\d+)pt"\s+viewBox="0 0 (\d+) (\d+)"')
_SHIFT = re.compile(r"translate\((-?\d+) (-?\d+)\)")


def _fit_words(svg: str) -> str:
    """Grow the drawing to hold every word. Graphviz can place the label of a line that does not
    shape the layout (constraint=false) past the drawing's edge, where the browser would clip it."""
    box, shift = _BOX.search(svg), _SHIFT.search(svg)
    if box is None or shift is None:
        return svg
    width, height = int(box.group(3)), int(box.group(4))
    dx, dy = int(shift.group(1)), int(shift.group(2))
    left, top, right, bottom = 0.0, 0.0, float(width), float(height)
    for anchor, x, y, size, text in _TEXT.findall(svg):
        half = 0.3 * float(size) * len(html.unescape(text))  # Helvetica's letters average ~0.55 em
        mid = int(x) + dx + {"start": half, "end": -half}.get(anchor, 0.0)
        base = int(y) + dy
        left, right = min(left, mid - half - 2), max(right, mid + half + 2)
        top, bottom = min(top, base - float(size) - 2), max(bottom, base + 4)
    if (left, top, right, bottom) == (0.0, 0.0, width, height):
        return svg
    x0, y0 = int(left // 1), int(top // 1)
    w, h = int(-(-right // 1)) - x0, int(-(-bottom // 1)) - y0
    return _BOX.sub(f'width="{w}pt" height="{h}pt"\n viewBox="{x0} {y0} {w} {h}"', svg, count=1)


def _marked(match: re.Match[str]) -> str:
    classes = match.group(1).replace("&#45;", "-").strip()
    name = f' data-gv="{match.group(3)}"' if match.group(3) is not None else ""
    return f'<g class="{classes}"{name}{match.group(2)}>\n'


def _rounded(svg: str) -> str:
    """The numbers of every geometry attribute rounded to whole points; most have no fraction left
    to round (Graphviz drops a fraction of .00), and those are kept as they are. All the values are
    rounded in one pass, joined by a quote (which no value holds, and no number spans): a callback
    per attribute and per number was a third of a figure's post-processing (issue 23)."""
    parts = _GEOMETRY.split(svg)  # text, then ' name="', value, text, for each attribute
    if len(parts) == 1:
        return svg
    values = '"'.join(parts[2::3])
    if "." in values:
        numbers = _NUMBER.split(values)  # text, number, text, ...
        numbers[1::2] = map(_WHOLE.__getitem__, numbers[1::2])
        values = "".join(numbers)
    parts[2::3] = [value + '"' for value in values.split('"')]
    return "".join(parts)


class _Whole(dict[str, str]):
    """A number as Graphviz wrote it -> rounded: the same few recur in every drawing."""

    def __missing__(self, number: str) -> str:
        if len(self) >= 65536:
            self.clear()
        rounded = self[number] = f"{float(number):.0f}"
        return rounded


_WHOLE = _Whole()


def namespaces(scenario: Scenario, step: StepTrace, knock: tuple[str, str] | None = None, narrow: bool = False) -> str:
    """Every namespace as a room of its own with its interfaces, the veth cables between them,
    the doormen (listening sockets), and for a connect step the knock and its answer.

    Drawn from the trace's `links` (what `ip addr` would show), so it follows the rooms as steps
    create namespaces, move cable ends and bring links up.
    """
    g = _base(f"{scenario.name}-{step.id}-namespaces")
    g.graph_attr.update(rankdir="TB" if narrow else "LR", compound="true", newrank="true")
    g.graph_attr["class"] = "ns-view-namespaces"
    if narrow:
        _narrow(g)
    for host, links in step.links.items():
        sub = g.add_subgraph(
            name=f"cluster_ns_{host}",
            label=_lines(f"{words.label(scenario, host)}'s namespace", WRAP if narrow else 0),
            style="rounded",
            color=gv("frame"),
        )
        for dev, link in links.items():
            down = link["state"] == "DOWN"
            text = [_text(dev), *link["addresses"]]
            if link["master"]:
                text.append(_text(f"port of {link['master']}"))
            text.append(link["state"])
            fill = {"loopback": gv("host"), "bridge": gv("bridge")}.get(link["kind"], gv("paper"))
            cgraph.add_node(
                sub,
                f"{host}/{dev}",
                label="\\n".join(text),
                fillcolor=fill,
                style="rounded,dashed,filled" if down else "rounded,filled",
                color=gv("cable") if down else gv("ink"),
            )
            if link["master"]:
                cgraph.add_edge(
                    g, f"{host}/{dev}", f"{host}/{link['master']}", dir="none", color=gv("flood"), style="bold"
                )
        for n, text in enumerate(step.listeners[host]):  # every namespace's, empty or not
            addr, _port = text.rsplit(":", 1)
            node = f"{host}/doorman-{n}"
            cgraph.add_node(
                sub,
                node,
                label=f"doorman\\n{text}",
                shape="octagon",
                fillcolor=gv("good"),
                color=gv("ok"),
                **_tag("doorman"),
            )
            for dev, link in links.items():
                mine = [a.split("/")[0] for a in link["addresses"]]
                if addr in mine or (addr == "0.0.0.0" and mine) or (addr.startswith("127.") and dev == "lo"):
                    cgraph.add_edge(g, f"{host}/{dev}", node, dir="none", color=gv("ok"), style="bold")
    drawn: set[frozenset[str]] = set()
    for host, links in step.links.items():
        for dev, link in links.items():
            peer = link.get("peer")
            if not peer or frozenset((f"{host}/{dev}", peer)) in drawn:
                continue
            drawn.add(frozenset((f"{host}/{dev}", peer)))
            if peer.split("/")[0] in step.links:
                cable = " veth " if narrow else " veth cable "
                cgraph.add_edge(g, f"{host}/{dev}", peer, dir="none", label=cable, color=gv("forward"), penwidth="2.5")
    if knock is not None:
        who, target = knock
        addr, port = target.rsplit(":", 1)
        where = _landing(step, who, addr)
        ok = step.outcome == "connected"
        colour = gv("ok") if ok else gv("drop")
        said = words.knock_words(step.outcome)
        source = f"{who}/program"
        cgraph.add_node(g, source, label=f"a program in\\n{label(scenario, who)}", shape="box", fillcolor=gv("paper"))
        if where is not None:
            cgraph.add_edge(
                g,
                source,
                where,
                label=f"knock: {addr}:{port}\\n{said}",
                color=colour,
                fontcolor=colour,
                penwidth="2.5",
                style="solid" if ok else "dashed",
                **_tag("knock"),
            )
        else:
            nowhere = f"{who}/nowhere"
            cgraph.add_node(g, nowhere, label=f"no way to {addr}", shape="note", fillcolor=gv("bad"), color=colour)
            cgraph.add_edge(
                g,
                source,
                nowhere,
                label=said,
                color=colour,
                fontcolor=colour,
                style="dashed",
                penwidth="2.5",
                **_tag("knock"),
            )
    if narrow:
        _stack(g)
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
