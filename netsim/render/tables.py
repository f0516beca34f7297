"""HTML tables of a step: the MAC table (the notebook) and the neighbour (ARP) tables."""

from __future__ import annotations

from netsim.render import words
from netsim.render.escape import html as escape
from netsim.render.words import label, port_label, who
from netsim.scenario import Scenario
from netsim.trace import StepTrace


def fdb_table(scenario: Scenario, step: StepTrace, story: bool = False) -> str:
    """The learned lines of each bridge's MAC table; `story`: as the notebook of the room, its seats by
    their names only (each port's real name stays in a `data-port` attribute, which figfacts reads)."""
    parts = []
    for bridge, table in step.fdb.items():
        if story:
            caption = f"The notebook of {escape(words.bridge_title(scenario, bridge, story))} after this step"
        else:
            caption = f"MAC table of {escape(bridge)} after this step (<code>bridge fdb show</code>, learned entries)"
        if not table:
            parts.append(f'<p class="ns-empty">{caption}: empty. {_what_empty_means(scenario, bridge, story)}</p>')
            continue
        rows = []
        for mac, port in table.items():
            new = mac in step.fdb_new[bridge]  # the step lists every bridge's new lines, none or some
            mark = ' <span class="ns-new">new</span>' if new else ""
            row_class = f' class="ns-row-new"{_taught_by(step, bridge, mac)}' if new else ""
            seat = escape(port_label(scenario, bridge, port, story))
            where = (
                f'<td data-port="{escape(port)}">{seat}</td>'
                if story
                else f"<td>{seat} (<code>{escape(port)}</code>)</td>"
            )
            rows.append(
                f"<tr{row_class}><td><code>{escape(mac)}</code>{mark}</td>{where}"
                f"<td>{escape(who(scenario, mac, step))}</td></tr>"
            )
        heads = ("badge", "seat") if story else ("badge (MAC)", "seat (port)")
        parts.append(
            f"<table><caption>{caption}</caption>"
            f"<thead><tr><th>{heads[0]}</th><th>{heads[1]}</th><th>worn by</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(parts)


def _what_empty_means(scenario: Scenario, bridge: str, story: bool) -> str:
    """An empty learned table floods a frame to any port's far end, but not one to the bridge's own
    MAC or a port's: those are permanent local entries (br_fdb_insert_local()), never forgotten, and
    br_handle_frame_finish() passes such a frame up to the host (net/bridge/br_input.c)."""
    host = escape(label(scenario, scenario.bridges[bridge].host))
    if story:
        return (
            "A note to anyone in a seat is copied to every other seat until their badge is heard again; "
            f"a note to {host}'s own badge still goes straight to {host}'s seat."
        )
    return (
        "A frame to any MAC behind a port is flooded until that MAC is seen again; a frame to "
        f"<code>{escape(bridge)}</code>'s own MAC (a permanent local entry, not shown) still goes up to {host}."
    )


def _taught_by(step: StepTrace, bridge: str, mac: str) -> str:
    """` data-learned-by="N"`: the frame (numbered as the diagram numbers them, 0 when the step has
    one) whose arrival taught the bridge this entry; docs/assets/motion.js writes the line in
    the notebook as that frame reaches the bridge. Nothing if no frame of the step taught it."""
    hops = list(enumerate(step.frames, 1))
    taught = [n for n, h in hops if h.bridge == bridge and h.src == mac and h.learned in ("new", "moved")]
    taught = taught or [n for n, h in hops if h.bridge == bridge and h.src == mac]
    if not taught:
        return ""
    return f' data-learned-by="{taught[0] if len(step.frames) > 1 else 0}"'


def neigh_table(scenario: Scenario, step: StepTrace) -> str:
    """`ip neigh` of each host that has entries."""
    names = [h for h, t in step.neigh.items() if t]
    if not names:
        return '<p class="ns-empty">Nobody\'s ARP table has an entry yet.</p>'
    rows = [
        f"<tr><td>{escape(label(scenario, host))}</td><td><code>{escape(ip)}</code></td>"
        f"<td><code>{escape(n['mac'] or '-')}</code></td><td><code>{escape(n['state'])}</code></td></tr>"
        for host in names
        for ip, n in step.neigh[host].items()
    ]
    return (
        "<table><caption>ARP tables after this step (<code>ip neigh</code> in each host)</caption>"
        "<thead><tr><th>host</th><th>address</th><th>badge (MAC)</th><th>state</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def conntrack_table(scenario: Scenario, step: StepTrace) -> str:
    """Each host's connection tracking table (`conntrack -L`): both directions of each connection."""
    parts = []
    for host, entries in step.conntrack.items():
        caption = (
            f"Connection tracking table of {escape(label(scenario, host))} after this step "
            "(<code>conntrack -L</code>): the way there, and the way back it expects"
        )
        if not entries:
            parts.append(f'<p class="ns-empty">{caption}: empty.</p>')
            continue
        rows = [
            f"<tr><td>{escape(' '.join([str(e.get('state', e['proto'])), *(str(f) for f in e['flags'])]))}</td>"
            f"<td>{escape(tuple_words(str(e['original'])))}</td>"
            f"<td>{escape(tuple_words(str(e['reply'])))}</td></tr>"
            for e in entries
        ]
        parts.append(
            f"<table><caption>{caption}</caption>"
            "<thead><tr><th>state, flags</th><th>way there (original)</th><th>way back (reply)</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(parts)


def tuple_words(text: str) -> str:
    """'src=A dst=B sport=P dport=Q' as 'A:P > B:Q' (it wraps on a phone)."""
    t = dict(kv.split("=", 1) for kv in text.split())
    return f"{t['src']}:{t['sport']} > {t['dst']}:{t['dport']}"


def route_answer(scenario: Scenario, step: StepTrace, by: str, to: str) -> str:
    """`ip route get` as the reader would type it in the host, and what iproute2 prints."""
    from netsim.routing import route_get_text

    if step.route is None:
        return ""
    text = f"$ ip route get {to}   # in {label(scenario, by)}\n{route_get_text(step.route)}"
    return f'<pre class="ns-route"><code>{escape(text)}</code></pre>'


def resolve_answer(scenario: Scenario, step: StepTrace, by: str) -> str:
    """A resolve step as the reader would look at it in the host: the /etc files it read, and the answer."""
    result = step.resolved
    if result is None:
        return ""
    host = scenario.hosts[by]
    lines = [f"# in {label(scenario, by)}: getaddrinfo({result.name!r})", "/etc/nsswitch.conf: hosts: files dns"]
    lines += ["/etc/hosts:", *(f"  {line.address} {' '.join(line.names)}" for line in host.hosts_file)]
    lines += ["/etc/resolv.conf:", *(f"  nameserver {a}" for a in host.nameservers)]
    if not host.nameservers:
        lines.append("  (no nameserver: the C library asks 127.0.0.1)")
    if result.address is not None:
        from netsim.resolver import where

        lines.append(f"answer: {result.address} (from {where(result)})")
    else:
        from netsim.resolver import ERRORS

        name, text, _ = ERRORS[result.error or "not-found"]
        lines.append(f"answer: {result.error}, {text} ({name})")
    return f'<pre class="ns-resolve"><code>{escape(chr(10).join(lines))}</code></pre>'
