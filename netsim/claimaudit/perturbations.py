"""Perturbed copies of a scenario for the claim audit: one address, bind, flag or step changed.

Each perturbation names the step whose own action it changes (None for the topology). A claim is
never credited with catching a change to its own step's action: that would only show that the
claim repeats what the step was told to do.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from netsim.errors import ScenarioError
from netsim.scenario import FIREWALL_FIELDS, Scenario, scenario_from_data


@dataclass(frozen=True)
class Perturbation:
    what: str  # e.g. "laptop listens on 0.0.0.0:19001 instead of 127.0.0.1:19001"
    step: str | None  # the step whose own action changed, if any
    scenario: Scenario


def _other_address(text: str, bridge_addresses: list[str]) -> list[str]:
    """Addresses a bind or a knock could have named instead."""
    addr, _, port = text.rpartition(":")
    options = ["127.0.0.1", "0.0.0.0", *bridge_addresses]
    return [f"{a}:{port}" for a in options if a != addr] + [f"{addr}:{int(port) + 1}"]


def _shift(cidr: str) -> str:
    iface = ipaddress.IPv4Interface(cidr)
    host = int(iface.ip) - int(iface.network.network_address)
    other = iface.network.network_address + (host + 40) % (iface.network.num_addresses - 2 or 1) + 1
    return f"{other}/{iface.network.prefixlen}"


def _variants(data: dict[str, Any]) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    bridge_addresses = [
        str(ipaddress.IPv4Interface(b["address"]).ip) for b in (data.get("bridges") or {}).values() if b.get("address")
    ]

    def changed(what: str, step: str | None, edit: Any) -> tuple[str, str | None, dict[str, Any]]:
        new = copy.deepcopy(data)
        edit(new)
        return what, step, new

    for bname, br in (data.get("bridges") or {}).items():
        age = br.get("ageing_time", 300)
        yield changed(
            f"{bname} ageing_time {age} -> {age * 2 or 30}",
            None,
            lambda d, b=bname, a=age: d["bridges"][b].__setitem__("ageing_time", a * 2 or 30),
        )
        if br.get("address"):
            yield changed(
                f"{bname} address moved",
                None,
                lambda d, b=bname: d["bridges"][b].__setitem__("address", _shift(d["bridges"][b]["address"])),
            )
        for port in br.get("ports") or {}:
            for flag, value in (("learning", False), ("flood", False), ("bcast_flood", False), ("hairpin", True)):
                yield changed(
                    f"{bname}.{port} {flag} {value}",
                    None,
                    lambda d, b=bname, p=port, f=flag, v=value: d["bridges"][b]["ports"][p].__setitem__(f, v),
                )
    for hname, host in data["hosts"].items():
        for dev, iface in (host.get("interfaces") or {}).items():
            if iface.get("address"):
                yield changed(
                    f"{hname}.{dev} address moved",
                    None,
                    lambda d, h=hname, i=dev: d["hosts"][h]["interfaces"][i].__setitem__(
                        "address", _shift(d["hosts"][h]["interfaces"][i]["address"])
                    ),
                )
        if host.get("gateway"):
            yield changed(f"{hname} has no gateway", None, lambda d, h=hname: d["hosts"][h].pop("gateway"))
        elif host.get("interfaces") and bridge_addresses:
            yield changed(
                f"{hname} gains a gateway",
                None,
                lambda d, h=hname: d["hosts"][h].__setitem__("gateway", bridge_addresses[0]),
            )
        for i, text in enumerate(host.get("listeners") or []):
            for other in _other_address(text, bridge_addresses):
                yield changed(
                    f"{hname} listens on {other} instead of {text}",
                    None,
                    lambda d, h=hname, n=i, o=other: d["hosts"][h]["listeners"].__setitem__(n, o),
                )
        if any(host.get(key) for key in FIREWALL_FIELDS):

            def rotate(d: dict[str, Any], h: str = hname) -> None:
                hh = d["hosts"][h]
                lists = [hh.get(key, []) for key in FIREWALL_FIELDS]
                for key, ports in zip(FIREWALL_FIELDS, lists[-1:] + lists[:-1], strict=True):
                    hh[key] = ports

            yield changed(
                f"{hname}'s firewall answers each port the next way (drop -> port unreachable -> reset -> "
                "admin prohibited -> drop)",
                None,
                rotate,
            )
        for i, _line in enumerate(host.get("hosts_file") or []):
            yield changed(
                f"{hname}'s /etc/hosts loses line {i + 1}",
                None,
                lambda d, h=hname, n=i: d["hosts"][h]["hosts_file"].pop(n),
            )
        if host.get("nameservers"):
            yield changed(
                f"{hname}'s /etc/resolv.conf names no nameserver",
                None,
                lambda d, h=hname: d["hosts"][h].pop("nameservers"),
            )
        elif host.get("interfaces") and bridge_addresses:
            yield changed(
                f"{hname}'s /etc/resolv.conf names {bridge_addresses[0]}",
                None,
                lambda d, h=hname: d["hosts"][h].__setitem__("nameservers", [bridge_addresses[0]]),
            )
        for i, _server in enumerate(host.get("dns_servers") or []):
            yield changed(
                f"{hname}'s DNS server {i + 1} knows no names",
                None,
                lambda d, h=hname, n=i: d["hosts"][h]["dns_servers"][n].__setitem__("records", {}),
            )
        retries = host.get("tcp_syn_retries", 6)
        yield changed(
            f"{hname} tcp_syn_retries {retries} -> {retries + 1}",
            None,
            lambda d, h=hname, r=retries: d["hosts"][h].__setitem__("tcp_syn_retries", r + 1),
        )
        yield changed(
            f"{hname} reachable_time 5", None, lambda d, h=hname: d["hosts"][h].__setitem__("reachable_time", 5)
        )
    for n, step in enumerate(data["steps"]):
        sid = step["id"]
        yield changed(f"step {sid} left out", None, lambda d, k=n: d["steps"].pop(k))
        for action in ("connect", "listen", "close"):
            if action in step:
                key = "to" if action == "connect" else "bind"
                for other in _other_address(step[action][key], bridge_addresses):
                    yield changed(
                        f"{sid}: {action} {other}",
                        sid,
                        lambda d, k=n, a=action, kk=key, o=other: d["steps"][k][a].__setitem__(kk, o),
                    )
        if "send" in step:
            for dst in ("broadcast", *data["hosts"]):
                if dst != step["send"]["dst"]:
                    yield changed(
                        f"{sid}: sent to {dst}", sid, lambda d, k=n, t=dst: d["steps"][k]["send"].__setitem__("dst", t)
                    )
        if "connect" in step and step["connect"].get("deadline"):
            yield changed(f"{sid}: no deadline", sid, lambda d, k=n: d["steps"][k]["connect"].pop("deadline"))
        if "arp" in step:
            yield changed(
                f"{sid}: asks for another address",
                sid,
                lambda d, k=n: d["steps"][k]["arp"].__setitem__(
                    "target", _shift(d["steps"][k]["arp"]["target"] + "/24").split("/")[0]
                ),
            )
        if "resolve" in step:
            yield changed(
                f"{sid}: asks for another name",
                sid,
                lambda d, k=n: d["steps"][k]["resolve"].__setitem__(
                    "name", "other-" + d["steps"][k]["resolve"]["name"]
                ),
            )
        if "wait" in step:
            yield changed(
                f"{sid}: waits half as long",
                sid,
                lambda d, k=n: d["steps"][k].__setitem__("wait", d["steps"][k]["wait"] / 2),
            )
        if "set_bridge" in step:
            yield changed(
                f"{sid}: ageing doubled",
                sid,
                lambda d, k=n: d["steps"][k]["set_bridge"].__setitem__(
                    "ageing_time", d["steps"][k]["set_bridge"]["ageing_time"] * 2
                ),
            )
        if "link_set" in step and "up" in step["link_set"]:
            yield changed(
                f"{sid}: up flipped",
                sid,
                lambda d, k=n: d["steps"][k]["link_set"].__setitem__("up", not d["steps"][k]["link_set"]["up"]),
            )
        if "addr_add" in step:
            yield changed(
                f"{sid}: another address",
                sid,
                lambda d, k=n: d["steps"][k]["addr_add"].__setitem__(
                    "address", _shift(d["steps"][k]["addr_add"]["address"])
                ),
            )


def perturbations(scenario: Scenario, text: str) -> Iterator[Perturbation]:
    """Every valid perturbed copy of a scenario; copies the scenario checker rejects are skipped."""
    data = yaml.safe_load(text)
    for what, step, new in _variants(data):
        try:
            other = scenario_from_data(new, f"{scenario.name}.yaml")
        except ScenarioError:
            continue
        yield Perturbation(what, step, other)
