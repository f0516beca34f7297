"""The way out: several rooms (bridges) and the routers between them, with each packet's IP header.

Where the room view shows what one bridge did with a frame, this view follows a packet from room
to room: who handed it to whom, its source and destination addresses and its time to live at
every crossing, and the header a router rewrote (masquerade) with the addresses before and after.
Marks for figfacts: `ns-view-path` on the graph, `ns-p3 ns-packet` on the line of frame 3 (one
line may carry several identical frames: `ns-p3 ns-p4 ...`), `ns-rewrite` on a NAT note,
`ns-router` on a host that forwards, `ns-knock` on the connect's line.
"""

from __future__ import annotations

import textwrap

import pygraphviz as pgv

from netsim import claims
from netsim.render import cgraph, graph, words
from netsim.render.graph import (
    STYLE,
    _base,
    _host_label,
    _lines,
    _narrow,
    _seating,
    _stack,
    _svg,
    _tag,
    _text,
    label,
)
from netsim.render.palette import gv
from netsim.scenario import Scenario
from netsim.trace import Hop, StepTrace, ip_header, tcp_ports

ROUTER_WORDS = {True: "forwarding on", False: "forwarding off"}
# Which half of the header each netfilter hook's NAT rewrites (HOOK2MANIP()), and when.
REWRITE_WORDS = {
    "prerouting": "destination, as it arrives (prerouting)",
    "output": "destination, as a program sends it (output)",
    "postrouting": "source, as it leaves (postrouting)",
    "input": "source, before a program reads it (input)",
}


def routers(scenario: Scenario, step: StepTrace) -> list[str]:
    """Hosts with a foot in more than one room: a bridge of their own and a cable into another."""
    seats = _seating(scenario, step)
    out = []
    for host in scenario.hosts:
        rooms = {b for b, br in scenario.bridges.items() if br.host == host and br.address}
        rooms |= {b for (b, _port), (h, _dev) in seats.items() if h == host}
        if len(rooms) > 1:
            out.append(host)
    return out


def packet_words(hop: Hop) -> str:
    """What a line says about its frame: the kind, and for IP the header's addresses (with the
    ports, for TCP) and TTL."""
    header = ip_header(hop.payload)
    kind = claims.carries(hop)
    if header is None:
        return hop.what.replace("who-has", "who has")
    ports = tcp_ports(hop.payload)
    src, dst = (
        (f"{header['src']}:{ports['sport']}", f"{header['dst']}:{ports['dport']}")
        if ports
        else (header["src"], header["dst"])
    )
    return f"{kind} {src} → {dst} TTL {header['ttl']}"


def render(scenario: Scenario, step: StepTrace, knock: tuple[str, str] | None, narrow: bool = False) -> str:
    """Rooms side by side (one above the other on a phone), the routers between them, and in
    each room the list of frames that crossed it, each with its IP header."""
    g = _base(f"{scenario.name}-{step.id}-path")
    g.graph_attr.update(rankdir="TB" if narrow else "LR", newrank="true", **{"class": "ns-view-path"})
    if narrow:
        _narrow(g)
    wrap = graph.WRAP_LABEL if narrow else 0
    seats = _seating(scenario, step)
    middle = routers(scenario, step)
    groups = grouped(scenario, step)
    for bname, bridge in scenario.bridges.items():
        sub = g.add_subgraph(
            name=f"cluster_{bname}",
            label=_lines(bname + (f" · {bridge.label}" if bridge.label else ""), wrap),
            style="rounded",
            color=gv("frame"),
        )
        members = [(host, dev) for (b, _port), (host, dev) in seats.items() if b == bname and host not in middle]
        for host, dev in members:
            cgraph.add_node(sub, host, label=_host_label(scenario, host, dev, step, wrap))
        cards = []
        for n, (numbers, hop, receivers) in enumerate(groups):
            if hop.bridge != bname:
                continue
            node = f"packet-{n}"
            cgraph.add_node(sub, node, **_packet_card(scenario, step, numbers, hop, receivers, wrap))
            cards.append(node)
        if not cards:
            cgraph.add_node(sub, f"quiet:{bname}", label="no frame this step", shape="plaintext", fillcolor=gv("paper"))
            cards.append(f"quiet:{bname}")
        first = members[0][0] if members else None
        if narrow:  # one card under the other
            for a, b in zip([first, *cards] if first else cards, cards if first else cards[1:], strict=False):
                cgraph.add_edge(g, a, b, style="invis")
        else:  # the cards stand in one column with the room's hosts
            sub.add_subgraph([first, *cards] if first else cards, rank="same")
    cut = "\\n" if narrow else " "  # a phone: a cable's name above its address, so its words stay narrow
    for host in middle:
        state = ROUTER_WORDS[step.forwarding.get(host, False)]
        cgraph.add_node(
            g,
            host,
            label=f"{label(scenario, host, wrap)}\\n(a router: {state})",
            shape="box3d",
            fillcolor=gv("host"),
            **_tag("router"),
        )
        for bname, bridge in scenario.bridges.items():
            inside = [h for (b, _p), (h, _d) in seats.items() if b == bname and h not in middle]
            if bridge.host == host and bridge.address:
                seat = cut.join(_text(part) for part in (bname, _addr(bridge.address)))
                for other in inside[:1]:
                    cgraph.add_edge(g, other, host, dir="none", color=gv("cable"), label=seat, penwidth="2")
        for (bname, _port), (h, dev) in seats.items():
            if h != host:
                continue
            link = step.links.get(host, {}).get(dev, {})
            where = " ".join(_addr(a) for a in link.get("addresses", []))
            words_ = cut.join(_text(part) for part in (dev, *where.split())) if narrow else _text(f"{dev} {where}")
            inside = [o for (b, _p), (o, _d) in seats.items() if b == bname and o not in middle]
            for other in inside[:1]:
                cgraph.add_edge(g, host, other, dir="none", color=gv("cable"), label=words_, penwidth="2")
    for host in dict.fromkeys(r.host for r in step.rewrites):
        lines = _wrapped(f"headers {words.label(scenario, host)} rewrote (NAT):", narrow)
        for n, rewrite in enumerate((r for r in step.rewrites if r.host == host), 1):
            lines += _wrapped(f"{n}. {REWRITE_WORDS[rewrite.hook]}", narrow)
            for said in (f"before: {rewrite.before}", f"after: {rewrite.after}"):
                lines += _wrapped(said, narrow)
        node = f"rewrites-{host}"
        text = "\\l".join(_text(line) for line in lines) + "\\l"
        cgraph.add_node(g, node, label=text, shape="note", fillcolor=gv("own"), **_tag("rewrite"))
        cgraph.add_edge(g, host, node, dir="none", color=gv("cable"), style="dashed")
        if not narrow:
            g.add_subgraph([host, node], rank="same")
    if knock is not None:
        _draw_knock(g, scenario, step, knock)
    if narrow:
        _stack(g)  # a phone: each room under the one before, one thing per row
    return _svg(g)


