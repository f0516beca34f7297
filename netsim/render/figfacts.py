"""Figures are claims too: read back what a rendered figure depicts and hold it to the trace.

The reader trusts a diagram more than a sentence, so every figure a page ships is checked on
every build like a claim. This module never asks a renderer what it meant to draw: it parses the
SVG Graphviz wrote (the `ns-*` classes and element names graph.py keeps there, the colours, dash
patterns and words on the lines) and the HTML of the caption and tables, recovers the facts a
reader would read off them, and compares those with the step's trace.

The legend below is the reader's key to the drawing. It is written out here on purpose instead of
imported from graph.STYLE: a renderer whose table drew a forward in flood's colours must fail.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from netsim import resolver
from netsim.render import words
from netsim.render.words import DECISION_WORDS, STORY_DECISION_WORDS, STORY_EDGE_WORDS, label, port_label
from netsim.routing import route_get_text
from netsim.scenario import Scenario
from netsim.trace import Hop, StepTrace, ip_header, tcp_ports

SVG = "{http://www.w3.org/2000/svg}"
# decision -> (the word on the line, its colour, its dash pattern: None for a solid line). The
# colour is the palette class the line's stroke carries (`nc-s-flood`): the page's stylesheet,
# generated from netsim.render.palette, paints each class in the reader's scheme.
LEGEND = {
    "forward": ("forward", "nc-s-forward", None),
    "flood": ("flood", "nc-s-flood", "5,2"),
    "local": ("to host", "nc-s-local", None),
    "drop": ("drop", "nc-s-drop", "1,5"),
}
GOOD = "nc-s-ok"  # a knock that connected
# What a caption says a bridge did, and the decision it stands for.
CAPTION_VERBS = {
    **{verb: decision for decision, verb in DECISION_WORDS.items()},
    **{verb: decision for decision, verb in STORY_DECISION_WORDS.items()},  # a figure before the reveal
}
OUTCOME_WORDS = {said: outcome for outcome, said in words.KNOCK_WORDS.items()}


@dataclass
class Mark:
    """One marked element of a figure: what it stands for, its name, and how it looks."""

    roles: list[str]  # the ns-* classes without the prefix: ["h2", "out"]
    name: str  # Graphviz's name: the node's, or "tail->head" for an edge
    texts: list[str]  # the words drawn, line by line
    strokes: set[str] = field(default_factory=set)
    dashes: set[str | None] = field(default_factory=set)

    @property
    def ends(self) -> tuple[str, str]:
        tail, _, head = self.name.partition("->")
        return tail, head


@dataclass
class Figure:
    """What one SVG depicts, as read back from its elements."""

    view: str
    marks: list[Mark]

    def with_role(self, *roles: str) -> list[Mark]:
        return [m for m in self.marks if all(r in m.roles for r in roles)]


def read_svg(svg: str) -> Figure:
    """Parse a diagram as graph.py leaves it. Raises ValueError when it is not one."""
    root = ET.fromstring(svg)
    view = ""
    marks = []
    for g in root.iter(f"{SVG}g"):
        roles = [c[3:] for c in g.get("class", "").split() if c.startswith("ns-")]
        if not roles:
            continue
        if any(r.startswith("view-") for r in roles):
            view = next(r[5:] for r in roles if r.startswith("view-"))
            continue
        texts = [t.text or "" for t in g.iter(f"{SVG}text")]
        mark = Mark(roles, g.get("data-gv", ""), texts)
        for path in g.iter(f"{SVG}path"):
            painted = [c for c in path.get("class", "").split() if c.startswith("nc-s-")]
            if path.get("stroke") is not None:  # a colour baked into the drawing: shown as it is
                painted.append(path.get("stroke", ""))
            mark.strokes.update(painted or [""])
            mark.dashes.add(path.get("stroke-dasharray"))
        marks.append(mark)
    if not view:
        raise ValueError("the SVG names no view (no ns-view-* class on its graph)")
    return Figure(view, _words_to_lines(marks))


def _words_to_lines(marks: list[Mark]) -> list[Mark]:
    """The narrow layout draws a line's words in a box of their own, marked like its line (`ns-wN`);
    they are that line's words. A box with no line, or more than one, is refused."""
    for box in (m for m in marks if "words" in m.roles):
        tags = [r for r in box.roles if re.fullmatch(r"w\d+", r)]
        lines = [m for m in marks if "words" not in m.roles and tags and tags[0] in m.roles]
        if len(tags) != 1 or len(lines) != 1:
            raise ValueError(f"the words {box.texts} belong to {len(lines)} lines of the figure, not one")
        lines[0].texts += box.texts
    return [m for m in marks if "words" not in m.roles]


