"""The tick beside a checked sentence: what was checked, as one plain sentence a reader can read.

"Checked: in the simulation, Margaret floods this frame to Alice, Carlos and the Portainer
container." The claim's facts are put into words with the scenario's own names (labels, seats);
a fact without words of its own here is still said plainly ("namespaces: laptop, portainer").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netsim.render import words
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


def _plural(n: int, one: str) -> str:
    return f"{n} {one}" + ("" if n == 1 else "s")


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
        "frames": lambda v: "no frame crosses the bridge" if v == 0 else f"{_plural(v, 'frame')} cross the bridge",
        "learns": lambda v: (
            "the MAC table learns nothing new"
            if not v
            else "the MAC table learns " + _and([f"{who(k)} on {who(p)}" for k, p in v.items()])
        ),
        "notebook": lambda v: (
            "the MAC table holds " + (_and([f"{who(k)} on {who(p)}" for k, p in v.items()]) or "nothing")
        ),
        "neighbours": lambda v: f"the ARP tables hold {table(v)}",
        "carries": lambda v: f"it carries {'an' if str(v)[0] in 'AEIOU' else 'a'} {v}",
        "counts": lambda v: (
            "no frame crosses the bridge"
            if not v
            else _and([_plural(n, k) for k, n in v.items()]) + " cross the bridge"
        ),
        "takes": lambda v: "it takes no time" if v == 0 else f"it takes {_plural(v, 'second')}",
        "enters_by": lambda v: f"it comes in by {v}",
        "namespaces": lambda v: f"the rooms are {people(v)}",
        "links": lambda v: f"the interfaces are {table(v)}",
        "addresses": lambda v: f"the addresses are {table(v)}",
        "cable": lambda v: f"the cables run {table(v)}",
        "port_of": lambda v: f"the ports are {table(v)}",
        "outcome": lambda v: OUTCOME.get(v, f"connect() gets {v}"),
        "seconds": lambda v: f"the clock reads {v} seconds",
        "listening": lambda v: f"listening: {table(v)}",
        "forgets_in": lambda v: (
            "the MAC table forgets " + _and([f"{who(k)} in {_plural(n, 'second')}" for k, n in v.items()])
        ),
        "times": lambda v: (
            _and([f"{k} at {', '.join(map(str, t))} s" for k, t in v.items()]) + " after the step starts"
        ),
        "routes": lambda v: f"the routing tables hold {table(v)}",
        "addressed_to": lambda v: (
            "it is addressed to everyone" if v == "broadcast" else f"its envelope is addressed to {who(v)}"
        ),
        "asks_for": lambda v: f"the ARP question asks who has {v}",
        "ip": lambda v: f"its IP header reads {v.get('src')} to {v.get('dst')} with TTL {v.get('ttl')}",
        "crossed": lambda v: _and([f"{_plural(n, 'frame')} cross {k}" for k, n in v.items()]),
        "route": lambda v: f"ip route get answers {v}",
        "forwarding": lambda v: _and([f"{who(k)} {'forwards' if on else 'does not forward'}" for k, on in v.items()]),
        "rewrites": lambda v: "NAT rewrites " + (_and([f"{a} as {b}" for a, b in v]) if v else "nothing"),
        "conntrack": lambda v: f"connection tracking holds {table(v)}",
        "reads": lambda v: READS.get(v, f"a read() gets {v}"),
        "ssh_says": lambda v: "ssh says nothing" if not v else "ssh says " + _and([f"\u2018{x}\u2019" for x in v]),
        "resolves_to": lambda v: (
            f"getaddrinfo() gives {v}"
            if v not in ("not-found", "try-again")
            else "getaddrinfo() fails: "
            + ("Name or service not known" if v == "not-found" else "Temporary failure in name resolution")
        ),
        "answered_by": lambda v: "the answer comes from /etc/hosts" if v == "/etc/hosts" else f"{v} answers",
        "dns_name": lambda v: f"the DNS question asks for {v}",
        "dns_answer": lambda v: (
            f"the DNS answer says {', '.join(v)}" if isinstance(v, list) else f"the DNS answer says {v}"
        ),
        "udp": lambda v: "its UDP ports are " + ", ".join(f"{k} {p}" for k, p in v.items()),
        "accepted_by": lambda v: f"the listener on {v} answers the knock" if v else "no listener answers the knock",
    }
    if story:
        said = _story_words(said, who)
    frame = facts.get("frame")

    def plainly(key: str, value: Any) -> str:  # a fact with no words of its own above, still said in words
        shown = table(value) if isinstance(value, dict) else people(value) if isinstance(value, list | tuple) else value
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
