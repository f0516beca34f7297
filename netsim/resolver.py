"""getaddrinfo() for IPv4, as the GNU C library does it inside one namespace and mount namespace.

/etc/nsswitch.conf's `hosts: files dns` sets the order (nss/nsswitch.c): first the `files` module
reads /etc/hosts (nss_files/files-hosts.c: the first line naming the name, without regard to case),
then the `dns` module asks the nameservers of /etc/resolv.conf (resolv/res_send.c). With no
nameserver line the library asks 127.0.0.1 (res_init.c, `INADDR_LOOPBACK` when nscount is 0).

What getaddrinfo() returns, by what happened (nss_dns/dns-host.c, posix/getaddrinfo.c):
- an address from a hosts line or an A record: success;
- NXDOMAIN from a nameserver: EAI_NONAME, "Name or service not known" (Go: "no such host");
- no nameserver answered (each refused with ICMP port unreachable, or silent until its timeout):
  EAI_AGAIN, "Temporary failure in name resolution". The library goes round its nameservers
  RES_DFLRETRY = 2 times; a try waits RES_TIMEOUT = 5 s, doubled each round and shared among the
  nameservers after the first (res_send.c, send_dg(): `retrans << ns_try`, divided by nscount).

Simplifications, named: the order is always `files dns` (no mdns, no myhostname, no systemd-resolved
module); no search domains and no `ndots`; no `options` line (timeout, attempts, rotate) in resolv.conf.
"""

from __future__ import annotations

from dataclasses import dataclass

from netsim.scenario import HostsLine

DEFAULT_NAMESERVER = "127.0.0.1"
RES_DFLRETRY = 2  # rounds over the nameservers (resolv/resolv.h)
RES_TIMEOUT = 5.0  # seconds one try waits for its answer

# getaddrinfo()'s results: the trace's word -> (the C library's name, its gai_strerror(), Go's words)
ERRORS = {
    "not-found": ("EAI_NONAME", "Name or service not known", "no such host"),
    "try-again": ("EAI_AGAIN", "Temporary failure in name resolution", "server misbehaving"),
}


@dataclass(frozen=True)
class Result:
    """What getaddrinfo() gave: an address, or one of ERRORS; and where the answer came from."""

    name: str
    address: str | None = None
    error: str | None = None
    source: str = ""  # "files" or the nameserver's address that answered; "" when none did

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "address": self.address, "error": self.error}


def files(lines: list[HostsLine], name: str) -> str | None:
    """The `files` module: the address of the first /etc/hosts line that names `name`."""
    wanted = name.lower().rstrip(".")
    for line in lines:
        if any(n.lower() == wanted for n in line.names):
            return line.address
    return None


def nameservers(configured: list[str]) -> list[str]:
    """The servers the `dns` module asks, in order: resolv.conf's, or 127.0.0.1 when it names none."""
    return list(configured) or [DEFAULT_NAMESERVER]


def timeout(round_: int, nscount: int) -> float:
    """Seconds one try waits for its answer in round `round_` (0 first): send_dg()'s `seconds`."""
    seconds = RES_TIMEOUT * (1 << round_)
    if round_ > 0:
        seconds = max(1.0, seconds // nscount)
    return seconds


def longest(configured: list[str]) -> float:
    """The longest getaddrinfo() can wait: every try of every round silent."""
    count = len(nameservers(configured))
    return sum(timeout(r, count) * count for r in range(RES_DFLRETRY))


def words(result: Result) -> str:
    """The result as a program would print it."""
    if result.address is not None:
        return result.address
    name, text, _ = ERRORS[result.error or "not-found"]
    return f"{text} ({name})"
