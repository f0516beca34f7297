# ruff: noqa: E501  (the expected problems are quoted whole, as a contributor reads them)
"""The figure check itself, fault by fault: each way a drawing, caption or table can contradict the trace.

tests/test_figfacts.py plants faults in the renderers' source; these tests keep the renderers as
they are and spoil what they produced instead, one detail at a time (a line's colour, its dashes,
its word, its ends, a caption's verb or seat, a table's row, a knock's answer, a packet's TTL), and
hold netsim.render.figfacts.check() to the exact problems a contributor would read. So they also
run where the source cannot be rewritten (`make mutants` mutates it itself), and a check that
stops seeing one kind of contradiction, or names it wrongly, fails here.
"""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from conftest import ROOM, ROOT, room

from netsim.render import figfacts, graph, path, tables, words
from netsim.render.escape import html as escape
from netsim.scenario import Scenario, load_scenario, parse_scenario
from netsim.simulation import run
from netsim.trace import Hop, StepTrace

M = "diagrams/margarets-room.yaml"
D = "diagrams/the-doormans-address.yaml"
N = "diagrams/a-name-for-the-host.yaml"
F = "diagrams/finding-the-way-out.yaml"
NOT_XML = "the diagram cannot be read back: no element found"


def pieces(file: str, step_id: str, view: str) -> tuple[Scenario, StepTrace, dict[str, str]]:
    """The SVG, caption and tables of one step, drawn as a page draws them."""
    scenario = load_scenario(file)
    step = run(scenario).step(step_id)
    action = scenario.step(step.id)
    knock = (action.connect.by, action.connect.to) if action.connect else None
    if view == "room":
        svg = graph.room(scenario, step)
        body = tables.fdb_table(scenario, step) + tables.neigh_table(scenario, step)
    elif view == "path":
        svg = path.render(scenario, step, knock)
        route = action.route_get
        body = tables.route_answer(scenario, step, route.by, route.to) if route else ""
        body += tables.conntrack_table(scenario, step)
    elif view == "tunnel":
        svg, body = graph.tunnel(scenario, step, "laptop", "server", knock), ""
    elif view == "resolve":
        assert action.resolve is not None
        svg = graph.namespaces(scenario, step, knock)
        body = tables.resolve_answer(scenario, step, action.resolve.by)
    else:
        owner = next(iter(scenario.bridges.values())).host
        svg, body = graph.rooms(scenario, step, owner, knock), ""
    caption = f"<strong>Step 1: {escape(step.id)}.</strong> {escape(words.step_caption(scenario, step))}"
    return scenario, step, {"svg": svg, "caption": caption, "body": body}


def spoil(text: str, group: str | None, old: str, new: str) -> str:
    """Replace `old` with `new` in the SVG group Graphviz named `group` (or anywhere when None)."""
    if group is None:
        assert old in text, old
        return text.replace(old, new)
    name = html.escape(group, quote=False).replace("-", "&#45;").replace(">", "&gt;")
    found = re.search(rf'<g [^>]*data-gv="{re.escape(name)}"[^>]*>.*?</g>', text, re.S)
    assert found is not None and old in found.group(0), (group, old)
    return text[: found.start()] + found.group(0).replace(old, new) + text[found.end() :]


@pytest.mark.parametrize(
    ("file", "step", "view"),
    [
        (M, "alice-replies", "room"),
        (M, "bob-writes-to-alice", "room"),
        (M, "group-badge-note", "room"),
        (M, "bob-asks-for-toasters", "room"),
        (M, "portainer-connects", "rooms"),
        (F, "masqueraded", "path"),
        (F, "the-way-out", "path"),
        (D, "terminal-knocks", "tunnel"),
        (N, "in-the-container", "resolve"),
        (N, "a-name-on-the-wire", "resolve"),
        (D, "container-knocks", "tunnel"),
        (D, "tunnel-to-nobody", "tunnel"),
        (D, "a-stranger-knocks", "tunnel"),
    ],
)
def test_a_true_figure_passes(file: str, step: str, view: str) -> None:
    scenario, trace_step, parts = pieces(file, step, view)
    assert figfacts.check(scenario, trace_step, parts["svg"], parts["caption"], parts["body"]) == []


