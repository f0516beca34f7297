"""The tick beside a checked sentence: what was checked, as one plain sentence a reader can read.

"Checked: in the simulation, Margaret floods this frame to Alice, Carlos and the Portainer
container." The claim's facts are put into words with the scenario's own names (labels, seats);
a fact without words of its own here is still said plainly ("namespaces: laptop, portainer").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netsim.render import words
from netsim.resolver import ERRORS
from netsim.scenario import Scenario

DECISION = {
    "flood": "floods the frame",
    "forward": "forwards the frame",
    "drop": "drops the frame",
    "local": "passes the frame up to the host",
}
OUTCOME = {
    "connected": "connect() succeeds",
    "refused": "connect() is refused",
    "host-unreachable": "connect() fails: no route to host",
    "network-unreachable": "connect() fails: the network is unreachable",
    "timeout": "connect() times out",
    "deadline": "the application stops waiting before the kernel gives up",
    "address-not-available": "the kernel refuses the address: Cannot assign requested address (EADDRNOTAVAIL)",
    "address-in-use": "bind() is refused: the port is taken (EADDRINUSE)",
}
READS = {
    "eof": "the next read() gets end-of-file",
    "waiting": "a read() gets nothing yet: the connection stays open",
}


def _and(items: list[str]) -> str:
    if not items:
        return "nobody"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _plural(n: int, one: str) -> str:
    return f"{n} {one}" + ("" if n == 1 else "s")


# Capitals read out letter by letter, from the first letter's name; SYN and FIN are said as words.
SAID_AS_WORDS = ("SYN", "FIN")


def _article(word: str) -> str:
    """'an' before a vowel sound: an ARP request, an RST, an ICMP message; a SYN, a DNS query."""
    first = word.split(" ")[0].split("-")[0]
    if first.isupper() and first not in SAID_AS_WORDS:
        return "an" if first[0] in "AEFHILMNORSX" else "a"
    return "an" if word[:1].lower() in "aeiou" else "a"


UDP_PORT = {"sport": "source port", "dport": "destination port"}


def sentence(scenario: Scenario, facts: dict[str, Any], story: bool = False) -> str:
    """The claim's facts as one sentence, starting 'Checked: in the simulation, ...'.

    `story`: in the story's words (a room, seats, badges, notes, a notebook), for a tick before the
    post's reveal, as the figures there speak them (netsim.render.words). A fact the story has no
    words for raises words.NoStoryWords: such a claim belongs after the reveal."""

    def who(name: Any) -> str:
        name = str(name)
        if name in scenario.hosts:
            return words.label(scenario, name)
        for bridge in scenario.bridges:
            if name in scenario.bridges[bridge].ports or name == bridge:
                return words.port_label(scenario, bridge, name, story=story)
        return name

    def people(value: Any) -> str:
        return _and([who(v) for v in value]) if isinstance(value, list | tuple) else who(value)

    def each_host(value: Any, say: Callable[[str, Any], str]) -> str:
        """{host: what} as one clause per host, in reader words (never a raw id, never None)."""
        if not isinstance(value, dict) or not value:
            return "nothing"
        return "; ".join(say(who(host), inner) for host, inner in value.items())

    def neighbours(owner: str, entries: Any) -> str:
        # {other host or address: STATE, or None for no entry}
        known = [f"{who(k)} {v}" for k, v in entries.items() if v is not None]
        unknown = [who(k) for k, v in entries.items() if v is None]
        said = ([_and(known)] if known else []) + ([f"no entry for {_or(unknown)}"] if unknown else [])
        return f"{owner} has {' and '.join(said) if said else 'no entry'}"

    def its(owner: str, said: list[str]) -> str:
        """'the container's ceth0 is DOWN and its lo is UP'"""
        return _and([f"{owner if n == 0 else 'its'}{chr(39) + 's' if n == 0 else ''} {x}" for n, x in enumerate(said)])

    def links(owner: str, devs: Any) -> str:
        return its(owner, [f"{dev} is {state}" for dev, state in devs.items()])

    def addresses(owner: str, devs: Any) -> str:
        return its(owner, [f"{dev} has {_and(list(map(str, a))) if a else 'no address'}" for dev, a in devs.items()])

    def badges(owner: str, devs: Any) -> str:
        return its(owner, [f"{dev} wears {mac or 'no MAC'}" for dev, mac in devs.items()])

    def cables(owner: str, devs: Any) -> str:
        def end(text: Any) -> str:
            host, _, dev = str(text).partition("/")
            return f"{who(host)}'s {dev}" if dev else "nothing"

        return _and([f"{owner}'s {dev} is cabled to {end(peer)}" for dev, peer in devs.items()])

    def ports(owner: str, devs: Any) -> str:
        return _and(
            [f"{owner}'s {dev} is {f'a port of {m}' if m else 'a port of no bridge'}" for dev, m in devs.items()]
        )

    def listening(owner: str, endpoints: Any) -> str:
        return f"{owner} listens on {_and(list(endpoints))}" if endpoints else f"nothing listens on {owner}"

    def lines_of(what: str) -> Callable[[str, Any], str]:
        def say(owner: str, lines: Any) -> str:
            return f"{owner}'s {what} holds {_and(list(lines))}" if lines else f"{owner}'s {what} is empty"

        return say

    def crossing(items: list[tuple[int, str]], where: str) -> str:
        verb = "crosses" if len(items) == 1 and items[0][0] == 1 else "cross"
        return f"{_and([_plural(n, k) for n, k in items])} {verb} {where}"

    def ip_header(v: dict[str, Any]) -> str:
        ttl = f" with TTL {v['ttl']}" if v.get("ttl") is not None else ""
        src, dst = v.get("src"), v.get("dst")  # a claim may check one end alone: never "None to ..."
        ends = f" {src} to {dst}" if src and dst else f" from {src}" if src else f" to {dst}" if dst else ""
        return f"its IP header reads{ends}{ttl}".replace("reads with", "has")

    def table(value: Any) -> str:
        if not value:
            return "nothing"
        parts = []
        for key, inner in value.items():
            if isinstance(inner, dict):
                inner = ", ".join(
                    f"{k} {v if not isinstance(v, list) else ' '.join(map(str, v))}" for k, v in inner.items()
                )
            if isinstance(inner, list | tuple):
                inner = ", ".join(map(str, inner)) or "nothing"
            parts.append(f"{who(key)}: {who(inner) if isinstance(inner, str) else inner}")
        return "; ".join(parts)

    said: dict[str, Callable[[Any], str]] = {
        "decision": lambda v: f"the bridge {DECISION.get(v, v)}",
        "copies_to": lambda v: f"copies go to {people(v)}",
        "taken_by": lambda v: f"{people(v)} keep{'s' if len(v) == 1 else ''} it",
        "thrown_away_by": lambda v: f"{people(v)} throw{'s' if len(v) == 1 else ''} it away",
        "to_host": lambda v: "the host gets it" if v else "the host does not get it",
        "broadcast": lambda v: "it is addressed to everyone" if v else "it is addressed to one badge",
        "sent_by": lambda v: f"{who(v)} sends it",
        "frames": lambda v: "no frame crosses the bridge" if v == 0 else crossing([(v, "frame")], "the bridge"),
        "learns": lambda v: (
            "the MAC table learns nothing new"
            if not v
            else "the MAC table learns " + _and([f"{who(k)} on {who(p)}" for k, p in v.items()])
        ),
        "notebook": lambda v: (
            "the MAC table holds " + (_and([f"{who(k)} on {who(p)}" for k, p in v.items()]) or "nothing")
        ),
        "neighbours": lambda v: f"in the ARP tables, {each_host(v, neighbours)}",
        "carries": lambda v: f"it carries {_article(str(v))} {v}",
        "counts": lambda v: (
            "no frame crosses the bridge" if not v else crossing([(n, k) for k, n in v.items()], "the bridge")
        ),
        "takes": lambda v: "it takes no time" if v == 0 else f"it takes {_plural(v, 'second')}",
        "enters_by": lambda v: f"it comes in by {v}",
        "namespaces": lambda v: f"the rooms are {people(v)}",
        "links": lambda v: each_host(v, links),
        "addresses": lambda v: each_host(v, addresses),
        "badges": lambda v: each_host(v, badges),
        "cable": lambda v: each_host(v, cables),
        "port_of": lambda v: each_host(v, ports),
        "outcome": lambda v: OUTCOME.get(v, f"connect() gets {v}"),
        "seconds": lambda v: f"the clock reads {v} seconds",
        "listening": lambda v: each_host(v, listening),
        "forgets_in": lambda v: (
            "the MAC table forgets " + _and([f"{who(k)} in {_plural(n, 'second')}" for k, n in v.items()])
        ),
        "times": lambda v: (
            _and([f"{_plural(len(t), k) if len(t) > 1 else k} at {_and(list(map(str, t)))}" for k, t in v.items()])
            + " seconds after the step starts"
        ),
        "routes": lambda v: each_host(v, lines_of("routing table")),
        "addressed_to": lambda v: (
            "it is addressed to everyone" if v == "broadcast" else f"its envelope is addressed to {who(v)}"
        ),
        "asks_for": lambda v: f"the ARP question asks who has {v}",
        "ip": ip_header,
        "crossed": lambda v: _and([crossing([(n, "frame")], k) for k, n in v.items()]),
        "route": lambda v: f"ip route get answers {v}",
        "forwarding": lambda v: _and([f"{who(k)} {'forwards' if on else 'does not forward'}" for k, on in v.items()]),
        "rewrites": lambda v: "NAT rewrites " + (_and([f"{a} as {b}" for a, b in v]) if v else "nothing"),
        "conntrack": lambda v: each_host(v, lines_of("connection tracking table")),
        "reads": lambda v: READS.get(v, f"a read() gets {v}"),
        "ssh_says": lambda v: "ssh says nothing" if not v else "ssh says " + _and([f"\u2018{x}\u2019" for x in v]),
        "resolves_to": lambda v: (
            f"getaddrinfo() gives {v}" if v not in ERRORS else f"getaddrinfo() fails: {ERRORS[v][1]}"
        ),
        "answered_by": lambda v: "the answer comes from /etc/hosts" if v == "/etc/hosts" else f"{v} answers",
        "dns_name": lambda v: f"the DNS question asks for {v}",
        "dns_answer": lambda v: (
            f"the DNS answer says {', '.join(v)}" if isinstance(v, list) else f"the DNS answer says {v}"
        ),
        "udp": lambda v: "its UDP " + _and([f"{UDP_PORT.get(k, k)} is {p}" for k, p in v.items()]),
        "accepted_by": lambda v: f"the listener on {v} answers the knock" if v else "no listener answers the knock",
    }
    if story:
        said = _story_words(said, who)
    frame = facts.get("frame")

    def plainly(key: str, value: Any) -> str:  # a fact with no words of its own above, still said in words
        shown = table(value) if isinstance(value, dict) else people(value)  # a name, or names, as the reader knows them
        return f"{key.replace('_', ' ')}: {shown}"

    unsaid = [k for k in facts if k != "frame" and k not in said]
    if story and unsaid:
        raise words.NoStoryWords(f"the story has no words for {', '.join(unsaid)}: put this claim after the reveal")
    parts = [said.get(k, lambda v, k=k: plainly(k, v))(v) for k, v in facts.items() if k != "frame"]
    note = "note" if story else "frame"
    where = f"in {note} {frame + 1 if isinstance(frame, int) else frame}, " if frame is not None else ""
    text = "; ".join(parts)
    return f"Checked: in the simulation, {where}{text}."


