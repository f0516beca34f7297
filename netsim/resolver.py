"""getaddrinfo() for IPv4, as the GNU C library does it inside one namespace and mount namespace.

/etc/nsswitch.conf's `hosts: files dns` sets the order (nss/nsswitch.c): first the `files` module
reads /etc/hosts (nss_files/files-hosts.c: gethostbyname4_r() collects every line naming the name,
without regard to case), then the `dns` module asks the nameservers of /etc/resolv.conf
(resolv/res_send.c). With no nameserver line the library asks 127.0.0.1 (res_init.c,
`INADDR_LOOPBACK` when nscount is 0).

When there is more than one address, getaddrinfo() sorts them by RFC 6724 (rfc3484_sort(),
posix/getaddrinfo.c) before it returns; a program that connects to the first connects to the first
after sorting, not the file's first line (fourth outsider's F1, F2). For IPv4 with IPv6 off (the lab
turns it off, netsim has none) the rules that can tell two addresses apart are: 1, a destination
with no route (the UDP connect() the library makes to learn the source fails) goes last; 2, one
whose scope matches its source's goes first; 8, the smaller scope goes first (127/8 and
169.254/16 are scope 2, everything else 14: default_scopes); 9, the longest prefix shared with the
source, counted only within the source's subnet, whose length comes from __check_pf()'s address
list, which it returns only when the host has an IPv6 address: with none, the length is 0, and
`0xffffffff << (32 - 0)` is all ones on x86 (the shift count is taken mod 32), so only a
destination equal to its own source (one of the host's addresses) scores; 10, file order.
Labels (rule 5) and precedences (rule 6) are the same for every IPv4 address; rules 3, 4 and 7
look at IPv6 flags and tunnels.

Before any of that, getaddrinfo() reads the name as an address if it is one (gaih_inet() in
posix/getaddrinfo.c calls __inet_aton_exact() first): "10.88.0.1" is 10.88.0.1 at once, and so are
inet_aton's shorter forms ("10.1" and "167772161" are 10.0.0.1; a part with a leading 0 is octal, 0x
hex). No file is read and no question is sent, so a hosts line or a DNS record whose name is such a
number is never found (third outsider's 86-88).

What getaddrinfo() returns, by what happened (nss_dns/dns-host.c, posix/getaddrinfo.c):
- an address from a hosts line or an A record: success;
- NXDOMAIN from a nameserver: EAI_NONAME, "Name or service not known" (Go: "no such host");
- NOERROR with no address (NODATA: the name exists, with no A record): EAI_NODATA, "No address associated
  with hostname" (res_query() sets NO_DATA, resolv/res_query.c); an answer like NXDOMAIN, so the next
  nameserver is not asked;
- no nameserver answered (each refused with ICMP port unreachable, or silent until its timeout):
  EAI_AGAIN, "Temporary failure in name resolution". The library goes round its nameservers
  RES_DFLRETRY = 2 times (__res_context_send()). How long one try waits depends on which nameserver
  it asks, not on the round: send_dg() waits `retrans << ns`, divided by nscount when ns > 0, where
  ns is the nameserver's index in resolv.conf (res_send.c). One nameserver: 5 s and 5 s; three:
  5, 3 and 6 s in each round (the lab measured 28.0 s for three silent ones, outsider's 78).

Simplifications, named: the order is always `files dns` (no mdns, no myhostname, no systemd-resolved
module); no search domains and no `ndots`; no `options` line (timeout, attempts, rotate) in resolv.conf;
no /etc/gai.conf (its default tables); with IPv6 on, rule 9 would also prefer destinations in the
source's own subnet (the prefix length known), which netsim, without IPv6, never needs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from netsim.scenario import HostsLine

DEFAULT_NAMESERVER = "127.0.0.1"
RES_DFLRETRY = 2  # rounds over the nameservers (resolv/resolv.h)
RES_TIMEOUT = 5.0  # seconds one try waits for its answer

# getaddrinfo()'s results: the trace's word -> (the C library's name, its gai_strerror(), Go's words)
ERRORS = {
    "not-found": ("EAI_NONAME", "Name or service not known", "no such host"),
    "no-data": ("EAI_NODATA", "No address associated with hostname", "no such host"),
    # Go: "server misbehaving" when a server answers with a failure (SERVFAIL, REFUSED), "i/o timeout" when none answers
    "try-again": ("EAI_AGAIN", "Temporary failure in name resolution", "server misbehaving or i/o timeout"),
}


@dataclass(frozen=True)
class Result:
    """What getaddrinfo() gave: an address, or one of ERRORS; and where the answer came from."""

    name: str
    address: str | None = None
    error: str | None = None
    source: str = ""  # "files", "numeric" (the name is an address) or the nameserver's address; "" when none did

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "address": self.address, "error": self.error}


def numeric(name: str) -> str | None:
    """The address `name` spells, read as glibc's inet_aton_exact() reads it (resolv/inet_addr.c), or
    None: one to four parts joined by dots, each decimal, octal after a leading 0 or hex after 0x;
    every part but the last one byte, the last filling the bytes left; nothing after the last digit."""
    parts = name.split(".")
    if len(parts) > 4:
        return None
    values = []
    for part in parts:
        if not part[:1].isdigit():  # an empty part, or one that starts with no digit
            return None
        if part[0] == "0" and part[1:2] in ("x", "X"):
            base, digits = 16, part[2:]
            if not digits:  # "0x" alone has no digit: not a number
                return None
        elif part[0] == "0":
            base, digits = 8, part[1:]
        else:
            base, digits = 10, part
        allowed = "0123456789abcdefABCDEF"[: 22 if base == 16 else base]
        if any(c not in allowed for c in digits):
            return None
        values.append(int(digits, base) if digits else 0)
    *leading, last = values
    if any(v > 0xFF for v in leading) or last >= 1 << (8 * (4 - len(leading))):
        return None
    number = last
    for i, v in enumerate(leading):
        number |= v << (8 * (3 - i))
    return ".".join(str((number >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def digits_and_dots(name: str) -> bool:
    """A name of digits and dots alone that is no address (numeric() said None).

    __nss_hostname_digits_dots() (glibc nss/digits_dots.c), which gethostbyname2_r() calls before any
    NSS module (getaddrinfo() takes that road for AF_INET without AI_CANONNAME, gaih_inet()), says
    HOST_NOT_FOUND at once: no /etc/hosts line is read and no question is sent ("disallow names
    consisting only of digits/dots, unless they end in a dot": the scenario reader refuses a name
    with a dot at the end, so that exception never arises here)."""
    return name[:1].isdigit() and all(c.isdigit() or c == "." for c in name)


def where(result: Result) -> str:
    """Where an answer came from, as the pages say it."""
    if result.source == "files":
        return "/etc/hosts"
    if result.source == "numeric":
        return "the name itself, an address"
    return f"the nameserver {result.source}"


def files(lines: list[HostsLine], name: str) -> list[str]:
    """The `files` module: the address of every /etc/hosts line that names `name`, in file order."""
    wanted = name.lower().rstrip(".")
    return [line.address for line in lines if any(n.lower() == wanted for n in line.names)]


# default_scopes (posix/getaddrinfo.c): link-local 169.254/16 and loopback 127/8 are scope 2, the rest 14
LINK_SCOPE = (ipaddress.IPv4Network("169.254.0.0/16"), ipaddress.IPv4Network("127.0.0.0/8"))


def scope(address: str) -> int:
    """get_scope() of an IPv4 address under the default table."""
    return 2 if any(ipaddress.IPv4Address(address) in net for net in LINK_SCOPE) else 14


def common_prefix(dst: str, src: str) -> int:
    """Rule 9's score with IPv6 off (see the module's notes): 32 when the destination is its own
    source, else 0."""
    return 32 if dst == src else 0


def sort(addresses: list[str], source: Callable[[str], str | None]) -> list[str]:
    """rfc3484_sort() over IPv4 addresses; `source(address)` is the source address the kernel picks
    for a datagram to it, or None when it has no route (connect() fails: rule 1)."""
    sources = {a: source(a) for a in addresses}

    def key(item: tuple[int, str]) -> tuple[int, ...]:
        order, dst = item
        src = sources[dst]
        if src is None:  # rule 1: after every usable one; rules 2 and 9 need a source, rule 8 does not
            return (1, 0, scope(dst), 0, order)
        mismatch = int(scope(dst) != scope(src))  # rule 2
        return (0, mismatch, scope(dst), -common_prefix(dst, src), order)  # rules 8, 9, 10

    return [dst for _, dst in sorted(enumerate(addresses), key=key)]


def nameservers(configured: list[str]) -> list[str]:
    """The servers the `dns` module asks, in order: resolv.conf's, or 127.0.0.1 when it names none."""
    return list(configured) or [DEFAULT_NAMESERVER]


def timeout(index: int, nscount: int) -> float:
    """Seconds one try waits for the answer of nameserver number `index` (0 first) of `nscount`, in any
    round: send_dg()'s `seconds = retrans << ns; if (ns > 0) seconds /= nscount`, in whole seconds."""
    seconds = int(RES_TIMEOUT) << index
    if index > 0:
        seconds //= nscount
    return float(max(1, seconds))


def longest(configured: list[str]) -> float:
    """The longest getaddrinfo() can wait: every try of every round silent."""
    count = len(nameservers(configured))
    return RES_DFLRETRY * sum(timeout(i, count) for i in range(count))


def words(result: Result) -> str:
    """The result as a program would print it."""
    if result.address is not None:
        return result.address
    name, text, _ = ERRORS[result.error or "not-found"]
    return f"{text} ({name})"
