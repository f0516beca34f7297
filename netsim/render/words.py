"""Names and sentences for people: who wears a MAC, what a seat is called, what a step did.

Two vocabularies: the kernel's (bridge, port, test frame, flood), and the story's (the room, the
seat, the note, a copy to every seat), which a post's figures speak before the post names the
real things (its front matter's `reveal:`). netsim.render.figfacts reads both back.
"""

from __future__ import annotations

import re

from netsim.claims import Names
from netsim.resolver import ERRORS
from netsim.scenario import Scenario
from netsim.trace import Hop, StepTrace

DECISION_WORDS = {
    "forward": "forwarded to",
    "flood": "flooded to",
    "drop": "dropped",
    "local": "passed up to",
}
STORY_DECISION_WORDS = {
    "forward": "handed to",
    "flood": "copied to",
    "drop": "thrown away",
    "local": "handed up to",
}
# The word on a drawn line, per decision: the kernel's, and the story's (no word in both).
EDGE_WORDS = {"forward": "forward", "flood": "flood", "local": "to host", "drop": "drop"}
STORY_EDGE_WORDS = {"forward": "hand on", "flood": "copy", "local": "to the host", "drop": "bin"}


class NoStoryWords(ValueError):
    """Something a figure before the reveal would show has no words in the story."""


def frame_words(what: str, story: bool) -> str:
    """What a frame is: 'test frame' in the kernel's words, 'note' in the story's."""
    if not story:
        return what
    said = {"test frame": "note", "test frame (broadcast)": "note for the magic badge"}.get(what)
    if said is None:
        raise NoStoryWords(f"the story has no word for a {what!r}: show this step after the reveal")
    return said


def reason_words(reason: str, story: bool) -> str:
    """Why the bridge decided as it did (netsim.bridge's reason), in the story's words if asked."""
    if not story:
        return reason
    if re.fullmatch(r"destination learned on \S+", reason):  # the seat is named beside it: no label here
        return "badge in the notebook"
    said = {
        "destination unknown": "badge not in the notebook",
        "broadcast: every port and the host": "the magic badge: every seat and the host",
        "destination is on the port it came from": "the badge sits at the seat it came from",
    }.get(reason)
    if said is None:
        raise NoStoryWords(f"the story has no words for {reason!r}: show this step after the reveal")
    return said


def edge_word(decision: str, story: bool) -> str:
    return (STORY_EDGE_WORDS if story else EDGE_WORDS)[decision]


def bridge_title(scenario: Scenario, bridge: str, story: bool = False) -> str:
    """'podman0 · Margaret's room'; the story's is only the room's name."""
    name = scenario.bridges[bridge].label
    if story:
        return name or "the room"
    return bridge + (f" · {name}" if name else "")


def decision_head(bridge: str, story: bool = False) -> str:
    return "what the receptionist did" if story else f"{bridge}'s decision"


def label(scenario: Scenario, host: str) -> str:
    return scenario.hosts[host].label or host


def port_label(scenario: Scenario, bridge: str, port: str, story: bool = False) -> str:
    if port == bridge:  # the bridge device itself, where its own host sits: not a port like the others
        seat = f"{label(scenario, scenario.bridges[bridge].host)}'s seat"
        return seat if story else f"{bridge} ({seat})"
    declared = scenario.bridges[bridge].ports.get(port)  # None for a port a step plugged in (link_set master)
    return (declared.label if declared else None) or port


def who(scenario: Scenario, mac: str, step: StepTrace | None = None) -> str:
    host = Names(scenario).host_of_mac(mac, step)
    return label(scenario, host) if host in scenario.hosts else mac


def hop_sentence(scenario: Scenario, hop: Hop, step: StepTrace | None = None, story: bool = False) -> str:
    """'Bob's test frame for Alice: flooded to seat 3, seat 7 and seat 9 (destination unknown).'
    In the story: 'Bob's note for Alice: copied to seat 3, seat 7 and seat 9 (badge not in the notebook).'"""
    magic = "the magic badge" if story else "everyone (broadcast)"
    dst = magic if hop.dst == "ff:ff:ff:ff:ff:ff" else who(scenario, hop.dst, step)
    sender = who(scenario, hop.src, step)
    ports = [port_label(scenario, hop.bridge, p, story) for p in hop.out_ports]
    where = _join(ports) if ports else ""
    verb = (STORY_DECISION_WORDS if story else DECISION_WORDS)[hop.decision]
    action = f"{verb} {where}".strip()
    what = frame_words(hop.what, story).removesuffix(f" for {dst}")  # 'note for the magic badge' says it once
    sentence = f"{sender}'s {what} for {dst}: {action} ({reason_words(hop.reason, story)})."
    if sender == hop.src:  # a badge nobody wears: keep it as written ("bb:11:...", never "Bb:11:...")
        return sentence
    return sentence[0].upper() + sentence[1:]


