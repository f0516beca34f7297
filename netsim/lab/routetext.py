"""A route as `ip -j -d route show` prints it, written in the words `ip route show` prints for it.

The lab compares routes as iproute2 prints them, since that is what the posts show. It reads them
over rtnetlink (netsim.lab.rtroute, which makes each route the dict `ip -j -d route show` printed; an
`ip -j -d -batch` a namespace did until 2026-12, since iproute2 takes its options once, before
-batch, and one process could not print some tables as JSON and the routes as text). This writes a
detailed JSON route back in print_route()'s words and order (ip/iproute.c, iproute2 6.1), as it
prints them without -d:

- the type only when it is not `unicast`, the protocol only when it is not `boot`, the scope only
  when it is not `global` (what -d adds: `show_details` in print_route());
- then, in print_route()'s order: dst (`default`, or a /32 as a bare address, as iproute2 writes
  it in JSON too), `tos`, `via`, `dev`, `proto`, `scope`, `src`, `metric`, the flags.

A key this does not know is an error, never left out: a route attribute the lab did not expect
would otherwise vanish from both sides of the comparison.
"""

from __future__ import annotations

from typing import Any

from netsim.errors import LabError

# print_route()'s order, after the type and the destination: JSON key -> the word before its value.
_WORDS = (("tos", "tos"), ("gateway", "via"), ("dev", "dev"), ("protocol", "proto"), ("scope", "scope"),
          ("prefsrc", "src"), ("metric", "metric"))  # fmt: skip
# What a detailed dump prints that the plain one leaves out (print_route(), show_details == 0).
_HIDDEN = {"type": "unicast", "protocol": "boot", "scope": "global"}
_KNOWN = {"type", "dst", "flags", *(key for key, _ in _WORDS)}


def route_text(route: dict[str, Any]) -> str:
    """One line of `ip route show` (without its trailing space) for one route of `ip -j -d route show`."""
    unknown = sorted(set(route) - _KNOWN)
    if unknown:
        said = ", ".join(unknown)
        raise LabError(f"`ip -j -d route show` printed {said} for {route}, which the lab does not write back")
    words = [] if route.get("type", "unicast") == _HIDDEN["type"] else [str(route["type"])]
    words.append(str(route["dst"]))
    for key, word in _WORDS:
        if key in route and route[key] != _HIDDEN.get(key):
            words += [word, str(route[key])]
    words += [str(flag) for flag in route.get("flags", [])]
    return " ".join(words)
