"""A namespace's links as rtnetlink tells them (RTM_GETLINK), for the lab's wait on linkwatch.

After a carrier change the lab waits until the kernel has acted on it (Lab._settle_links()): it asks
every namespace for its links every 20 ms, up to a second and a half. Until 2026-12 each ask was an
`ip -j -d link show`, a process of ~2.5 ms of CPU; here it is one netlink dump by this process, the
same RTM_GETLINK that `ip link show` sends, with only the fields the wait reads:

- the interface flags IFF_UP and IFF_LOWER_UP (struct ifinfomsg, include/uapi/linux/rtnetlink.h),
  which iproute2 prints as UP and LOWER_UP;
- IFLA_OPERSTATE (RFC 2863's operstate, include/uapi/linux/if.h), set by linkwatch
  (rfc2863_policy() in net/core/link_watch.c), which iproute2 prints as `operstate`;
- IFLA_MASTER, and for a bridge port its IFLA_BRPORT_STATE and IFLA_BRPORT_LEARNING inside
  IFLA_LINKINFO's IFLA_INFO_SLAVE_DATA (br_port_fill_attrs() in net/bridge/br_netlink.c), which
  `ip -d` prints (the reads around each step use the learning flag and the names: Lab.before_step());
- for the tables read after each step (Lab.after_step()): the device type (ifi_type, ARPHRD_*), its
  link-layer address (IFLA_ADDRESS), its kind (IFLA_INFO_KIND), and a bridge's ageing time
  (IFLA_BR_AGEING_TIME in IFLA_INFO_DATA, br_fill_info() in net/bridge/br_netlink.c), which
  `ip -j -d addr show` and `ip -j -d link show` print as `link_type`, `address`, `info_kind` and
  `ageing_time`.

rtnl_fill_ifinfo() (net/core/rtnetlink.c) puts IFLA_LINKINFO, with a port's slave data, in a plain
dump's every link that has a kind or a master (rtnl_link_fill(); lo has neither), so no filter is
asked for. netsim.lab.nlmsg asks and reads the dump, and asks again when a link came or went under it.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from netsim.errors import LabError
from netsim.lab import nlmsg

RTM_GETLINK, RTM_NEWLINK = 18, 16  # include/uapi/linux/rtnetlink.h
IFINFOMSG = struct.Struct("=BxHiII")  # ifi_family, pad, ifi_type, ifi_index, ifi_flags, ifi_change
RTATTR = struct.Struct("=HH")  # rta_len, rta_type
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000  # include/uapi/linux/if.h
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER, IFLA_OPERSTATE, IFLA_LINKINFO = 1, 3, 10, 16, 18  # if_link.h
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_BR_AGEING_TIME = 4  # enum in include/uapi/linux/if_link.h, inside a bridge's IFLA_INFO_DATA
IFLA_BRPORT_STATE, IFLA_BRPORT_LEARNING = 1, 8  # enum in include/uapi/linux/if_link.h
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
# enum IF_OPER_* in include/uapi/linux/if.h, in iproute2's words (oper_states[] in ip/ipaddress.c)
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
# BR_STATE_* in include/uapi/linux/if_bridge.h, in iproute2's words (port_states[] in lib/bridge.c)
PORT_STATES = ("disabled", "listening", "learning", "forwarding", "blocking")
ARPHRD_LOOPBACK = 772  # include/uapi/linux/if_arp.h
# Device types whose address iproute2 writes as an IP address (ll_addr_n2a() in lib/ll_addr.c):
# ARPHRD_TUNNEL, ARPHRD_SIT, ARPHRD_IPGRE with 4 bytes; ARPHRD_TUNNEL6, ARPHRD_IP6GRE with 16.
IP_ADDRESSED = {4: (768, 776, 778), 16: (769, 823)}


@dataclass(frozen=True)
class Link:
    """One link as the wait on linkwatch reads it."""

    name: str
    index: int
    up: bool  # IFF_UP: the administrator's `ip link set up`
    lower_up: bool  # IFF_LOWER_UP: the carrier, as the driver last said
    operstate: str  # what linkwatch last made of the carrier
    master: int | None  # the ifindex of the bridge it is a port of
    port_kind: str | None  # IFLA_INFO_SLAVE_KIND: "bridge" for a bridge's port
    port_state: str | None  # a bridge port's STP state: "forwarding" once it forwards
    learning: bool | None = None  # a bridge port's BR_LEARNING (IFLA_BRPORT_LEARNING): learns source MACs
    type: int = 0  # ifi_type, ARPHRD_*: ARPHRD_LOOPBACK for lo
    address: str | None = None  # IFLA_ADDRESS in ll_address()'s words; None for a device without one
    kind: str | None = None  # IFLA_INFO_KIND: "veth", "bridge", "dummy"...; None for lo
    ageing: int | None = None  # a bridge's IFLA_BR_AGEING_TIME, in USER_HZ ticks (jiffies_to_clock_t())


def ll_address(data: bytes, device_type: int) -> str:
    """A link-layer address in iproute2's words (ll_addr_n2a(), lib/ll_addr.c): two lowercase hex
    digits a byte with colons between, or an IP address for the tunnels that carry one."""
    if device_type in IP_ADDRESSED.get(len(data), ()):
        return socket.inet_ntop(socket.AF_INET if len(data) == 4 else socket.AF_INET6, data)
    return ":".join(f"{b:02x}" for b in data)


def attributes(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    """The netlink attributes between offset and end, by type (the last of a type wins)."""
    found: dict[int, bytes] = {}
    while offset + RTATTR.size <= end:
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size or offset + length > end:
            raise LabError(f"rtnetlink: an attribute of {length} bytes at {offset} of {end}")
        found[kind & NLA_TYPE_MASK] = data[offset + RTATTR.size : offset + length]
        offset += (length + 3) & ~3  # RTA_ALIGN
    return found


def _text(value: bytes) -> str:
    """A NUL-ended string attribute; a name need not be UTF-8 (dev_valid_name() takes any byte)."""
    return value.rstrip(b"\0").decode(errors="surrogateescape")


def _u32(value: bytes | None) -> int | None:
    return struct.unpack("=I", value[:4])[0] if value is not None and len(value) >= 4 else None


def _link(body: bytes) -> Link:
    _family, device_type, index, flags, _change = IFINFOMSG.unpack_from(body)
    attrs = attributes(body, IFINFOMSG.size, len(body))
    info = attributes(attrs[IFLA_LINKINFO], 0, len(attrs[IFLA_LINKINFO])) if IFLA_LINKINFO in attrs else {}
    slave = info.get(IFLA_INFO_SLAVE_DATA)
    port = attributes(slave, 0, len(slave)) if slave is not None else {}
    kind = _text(info[IFLA_INFO_KIND]) if IFLA_INFO_KIND in info else None
    data = info.get(IFLA_INFO_DATA) if kind == "bridge" else None
    ageing = _u32(attributes(data, 0, len(data)).get(IFLA_BR_AGEING_TIME)) if data is not None else None
    operstate = attrs[IFLA_OPERSTATE][0] if IFLA_OPERSTATE in attrs else 0
    state = port[IFLA_BRPORT_STATE][0] if IFLA_BRPORT_STATE in port else None
    return Link(
        name=_text(attrs.get(IFLA_IFNAME, b"")),
        index=index,
        up=bool(flags & IFF_UP),
        lower_up=bool(flags & IFF_LOWER_UP),
        operstate=OPERSTATES[operstate] if operstate < len(OPERSTATES) else "UNKNOWN",
        master=struct.unpack("=I", attrs[IFLA_MASTER])[0] if IFLA_MASTER in attrs else None,
        port_kind=_text(info[IFLA_INFO_SLAVE_KIND]) if IFLA_INFO_SLAVE_KIND in info else None,
        port_state=(PORT_STATES[state] if state < len(PORT_STATES) else str(state)) if state is not None else None,
        learning=bool(port[IFLA_BRPORT_LEARNING][0]) if IFLA_BRPORT_LEARNING in port else None,
        type=device_type,
        address=ll_address(attrs[IFLA_ADDRESS], device_type) if IFLA_ADDRESS in attrs else None,
        kind=kind,
        ageing=ageing,
    )


WHAT = "an RTM_GETLINK dump (what `ip link show` asks)"


def parse_links(answers: list[tuple[int, bytes]]) -> list[Link]:
    """The links among a dump's answers."""
    checked = list(nlmsg.bodies(answers, RTM_NEWLINK, IFINFOMSG.size, WHAT))  # every answer before any is read
    with nlmsg.reading(WHAT):
        return [_link(body) for body in checked]