def step_caption(scenario: Scenario, step: StepTrace, story: bool = False) -> str:
    parts = [hop_sentence(scenario, hop, step, story) for hop in step.frames[:3]]
    if story and (step.outcome or step.resolved is not None or not step.frames):
        raise NoStoryWords(f"the story tells of notes only, and step {step.id} is not one: show it after the reveal")
    if len(step.frames) > 3:
        parts.append(f"…and {len(step.frames) - 3} more {'note(s)' if story else 'frame(s)'}.")
    if step.outcome:
        parts.append(outcome_words(step))
    if step.resolved is not None:
        parts.append(
            f"getaddrinfo({step.resolved.name}): {resolved_words(step.resolved.address, step.resolved.error)}."
        )
    if not parts:
        parts = [sentence(e) for e in step.events[:3]] or ["No frame crosses the bridge."]
    return " ".join(parts)


def sentence(event: str) -> str:
    """An event as a sentence: 'the laptop's veth0 is now up' -> 'The laptop's veth0 is now up.'
    A name the kernel spells in lower case ('podman0 stops using seat13', a MAC) stays as it is."""
    return capital(event) + "."


def capital(text: str) -> str:
    """A capital where English starts a sentence ('the laptop ...' -> 'The laptop ...'); a name the
    kernel spells in lower case (podman0, a MAC, conntrack) stays as spelled."""
    if text.split(" ", 1)[0] in ("the", "a", "an", "inside", "no", "nothing"):
        return text[0].upper() + text[1:]
    return text


BIND_ERRORS = ("address-in-use", "address-not-available")  # what bind() gives, not a login's connect()
# Each outcome as the kernel says it: strerror()'s words and the errno, as a program prints them
# (never netsim's own ids, "network-unreachable", in front of a reader).
KERNEL_WORDS = {
    "connected": "connected",
    "refused": "Connection refused (ECONNREFUSED)",
    "host-unreachable": "No route to host (EHOSTUNREACH)",
    "network-unreachable": "Network is unreachable (ENETUNREACH)",
    "timeout": "Connection timed out (ETIMEDOUT)",
    "address-in-use": "Address already in use (EADDRINUSE)",
    "address-not-available": "Cannot assign requested address (EADDRNOTAVAIL)",
}


# The words on a drawn knock: short, as the kernel's (no netsim id such as "host-unreachable").
KNOCK_WORDS = {
    "connected": "connected ✓",
    "refused": "refused ✗",
    "host-unreachable": "no route to host ✗",
    "network-unreachable": "network unreachable ✗",
    "timeout": "timed out ✗",
    "deadline": "stopped waiting ✗",
    # connect() on the four of a connection the host holds already (__inet_check_established())
    "address-not-available": "cannot assign address ✗",
}


def knock_words(outcome: str | None) -> str:
    return KNOCK_WORDS.get(outcome or "", f"{outcome} ✗")


def kernel_words(outcome: str) -> str:
    return KERNEL_WORDS.get(outcome, outcome)


def resolved_words(address: str | None, error: str | None) -> str:
    """What getaddrinfo() gave: the address, or the C library's words for the error (gai_strerror())."""
    if address:
        return address
    name, text, _ = ERRORS[error or "not-found"]
    return f"{text} ({name})"


def outcome_words(step: StepTrace) -> str:
    """A step's outcome under the call that gave it: connect() for a connect, bind() for a listen,
    the program itself when it stopped waiting, ip link for an address change (never connect() for
    what no socket did)."""
    if step.action == "connect" and step.outcome == "deadline":
        return "The program stopped waiting and closed the socket: connect() never gave an answer."
    call = {
        "connect": "connect()",
        "listen": "bind()",
        "link_set": "ip link set … address",
        "veth_add": "ip link add",
        "ssh_forward": "ssh -L" if step.outcome in BIND_ERRORS else "ssh's connect() to port 22",
    }.get(step.action, step.action)
    return f"{call}: {kernel_words(step.outcome or '')}."


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def channel_words(outcome: str) -> str:
    """What a tunnel figure says of a channel: the server's connect, or no answer yet (the open is on
    its way, or the server's connect waits for the kernel: an address nobody holds fails 3 s later)."""
    if outcome == "connected":
        return "connected"
    return "no answer yet" if outcome == "waiting" else f"open failed: {outcome}"


def read_words(reads: str) -> str:
    """What one read() after a connect got, as figures and their alt text say it."""
    return {"eof": "end-of-file", "data": "the server's first bytes"}.get(reads, "nothing yet")