def drawn_decisions(mark: Mark) -> set[str]:
    """Every decision the line's colour, dash pattern and word stand for (one, when consistent)."""
    found: set[str] = set()
    for decision, (word, colour, dash) in LEGEND.items():
        if colour in mark.strokes:
            found.add(decision)
        if mark.dashes and mark.dashes == {dash} and dash is not None:
            found.add(decision)
        if any(_word(t) in (word, STORY_EDGE_WORDS[decision]) for t in mark.texts):
            found.add(decision)
    if mark.dashes and None not in mark.dashes and not found & {"flood", "drop"}:
        found.add("dashed " + "/".join(sorted(d for d in mark.dashes if d)))
    if mark.dashes == {None} and found & {"flood", "drop"}:
        found.add("solid")
    return found


def _word(text: str) -> str:
    """'2. flood' -> 'flood'."""
    return re.sub(r"^\d+\. ", "", text.strip())


# --- the room: frames through a bridge ---------------------------------------------------------


def check_room(scenario: Scenario, step: StepTrace, fig: Figure) -> list[str]:
    problems: list[str] = []
    numbered = len(step.frames) > 1
    drawn = {r for m in fig.marks for r in m.roles if re.fullmatch(r"h\d+", r)}
    wanted = {f"h{n if numbered else 0}" for n in range(1, len(step.frames) + 1)}
    for extra in sorted(drawn - wanted):
        problems.append(f"draws frame {extra[1:]}, but the step has {len(step.frames)} frame(s)")
    drops = {m.name: m for m in fig.with_role("drop")}
    for n, hop in enumerate(step.frames, 1):
        tag = f"h{n if numbered else 0}"
        problems += [f"frame {n}: {p}" for p in _check_hop(hop, fig, tag, drops)]
    for bridge in scenario.bridges:
        problems += _check_bridge_words(step, fig, bridge)
    return problems


def _check_hop(hop: Hop, fig: Figure, tag: str, drops: dict[str, Mark]) -> list[str]:
    problems = []
    sends = fig.with_role(tag, "sends")
    ingress = f"{hop.bridge}:{hop.in_port}"
    if [m.ends[0] for m in sends] != [ingress]:
        where = ", ".join(m.ends[0] for m in sends) or "nowhere"
        problems.append(f"draws it entering at {where}; the trace has it enter {ingress}")
    outs = fig.with_role(tag, "out")
    for mark in outs:
        if mark.ends[0] != hop.bridge:
            problems.append(f"draws a copy leaving {mark.ends[0]}, not bridge {hop.bridge}")
    for mark in [*outs, *fig.with_role(tag, "deliver")]:
        seen = drawn_decisions(mark)
        if seen != {hop.decision}:
            shown = ", ".join(sorted(seen)) or "no decision"
            problems.append(f"draws the line {mark.name} as {shown}; the trace says {hop.decision}")
    heads = sorted(m.ends[1] for m in outs)
    if hop.decision == "drop":
        if len(outs) != 1 or heads[0] not in drops:
            problems.append(f"the trace drops it, but the figure draws no drop mark for it (lines to {heads})")
        elif not any("dropped" in t for t in drops[heads[0]].texts):
            problems.append(f"its drop mark {heads[0]} does not say 'dropped'")
    else:
        want = sorted(f"{hop.bridge}:{p}" for p in hop.out_ports)
        if heads != want:
            problems.append(f"draws copies to {_seats(heads)}; the trace sends them to {_seats(want)}")
        stray = [h for h in heads if h in drops]
        if stray:
            problems.append(f"draws a drop mark for a frame the trace does not drop: {stray}")
    return problems


def _seats(nodes: list[str]) -> str:
    return "[" + ", ".join(n.split(":", 1)[-1] for n in nodes) + "]"