def links() -> list[Link]:
    """Every link of this thread's network namespace (run it inside netns.inside())."""
    request = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    return parse_links(nlmsg.dump(socket.SOCK_RAW, socket.NETLINK_ROUTE, RTM_GETLINK, request, WHAT))


def settled(found: list[Link]) -> bool:
    """Whether linkwatch has acted on every carrier change among a namespace's links: each link
    that is up, and whose operstate is known, has the operstate its carrier calls for; and a port
    that is up, of a bridge that is up, forwards. linkwatch sets the operstate just before it
    tells the bridge (netdev_state_change(), then br_port_carrier_check()); with no STP here,
    br_make_forwarding() forwards at once."""
    up = {link.index for link in found if link.up}
    for link in found:
        if not link.up or link.operstate == "UNKNOWN":
            continue
        if link.lower_up != (link.operstate == "UP"):
            return False
        port = link.port_kind == "bridge" and link.operstate == "UP" and link.master in up
        if port and link.port_state != "forwarding":
            return False
    return True


def set_up(name: str) -> None:
    """`ip link set NAME up` in this thread's network namespace, over rtnetlink from this process: the
    RTM_NEWLINK iproute2 sends (iplink_modify(): IFF_UP in ifi_flags and in ifi_change, the rest of
    the flags left as they are), naming the link by IFLA_IFNAME, which rtnl_setlink() looks up
    (rtnl_dev_get()) when ifi_index is 0."""
    label = name.encode() + b"\0"
    attribute = RTATTR.pack(RTATTR.size + len(label), IFLA_IFNAME) + label
    attribute += b"\0" * (-len(attribute) % 4)  # RTA_ALIGN
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP) + attribute
    nlmsg.command(socket.SOCK_RAW, socket.NETLINK_ROUTE, RTM_NEWLINK, body, f"setting link {name} up")