CASES = [
    (
        "forward-painted-as-flood",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0->podman0:seat5",
        "nc-s-forward",
        "nc-s-flood",
        ["frame 1: draws the line podman0->podman0:seat5 as flood, forward, solid; the trace says forward"],
    ),
    (
        "forward-dashed-like-flood",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0->podman0:seat5",
        'stroke-width="2" d=',
        'stroke-width="2" stroke-dasharray="5,2" d=',
        ["frame 1: draws the line podman0->podman0:seat5 as flood, forward; the trace says forward"],
    ),
    (
        "forward-dashed-oddly",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0->podman0:seat5",
        'stroke-width="2" d=',
        'stroke-width="2" stroke-dasharray="3,3" d=',
        ["frame 1: draws the line podman0->podman0:seat5 as dashed 3,3, forward; the trace says forward"],
    ),
    (
        "delivery-painted-as-flood",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0:seat5->bob",
        "nc-s-forward",
        "nc-s-flood",
        ["frame 1: draws the line podman0:seat5->bob as flood, solid; the trace says forward"],
    ),
    (
        "forward-worded-as-flood",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0->podman0:seat5",
        ">forward<",
        ">flood<",
        ["frame 1: draws the line podman0->podman0:seat5 as flood, forward, solid; the trace says forward"],
    ),
    (
        # A line's word carries its frame's number when a step sends several ("2. forward"): the
        # number is read off before the word is (figfacts._word()), so a numbered word lies too.
        "numbered-forward-worded-as-flood",
        M,
        "bob-asks-for-toasters",
        "room",
        "svg",
        None,
        ">2. forward<",
        ">2. flood<",
        ["frame 2: draws the line podman0->podman0:seat5 as flood, forward, solid; the trace says forward"],
    ),
    (
        "forward-to-the-wrong-seat",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0->podman0:seat5",
        "seat5",
        "seat7",
        ["frame 1: draws copies to [seat7]; the trace sends them to [seat5]"],
    ),
    (
        "copy-leaving-another-bridge",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0->podman0:seat5",
        'data-gv="podman0&#45;&gt;',
        'data-gv="podman1&#45;&gt;',
        ["frame 1: draws a copy leaving podman1, not bridge podman0"],
    ),
    (
        "entering-at-the-wrong-seat",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0:seat3->alice",
        "seat3",
        "seat7",
        ["frame 1: draws it entering at podman0:seat7; the trace has it enter podman0:seat3"],
    ),
    (
        "a-frame-too-many",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0:seat3->podman0",
        "ns-h0",
        "ns-h2",
        ["draws frame 2, but the step has 1 frame(s)"],
    ),
    (
        "bridge-box-says-flood",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0",
        "→ forward (",
        "→ flood (",
        ["bridge podman0's box says ['flood']; the trace decided ['forward']"],
    ),
    (
        # A word no legend has is read as '?' (make mutants: figfacts x__check_bridge_words__mutmut_29).
        "bridge-box-says-no-word",
        M,
        "alice-replies",
        "room",
        "svg",
        "podman0",
        "→ forward (",
        "→ teleport (",
        ["bridge podman0's box says ['?']; the trace decided ['forward']"],
    ),
    (
        "no-view",
        M,
        "alice-replies",
        "room",
        "svg",
        None,
        "ns-view-room",
        "ns-room",
        ["the diagram cannot be read back: the SVG names no view (no ns-view-* class on its graph)"],
    ),
    ("not-xml", M, "alice-replies", "room", "svg", None, "</svg>", "", [NOT_XML]),
    (
        "caption-says-flooded",
        M,
        "alice-replies",
        "room",
        "caption",
        None,
        "forwarded to",
        "flooded to",
        ["the caption says frame 1 was 'flooded to'; the trace says forward"],
    ),
    (
        "caption-names-another-seat",
        M,
        "alice-replies",
        "room",
        "caption",
        None,
        "seat 5",
        "seat 7",
        ["the caption sends frame 1 to ['seat7']; the trace to ['seat5']"],
    ),
    (
        "caption-names-a-stranger",
        M,
        "alice-replies",
        "room",
        "caption",
        None,
        "seat 5",
        "seat 5 and the roof",
        ["the caption sends frame 1 to ['?and the roof', 'seat5']; the trace to ['seat5']"],
    ),
    (
        "caption-names-a-seat-twice",  # each seat named is read once: a second mention is a stranger
        M,
        "alice-replies",
        "room",
        "caption",
        None,
        "seat 5",
        "seat 5 and seat 5",
        ["the caption sends frame 1 to ['?and seat 5', 'seat5']; the trace to ['seat5']"],
    ),
    (
        "caption-tells-no-frame",
        M,
        "alice-replies",
        "room",
        "caption",
        None,
        ": forwarded to",
        " forwarded to",
        ["the caption tells of 0 frame(s); the trace has 1"],
    ),
    (
        "caption-invents-a-connection",
        M,
        "alice-replies",
        "room",
        "caption",
        None,
        "seat5).",
        "seat5). connect(): Connection refused (ECONNREFUSED).",
        ["the caption says connect() returned 'refused'; the trace says None"],
    ),
    (
        "table-row-not-new",
        M,
        "alice-replies",
        "room",
        "body",
        None,
        ' <span class="ns-new">new</span>',
        "",
        [
            "MAC table of podman0: row aa:42:81:9c:0e:33 is half marked new",
            "MAC table of podman0 marks [] new; the trace learned ['aa:42:81:9c:0e:33']",
        ],
    ),
    (
        "table-row-half-new",
        M,
        "alice-replies",
        "room",
        "body",
        None,
        '<tr class="ns-row-new"',  # (the row also names the frame that taught it: data-learned-by)
        "<tr",
        ["MAC table of podman0: row aa:42:81:9c:0e:33 is half marked new"],
    ),
    (
        "table-row-on-another-seat",
        M,
        "alice-replies",
        "room",
        "body",
        None,
        "(<code>seat5</code>)",
        "(<code>seat7</code>)",
        [
            "MAC table of podman0 shows {'aa:42:81:9c:0e:33': 'seat3', 'ba:11:22:33:44:55': 'seat7'}; the trace has {'aa:42:81:9c:0e:33': 'seat3', 'ba:11:22:33:44:55': 'seat5'}"
        ],
    ),
    (
        "table-row-unreadable",
        M,
        "alice-replies",
        "room",
        "body",
        None,
        "(<code>seat5</code>)",
        "seat7",
        [
            "MAC table of podman0 shows {'aa:42:81:9c:0e:33': 'seat3', 'ba:11:22:33:44:55': '?'}; the trace has {'aa:42:81:9c:0e:33': 'seat3', 'ba:11:22:33:44:55': 'seat5'}"
        ],
    ),
    (
        "no-mac-table",
        M,
        "alice-replies",
        "room",
        "body",
        None,
        "MAC table of podman0",
        "Table of podman0",
        ["the room shows no MAC table of podman0"],
    ),
    (
        "flood-one-seat-short",
        M,
        "bob-writes-to-alice",
        "room",
        "svg",
        "podman0->podman0:seat9",
        "seat9",
        "seat3",
        ["frame 1: draws copies to [seat3, seat3, seat7]; the trace sends them to [seat3, seat7, seat9]"],
    ),
    (
        "drop-mark-silent",
        M,
        "group-badge-note",
        "room",
        "svg",
        "drop-0-seat5",
        "✗ dropped",
        "✗ gone",
        ["frame 1: its drop mark drop-0-seat5 does not say 'dropped'"],
    ),
    (
        "drop-without-its-mark",
        M,
        "group-badge-note",
        "room",
        "svg",
        "drop-0-seat5",
        "ns-drop",
        "ns-seat",
        ["frame 1: the trace drops it, but the figure draws no drop mark for it (lines to ['drop-0-seat5'])"],
    ),
    (
        "caption-says-dropped-for-a-forward",
        M,
        "alice-replies",
        "room",
        "caption",
        None,
        "forwarded to seat 5",
        "dropped",
        [
            "the caption says frame 1 was 'dropped'; the trace says forward",
            "the caption sends frame 1 to []; the trace to ['seat5']",
        ],
    ),
    (
        "arp-state-wrong",
        M,
        "bob-asks-for-toasters",
        "room",
        "body",
        None,
        "REACHABLE",
        "STALE",
        [
            "ARP tables show [('Alice', '10.88.0.5', 'ba:11:22:33:44:55', 'STALE'), ('Bob', '10.88.0.3', 'aa:42:81:9c:0e:33', 'STALE')]; the trace has [('Alice', '10.88.0.5', 'ba:11:22:33:44:55', 'STALE'), ('Bob', '10.88.0.3', 'aa:42:81:9c:0e:33', 'REACHABLE')]"
        ],
    ),
    (
        "arp-tables-left-out",
        M,
        "bob-asks-for-toasters",
        "room",
        "body",
        None,
        "ARP tables after this step",
        "Tables after this step",
        ["the room shows no ARP tables for a step that sends ARP"],
    ),
    (
        "arp-tables-said-empty",
        M,
        "bob-asks-for-toasters",
        "room",
        "body",
        None,
        "ARP tables after this step",
        "Nobody's ARP table has an entry yet",
        [
            "the figure says nobody's ARP table has an entry; the trace has entries",
            "the room shows no ARP tables for a step that sends ARP",
        ],
    ),
    (
        "knock-says-connected",
        M,
        "portainer-connects",
        "rooms",
        "svg",
        "portainer->laptop:podman0",
        "refused ✗",
        "connected ✓",
        ["the knock says 'connected'; the trace's connect() returned 'refused'"],
    ),
    (
        "knock-painted-green",
        M,
        "portainer-connects",
        "rooms",
        "svg",
        "portainer->laptop:podman0",
        "nc-s-drop",
        "nc-s-ok",
        ["the knock is drawn green for 'refused'"],
    ),
    (
        "knock-says-nothing",
        M,
        "portainer-connects",
        "rooms",
        "svg",
        "portainer->laptop:podman0",
        "refused ✗",
        "well",
        ["the knock says None; the trace's connect() returned 'refused'"],
    ),
    (
        "knock-missing",
        M,
        "portainer-connects",
        "rooms",
        "svg",
        "portainer->laptop:podman0",
        "ns-knock",
        "ns-line",
        ["draws 0 knocks; a connect step has one"],
    ),
    (
        "doorman-on-a-port-nobody-opened",
        M,
        "portainer-connects",
        "rooms",
        "svg",
        "doorman-0",
        "127.0.0.1:19001",
        "127.0.0.1:19002",
        ["draws doormen listening on ['127.0.0.1:19002']; the trace has ['127.0.0.1:19001']"],
    ),
    (
        "ttl-wrong",
        F,
        "masqueraded",
        "path",
        "svg",
        "packet-1",
        "TTL 63",
        "TTL 64",
        [
            "frame 2 is labelled ('192.168.1.23', '192.168.1.50', 64); its IP header is 192.168.1.23 → 192.168.1.50 TTL 63"
        ],
    ),
    (
        "address-wrong",
        F,
        "masqueraded",
        "path",
        "svg",
        "packet-1",
        "192.168.1.23:40003 →",
        "10.88.0.2:40003 →",
        ["frame 2 is labelled ('10.88.0.2', '192.168.1.50', 63); its IP header is 192.168.1.23 → 192.168.1.50 TTL 63"],
    ),
    (
        "port-wrong",
        F,
        "masqueraded",
        "path",
        "svg",
        "packet-1",
        "192.168.1.23:40003 →",
        "192.168.1.23:40004 →",
        ["frame 2 is labelled with ports 40004 → 9001; its TCP header has 40003 → 9001"],
    ),
    (
        "header-unreadable",
        F,
        "masqueraded",
        "path",
        "svg",
        "packet-1",
        "TTL 63",
        "hops 63",
        ["frame 2 is labelled None; its IP header is 192.168.1.23 → 192.168.1.50 TTL 63"],
    ),
    (
        "packet-missing",
        F,
        "masqueraded",
        "path",
        "svg",
        "packet-5",
        "ns-p6",
        "ns-q6",
        [
            "draws frames [1, 2, 3, 4, 5]; the step has 6",
            "frame 6 is labelled None; its IP header is 192.168.1.23 → 192.168.1.50 TTL 63",
        ],
    ),
    (
        "rewrite-note-unreadable",
        F,
        "masqueraded",
        "path",
        "svg",
        "rewrites-laptop",
        "before:",
        "after:",
        [
            "shows header rewrites []; the trace rewrote [('10.88.0.2:40003 > 192.168.1.50:9001', '192.168.1.23:40003 > 192.168.1.50:9001'), ('10.88.0.2:40003 > 192.168.1.50:9001', '192.168.1.23:40003 > 192.168.1.50:9001'), ('192.168.1.50:9001 > 192.168.1.23:40003', '192.168.1.50:9001 > 10.88.0.2:40003')]"
        ],
    ),
    (
        "router-not-forwarding",
        F,
        "masqueraded",
        "path",
        "svg",
        "laptop",
        "forwarding on",
        "forwarding off",
        ["draws laptop with forwarding off; the trace disagrees"],
    ),
    (
        "router-said-to-forward",
        F,
        "the-way-out",
        "path",
        "svg",
        "laptop",
        "forwarding off",
        "forwarding on",
        ["draws laptop with forwarding on; the trace disagrees"],
    ),
    (
        "router-of-no-namespace",
        F,
        "masqueraded",
        "path",
        "svg",
        "laptop",
        'data-gv="laptop"',
        'data-gv="nobody"',
        ["draws a router 'nobody'; the trace has no such namespace"],
    ),
    (
        "conntrack-table-of-someone-else",
        F,
        "masqueraded",
        "path",
        "body",
        None,
        "Connection tracking table of the laptop",
        "Connection tracking table of the server",
        ["shows no conntrack table of the laptop; the trace has one"],
    ),
    (
        "resolved-from-the-wrong-place",
        N,
        "in-the-container",
        "resolve",
        "body",
        None,
        "(from /etc/hosts)",
        "(from the nameserver 10.88.0.1)",
        ["says the answer came from 'the nameserver 10.88.0.1'; the trace's came from '/etc/hosts'"],
    ),
    (
        "conntrack-row-wrong",
        F,
        "masqueraded",
        "path",
        "body",
        None,
        "ESTABLISHED ASSURED",
        "ESTABLISHED",
        [
            "the conntrack table of laptop shows [('ESTABLISHED', '10.88.0.2:40003 > 192.168.1.50:9001', '192.168.1.50:9001 > 192.168.1.23:40003')]; the trace has [('ESTABLISHED ASSURED', '10.88.0.2:40003 > 192.168.1.50:9001', '192.168.1.50:9001 > 192.168.1.23:40003')]"
        ],
    ),
    (
        "route-answer-wrong",
        F,
        "the-way-out",
        "path",
        "body",
        None,
        "src 10.88.0.2",
        "src 10.88.0.9",
        [
            "shows `ip route get` answering '192.168.1.50 via 10.88.0.1 dev eth0 src 10.88.0.9 uid 0 \\n    cache '; the trace has {'type': 'unicast', 'dst': '192.168.1.50', 'gateway': '10.88.0.1', 'dev': 'eth0', 'prefsrc': '10.88.0.2'}"
        ],
    ),
    (
        "knock-in-a-route-step",
        F,
        "the-way-out",
        "path",
        "svg",
        "laptop",
        'class="ns-router"',
        'class="ns-knock"',
        ["draws a knock in a step that makes no connection"],
    ),
    # The tunnel (post five): who listens, the SSH connections, where a knock lands, the channel.
    (
        "tunnel-listener-drawn-as-a-plain-doorman",
        D,
        "terminal-knocks",
        "tunnel",
        "svg",
        "doorman-laptop-0",
        ">ssh &#45;L<",
        ">doorman<",
        [
            "draws 'doorman' listening on 127.0.0.1:19001 in laptop; the trace's tunnels are [('laptop', '127.0.0.1:19001')]"
        ],
    ),
    (
        "a-program-drawn-as-sshd",
        D,
        "terminal-knocks",
        "tunnel",
        "svg",
        "doorman-server-1",
        ">doorman<",
        ">sshd<",
        ["draws sshd listening on 127.0.0.1:9001"],
    ),
    (
        "ssh-connection-to-another-target",
        D,
        "terminal-knocks",
        "tunnel",
        "svg",
        "doorman-laptop-0->doorman-server-0",
        "to localhost:9001",
        "to localhost:9002",
        [
            "draws SSH connections [('127.0.0.1:19001', 'SSH connection to localhost:9002')]; the trace's tunnels give [('127.0.0.1:19001', 'SSH connection to localhost:9001')]"
        ],
    ),
    (
        "knock-on-the-wrong-seat",
        D,
        "container-knocks",
        "tunnel",
        "svg",
        "portainer->laptop:podman0",
        "laptop:podman0",
        "laptop:wlan0",
        ["the knock on 10.88.0.1 lands on laptop:wlan0, which does not hold that address"],
    ),
    (
        "knock-on-someone-else-s-loopback",
        D,
        "terminal-knocks",
        "tunnel",
        "svg",
        "laptop-terminal->laptop:lo",
        "laptop:lo",
        "server:lo",
        ["the knock on 127.0.0.1 lands on server:lo, which does not hold that address"],
    ),
    (
        "end-of-file-drawn-as-waiting",
        D,
        "tunnel-to-nobody",
        "tunnel",
        "svg",
        "laptop-terminal->laptop:lo",
        "then reads end&#45;of&#45;file",
        "then reads nothing yet",
        ["the knock says 'then reads nothing yet' after connecting; the trace says 'then reads end-of-file'"],
    ),
    (
        "channel-with-another-number",
        D,
        "tunnel-to-nobody",
        "tunnel",
        "svg",
        "doorman-server-0->server:lo",
        "channel 2:",
        "channel 1:",
        [
            "the channel says 'channel 1: connect 9001 open failed: refused'; the trace has channel 2, open failed: refused"
        ],
    ),
    (
        "failed-channel-painted-green",
        D,
        "tunnel-to-nobody",
        "tunnel",
        "svg",
        "doorman-server-0->server:lo",
        'class="nc-f-none nc-s-drop"',
        'class="nc-f-none nc-s-ok"',
        ["the channel is drawn green for 'refused'"],
    ),
    (
        "connected-channel-drawn-dashed",
        D,
        "terminal-knocks",
        "tunnel",
        "svg",
        "doorman-server-0->server:lo",
        'stroke-width="2" d=',
        'stroke-width="2" stroke-dasharray="5,2" d=',
        ["the channel is drawn dashed for 'connected'"],
    ),
    (
        "failed-channel-drawn-solid",
        D,
        "tunnel-to-nobody",
        "tunnel",
        "svg",
        "doorman-server-0->server:lo",
        ' stroke-dasharray="5,2" d=',
        " d=",
        ["the channel is drawn solid for 'refused'"],
    ),
    (
        "channel-to-the-wrong-seat",
        D,
        "tunnel-to-nobody",
        "tunnel",
        "svg",
        "doorman-server-0->server:lo",
        "server:lo",
        "server:eth0",
        ["the channel connects to server:eth0; the tunnel's target is localhost:9001 on server"],
    ),
    (
        "channel-to-another-port",
        D,
        "tunnel-to-nobody",
        "tunnel",
        "svg",
        "doorman-server-0->server:lo",
        "connect 9001",
        "connect 9002",
        ["the channel says 'channel 2: connect 9002 open failed: refused'; the tunnel's target port is 9001"],
    ),
    (
        "a-channel-that-was-never-opened",
        D,
        "container-knocks",
        "tunnel",
        "svg",
        "doorman-laptop-0->doorman-server-0",
        'class="ns-ssh"',
        'class="ns-channel"',
        [
            "draws SSH connections []; the trace's tunnels give [('127.0.0.1:19001', 'SSH connection to localhost:9001')]",
            "draws a channel in a step whose connection opened none",
        ],
    ),
    (
        "seat-at-the-wrong-address",
        D,
        "container-knocks",
        "tunnel",
        "svg",
        "laptop:podman0",
        ">10.88.0.1<",
        ">10.88.0.2<",
        ["seats laptop:podman0 at '10.88.0.2'; the trace gives it no such address"],
    ),
    (
        "ssh-connection-from-a-seat",  # the line starts at no doorman: the tunnel it stands for is '?'
        D,
        "container-knocks",
        "tunnel",
        "svg",
        "doorman-laptop-0->doorman-server-0",
        'data-gv="doorman&#45;laptop&#45;0&#45;&gt;',
        'data-gv="laptop:lo&#45;&gt;',
        [
            "draws SSH connections [('?', 'SSH connection to localhost:9001')]; "
            "the trace's tunnels give [('127.0.0.1:19001', 'SSH connection to localhost:9001')]"
        ],
    ),
    (
        "no-seat-for-an-address-outside-a-bridge",  # the server's eth0 holds an address, no bridge
        D,
        "container-knocks",
        "tunnel",
        "svg",
        "server:eth0",
        'data-gv="server:eth0"',
        'data-gv="server:eth9"',
        [
            "seats server:eth9 at '192.168.1.50'; the trace gives it no such address",
            "draws no seat for server's eth0, which holds 192.168.1.50/24",
        ],
    ),
]