def _check_bridge_words(step: StepTrace, fig: Figure, bridge: str) -> list[str]:
    """The bridge's own box: one line per frame, '... → flood (reason)'."""
    boxes = [m for m in fig.with_role("bridge") if m.name == bridge]
    if len(boxes) != 1:
        return [f"draws {len(boxes)} boxes for bridge {bridge}, expected 1"]
    hops = [h for h in step.frames if h.bridge == bridge]
    lines = [t for t in boxes[0].texts if "→" in t]
    words = {w: d for d, (w, _c, _d) in LEGEND.items()} | {w: d for d, w in STORY_EDGE_WORDS.items()}
    said = [words.get(re.sub(r"^.*→ (.*?) \(.*$", r"\1", t), "?") for t in lines]
    done = [h.decision for h in hops]
    if said != done:
        return [f"bridge {bridge}'s box says {said}; the trace decided {done}"]
    return []


# --- rooms and namespaces: doors and knocks -----------------------------------------------------


def check_doors(step: StepTrace, fig: Figure, knocks: bool) -> list[str]:
    problems = []
    knock = fig.with_role("knock")
    if knocks:
        if len(knock) != 1:
            problems.append(f"draws {len(knock)} knocks; a connect step has one")
        else:
            said = _outcome(knock[0].texts)
            if said != step.outcome:
                problems.append(f"the knock says {said!r}; the trace's connect() returned {step.outcome!r}")
            good = GOOD in knock[0].strokes
            if good != (step.outcome == "connected"):
                problems.append(f"the knock is drawn {'green' if good else 'red'} for {step.outcome!r}")
    elif knock:
        problems.append("draws a knock in a step that makes no connection")
    listening = sorted(t for m in fig.with_role("doorman") for t in m.texts if re.search(r":\d+$", t))
    known = sorted({text for texts in step.listeners.values() for text in texts})
    if listening and not set(listening) <= set(known):
        problems.append(f"draws doormen listening on {listening}; the trace has {known}")
    return problems


def _outcome(texts: list[str]) -> str | None:
    for text in texts:
        text = text.strip()
        if text in OUTCOME_WORDS:
            return OUTCOME_WORDS[text]
        if text.endswith(" ✗"):
            return "?" + text[:-2]  # words of no outcome: netsim's own id, say
    return None


# --- the path: packets from room to room, and the routers between -----------------------------

HEADER = re.compile(
    r"(?:^|\. )(?P<kind>[A-Za-z -]+?) (?P<src>[\d.]+)(?::(?P<sport>\d+))? → (?P<dst>[\d.]+)(?::(?P<dport>\d+))? "
    r"TTL (?P<ttl>\d+)"
)


def check_path(step: StepTrace, fig: Figure) -> list[str]:
    """Every frame drawn once, with the IP header the trace gives it; routers and NAT notes true."""
    problems: list[str] = []
    drawn = {int(r[1:]) for m in fig.with_role("packet") for r in m.roles if re.fullmatch(r"p\d+", r)}
    wanted = set(range(1, len(step.frames) + 1))
    if drawn != wanted:
        problems.append(f"draws frames {sorted(drawn)}; the step has {len(step.frames)}")
    for n, hop in enumerate(step.frames, 1):
        texts = " ".join(t for m in fig.with_role(f"p{n}", "packet") for t in m.texts)
        header = ip_header(hop.payload)
        if header is None:
            continue
        said = HEADER.search(texts)
        shown = (said.group("src"), said.group("dst"), int(said.group("ttl"))) if said else None
        if shown != (header["src"], header["dst"], header["ttl"]):
            problems.append(
                f"frame {n} is labelled {shown}; its IP header is {header['src']} → {header['dst']} TTL {header['ttl']}"
            )
        ports = tcp_ports(hop.payload)
        if (
            said
            and ports
            and said.group("sport")
            and (int(said.group("sport")), int(said.group("dport")))
            != (
                ports["sport"],
                ports["dport"],
            )
        ):
            problems.append(
                f"frame {n} is labelled with ports {said.group('sport')} → {said.group('dport')}; its TCP "
                f"header has {ports['sport']} → {ports['dport']}"
            )
    notes = []
    for mark in fig.with_role("rewrite"):
        # On a phone a long line goes on in the next, indented (Graphviz writes the indent as spaces).
        text = re.sub(r"\n\s+", " ", "\n".join(mark.texts))
        notes += [(b.strip(), a.strip()) for b, a in re.findall(r"before: (.+)\nafter: (.+)", text)]
    want = [(r.before, r.after) for r in step.rewrites]
    if sorted(notes) != sorted(want):
        problems.append(f"shows header rewrites {sorted(notes)}; the trace rewrote {sorted(want)}")
    for mark in fig.with_role("router"):
        text = " ".join(mark.texts)
        said_on = "forwarding on" in text
        if mark.name not in step.forwarding:
            problems.append(f"draws a router {mark.name!r}; the trace has no such namespace")
        elif said_on != step.forwarding[mark.name]:
            problems.append(f"draws {mark.name} with forwarding {'on' if said_on else 'off'}; the trace disagrees")
    return problems


