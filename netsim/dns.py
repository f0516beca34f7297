"""A small DNS server, in aardvark-dns's role on a Podman network: A questions answered from its own
records, NODATA for a name above one of them, NXDOMAIN for every other name, nobody else asked.

The same behaviour the lab gets from dnsmasq with `--no-resolv --no-hosts --local=/#/` and one
`--host-record` per name (dnsmasq's forward.c answers local records itself; `local=/#/` makes every
other name a local domain with no data: NXDOMAIN). Real aardvark-dns forwards names it does not
know to the host's own nameservers; a scenario has none beyond its own rooms, so netsim does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netsim.frames import DNS_NOERROR, DNS_NXDOMAIN, Dns


@dataclass
class Server:
    """One DNS server: the address it listens on (UDP port 53) and the names it knows."""

    listen: str
    records: dict[str, str] = field(default_factory=dict)

    def answer(self, query: Dns) -> Dns:
        """The reply to one question: the same id and name, the address, NODATA or NXDOMAIN.

        Names compare without regard to case (RFC 4343), and the question's own spelling is echoed.
        A name with no record of its own above one that has (`example` of `web.example`, an empty
        non-terminal) exists: NOERROR with no answer (RFC 8020; dnsmasq's check_for_local_domain()
        finds it with cache_find_non_terminal(), rfc1035.c), not NXDOMAIN.
        """
        known = {name.lower(): address for name, address in self.records.items()}
        wanted = query.name.lower()  # no dot at the end: the scenario reader refuses such a name
        address = known.get(wanted)
        if address is not None:
            return Dns(query.id, query.name, response=True, answers=(address,), rcode=DNS_NOERROR)
        if any(name.endswith("." + wanted) for name in known):
            return Dns(query.id, query.name, response=True, rcode=DNS_NOERROR)
        return Dns(query.id, query.name, response=True, rcode=DNS_NXDOMAIN)


def query_id(name: str, sport: int) -> int:
    """A deterministic stand-in for the resolver's random 16-bit query id (res_mkquery())."""
    digest = 2166136261
    for ch in f"{name}/{sport}":
        digest = ((digest ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    return digest & 0xFFFF
