"""The way out: several rooms (bridges) and the routers between them, with each packet's IP header.

Where the room view shows what one bridge did with a frame, this view follows a packet from room
to room: who handed it to whom, its source and destination addresses and its time to live at
every crossing, and the header a router rewrote (masquerade) with the addresses before and after.
Marks for figfacts: `ns-view-path` on the graph, `ns-p3 ns-packet` on the line of frame 3 (one
line may carry several identical frames: `ns-p3 ns-p4 ...`), `ns-rewrite` on a NAT note,
`ns-router` on a host that forwards, `ns-knock` on the connect's line.
"""

from __future__ import annotations

import pygraphviz as pgv

from netsim import claims
from netsim.render import graph
from netsim.render.graph import STYLE, _base, _host_label, _narrow, _seating, _svg, _tag, _text, label
from netsim.render.palette import gv
from netsim.scenario import Scenario
from netsim.trace import Hop, StepTrace, ip_header

ROUTER_WORDS = {True: "forwarding on", False: "forwarding off"}


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
    """What a line says about its frame: the kind, and for IP the header's addresses and TTL."""
    header = ip_header(hop.payload)
    kind = claims.carries(hop)
    if header is None:
        return hop.what.replace("who-has", "who has")
    return f"{kind} {header['src']} → {header['dst']} TTL {header['ttl']}"


def render(scenario: Scenario, step: StepTrace, knock: tuple[str, str] | None, narrow: bool = False) -> str:
    g = _base(f"{scenario.name}-{step.id}-path")
    g.graph_attr.update(rankdir="TB" if narrow else "LR", compound="true", newrank="true", **{"class": "ns-view-path"})
    if narrow:
        _narrow(g)
    wrap = graph.WRAP_LABEL if narrow else 0
    seats = _seating(scenario, step)
    middle = routers(scenario, step)
    for bname, bridge in scenario.bridges.items():
        sub = g.add_subgraph(
            name=f"cluster_{bname}",
            label=_text(bname + (f" · {bridge.label}" if bridge.label else "")),
            style="rounded",
            color=gv("frame"),
        )
        sub.add_node(f"room:{bname}", label=_text(bname), shape="ellipse", fillcolor=gv("bridge"), **_tag("bridge"))
        for (b, _port), (host, dev) in seats.items():
            if b == bname and host not in middle:
                sub.add_node(host, label=_host_label(scenario, host, dev, step, wrap))
                g.add_edge(host, f"room:{bname}", dir="none", color=gv("cable"))
    for host in middle:
        state = ROUTER_WORDS[step.forwarding.get(host, False)]
        g.add_node(
            host,
            label=f"{label(scenario, host, wrap)}\\n(a router: {state})",
            shape="box3d",
            fillcolor=gv("host"),
            **_tag("router"),
        )
        for bname, bridge in scenario.bridges.items():
            if bridge.host == host and bridge.address:
                g.add_edge(
                    host, f"room:{bname}", dir="none", color=gv("cable"), label=f"{bname} {_addr(bridge.address)}"
                )
        for (bname, _port), (h, dev) in seats.items():
            if h == host:
                link = step.links.get(host, {}).get(dev, {})
                where = " ".join(_addr(a) for a in link.get("addresses", []))
                g.add_edge(host, f"room:{bname}", dir="none", color=gv("cable"), label=_text(f"{dev} {where}"))
    for numbers, hop, receivers in grouped(scenario, step):
        _draw_packet(g, scenario, step, numbers, hop, receivers)
    for n, rewrite in enumerate(step.rewrites):
        what = "masquerade (postrouting)" if rewrite.hook == "postrouting" else "the reply turned back (prerouting)"
        node = f"rewrite-{n}"
        g.add_node(
            node,
            label=f"{what}\\nbefore: {rewrite.before}\\nafter: {rewrite.after}",
            shape="note",
            fillcolor=gv("own"),
            **_tag("rewrite"),
        )
        g.add_edge(rewrite.host, node, dir="none", color=gv("cable"), style="dashed")
    if knock is not None:
        _draw_knock(g, scenario, step, knock)
    return _svg(g)


def _addr(cidr: str) -> str:
    return cidr.split("/")[0]


def _ends(scenario: Scenario, step: StepTrace, hop: Hop) -> tuple[str, list[str]]:
    names = claims.Names(scenario)
    sender = names.host_of_mac(hop.src, step)
    receivers = [names.host_at(hop.bridge, port, step) for port in hop.out_ports]
    return sender, receivers


def grouped(scenario: Scenario, step: StepTrace) -> list[tuple[list[int], Hop, list[str]]]:
    """Frames in order, identical neighbours (a SYN sent six times) folded into one line."""
    out: list[tuple[list[int], Hop, list[str]]] = []
    for n, hop in enumerate(step.frames, 1):
        sender, receivers = _ends(scenario, step, hop)
        key = (sender, tuple(receivers), packet_words(hop), hop.decision)
        if (
            out
            and (_ends(scenario, step, out[-1][1])[0], tuple(out[-1][2]), packet_words(out[-1][1]), out[-1][1].decision)
            == key
        ):
            out[-1][0].append(n)
        else:
            out.append(([n], hop, receivers))
    return out


def _draw_packet(
    g: pgv.AGraph, scenario: Scenario, step: StepTrace, numbers: list[int], hop: Hop, receivers: list[str]
) -> None:
    style, role, _word = STYLE[hop.decision]
    sender = _ends(scenario, step, hop)[0]
    tag = f"{numbers[0]}." if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}."
    times = f" (×{len(numbers)})" if len(numbers) > 1 else ""
    text = f"{tag} {packet_words(hop)}{times}"
    attrs = dict(style=style, color=gv(role), fontcolor=gv(role), penwidth="2", constraint="false", label=_text(text))
    roles = [f"p{n}" for n in numbers] + ["packet"]
    targets = [r for r in receivers if g.has_node(r)] or [f"room:{hop.bridge}"]
    for target in dict.fromkeys(targets):
        g.add_edge(sender, target, **attrs, **_tag(*roles))
        attrs["label"] = ""  # the words once per frame, on its first line


def _draw_knock(g: pgv.AGraph, scenario: Scenario, step: StepTrace, knock: tuple[str, str]) -> None:
    who, target = knock
    addr, port = target.rsplit(":", 1)
    ok = step.outcome == "connected"
    colour = gv("ok") if ok else gv("drop")
    words = "connected ✓" if ok else f"{step.outcome} ✗"
    source = f"{who}/program"
    g.add_node(source, label=f"a program in\\n{label(scenario, who)}", shape="box", fillcolor=gv("paper"))
    g.add_edge(source, who, dir="none", color=gv("cable"))
    owner = claims.Names(scenario).host_of_ip(addr)
    if owner not in scenario.hosts or not g.has_node(owner):
        owner = f"{who}/nowhere"
        g.add_node(owner, label=f"{addr}\\n(nobody in these rooms)", shape="note", fillcolor=gv("bad"))
    g.add_edge(
        source,
        owner,
        label=f"knock: {addr}:{port}\\n{words}",
        color=colour,
        fontcolor=colour,
        penwidth="2.5",
        style="solid" if ok else "dashed",
        constraint="false",
        **_tag("knock"),
    )