# --- the tunnel: ssh -L's listener, the SSH connection, the knock and the server's channel --------


def _holds(step: StepTrace, seat: str, addr: str) -> bool:
    """Does the seat named `seat` ("host:dev", as graph.py names it) hold `addr` in the trace?"""
    host, _, dev = seat.partition(":")
    if dev == "lo":
        return addr.startswith("127.")
    link = step.links.get(host, {}).get(dev) or {}
    return any(a.split("/")[0] == addr for a in link.get("addresses", []))


def check_tunnel(step: StepTrace, fig: Figure, knocked: str | None) -> list[str]:
    """Who listens where, one SSH connection per tunnel, where the knock lands, and the channel the
    server opened for it: each as the trace has it. `knocked` is the connect step's "ADDR:PORT"."""
    problems = []
    seats = fig.with_role("seat")
    for seat in seats:
        shown = seat.texts[0].strip() if seat.texts else ""
        host, _, dev = seat.name.partition(":")
        bare = shown == "no address yet" and not step.links.get(host, {}).get(dev, {}).get("addresses")
        if not bare and not _holds(step, seat.name, shown):
            problems.append(f"seats {seat.name} at {shown!r}; the trace gives it no such address")
    # Every address of a drawn host has its seat: lo, its bridges, and its cables outside a bridge.
    for host in sorted({s.name.partition(":")[0] for s in seats if not s.name.endswith(":lo")}):
        for dev, link in step.links.get(host, {}).items():
            if link.get("addresses") and not link.get("master") and f"{host}:{dev}" not in {s.name for s in seats}:
                problems.append(f"draws no seat for {host}'s {dev}, which holds {link['addresses'][0]}")
    ours = {(t["client"], t["listen"]): t for t in step.tunnels}
    doormen = {}
    for m in fig.with_role("doorman"):
        host = re.sub(r"^doorman-(.*)-\d+$", r"\1", m.name)
        listen = next((t.strip() for t in m.texts if re.search(r":\d+$", t)), "")
        doormen[m.name] = listen
        who = m.texts[0].strip() if m.texts else ""
        if (who == "ssh -L") != ((host, listen) in ours):
            problems.append(f"draws {who!r} listening on {listen} in {host}; the trace's tunnels are {sorted(ours)}")
        if who == "sshd" and not listen.endswith(":22"):
            problems.append(f"draws sshd listening on {listen}")
    drawn = sorted((doormen.get(m.ends[0], "?"), " ".join(m.texts)) for m in fig.with_role("ssh"))
    want = sorted((t["listen"], f"SSH connection to {t['target']}") for t in step.tunnels)
    if drawn != want:
        problems.append(f"draws SSH connections {drawn}; the trace's tunnels give {want}")
    knock = fig.with_role("knock")
    if knocked and len(knock) == 1:
        addr = knocked.rsplit(":", 1)[0]
        tail, head = knock[0].ends
        knocker = tail.removesuffix("-terminal")
        # A knock lands on a seat holding the address (its own lo for 127/8), or on the bare address
        # when no seat drawn holds it.
        own = [m.name for m in seats if _holds(step, m.name, addr)]
        if addr.startswith("127."):
            own = [n for n in own if n.startswith(f"{knocker}:")]
        if re.fullmatch(r"[\d.]+", addr) and head not in (own or [addr]):
            problems.append(f"the knock on {addr} lands on {head}, which does not hold that address")
        reads = next((t.strip() for t in knock[0].texts if t.strip().startswith("then reads")), None)
        want_reads = None if step.reads is None else "then reads " + words.read_words(step.reads)
        if reads != want_reads:
            problems.append(f"the knock says {reads!r} after connecting; the trace says {want_reads!r}")
    channel = fig.with_role("channel")
    if step.channel is None:
        if channel:
            problems.append("draws a channel in a step whose connection opened none")
    elif len(channel) != 1:
        problems.append(f"draws {len(channel)} channels; the trace has channel {step.channel['n']}")
    else:
        c, n, outcome = channel[0], step.channel["n"], step.channel["outcome"]
        said = " ".join(t.strip() for t in c.texts)
        result = words.channel_words(outcome)
        if not said.startswith(f"channel {n}: connect ") or not said.endswith(result):
            problems.append(f"the channel says {said!r}; the trace has channel {n}, {result}")
        if (GOOD in c.strokes) != (outcome == "connected"):
            problems.append(f"the channel is drawn {'green' if GOOD in c.strokes else 'red'} for {outcome!r}")
        if (c.dashes == {None}) != (outcome == "connected"):  # as a knock: solid when it connected
            problems.append(f"the channel is drawn {'solid' if c.dashes == {None} else 'dashed'} for {outcome!r}")
        target = next((t["target"] for t in step.tunnels if t["listen"] == step.channel["listen"]), "")
        t_host, _, t_port = target.rpartition(":")
        t_addr = "127.0.0.1" if t_host == "localhost" else t_host
        head = c.ends[1]
        server = next((t["server"] for t in step.tunnels if t["listen"] == step.channel["listen"]), "")
        if not (head.startswith(f"{server}:") and _holds(step, head, t_addr) or head == t_addr):
            problems.append(f"the channel connects to {head}; the tunnel's target is {target} on {server}")
        if f"connect {t_port}" not in said:
            problems.append(f"the channel says {said!r}; the tunnel's target port is {t_port}")
    return problems


