"""Names and sentences for people: who wears a MAC, what a seat is called, what a step did."""

from __future__ import annotations

from netsim.claims import Names
from netsim.scenario import Scenario
from netsim.trace import Hop, StepTrace

DECISION_WORDS = {
    "forward": "forwarded to",
    "flood": "flooded to",
    "drop": "dropped",
    "local": "passed up to",
}


def label(scenario: Scenario, host: str) -> str:
    return scenario.hosts[host].label or host


def port_label(scenario: Scenario, bridge: str, port: str) -> str:
    if port == bridge:
        return f"{bridge} (the host's seat)"
    declared = scenario.bridges[bridge].ports.get(port)  # None for a port a step plugged in (link_set master)
    return (declared.label if declared else None) or port


def who(scenario: Scenario, mac: str, step: StepTrace | None = None) -> str:
    host = Names(scenario).host_of_mac(mac, step)
    return label(scenario, host) if host in scenario.hosts else mac


def hop_sentence(scenario: Scenario, hop: Hop, step: StepTrace | None = None) -> str:
    """'Bob's test frame for Alice: flooded to seat 3, seat 7 and seat 9 (destination unknown).'"""
    dst = "everyone (broadcast)" if hop.dst == "ff:ff:ff:ff:ff:ff" else who(scenario, hop.dst, step)
    sender = who(scenario, hop.src, step)
    ports = [port_label(scenario, hop.bridge, p) for p in hop.out_ports]
    where = _join(ports) if ports else ""
    verb = DECISION_WORDS[hop.decision]
    action = f"{verb} {where}".strip()
    sentence = f"{sender}'s {hop.what} for {dst}: {action} ({hop.reason})."
    if sender == hop.src:  # a badge nobody wears: keep it as written ("bb:11:...", never "Bb:11:...")
        return sentence
    return sentence[0].upper() + sentence[1:]


def step_caption(scenario: Scenario, step: StepTrace) -> str:
    parts = [hop_sentence(scenario, hop, step) for hop in step.frames[:3]]
    if len(step.frames) > 3:
        parts.append(f"…and {len(step.frames) - 3} more frame(s).")
    if step.outcome:
        parts.append(f"connect(): {step.outcome}.")
    if step.resolved is not None:
        parts.append(f"getaddrinfo({step.resolved.name}): {step.resolved.address or step.resolved.error}.")
    if not parts:
        parts = [e + "." for e in step.events[:3]] or ["No frame crosses the bridge."]
    return " ".join(parts)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