def _wrapped(sentence: str, narrow: bool) -> list[str]:
    """A phone: a note's sentence in lines of graph.WRAP characters, the second and later ones
    indented (netsim.render.figfacts joins an indented line to the one above it)."""
    if not narrow:
        return [sentence]
    return textwrap.wrap(sentence, graph.WRAP, subsequent_indent="  ", break_on_hyphens=False)


def _addr(cidr: str) -> str:
    return cidr.split("/")[0]


def _ends(scenario: Scenario, step: StepTrace, hop: Hop) -> tuple[str, list[str]]:
    names = claims.Names(scenario)
    sender = names.host_of_mac(hop.src, step)
    receivers = [names.host_at(hop.bridge, port, step) for port in hop.out_ports]
    return sender, receivers


def grouped(scenario: Scenario, step: StepTrace) -> list[tuple[list[int], Hop, list[str]]]:
    """Frames in order of their first crossing; the same frame sent again (a SYN retransmitted
    six times) joins its first one, on the same bridge."""
    out: list[tuple[list[int], Hop, list[str]]] = []
    index: dict[tuple, int] = {}
    for n, hop in enumerate(step.frames, 1):
        sender, receivers = _ends(scenario, step, hop)
        key = (hop.bridge, sender, tuple(receivers), packet_words(hop), hop.decision)
        if key in index:
            out[index[key]][0].append(n)
        else:
            index[key] = len(out)
            out.append(([n], hop, receivers))
    return out


def _packet_card(
    scenario: Scenario, step: StepTrace, numbers: list[int], hop: Hop, receivers: list[str], wrap: int
) -> dict[str, str]:
    """One frame (or one frame sent several times) as a card: its number, kind, header, and route."""
    _style, role, _word = STYLE[hop.decision]
    sender = _ends(scenario, step, hop)[0]
    tag = ", ".join(str(n) for n in numbers)
    times = f" (×{len(numbers)})" if len(numbers) > 1 else ""
    names = [words.label(scenario, r) if r in scenario.hosts else r for r in dict.fromkeys(receivers)]
    who = words.label(scenario, sender) if sender in scenario.hosts else sender
    way = f"{who} → {', '.join(names) or 'nobody'}"
    # On a phone the header wraps too (at spaces: the figure check reads the lines joined by spaces).
    text = _lines(f"{tag}. {packet_words(hop)}{times}", graph.WRAP if wrap else 0) + "\\n" + _lines(way, wrap)
    roles = [f"p{n}" for n in numbers] + ["packet"]
    card = dict(label=text, shape="box", fillcolor=gv("paper"), color=gv(role), penwidth="2")
    return {**card, **_tag(*roles)}


def _draw_knock(g: pgv.AGraph, scenario: Scenario, step: StepTrace, knock: tuple[str, str]) -> None:
    who, target = knock
    addr, port = target.rsplit(":", 1)
    ok = step.outcome == "connected"
    colour = gv("ok") if ok else gv("drop")
    said = words.knock_words(step.outcome)
    source = f"{who}/program"
    cgraph.add_node(g, source, label=f"a program in\\n{label(scenario, who)}", shape="box", fillcolor=gv("paper"))
    cgraph.add_edge(g, source, who, dir="none", color=gv("cable"))
    owner = claims.Names(scenario).host_of_ip(addr)
    if owner not in scenario.hosts or not g.has_node(owner):
        owner = f"{who}/nowhere"
        cgraph.add_node(g, owner, label=f"{addr}\\n(nobody in these rooms)", shape="note", fillcolor=gv("bad"))
    cgraph.add_edge(
        g,
        source,
        owner,
        label=f"knock: {addr}:{port}\\n{said}",
        color=colour,
        fontcolor=colour,
        penwidth="2.5",
        style="solid" if ok else "dashed",
        constraint="false",
        **_tag("knock"),
    )