STORY_DECISION = {
    "flood": "the receptionist hands a copy to every other seat",
    "forward": "the receptionist hands the note to one seat",
    "drop": "the receptionist throws the note away",
    "local": "the receptionist hands the note up to the host's seat",
}
STORY_OUTCOME = {
    "connected": "the knock is answered",
    "refused": "the knock is refused",
}


def _story_words(said: dict[str, Callable[[Any], str]], who: Callable[[Any], str]) -> dict[str, Callable[[Any], str]]:
    """The facts a tick before the reveal can state, in the story's words: the kernel's names for
    them (bridge, frame, MAC table, connect()) come only from the reveal on."""

    def notes(n: int) -> str:
        return "no note passes through the room" if n == 0 else f"{_plural(n, 'note')} pass through the room"

    def outcome(value: Any) -> str:
        if value not in STORY_OUTCOME:
            raise words.NoStoryWords(f"the story has no words for the outcome {value!r}")
        return STORY_OUTCOME[value]

    def decision(value: Any) -> str:
        if value not in STORY_DECISION:
            raise words.NoStoryWords(f"the story has no words for the decision {value!r}")
        return STORY_DECISION[value]

    story = {
        "decision": decision,
        "to_host": lambda v: "the host's seat gets it" if v else "the host's seat does not get it",
        "broadcast": lambda v: "it carries the magic badge" if v else "it carries one person's badge",
        "frames": notes,
        "learns": lambda v: (
            "the notebook gains nothing new"
            if not v
            else "the notebook gains " + _and([f"{who(k)} at {who(p)}" for k, p in v.items()])
        ),
        "notebook": lambda v: (
            "the notebook holds " + (_and([f"{who(k)} at {who(p)}" for k, p in v.items()]) or "nothing")
        ),
        "forgets_in": lambda v: (
            "the notebook forgets " + _and([f"{who(k)} in {_plural(n, 'second')}" for k, n in v.items()])
        ),
        "outcome": outcome,
    }
    # Facts whose plain words are already the story's: who gets a copy, keeps it, bins it, sends it.
    kept = ("copies_to", "taken_by", "thrown_away_by", "sent_by", "takes", "seconds")
    return {**{k: said[k] for k in kept}, **story}