# --- the caption and the tables ----------------------------------------------------------------

SENTENCE = re.compile(r": (?P<verb>" + "|".join(CAPTION_VERBS) + r")(?P<where>.*?) \((?P<reason>[^()]*)\)\.(?= |$)")


def check_caption(scenario: Scenario, step: StepTrace, caption: str) -> list[str]:
    """The figcaption's sentences, one per frame (at most three), and the connect() result."""
    text = html.unescape(re.sub(r"<strong>.*?</strong>", "", caption, flags=re.S)).strip()
    problems = []
    said = list(SENTENCE.finditer(text))
    shown = step.frames[:3]
    if len(said) != len(shown):
        problems.append(f"the caption tells of {len(said)} frame(s); the trace has {len(step.frames)}")
    for n, (hop, match) in enumerate(zip(shown, said, strict=False), 1):
        decision = CAPTION_VERBS[match.group("verb")]
        if decision != hop.decision:
            problems.append(f"the caption says frame {n} was {match.group('verb')!r}; the trace says {hop.decision}")
        ports = _ports_named(scenario, hop.bridge, match.group("where"), hop.out_ports)
        if sorted(ports) != sorted(hop.out_ports):
            problems.append(f"the caption sends frame {n} to {sorted(ports)}; the trace to {sorted(hop.out_ports)}")
    resolved = re.search(r"getaddrinfo\(([^)]*)\): ([^.]+(?:\.[0-9]+)*)\.(?:\s|$)", text)
    said_name = (resolved.group(1), resolved.group(2)) if resolved else None
    r = step.resolved
    want_name = (r.name, words.resolved_words(r.address, r.error)) if r is not None else None
    if said_name != want_name:
        problems.append(f"the caption says getaddrinfo gave {said_name}; the trace says {want_name}")
    said_call, said_outcome = _outcome_said(text)
    if said_outcome != step.outcome:
        problems.append(
            f"the caption says {said_call or 'connect()'} returned {said_outcome!r}; the trace says {step.outcome!r}"
        )
    elif (said_call == "the program") != (said_outcome == "deadline"):
        # connect() never returns "deadline": the program stopped waiting (words.outcome_words()).
        problems.append(f"the caption puts {said_outcome!r} on {said_call}; only the program stops waiting")
    elif said_outcome is not None and said_call not in CALLS_OF.get(step.action, ()):
        problems.append(f"the caption puts the outcome on {said_call}; a {step.action} step's comes from another call")
    elif step.action == "ssh_forward" and (said_call == "ssh -L") != (step.outcome in words.BIND_ERRORS):
        # ssh -L's own bind() fails with the bind errors; any other failure is its connect() to sshd.
        problems.append(f"the caption puts {said_outcome!r} on {said_call}; ssh -L's bind() did not give it")
    return problems