@pytest.mark.parametrize(
    ("file", "step", "view", "part", "group", "old", "new", "problems"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_a_spoilt_figure_fails_with_what_it_got_wrong(
    file: str, step: str, view: str, part: str, group: str | None, old: str, new: str, problems: list[str]
) -> None:
    scenario, trace_step, parts = pieces(file, step, view)
    parts[part] = spoil(parts[part], group, old, new)
    found = figfacts.check(scenario, trace_step, parts["svg"], parts["caption"], parts["body"])
    if problems == [NOT_XML]:  # the parser's line and column depend on Graphviz's layout
        assert len(found) == 1 and found[0].startswith(NOT_XML), found
    else:
        assert found == problems


def test_the_room_s_tables_are_not_asked_of_other_views() -> None:
    # Only the room shows MAC tables; the rooms and path views have none and must not fail for it.
    scenario, step, parts = pieces(M, "portainer-connects", "rooms")
    assert figfacts.check_tables(scenario, step, "", room=False) == []
    assert figfacts.check_tables(scenario, step, "", room=True) == [
        "the room shows no MAC table of podman0",
        "the room shows no ARP tables for a step that sends ARP",
    ]


def test_a_page_that_asks_for_no_arp_tables_gets_none() -> None:
    scenario, step, parts = pieces(M, "bob-asks-for-toasters", "room")
    body = tables.fdb_table(scenario, step)
    assert figfacts.check_tables(scenario, step, body, room=True, neigh=False) == []
    assert figfacts.check_tables(scenario, step, body, room=True) == [
        "the room shows no ARP tables for a step that sends ARP"
    ]
    assert figfacts.check_tables(scenario, step, body, room=True, neigh=True) == [
        "the room shows no ARP tables for a step that sends ARP"
    ]


def test_the_connection_tracking_table_names_the_command_that_lists_it() -> None:
    # The reader types what the caption names: `conntrack -L` lists the table (`-l` is no option).
    scenario, step, _parts = pieces(F, "masqueraded", "path")
    assert step.conntrack
    assert "(<code>conntrack -L</code>)" in tables.conntrack_table(scenario, step)


def test_a_step_without_a_route_lookup_shows_no_route_answer() -> None:
    scenario, step, _parts = pieces(M, "alice-replies", "room")
    assert step.route is None
    assert tables.route_answer(scenario, step, "alice", "10.88.0.5") == ""


def test_the_knock_points_at_the_host_that_owns_the_address() -> None:
    # The path view draws a connect() from a program to the room of the host holding the address.
    _scenario, _step, parts = pieces(F, "masqueraded", "path")
    knocks = figfacts.read_svg(parts["svg"]).with_role("knock")
    assert [k.ends for k in knocks] == [("portainer/program", "server")]


def test_a_knock_lands_on_the_interface_that_holds_the_address() -> None:
    # The namespaces view draws a connect() to the very device with that address (the bridge in
    # the laptop's room for 10.88.0.1), to the knocker's own lo for 127/8 once lo is up, and to
    # nowhere while lo is down.
    scenario = load_scenario("diagrams/rooms-inside-rooms.yaml")
    trace = run(scenario)
    landed = {}
    for step in ("knock-in-the-dark", "knock-on-own-door", "knock-on-the-laptops-seat"):
        action = scenario.step(step).connect
        assert action is not None
        svg = graph.namespaces(scenario, trace.step(step), (action.by, action.to))
        landed[step] = [k.ends[1] for k in figfacts.read_svg(svg).with_role("knock")]
    assert landed == {
        "knock-in-the-dark": ["portainer/nowhere"],
        "knock-on-own-door": ["portainer/lo"],
        "knock-on-the-laptops-seat": ["laptop/podman0"],
    }


def test_the_rooms_view_says_whose_room_each_is() -> None:
    # The host's box carries its label, and a knock on 127/8 by someone else lands in a one-seat
    # room of the knocker's own, titled with the knocker's name: never the host's lo.
    scenario = load_scenario(M)
    step = run(scenario).step("portainer-connects")
    svg = graph.rooms(scenario, step, "laptop", ("portainer", "127.0.0.1:19001"))
    texts = [t for m in re.findall(r"<text[^>]*>([^<]*)</text>", svg) for t in [html.unescape(m)]]
    assert words.label(scenario, "laptop") in texts
    assert f"lo · {words.label(scenario, 'portainer')}'s own one-seat room" in texts
    assert f"lo · {words.label(scenario, 'laptop')}'s one-seat room" in texts
    # The host's own knock starts at its terminal, a box of its own named for it.
    svg = graph.rooms(scenario, step, "laptop", ("laptop", "127.0.0.1:19001"))
    texts = [html.unescape(m) for m in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    assert f"{words.label(scenario, 'laptop')}'s terminal" in texts


def test_a_knock_on_127_lands_in_the_knockers_own_loopback_in_the_tunnel_view() -> None:
    # The server's own terminal knocking on 127.0.0.1 reaches the server's lo, not the laptop's.
    scenario = load_scenario(D)
    step = run(scenario).step("a-stranger-knocks")
    svg = graph.tunnel(scenario, step, "laptop", "server", ("server", "127.0.0.1:9001"))
    fig = figfacts.read_svg(svg)
    assert [k.ends for k in fig.with_role("knock")] == [("server-terminal", "server:lo")]
    assert figfacts.check_tunnel(step, fig, "127.0.0.1:9001") == []
    # The laptop's own terminal knocking on the bridge's address reaches the laptop's podman0 seat.
    svg = graph.tunnel(scenario, step, "laptop", "server", ("laptop", "10.88.0.1:19001"))
    fig = figfacts.read_svg(svg)
    assert [k.ends for k in fig.with_role("knock")] == [("laptop-terminal", "laptop:podman0")]
    assert figfacts.check_tunnel(step, fig, "10.88.0.1:19001") == []
    # The container's 127.0.0.1 is its own lo, drawn as a one-seat room of its own.
    svg = graph.tunnel(scenario, step, "laptop", "server", ("portainer", "127.0.0.1:19001"))
    fig = figfacts.read_svg(svg)
    assert [k.ends for k in fig.with_role("knock")] == [("portainer", "portainer:lo")]
    assert figfacts.check_tunnel(step, fig, "127.0.0.1:19001") == []


# --- what a renderer draws that the figure check does not read back (each kills a planted fault) ---


def _texts(svg: str) -> list[str]:
    """Every line of words a reader sees in the SVG."""
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_a_bridge_without_a_label_is_titled_with_its_name_alone() -> None:
    # The room's title is "br0 · the label" only when the scenario gives one: never a dangling " · ".
    scenario = room("- {id: s, send: {by: a, dst: b}}")
    step = run(scenario).step("s")
    assert scenario.bridges["br0"].label is None
    owner = scenario.bridges["br0"].host
    with graph.kept_graphs() as kept:  # the room, rooms and tunnel views each draw the bridge's room
        graph.room(scenario, step)
        graph.rooms(scenario, step, owner, None)
        graph.tunnel(scenario, step, owner, "a", None)
    titles = [sub.graph_attr["label"] for g in kept for sub in _all_subgraphs(g) if sub.name == "cluster_br0"]
    assert titles == ["br0", "br0", "br0"]


def _all_subgraphs(g: object) -> list:  # type: ignore[type-arg]
    found, todo = [], list(g.subgraphs())  # type: ignore[attr-defined]
    while todo:
        found.append(todo.pop())
        todo += found[-1].subgraphs()
    return found


def test_the_narrow_room_draws_one_line_to_a_drop_mark() -> None:
    # The phone's room stacks a drop mark under its bridge with a line nobody sees: the only line
    # drawn to the mark is the frame's own, once.
    scenario = load_scenario("tests/lab_scenarios/hairpin.yaml")
    step = run(scenario).step("to-c-from-p1")
    assert [h.decision for h in step.frames] == ["drop"]
    svg = graph.room(scenario, step, narrow=True)
    assert figfacts.check(scenario, step, svg, f"<strong>x</strong> {words.step_caption(scenario, step)}", "") == [
        "the room shows no MAC table of br0"
    ]
    with graph.kept_graphs() as kept:
        graph.room(scenario, step, narrow=True)
    drawn = [e for e in kept[0].edges() if e[1].startswith("drop-") and e.attr.get("style") != "invis"]
    assert [(e[0], e.attr.get("class")) for e in drawn] == [("br0", "ns-h0 ns-out")]


def test_the_narrow_room_stacks_two_drop_marks_one_under_the_other() -> None:
    # Two frames dropped at one bridge in one step (the hairpin drop, and the same frame had it come
    # in on p2): the phone's room stands the second mark under the first, not beside the bridge.
    scenario = load_scenario("tests/lab_scenarios/hairpin.yaml")
    step = run(scenario).step("to-c-from-p1")
    (hop,) = step.frames
    step = dataclasses.replace(step, frames=[hop, dataclasses.replace(hop, in_port="p2")])
    with graph.kept_graphs() as kept:
        graph.room(scenario, step, narrow=True)
    stacked = [(str(e[0]), str(e[1])) for e in kept[0].edges() if e.attr.get("style") == "invis"]
    assert ("br0", "drop-1-p1") in stacked and ("drop-1-p1", "drop-2-p2") in stacked
    # Both stand in the room (graph x_room__mutmut_155 of make mutants left the second outside it).
    assert {"drop-1-p1", "drop-2-p2"} <= {str(n) for n in kept[0].get_subgraph("cluster_br0").nodes()}


def test_a_seat_shows_the_addresses_its_occupant_has_at_that_step() -> None:
    # An address added by a step is drawn on the seat's occupant (the trace's `ip addr`, not the topology's).
    scenario = load_scenario("tests/lab_scenarios/addr-del-keeps-gateway.yaml")
    step = run(scenario).step("a-second-subnet")
    assert {"10.0.0.10", "10.5.0.10"} <= set(_texts(graph.room(scenario, step)))


def test_the_mac_table_names_who_wears_a_badge_made_by_a_step() -> None:
    # The container's eth0 is created by a step (veth_add and a move): its MAC is in no topology,
    # yet the notebook's "worn by" names the container, from the step's links.
    scenario = load_scenario("diagrams/rooms-inside-rooms.yaml")
    step = run(scenario).step("first-note")
    row = re.search(r"<td><code>0a:58:0a:58:00:02</code>.*?</tr>", tables.fdb_table(scenario, step))
    assert row is not None and row.group(0).endswith(f"<td>{escape(words.label(scenario, 'portainer'))}</td></tr>")


def test_a_notebook_line_is_written_when_the_frame_that_moved_the_badge_arrives() -> None:
    # data-learned-by names the frame that made the entry new or moved it, not an earlier frame
    # that only refreshed it on the same bridge.
    mac = "02:00:00:00:00:0a"
    frames = [
        Hop("br0", "p1", mac, "ff:ff:ff:ff:ff:ff", "flood", ("p2",), "x", "broadcast", "refreshed"),
        Hop("br1", "p1", mac, "ff:ff:ff:ff:ff:ff", "flood", ("p2",), "x", "broadcast", "new"),
        Hop("br0", "p2", mac, "ff:ff:ff:ff:ff:ff", "flood", ("p1",), "x", "broadcast", "moved"),
    ]
    step = StepTrace("s", "send", None, 0.0, frames=frames, fdb={"br0": {mac: "p2"}}, fdb_new={"br0": [mac]})
    assert tables._taught_by(step, "br0", mac) == ' data-learned-by="3"'
    assert tables._taught_by(step, "br1", mac) == ' data-learned-by="2"'


def test_a_flood_of_an_unknown_destination_says_so_in_the_caption() -> None:
    # Frames through a bridge that knows nobody yet: the caption gives the bridge's reason.
    scenario = room("- {id: s, send: {by: a, dst: b}}")
    step = run(scenario).step("s")
    assert [h.decision for h in step.frames] == ["flood"]
    assert words.step_caption(scenario, step) == "A's test frame for b: flooded to p2 and p3 (destination unknown)."


def test_a_caption_of_events_alone_tells_at_most_three() -> None:
    # A step with no frame, connect() or lookup is told by its first three events only.
    scenario = load_scenario("tests/lab_scenarios/rename-then-up.yaml")
    step = run(scenario).step("a-down")
    assert not step.frames and step.outcome is None and len(step.events) > 3
    assert words.step_caption(scenario, step) == " ".join(e + "." for e in step.events[:3])


def test_a_doorman_on_any_address_guards_every_seat_of_its_host() -> None:
    # The tunnel view joins sshd on 0.0.0.0:22 to each of the server's seats (its lo and eth0);
    # a doorman on 127.0.0.1 to the lo alone.
    scenario = load_scenario(D)
    step = run(scenario).step("too-early")
    assert step.listeners["server"] == ["0.0.0.0:22", "127.0.0.1:9001"]
    with graph.kept_graphs() as kept:
        graph.tunnel(scenario, step, "laptop", "server", None)
    doors = sorted((e[1], e[0]) for e in kept[0].edges() if e[1].startswith("doorman-server-"))
    assert doors == [
        ("doorman-server-0", "server:eth0"),
        ("doorman-server-0", "server:lo"),
        ("doorman-server-1", "server:lo"),
    ]


def test_a_doorman_on_any_127_address_stands_at_lo() -> None:
    # 127.0.0.2 is lo's too (the whole 127/8 is local once lo has 127.0.0.1): its doorman is drawn at lo.
    scenario = room("- {id: s, connect: {by: host, to: '127.0.0.2:80'}}", listeners="'127.0.0.2:80'")
    step = run(scenario).step("s")
    assert step.listeners["host"] == ["127.0.0.2:80"] and step.outcome == "connected"
    with graph.kept_graphs() as kept:
        svg = graph.namespaces(scenario, step, ("host", "127.0.0.2:80"))
    assert [e[0] for e in kept[0].edges() if e[1] == "host/doorman-0"] == ["host/lo"]
    # The knock starts at a box saying whose program knocks, and no other box says it.
    assert kept[0].get_node("host/program").attr["label"] == "a program in\\nhost"
    assert _texts(svg).count("a program in") == 1
    assert [k.ends for k in figfacts.read_svg(svg).with_role("knock")] == [("host/program", "host/lo")]


def test_a_caption_s_seats_are_read_longest_name_first() -> None:
    # "seat 1" is also the end of "back seat 1": the longer name is taken first (not the one that
    # sorts first either way), so both are found.
    text = ROOM.format(steps="  - {id: s, send: {by: a, dst: b}}", ageing=300, p1="label: back seat 1", listeners="")
    scenario = parse_scenario(text.replace("p2: {}", "p2: {label: seat 1}"), "room.yaml")
    found = figfacts._ports_named(scenario, "br0", " back seat 1 and seat 1")
    assert sorted(found) == ["p1", "p2"]


def test_a_channel_to_a_target_other_than_localhost_lands_on_the_seat_holding_it() -> None:
    # ssh -L 19001:192.168.1.50:9001: the server's sshd connects to its own eth0 address, not to
    # its lo, and the figure check holds the channel to that seat.
    text = (
        (ROOT / D)
        .read_text(encoding="utf-8")
        .replace("forward: '19001:localhost:9001'", "forward: '19001:192.168.1.50:9001'")
    )
    scenario = parse_scenario(
        text.replace("listeners: [127.0.0.1:9001]", "listeners: [127.0.0.1:9001, 192.168.1.50:9001]"), D
    )
    step = run(scenario).step("terminal-knocks")
    assert step.channel is not None and step.channel["outcome"] == "connected"
    fig = figfacts.read_svg(graph.tunnel(scenario, step, "laptop", "server", ("laptop", "127.0.0.1:19001")))
    assert [c.ends[1] for c in fig.with_role("channel")] == ["server:eth0"]
    assert figfacts.check_tunnel(step, fig, "127.0.0.1:19001") == []


def test_a_channel_to_an_address_no_seat_holds_ends_at_the_bare_address() -> None:
    # ssh -L 19001:192.168.1.77:9001, an address on the server's wire that nobody holds: sshd's
    # connect waits for ARP (it fails 3 s later, after the knock's step) and the channel is drawn to
    # the bare address, as a knock on an address no seat holds is, with no answer yet.
    text = (
        (ROOT / D)
        .read_text(encoding="utf-8")
        .replace("forward: '19001:localhost:9001'", "forward: '19001:192.168.1.77:9001'")
    )
    scenario = parse_scenario(text, D)
    step = run(scenario).step("terminal-knocks")
    assert step.channel is not None and step.channel["outcome"] == "waiting"
    fig = figfacts.read_svg(graph.tunnel(scenario, step, "laptop", "server", ("laptop", "127.0.0.1:19001")))
    assert [c.ends for c in fig.with_role("channel")] == [("doorman-server-0", "192.168.1.77")]
    assert " ".join(fig.with_role("channel")[0].texts).endswith("no answer yet")
    assert figfacts.check_tunnel(step, fig, "127.0.0.1:19001") == []


def _masqueraded_with_the_servers_entry() -> tuple[Scenario, StepTrace, dict[str, object]]:
    """Post four's masqueraded step, and the server's own conntrack entry for the same connection."""
    scenario = load_scenario(F)
    step = run(scenario).step("masqueraded")
    seen = "src=192.168.1.23 dst=192.168.1.50 sport=40003 dport=9001"
    back = "src=192.168.1.50 dst=192.168.1.23 sport=9001 dport=40003"
    return scenario, step, {"proto": "tcp", "state": "ESTABLISHED", "original": seen, "reply": back, "flags": []}


def test_each_hosts_conntrack_table_is_read_up_to_its_own_end() -> None:
    # Two hosts' tables one after the other (the laptop's masquerade and the server's view of the
    # same connection): each is read alone. Guards figfacts x_check_tables__mutmut_151 (make
    # mutants): a table read on past its end, taking in the next host's rows as its own.
    scenario, step, server = _masqueraded_with_the_servers_entry()
    both = dataclasses.replace(step, conntrack={**step.conntrack, "server": [server]})
    body = tables.conntrack_table(scenario, both)
    assert body.count("<table>") == 2
    assert figfacts.check_tables(scenario, both, body, room=False) == []


def test_an_empty_conntrack_table_is_read_as_empty_not_as_the_next_hosts() -> None:
    # An empty table is a paragraph; read on to the next </table>, it took the server's rows as the
    # laptop's and failed a true figure (natport-server-tracks-flushed-port, the laptop's entry
    # flushed while the server's stays). The same empty paragraph over a trace that has rows fails.
    scenario, step, server = _masqueraded_with_the_servers_entry()
    empty_first = dataclasses.replace(step, conntrack={"laptop": [], "server": [server]})
    body = tables.conntrack_table(scenario, empty_first)
    assert "empty.</p>" in body and body.count("<table>") == 1
    assert figfacts.check_tables(scenario, empty_first, body, room=False) == []
    full = dataclasses.replace(step, conntrack={"laptop": step.conntrack["laptop"], "server": [server]})
    assert figfacts.check_tables(scenario, full, body, room=False) == [
        "the conntrack table of laptop shows []; the trace has [('ESTABLISHED ASSURED', "
        "'10.88.0.2:40003 > 192.168.1.50:9001', '192.168.1.50:9001 > 192.168.1.23:40003')]"
    ]


def test_a_caption_names_the_call_that_gave_the_outcome() -> None:
    # A refused bind is bind()'s, a refused MAC change ip link's, an application's own limit the
    # program's: never connect() for what no socket did (a cold read found all three).
    from netsim.render.figfacts import check_caption
    from netsim.render.words import step_caption
    from netsim.scenario import load_scenario
    from netsim.simulation import run

    seen = set()
    for name in ("rooms-inside-rooms", "margarets-room", "three-ways-to-say-no"):
        scenario = load_scenario(ROOT / "diagrams" / f"{name}.yaml")
        for step in run(scenario).steps:
            if not step.outcome or step.frames[3:]:
                continue
            caption = step_caption(scenario, step)
            assert check_caption(scenario, step, caption) == [], (name, step.id, caption)
            seen.add(
                (
                    step.action,
                    caption.rsplit(": ", 1)[0].rsplit(". ", 1)[-1] if step.outcome != "deadline" else "program",
                )
            )
            if step.action != "connect":
                assert "connect():" not in caption, caption
                lied = caption.replace(caption.rsplit(". ", 1)[-1], f"connect(): {step.outcome}.")
                assert check_caption(scenario, step, lied), lied
    assert {a for a, _ in seen} >= {"connect", "listen", "link_set"}, seen


def test_an_ssh_forward_s_bind_error_is_ssh_l_s_and_any_other_its_connect_s() -> None:
    # ssh -L binds its listener first (bind() errors: ssh -L), then connects to sshd on port 22.
    from netsim.render.figfacts import check_caption
    from netsim.render.words import step_caption
    from netsim.scenario import load_scenario
    from netsim.simulation import run

    scenario = load_scenario(ROOT / "diagrams" / "the-doormans-address.yaml")
    taken = run(scenario).step("every-door-taken")
    assert (taken.action, taken.outcome) == ("ssh_forward", "address-in-use")
    refused = dataclasses.replace(taken, outcome="refused")  # sshd not listening: connect() is refused
    for step, said, lied in (
        (
            taken,
            "ssh -L: Address already in use (EADDRINUSE).",
            "ssh's connect() to port 22: Address already in use (EADDRINUSE).",
        ),
        (
            refused,
            "ssh's connect() to port 22: Connection refused (ECONNREFUSED).",
            "ssh -L: Connection refused (ECONNREFUSED).",
        ),
    ):
        caption = step_caption(scenario, step)
        assert caption.endswith(said), caption
        assert check_caption(scenario, step, caption) == []
        assert check_caption(scenario, step, caption.replace(said, lied)) == [
            f"the caption puts {step.outcome!r} on {lied.rsplit(': ', 1)[0]}; ssh -L's bind() did not give it"
        ]


def test_a_connect_the_program_gave_up_on_is_the_programs_not_connects() -> None:
    # The client stopped waiting (a deadline): connect() gave no answer, so a caption that puts
    # "deadline" on connect() says something no socket did, and the figure check refuses it.
    from netsim.render.figfacts import check_caption
    from netsim.render.words import step_caption
    from netsim.scenario import load_scenario
    from netsim.simulation import run

    scenario = load_scenario(ROOT / "diagrams" / "the-client-gives-up.yaml")
    step = run(scenario).step("dialer-gives-up")
    assert step.action == "connect" and step.outcome == "deadline"
    caption = step_caption(scenario, step)
    ending = "The program stopped waiting and closed the socket: connect() never gave an answer."
    assert caption.endswith(ending), caption
    assert check_caption(scenario, step, caption) == []
    lied = caption.replace(ending, "connect(): deadline.")
    assert check_caption(scenario, step, lied) == [
        "the caption puts 'deadline' on connect(); only the program stops waiting"
    ]


WAY_OUT = """title: t
bridges:
  lan: {host: sw, label: the flat, ports: {p1: {}, p2: {}}}
  wan: {host: sw, ports: {w1: {}, w2: {}}}
  dmz: {host: sw, ports: {d1: {}}}
hosts:
  sw: {}
  client:
    interfaces: {eth0: {mac: '02:00:00:00:00:0a', address: 10.0.0.10/24, plug: lan.p1}}
    gateway: 10.0.0.1
  router:
    label: the very long named router in the hall cupboard
    interfaces:
      eth0: {mac: '02:00:00:00:00:01', address: 10.0.0.1/24, plug: lan.p2}
      eth1: {mac: '02:00:00:00:01:01', address: 198.51.100.1/24, plug: wan.w1}
      eth2: {mac: '02:00:00:00:02:01', address: 192.0.2.1/24, plug: dmz.d1}
    ip_forward: true
  server:
    interfaces: {eth0: {mac: '02:00:00:00:01:05', address: 198.51.100.5/24, plug: wan.w2}}
    gateway: 198.51.100.1
    listeners: ['0.0.0.0:80']
steps:
  - {id: knock, connect: {by: client, to: '198.51.100.5:80'}}
"""


def test_the_way_out_names_each_room_wraps_a_router_on_a_phone_and_links_no_card_to_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The path view's Graphviz text: a room is titled with its name and, if it has one, its label (a
    room with none gets no dangling '·'); on a phone the router's long name is wrapped like every
    other; the cards of a room stand one under the other, each joined to the next, never to itself
    (the dmz holds only the router: no host heads its column)."""
    from netsim.render import layout

    drawn: list[str] = []
    lay_out = layout.svg
    monkeypatch.setattr(layout, "svg", lambda g: drawn.append(layout.text(g)) or lay_out(g))
    scenario = parse_scenario(WAY_OUT, "way-out.yaml")
    step = run(scenario).step("knock")
    path.render(scenario, step, ("client", "198.51.100.5:80"))
    path.render(scenario, step, ("client", "198.51.100.5:80"), narrow=True)
    wide, narrow = drawn
    for dot in drawn:
        assert re.search(r'label="?lan · the flat"?', dot) and re.search(r"\blabel=wan\b", dot), dot
        assert " · " not in dot.replace("lan · the flat", "")
    assert "the very long named router in the hall cupboard\\n(a router" in wide
    assert "the very long named router in the hall cupboard" not in narrow  # wrapped on a phone
    assert "(a router: forwarding on)" in narrow
    edges = re.findall(r'^\s*"?([^"\s]+)"?\s*->\s*"?([^"\s\[;]+)"?', narrow, re.M)
    assert edges and all(a != b for a, b in edges), edges
