"""MAC and IPv4 address helpers: the I/G bit test, broadcast, and endpoint parsing."""

from __future__ import annotations

import functools
import ipaddress
import re

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


@functools.lru_cache(maxsize=4096)
def v4_address(text: str) -> ipaddress.IPv4Address:
    """IPv4Address(text), parsed once per text: a packet carries its addresses as text, and every
    hop parsed them again (a fifth of the claim audit's simulating went to parsing them)."""
    return ipaddress.IPv4Address(text)


def normalise_mac(text: str) -> str | None:
    """Lower-case colon form of a MAC, or None when `text` is not six hex pairs."""
    mac = text.strip().lower().replace("-", ":")
    return mac if MAC_RE.match(mac) else None


def is_group(mac: str) -> bool:
    """The I/G bit: lowest bit of the first byte, the single test hardware makes."""
    return bool(int(mac[:2], 16) & 0x01)


def is_broadcast(mac: str) -> bool:
    return mac == BROADCAST


def link_local_group(mac: str) -> int | None:
    """is_link_local_ether_addr() (include/linux/etherdevice.h): 01:80:c2:00:00:00 to :0f, the
    addresses IEEE 802.1D reserves for a link (STP, pause, LACP, 802.1X, LLDP); the last byte."""
    return int(mac[-2:], 16) if mac.lower()[:-1] == "01:80:c2:00:00:0" else None


def is_valid_source(mac: str) -> bool:
    """br_input.c drops frames whose source is a group address or all zeros."""
    return not is_group(mac) and mac != ZERO_MAC


def refuses_as_address(mac: str) -> bool:
    """dev_set_mac_address() -> eth_prepare_mac_addr_change() (net/ethernet/eth.c): an Ethernet card
    may not wear a MAC that !is_valid_ether_addr(), a group or all-zero one: -EADDRNOTAVAIL."""
    return is_group(mac) or mac == ZERO_MAC


def derived_mac(name: str) -> str:
    """A stable, locally administered unicast MAC for an interface the scenario left unnamed."""
    digest = 0
    for ch in name:  # FNV-1a: deterministic across runs, unlike hash()
        digest = ((digest ^ ord(ch)) * 0x01000193) & 0xFFFFFFFF
    octets = [0x02, 0x00] + [(digest >> shift) & 0xFF for shift in (24, 16, 8, 0)]
    return ":".join(f"{o:02x}" for o in octets)


def parse_endpoint(text: str) -> tuple[ipaddress.IPv4Address, int] | None:
    """'10.88.0.1:19001' -> (address, port), or None when it is not that shape."""
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        return None
    try:
        return ipaddress.IPv4Address(host), int(port)
    except ValueError:
        return None


LOOPBACK_NET = ipaddress.IPv4Network("127.0.0.0/8")


def prefix_routed(address: ipaddress.IPv4Interface) -> bool:
    """fib_add_ifaddr() (net/ipv4/fib_frontend.c) adds a primary address's prefix route, and below /31
    its subnet's broadcast route, only `if (!ipv4_is_zeronet(prefix) && ... (prefix != addr ||
    prefixlen < 32))`: not for a /32, nor for a prefix whose network is 0.0.0.0 (ipv4_is_zeronet() is
    `addr == 0` since 5.3), as 10.0.0.10/4 or 10.0.0.10/0 have: such an address gets its local route
    alone, and no neighbour is on-link through it."""
    net = address.network
    return int(net.network_address) != 0 and net.prefixlen < 32


ANY = ipaddress.IPv4Address("0.0.0.0")