# Which call a step's outcome comes from, by step action: the caption must name that one.
CALLS_OF = {
    "connect": ("connect()", "the program"),
    "listen": ("bind()",),
    "link_set": ("ip link set … address",),
    "veth_add": ("ip link add",),
    "ssh_forward": ("ssh -L", "ssh's connect() to port 22"),
}
OUTCOME = re.compile(
    r"(connect\(\)|bind\(\)|ip link set … address|ip link add|ssh -L|ssh's connect\(\) to port 22): ([^.]+)\."
)
# The kernel's words back to netsim's outcome; "deadline" too, so that a caption putting the
# program's deadline on a call is told why it is wrong (no call returns it).
SAID_OUTCOME = {said: outcome for outcome, said in words.KERNEL_WORDS.items()} | {"deadline": "deadline"}


def _outcome_said(text: str) -> tuple[str | None, str | None]:
    """The call and the outcome the caption names (netsim's id for the kernel's words), or (None, None)."""
    if "The program stopped waiting and closed the socket" in text:
        return "the program", "deadline"
    found = OUTCOME.search(text)
    if not found:
        return None, None
    # words that are not the kernel's (netsim's own id, "network-unreachable") match no outcome
    return found.group(1), SAID_OUTCOME.get(found.group(2), f"?{found.group(2)}")


def _ports_named(scenario: Scenario, bridge: str, where: str, plugged: tuple[str, ...] = ()) -> list[str]:
    """'seat 3, seat 7 and seat 9' -> the ports with those labels; unknown words -> '?word'.

    `plugged`: ports of the bridge in the trace; one a step plugged in has no label but its name."""
    declared = scenario.bridges[bridge].ports
    labels = {name: name for name in plugged if name not in declared and name != bridge}
    labels.update({(p.label or name): name for name, p in declared.items()})
    labels[port_label(scenario, bridge, bridge)] = bridge  # "podman0 (the laptop's seat)"
    labels[port_label(scenario, bridge, bridge, story=True)] = bridge  # a caption before the reveal
    found = []
    rest = where
    for text in sorted(labels, key=len, reverse=True):
        if re.search(rf"(?:^|, | and | ){re.escape(text)}(?=$|, | and )", rest):
            found.append(labels[text])
            rest = re.sub(rf"(?:^|, | and | ){re.escape(text)}(?=$|, | and )", "", rest, count=1)
    if rest.strip(" ,"):
        found.append("?" + rest.strip(" ,"))
    return found


ROW = re.compile(r"<tr(?P<cls>[^>]*)><td><code>(?P<a>[^<]*)</code>(?P<rest>.*?)</tr>", re.S)


def _table_end(body: str, at: int) -> int:
    """Where the table whose caption starts at `at` ends. A table opens right before its caption
    (netsim.render.tables); an empty one is a paragraph, read up to its own end, not to the next
    table's </table>, whose rows would be read as this one's."""
    return body.find("</table>", at) if body[:at].endswith("<table><caption>") else body.find("</p>", at)


