"""The REACHABLE lifetimes read over rtnetlink (netsim.lab.neightbl) are the ones `ip ntable show` prints.

The lab reads each device's drawn reachable time before the first step (Lab.reachable()). It ran
`ip -j ntable show name arp_cache` a namespace for it until 2026-12 and now asks the kernel itself.
Here both are asked in a network namespace of the test's own, with several devices whose draws differ,
one of them with a base reachable time of its own; iproute2 is the referee."""

from __future__ import annotations

import json
import socket
import struct
import textwrap

import pytest
from own_netns import sh_in_own_netns

from netsim.errors import LabError
from netsim.lab import neightbl
from netsim.lab.netns import missing_requirement

REASON = missing_requirement()

DRAWS = textwrap.dedent(
    """
    set -e
    ip link set lo up
    ip link add v1 type veth peer name v2; ip link set v1 up; ip link set v2 up
    ip link add br0 type bridge; ip link set br0 up
    sysctl -qw net.ipv4.neigh.v2.base_reachable_time_ms=4000  # v2 draws between 2 and 6 s from now on
    ip ntable change name arp_cache dev v2 base_reachable 4000  # and draws again at once (neightbl_set())
    "$PYTHON" -c 'import json
    from netsim.lab import neightbl, rtlink
    names = {link.index: link.name for link in rtlink.links()}
    print(json.dumps({names[i]: ms for i, ms in neightbl.draws().items()}))'
    echo ---
    ip -j ntable show name arp_cache
    """
)


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"needs a network namespace: {REASON}")
def test_each_device_s_draw_is_what_ip_ntable_show_prints() -> None:
    stdout = sh_in_own_netns(DRAWS)
    ours, printed = stdout.split("---\n")
    theirs = {t["dev"]: t["reachable"] for t in json.loads(printed) if t.get("dev")}
    assert list(json.loads(ours).items()) == list(theirs.items())  # the same draws, in the same order
    assert set(theirs) == {"lo", "v1", "v2", "br0"}
    assert 2000 <= theirs["v2"] < 6000 and all(15000 <= ms < 45000 for dev, ms in theirs.items() if dev != "v2")


def attribute(kind: int, value: bytes) -> bytes:
    length = 4 + len(value)
    return struct.pack("=HH", length, kind) + value + bytes(-length % 4)


def table(name: bytes, *parms: bytes) -> bytes:
    return (
        neightbl.NDTMSG.pack(socket.AF_INET)
        + attribute(neightbl.NDTA_NAME, name + b"\0")
        + b"".join(attribute(neightbl.NDTA_PARMS | 0x8000, p) for p in parms)
    )


def test_only_the_named_table_s_devices_count_not_its_defaults() -> None:
    reach = attribute(neightbl.NDTPA_REACHABLE_TIME, struct.pack("=Q", 21_500))
    answers = [
        (neightbl.RTM_NEWNEIGHTBL, table(b"arp_cache", reach)),  # the table's defaults: no device
        (
            neightbl.RTM_NEWNEIGHTBL,
            table(b"arp_cache", attribute(neightbl.NDTPA_IFINDEX, struct.pack("=I", 3)) + reach),
        ),
        (
            neightbl.RTM_NEWNEIGHTBL,
            table(b"ndisc_cache", attribute(neightbl.NDTPA_IFINDEX, struct.pack("=I", 4)) + reach),
        ),
    ]
    assert neightbl.parse_draws(answers, "arp_cache") == {3: 21_500}
    with pytest.raises(LabError, match="an answer of type 24 and 4 bytes to an RTM_GETNEIGHTBL dump"):
        neightbl.parse_draws([(24, bytes(4))], "arp_cache")