def check_tables(scenario: Scenario, step: StepTrace, body: str, room: bool, neigh: bool | None = None) -> list[str]:
    """The MAC tables (every learned line, the new ones marked) and the ARP tables.

    A room whose step carries ARP shows the ARP tables unless the page asked for none (neigh=False).
    """
    problems = []
    for bridge, table in step.fdb.items():
        at = body.find(f"MAC table of {bridge} ")
        if at < 0:  # before the reveal: the notebook of the room
            at = body.find(f"The notebook of {html.escape(words.bridge_title(scenario, bridge, True), quote=True)} ")
        if at < 0:
            if room:  # only the room view shows MAC tables
                problems.append(f"the room shows no MAC table of {bridge}")
            continue
        part = body[at : _table_end(body, at)]
        rows = {}
        new = set()
        for row in ROW.finditer(part):
            port = re.search(r"\(<code>([^<]*)</code>\)|data-port=\"([^\"]*)\"", row.group("rest"))
            rows[row.group("a")] = (port.group(1) or port.group(2)) if port else "?"
            marked = 'class="ns-new"' in row.group("rest")
            if marked != ('class="ns-row-new"' in row.group("cls")):
                problems.append(f"MAC table of {bridge}: row {row.group('a')} is half marked new")
            if marked:
                new.add(row.group("a"))
        if rows != table:
            problems.append(f"MAC table of {bridge} shows {rows}; the trace has {table}")
        want_new = set(step.fdb_new.get(bridge, []))
        if new != want_new:
            problems.append(f"MAC table of {bridge} marks {sorted(new)} new; the trace learned {sorted(want_new)}")
    for host, entries in step.conntrack.items():
        at = body.find(f"Connection tracking table of {html.escape(label(scenario, host), quote=False)} after")
        if at < 0 and "Connection tracking table of " in body:
            problems.append(f"shows no conntrack table of {label(scenario, host)}; the trace has one")
        end = _table_end(body, at)
        rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", body[at:end] if at >= 0 else "")
        shown = sorted((s, html.unescape(o), html.unescape(r)) for s, o, r in rows)
        want_rows = sorted(  # a UDP entry has no state: its protocol stands there, as the table shows it
            (" ".join([str(e.get("state", e["proto"])), *e["flags"]]), _ends(e["original"]), _ends(e["reply"]))
            for e in entries
        )
        if at >= 0 and shown != want_rows:
            problems.append(f"the conntrack table of {host} shows {shown}; the trace has {want_rows}")
    answer = re.search(r'<pre class="ns-resolve"><code>.*\nanswer: ([^ ,]+)(?: \(from ([^)\n]*)\))?', body, re.S)
    if answer is not None or step.resolved is not None:
        said = html.unescape(answer.group(1)) if answer else None
        r = step.resolved
        want = (r.address or r.error) if r is not None else None
        if said != want:
            problems.append(f"shows getaddrinfo() giving {said!r}; the trace has {want!r}")
        elif r is not None and r.address is not None:
            source = html.unescape(answer.group(2) or "") if answer else ""
            where = resolver.where(r)
            if source != where:
                problems.append(f"says the answer came from {source!r}; the trace's came from {where!r}")
    route = re.search(r'<pre class="ns-route"><code>[^\n]*\n(.*?)</code></pre>', body, re.S)
    if route is not None:
        said = html.unescape(route.group(1))
        if step.route is None or said != route_get_text(step.route):
            problems.append(f"shows `ip route get` answering {said!r}; the trace has {step.route}")
    at = body.find("ARP tables after this step")
    anyone = any(step.neigh.values())
    if "ARP table has an entry yet" in body and anyone:
        problems.append("the figure says nobody's ARP table has an entry; the trace has entries")
    arp = any(h.ethertype == 0x0806 for h in step.frames)
    if at < 0 and room and anyone and (neigh or (neigh is None and arp)):
        problems.append("the room shows no ARP tables for a step that sends ARP")
    if at >= 0:
        part = body[at : body.find("</table>", at)]
        cell = r"<td><code>([^<]*)</code></td>"
        shown = sorted(
            (html.unescape(host), ip, mac, state)
            for host, ip, mac, state in re.findall(r"<tr><td>([^<]*)</td>" + cell * 3, part)
        )
        want = sorted(
            (scenario.hosts[h].label or h if h in scenario.hosts else h, ip, n["mac"] or "-", str(n["state"]))
            for h, table in step.neigh.items()
            for ip, n in table.items()
        )
        if shown != want:
            problems.append(f"ARP tables show {shown}; the trace has {want}")
    return problems


def _ends(conntrack_tuple: str) -> str:
    """The trace's 'src=A dst=B sport=P dport=Q' as a reader reads it in the table: 'A:P > B:Q'."""
    t = dict(kv.split("=", 1) for kv in conntrack_tuple.split())
    return f"{t['src']}:{t['sport']} > {t['dst']}:{t['dport']}"


def check(
    scenario: Scenario, step: StepTrace, svg: str, caption: str, body: str, neigh: bool | None = None
) -> list[str]:
    """Every way the figure of `step` (its SVG, caption and tables) contradicts the trace."""
    try:
        fig = read_svg(svg)
    except (ET.ParseError, ValueError) as exc:
        return [f"the diagram cannot be read back: {exc}"]
    knocks = step.action == "connect"
    if fig.view == "room":
        problems = check_room(scenario, step, fig)
    elif fig.view == "path":
        problems = check_path(step, fig) + check_doors(step, fig, knocks=knocks)
    elif fig.view == "tunnel":
        action = scenario.step(step.id)
        problems = check_doors(step, fig, knocks=knocks) + check_tunnel(
            step, fig, action.connect.to if action.connect else None
        )
    else:
        problems = check_doors(step, fig, knocks=knocks)
    problems += check_caption(scenario, step, caption)
    problems += check_tables(scenario, step, body, room=fig.view == "room", neigh=neigh)
    return problems
