"""The scenario format: what a diagrams/*.yaml file may say, checked with file and line.

Each dataclass field carries its own documentation (see netsim.schema), so the contributor
guide's field reference and the JSON Schema are generated from this file.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from netsim.addresses import (
    ANY,
    LOOPBACK_NET,
    derived_mac,
    is_valid_source,
    normalise_mac,
    parse_endpoint,
    prefix_routed,
)
from netsim.conntrack import DEFAULTS as DEFAULT_CT
from netsim.errors import ScenarioError
from netsim.schema import (
    IFNAME_PATTERN,
    Cidr,
    DnsName,
    Dst,
    Endpoint,
    ForwardSpec,
    HostName,
    IfName,
    IPv4,
    LongText,
    Mac,
    Most,
    Network,
    Plug,
    ProgramName,
    Range,
    RouteTo,
    StepId,
    Text,
    bad_ifname,
    build,
    option,
    path_of,
)
from netsim.tcp import LISTEN_BACKLOG
from netsim.yamlsource import Source, parse, parse_bytes, read

# --- Stated limits: no scenario may make check, run, the lab or the build huge or endless ---------

MAX_HOSTS = 64
MAX_BRIDGES = 16
MAX_PORTS = 64  # per bridge
MAX_INTERFACES = 16  # per host
MAX_ROUTES = 32  # per host
MAX_LISTENERS = 64  # per host
MAX_STEPS = 200
MAX_HOSTS_LINES = 64  # lines of one host's /etc/hosts
MAX_NAMES = 8  # names on one /etc/hosts line
MAX_NAMESERVERS = 3  # MAXNS in glibc's resolv.h: later nameserver lines are ignored
MAX_RECORDS = 64  # names one DNS server answers for
MAX_WAIT = 3600.0  # seconds of one wait step
MAX_REAL_SECONDS = 3600.0  # the lab and the script replay in real time: waits plus connect timeouts
# An empty seat's far end is called PORT-x: two more bytes within Linux's 15.
PORT_NAME_LIMIT = 13
SCENARIO_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

# The kernel's own bounds, each with where it comes from.
SYN_RETRIES = Range(1, 127, "net.ipv4.tcp_syn_retries is 1 to MAX_TCP_SYNCNT = 127 (net/ipv4/sysctl_net_ipv4.c)")
AGEING = Range(0, 42_949_672, "IFLA_BR_AGEING_TIME is a u32 count of centiseconds (net/bridge/br_netlink.c)")
REACHABLE = Range(
    0.001,
    2_147_483.647,
    "base_reachable_time_ms is an int of milliseconds (net/core/neighbour.c, proc_dointvec_ms_jiffies)",
)
WAIT = Range(0, MAX_WAIT, f"a stated limit of netsim: the lab waits in real time, at most {MAX_WAIT:g} s a step")
TCP_PORT = Range(1, 65535, "a TCP port")
DEADLINE = Range(0.1, MAX_WAIT, f"a stated limit of netsim: the lab waits in real time, at most {MAX_WAIT:g} s")
TTL = Range(1, 255, "IP_TTL is 1 to 255 (do_ip_setsockopt(), net/ipv4/ip_sockglue.c)")
# net.netfilter.nf_conntrack_*timeout* are proc_dointvec_jiffies (nf_conntrack_standalone.c): whole seconds,
# at most INT_MAX / HZ (do_proc_dointvec_jiffies_conv(); 2147483 at HZ=1000). 0 would be taken, but an entry
# would expire as it was made: netsim asks for at least a second.
CT_TIMEOUT = Range(
    1,
    2_147_483,
    "net.netfilter.nf_conntrack_*timeout* are whole seconds up to INT_MAX / HZ = 2147483 at HZ=1000 "
    "(proc_dointvec_jiffies, net/netfilter/nf_conntrack_standalone.c); netsim asks for at least 1",
)
# pid_max is at most PID_MAX_LIMIT on 64-bit (include/linux/threads.h) and alloc_pid() hands out ids
# below it (kernel/pid.c); 0 is the idle task, never a listener. A descriptor is below fs.nr_open,
# whose default is 1024 * 1024 (sysctl_nr_open, fs/file.c; RLIMIT_NOFILE may not exceed it).
PID = Range(1, 4_194_303, "a process id is 1 to PID_MAX_LIMIT - 1 = 4194303 (include/linux/threads.h, kernel/pid.c)")
FD = Range(0, 1_048_575, "a file descriptor is 0 to fs.nr_open - 1 = 1048575 (nr_open's default, fs/file.c)")
IFNAME_RE = re.compile(IFNAME_PATTERN)  # used with fullmatch: the same rule as IfName


# The host fields that load an input firewall rule, one list of TCP ports per kind of answer.
FIREWALL_FIELDS = ("drop_tcp_ports", "reject_tcp_ports", "reset_tcp_ports", "prohibit_tcp_ports")

# --- Topology ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    """One port of a bridge: a seat at the table."""

    label: Text | None = option("What the story calls this port, e.g. 'seat 3'.", None)
    mac: Mac | None = option(
        "The port's own MAC (the bridge end of the veth cable). Derived from the name if omitted.",
        None,
    )
    learning: bool = option("Learn the source MAC of frames arriving here.", True)
    flood: bool = option("Receive copies of unknown-unicast floods.", True)
    mcast_flood: bool = option("Receive copies of multicast floods.", True)
    bcast_flood: bool = option("Receive copies of broadcasts.", True)
    hairpin: bool = option("Allow a frame to go back out of the port it came in on.", False)


# What a new bridge port has: new_nbp() (net/bridge/br_if.c) sets BR_LEARNING | BR_FLOOD |
# BR_MCAST_FLOOD | BR_BCAST_FLOOD, and hairpin off.
PORT_DEFAULTS = {"learning": True, "flood": True, "mcast_flood": True, "bcast_flood": True, "hairpin": False}


def declared_port_flags(flags: Any) -> dict[str, bool]:
    """The flags a `ports:` entry or a set_port step states away from a new port's (None: not stated).
    The lab and the try-it script set these with `bridge link set` after every plug-in (plan.port_flags()),
    and the simulation sets the same ones when a port is plugged into its bridge again."""
    return {k: v for k, normal in PORT_DEFAULTS.items() if (v := getattr(flags, k)) is not None and v != normal}


@dataclass(frozen=True)
class Bridge:
    """A Linux software bridge such as podman0 or docker0."""

    host: HostName = option("The host whose kernel holds this bridge; it sits in the room as the bridge device.")
    ports: Annotated[dict[IfName, Port], Most(MAX_PORTS)] = option(
        "The bridge's ports, by interface name.", factory=dict
    )
    label: Text | None = option("What the story calls the bridge, e.g. 'the meeting room'.", None)
    mac: Mac | None = option("The bridge device's own MAC. Derived from the name if omitted.", None)
    address: Cidr | None = option("The host's address on the bridge (its seat), e.g. 10.88.0.1/16.", None)
    ageing_time: Annotated[int, AGEING] = option(
        "Seconds a learned entry lives after it was last seen; 0 learns nothing.", 300
    )


@dataclass(frozen=True)
class Interface:
    """A network interface of a host, usually one end of a veth cable."""

    mac: Mac | None = option("The interface's MAC (its name badge). Derived from the name if omitted.", None)
    address: Cidr | None = option("IPv4 address with prefix, e.g. 10.88.0.3/16.", None)
    plug: Plug | None = option("Where the other end of this veth cable goes: 'BRIDGE.PORT' or 'HOST.INTERFACE'.", None)
    duplicate: bool = option(
        "The address is also another host's, on purpose (an address conflict the kernel allows); "
        "otherwise a repeated address is refused as a mistake.",
        False,
    )


@dataclass(frozen=True)
class Route:
    """A routing table entry beyond the connected routes each address adds by itself."""

    to: RouteTo = option("'default' or a network such as 10.89.0.0/16.")
    via: IPv4 | None = option("The gateway to hand packets to.", None)
    dev: IfName | None = option("The interface to send on (found from the gateway when omitted).", None)


@dataclass(frozen=True)
class MasqueradeRule:
    """Source NAT to the outgoing interface's address, as nftables writes it:
    `ip saddr NETWORK oifname DEV masquerade` in a nat chain on the postrouting hook."""

    saddr: Network = option("The sources to rewrite, a network such as 10.88.0.0/16.")
    oifname: IfName | None = option("Only packets leaving by this interface; any interface if omitted.", None)


@dataclass(frozen=True)
class HostsLine:
    """One line of a host's /etc/hosts: an address and the names that mean it."""

    address: IPv4 = option("The address, e.g. 10.88.0.1.")
    names: Annotated[list[DnsName], Most(MAX_NAMES)] = option(
        "The names for it, the canonical one first, e.g. [host.containers.internal, host.docker.internal]."
    )


# listen() keeps min(backlog, net.core.somaxconn) (__sys_listen() in net/socket.c; 4096 by default).
BACKLOG = Range(0, 4096, "a listen() backlog is 0 to net.core.somaxconn's default, 4096 (net/socket.c)")


@dataclass(frozen=True)
class Program:
    """The program holding a host's listening sockets on one port, as `ss -ltnp` names it. Only the
    page's `ss -ltnp` reads it: the lab's and the script's listeners are their own programs."""

    name: ProgramName = option("Its command name, the kernel's comm (at most 15 characters), e.g. ssh.")
    pid: Annotated[int, PID] = option("Its process id, e.g. 2817.")
    fd: Annotated[int, FD] = option("The file descriptor it holds the socket on.", 3)
    backlog: Annotated[int, BACKLOG] = option(
        "The backlog it passed to listen(), which ss shows as Send-Q: ssh's is 128 (SSH_LISTEN_BACKLOG), "
        "python3 -m http.server's 5 (socketserver's request_queue_size).",
        LISTEN_BACKLOG,
    )


@dataclass(frozen=True)
class DnsServer:
    """A small DNS server in the host (aardvark-dns's role): answers A questions on UDP port 53 from its
    own records, and NXDOMAIN for every other name; it asks nobody else."""

    listen: IPv4 = option("The address it listens on, one of the host's own, e.g. 10.88.0.1.")
    records: Annotated[dict[DnsName, IPv4], Most(MAX_RECORDS)] = option(
        "The names it knows and their addresses, e.g. {portainer: 10.88.0.2}.", factory=dict
    )


@dataclass(frozen=True)
class ConntrackTimeouts:
    """The host's connection tracking timeouts, in seconds: the `net.netfilter.nf_conntrack_*timeout*` sysctls,
    which are the namespace's own (nf_conntrack_standalone.c registers them per namespace, over
    nf_tcp_pernet(net)->timeouts). An entry lives by those of the namespace whose table holds it. SYN_SENT2
    (a simultaneous open) has no sysctl and stays 120 s."""

    syn_sent: Annotated[int, CT_TIMEOUT] = option(
        "nf_conntrack_tcp_timeout_syn_sent: an entry that has seen only the first SYN (SYN_SENT).",
        DEFAULT_CT.syn_sent,
    )
    syn_recv: Annotated[int, CT_TIMEOUT] = option(
        "nf_conntrack_tcp_timeout_syn_recv: an entry that has seen the SYN-ACK (SYN_RECV).", DEFAULT_CT.syn_recv
    )
    established: Annotated[int, CT_TIMEOUT] = option(
        "nf_conntrack_tcp_timeout_established: an ESTABLISHED entry that has seen a reply (5 days).",
        DEFAULT_CT.established,
    )
    close: Annotated[int, CT_TIMEOUT] = option(
        "nf_conntrack_tcp_timeout_close: an entry closed by a reset (CLOSE).", DEFAULT_CT.close
    )
    unacknowledged: Annotated[int, CT_TIMEOUT] = option(
        "nf_conntrack_tcp_timeout_unacknowledged: an ESTABLISHED entry picked up mid-stream that has seen no "
        "reply yet, at most (UNACK).",
        DEFAULT_CT.unacknowledged,
    )
    udp: Annotated[int, CT_TIMEOUT] = option(
        "nf_conntrack_udp_timeout: a UDP entry from its last packet, until it is a stream.", DEFAULT_CT.udp
    )
    udp_stream: Annotated[int, CT_TIMEOUT] = option(
        "nf_conntrack_udp_timeout_stream: a UDP entry that has seen a reply, from a packet more than 2 s after "
        "its first.",
        DEFAULT_CT.udp_stream,
    )

    def values(self) -> dict[str, int]:
        """Every timeout, by field name (conntrack.Timeouts' too)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def changed(self) -> dict[str, int]:
        """The timeouts set away from the kernel's, by field name (the plan writes only these)."""
        return {name: v for name, v in self.values().items() if v != getattr(DEFAULT_CT, name)}


@dataclass(frozen=True)
class Host:
    """A host: one network namespace with its own lo, interfaces, tables and sockets."""

    label: Text | None = option("What the story calls this host, e.g. 'Alice' or 'the laptop'.", None)
    interfaces: Annotated[dict[IfName, Interface], Most(MAX_INTERFACES)] = option(
        "Interfaces besides lo, by name.", factory=dict
    )
    gateway: IPv4 | None = option("Shorthand for a default route via this address.", None)
    routes: Annotated[list[Route], Most(MAX_ROUTES)] = option("Extra routes.", factory=list)
    listeners: Annotated[list[Endpoint], Most(MAX_LISTENERS)] = option(
        "TCP sockets listening from the start, as ADDRESS:PORT.", factory=list
    )
    programs: Annotated[dict[Endpoint, Program], Most(MAX_LISTENERS)] = option(
        "The program behind each listener, by its ADDRESS:PORT, for `ss -ltnp` on the page, e.g. "
        "{'127.0.0.1:19001': {name: ssh, pid: 2817, fd: 5}}.",
        factory=dict,
    )
    drop_tcp_ports: Annotated[list[Annotated[int, TCP_PORT]], Most(MAX_LISTENERS)] = option(
        "A firewall on input that silently drops TCP segments to these ports.", factory=list
    )
    reject_tcp_ports: Annotated[list[Annotated[int, TCP_PORT]], Most(MAX_LISTENERS)] = option(
        "A firewall on input that rejects TCP segments to these ports with ICMP port unreachable.", factory=list
    )
    reset_tcp_ports: Annotated[list[Annotated[int, TCP_PORT]], Most(MAX_LISTENERS)] = option(
        "A firewall on input that rejects TCP segments to these ports with a TCP reset (`reject with tcp reset`).",
        factory=list,
    )
    prohibit_tcp_ports: Annotated[list[Annotated[int, TCP_PORT]], Most(MAX_LISTENERS)] = option(
        "A firewall on input that rejects TCP segments to these ports with ICMP administratively prohibited "
        "(`reject with icmpx admin-prohibited`, firewalld's default reject).",
        factory=list,
    )
    tcp_syn_retries: Annotated[int, SYN_RETRIES] = option("SYN retransmissions before a connect times out.", 6)
    reachable_time: Annotated[float, REACHABLE] = option(
        "Seconds an ARP answer stays REACHABLE (the kernel's base_reachable_time; it randomises from half to one "
        "and a half times it, netsim uses it exactly).",
        30.0,
    )
    conntrack_timeouts: ConntrackTimeouts = option(
        "The namespace's conntrack timeouts (net.netfilter.nf_conntrack_*timeout*), those not given the "
        "kernel's, e.g. {unacknowledged: 20} to see an entry picked up mid-stream expire in 20 s. They are the "
        "namespace's own; SYN_SENT2 (a simultaneous open) has no sysctl and stays 120 s. Only on a host that "
        "tracks connections: one with masquerade, a firewall list or a published port.",
        factory=ConntrackTimeouts,
    )
    absent: bool = option("The namespace does not exist until a `netns_add` step creates it.", False)
    ip_forward: bool = option(
        "net.ipv4.ip_forward: route packets that are for someone else (a new namespace's default is off).", False
    )
    masquerade: Annotated[list[MasqueradeRule], Most(MAX_ROUTES)] = option(
        "Masquerade (source NAT) rules loaded from the start.", factory=list
    )
    sshd: bool = option(
        "An OpenSSH server listens on 0.0.0.0:22 from the start (the lab runs the real sshd, with a key made "
        "for the run). It writes its version banner about 10 ms after it accepts a connection; a scenario that "
        "leaves a connection to it without a login for 120 s (LoginGraceTime) or more than 10 at once "
        "(MaxStartups) is refused, since sshd then closes or drops them.",
        False,
    )
    hosts_file: Annotated[list[HostsLine], Most(MAX_HOSTS_LINES)] = option(
        "The host's /etc/hosts, line by line (empty if omitted). Only a `resolve` step reads it.", factory=list
    )
    nameservers: Annotated[list[IPv4], Most(MAX_NAMESERVERS)] = option(
        "The `nameserver` lines of the host's /etc/resolv.conf, in order; with none, the C library asks 127.0.0.1.",
        factory=list,
    )
    dns_servers: Annotated[list[DnsServer], Most(4)] = option(
        "DNS servers running in the host from the start.", factory=list
    )


# --- Steps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArpPacket:
    """An ARP packet crafted by hand, as arping or a spoofer sends it; the kernels that hear it
    treat it as any ARP (a gratuitous one has the same sender and target address)."""

    op: Literal["request", "reply"] = option("'request' (who-has) or 'reply' (is-at).")
    sender_ip: IPv4 = option("The address the packet claims for its sender.")
    target_ip: IPv4 = option("The address asked for (a request) or answered to (a reply).")
    sender_mac: Mac | None = option("The MAC it claims for the sender; the frame's source if omitted.", None)
    target_mac: Mac | None = option(
        "The target MAC; 00:00:00:00:00:00 for a request, the frame's destination for a reply, if omitted.", None
    )


@dataclass(frozen=True)
class SynPacket:
    """A TCP SYN written by hand, IPv4 header and all, as scapy's sendp() sends one: no socket of the
    sender stands behind it, so whatever comes back is answered by nobody there."""

    src: Endpoint = option("The source ADDRESS:PORT the packet claims, e.g. 192.168.1.66:45000.")
    dst: Endpoint = option("The ADDRESS:PORT it is addressed to, e.g. 127.0.0.1:19001.")


@dataclass(frozen=True)
class Send:
    """Send one raw Ethernet frame, as the kernel's selftests do with a chosen source MAC."""

    by: HostName = option("The host that sends.")
    dst: Dst = option("Destination: a MAC, a host's name (its interface's MAC) or 'broadcast'.")
    src: Mac | None = option("Source MAC; the sending interface's own MAC if omitted.", None)
    dev: IfName | None = option("The interface to send on; the host's only one if omitted.", None)
    arp: ArpPacket | None = option("Carry this ARP packet (EtherType 0x0806) instead of a test payload.", None)
    syn: SynPacket | None = option(
        "Carry this TCP SYN in an IPv4 packet (EtherType 0x0800) instead of a test payload.", None
    )


MAX_FRAMES = 8  # frames one `sends` step sends


@dataclass(frozen=True)
class Sends:
    """Send several raw frames one right after another within one step, in order (each as a `send`
    step sends it); the tables are read once, after the last. Two hosts sending from the same MAC
    move it from port to port within the step (br_fdb_update(), net/bridge/br_fdb.c)."""

    frames: Annotated[list[Send], Most(MAX_FRAMES)] = option("The frames, in the order they are sent.")


@dataclass(frozen=True)
class Resolve:
    """Ask, by ARP, which MAC owns an IPv4 address."""

    by: HostName = option("The host that asks.")
    target: IPv4 = option("The address whose owner is wanted.")


@dataclass(frozen=True)
class Connect:
    """Open a TCP connection, as connect() does: route, ARP, SYN, and the answer."""

    by: HostName = option("The host that connects.")
    to: Endpoint = option("ADDRESS:PORT to connect to.")
    sport: Annotated[int, TCP_PORT] | None = option(
        "The source port to bind first, on 0.0.0.0 with SO_REUSEADDR as the lab and the script do; the kernel "
        "picks one if omitted. A port one of the host's listeners holds (EADDRINUSE), or the four addresses and "
        "ports of a connection still open (EADDRNOTAVAIL), is refused.",
        None,
    )
    ttl: Annotated[int, TTL] | None = option(
        "IP_TTL for the socket's packets (64 if omitted), as traceroute sets it.", None
    )
    deadline: Annotated[float, DEADLINE] | None = option(
        "Seconds the application waits for connect() before it gives up itself (Go's net.Dialer Timeout, "
        "30 s in Go's default HTTP transport); the kernel's own SYN timeout if omitted.",
        None,
    )
    read: bool = option(
        "After connecting, read once and record what came: end-of-file (the other side closed), data (the "
        "server spoke first: sshd's banner) or nothing (the connection waits). The lab waits up to two seconds "
        "for it.",
        False,
    )


@dataclass(frozen=True)
class Socket:
    """Open or close a listening TCP socket."""

    by: HostName = option("The host whose socket it is.")
    bind: Endpoint = option("The bind address and port, e.g. 127.0.0.1:19001 or 0.0.0.0:19001.")
    reuseport: bool = option(
        "SO_REUSEPORT: the socket may share its port with other listeners that set it too; the only way one on "
        "0.0.0.0 and one on a specific address can listen on the same port.",
        False,
    )
    may_fail: bool = option(
        "The step shows bind() being refused (its outcome names the error); without it, a refused bind "
        "is a mistake in the scenario and is reported as one.",
        False,
    )


@dataclass(frozen=True)
class SetPort:
    """Change a bridge port's flags, as `bridge link set` does."""

    bridge: IfName = option("The bridge.")
    port: IfName = option("The port.")
    learning: bool | None = option("New learning flag.", None)
    flood: bool | None = option("New flood flag.", None)
    mcast_flood: bool | None = option("New mcast_flood flag.", None)
    bcast_flood: bool | None = option("New bcast_flood flag.", None)
    hairpin: bool | None = option("New hairpin flag.", None)


@dataclass(frozen=True)
class SetBridge:
    """Change a bridge setting, as `ip link set BRIDGE type bridge ...` does."""

    bridge: IfName = option("The bridge.")
    ageing_time: Annotated[int, AGEING] = option("New ageing time in seconds.")


@dataclass(frozen=True)
class VethAdd:
    """Create a veth pair, both ends in one namespace: `ip link add NAME type veth peer name PEER`."""

    by: HostName = option("The host (namespace) the pair is created in.")
    name: IfName = option("One end's name.")
    peer: IfName = option("The other end's name.")
    mac: Mac | None = option("The first end's MAC. Derived from the names if omitted.", None)
    peer_mac: Mac | None = option("The other end's MAC. Derived from the names if omitted.", None)


@dataclass(frozen=True)
class LinkMove:
    """Move an interface into another namespace: `ip link set DEV netns TO`. It arrives down."""

    by: HostName = option("The host the interface is in now.")
    dev: IfName = option("The interface.")
    to: HostName = option("The host (namespace) it moves to.")


@dataclass(frozen=True)
class LinkRename:
    """Rename an interface: `ip link set DEV name NAME`."""

    by: HostName = option("The host the interface is in.")
    dev: IfName = option("The interface's name now.")
    name: IfName = option("Its new name.")


@dataclass(frozen=True)
class LinkSet:
    """Bring an interface up or down, plug it into a bridge, or ask for a new MAC:
    `ip link set DEV up|master BR|address MAC`."""

    by: HostName = option("The host the interface is in.")
    dev: IfName = option("The interface.")
    up: bool | None = option("true: `up`; false: `down`.", None)
    master: IfName | None = option("A bridge of this host to make the interface a port of.", None)
    address: Mac | None = option(
        "A new MAC for the interface (set before `master` and `up`, as the kernel's do_setlink() does). The "
        "kernel refuses a group or all-zero address (EADDRNOTAVAIL, the step's outcome "
        "address-not-available, and nothing else in the step happens). A unicast one it takes, up or down, "
        "even the MAC it has: the interface forgets its neighbour entries and tells nobody (no gratuitous "
        "ARP), so the neighbours keep the old MAC until their entries are probed; a bridge port's own "
        "(local) entry follows it, learned entries stay. A host named as a frame's `dst` still means the "
        "MAC the file gives it.",
        None,
    )


@dataclass(frozen=True)
class AddrAdd:
    """Give an interface an address: `ip addr add ADDRESS dev DEV` (adds the connected route)."""

    by: HostName = option("The host the interface is in.")
    dev: IfName = option("The interface.")
    address: Cidr = option("The address with prefix, e.g. 10.88.0.2/16.")


@dataclass(frozen=True)
class RouteAdd:
    """Add a route: `ip route add TO via VIA`."""

    by: HostName = option("The host.")
    to: RouteTo = option("'default' or a network such as 10.89.0.0/16.")
    via: IPv4 = option("The gateway.")


@dataclass(frozen=True)
class AddrDel:
    """Take an address off an interface: `ip addr del ADDRESS dev DEV` (its routes go with it)."""

    by: HostName = option("The host the interface is in.")
    dev: IfName = option("The interface.")
    address: Cidr = option("The address with prefix, as it was added, e.g. 10.88.0.2/16.")


@dataclass(frozen=True)
class RouteDel:
    """Delete a route: `ip route del TO [via VIA]`."""

    by: HostName = option("The host.")
    to: RouteTo = option("'default' or a network such as 10.89.0.0/16.")
    via: IPv4 | None = option("The gateway, when the route has one.", None)


@dataclass(frozen=True)
class LinkDel:
    """Delete an interface: `ip link del DEV`. A veth cable goes whole: both ends vanish."""

    by: HostName = option("The host the interface is in.")
    dev: IfName = option("The interface.")


@dataclass(frozen=True)
class Unplug:
    """Unplug a port from its bridge: `ip link set DEV nomaster`. The cable stays, and stays up."""

    by: HostName = option("The host the port is in (the bridge's host).")
    dev: IfName = option("The port.")


@dataclass(frozen=True)
class Forwarding:
    """Turn routing for others on or off: `sysctl -w net.ipv4.ip_forward=1|0` in the host."""

    by: HostName = option("The host.")
    enabled: bool = option("true: forward packets for others; false: drop them (`1` or `0`).")


@dataclass(frozen=True)
class Masquerade:
    """Add a masquerade rule: `nft add rule ip nat postrouting ip saddr NET oifname DEV masquerade`."""

    by: HostName = option("The host whose nat table gets the rule.")
    saddr: Network = option("The sources to rewrite, a network such as 10.88.0.0/16.")
    oifname: IfName | None = option("Only packets leaving by this interface; any interface if omitted.", None)


@dataclass(frozen=True)
class SshForward:
    """Start `ssh -N -L FORWARD SERVER`: a listener here, and a tunnel whose far end connects from the server."""

    by: HostName = option("The host ssh runs on (where its listener stands).")
    server: IPv4 = option("The address of the host running sshd (a host with `sshd: true`).")
    forward: ForwardSpec = option(
        "The -L argument: [BIND:]PORT:HOST:HOSTPORT; HOST:HOSTPORT is connected from the server."
    )
    gateway_ports: bool = option("ssh's -g: with no bind address, listen on every address instead of loopback.", False)


@dataclass(frozen=True)
class Publish:
    """Publish a container's port on its host, as `podman run -p [HOST_IP:]PORT:TO_PORT` has netavark
    write it in nftables: destination NAT on prerouting and output, and a mark that has hairpin and
    loopback traffic masqueraded."""

    by: HostName = option("The host whose nat table gets the rules (the one holding the container's bridge).")
    port: Annotated[int, TCP_PORT] = option("The port on the host, as `-p PORT:...` names it.")
    to: Endpoint = option("The container's ADDRESS:PORT the knocks are sent on to.")
    host_ip: IPv4 | None = option(
        "Only knocks on this address of the host, as `-p HOST_IP:PORT:...`; every local address if omitted or 0.0.0.0.",
        None,
    )
    snat: bool = option(
        "Mark knocks from the container network and from 127.0.0.1 for masquerade, as netavark does; false "
        "leaves those two rules out (a rule set netavark does not write) to show what they are for.",
        True,
    )

    @property
    def daddr(self) -> str | None:
        """The address the rules match, if any. netavark reads HOST_IP 0.0.0.0 as every address, as if
        it were left out: no `ip daddr` in the rules (get_dnat_rules_for_addr_family(),
        src/firewall/nft.rs), not a match on 0.0.0.0, which no packet is sent to."""
        return None if self.host_ip in (None, "0.0.0.0") else self.host_ip


@dataclass(frozen=True)
class RouteLocalnet:
    """Let 127/8 addresses be routed on an interface: `sysctl -w net.ipv4.conf.DEV.route_localnet=1|0`."""

    by: HostName = option("The host.")
    dev: IfName = option("The interface.")
    enabled: bool = option("true: 127/8 may arrive on and leave by DEV; false: such packets are martians.")


@dataclass(frozen=True)
class FirewallDel:
    """Delete one rule of a host's input firewall while it runs: the rule for `port` in one of the host's
    lists (`drop_tcp_ports`, `reject_tcp_ports`, `reset_tcp_ports`, `prohibit_tcp_ports`). The lab and
    the script rewrite the input chain without it in one nftables transaction (`nft -f -`: flush the
    chain, add the other rules), which leaves what `nft delete rule ... handle N` leaves."""

    by: HostName = option("The host whose firewall loses the rule.")
    rule: Literal["drop_tcp_ports", "reject_tcp_ports", "reset_tcp_ports", "prohibit_tcp_ports"] = option(
        "The host's list the rule came from."
    )
    port: Annotated[int, TCP_PORT] = option("The TCP port of the rule.")


@dataclass(frozen=True)
class ReachableTime:
    """Change how long an ARP answer stays REACHABLE on one of a host's interfaces, while it runs:
    `sysctl -w net.ipv4.neigh.DEV.base_reachable_time_ms=MS`. The kernel draws the interface's new
    lifetime at once (neigh_proc_base_reachable_time()); an entry already REACHABLE keeps the timer
    it has, and is measured against the new lifetime when that timer fires (neigh_timer_handler())."""

    by: HostName = option("The host.")
    dev: IfName = option("The interface whose neighbour parameters change.")
    seconds: Annotated[float, REACHABLE] = option(
        "The new base reachable time in seconds (the kernel keeps an answer REACHABLE between half and one and a "
        "half times it; netsim uses it exactly)."
    )


@dataclass(frozen=True)
class RouteGet:
    """Ask the host's routing table which way a packet would go: `ip route get ADDRESS`."""

    by: HostName = option("The host that asks.")
    to: IPv4 = option("The destination address.")


@dataclass(frozen=True)
class NameLookup:
    """Turn a name into an address as a program does: getaddrinfo() for IPv4, through /etc/nsswitch.conf's
    `hosts: files dns` (the host's /etc/hosts, then the nameservers of its /etc/resolv.conf)."""

    by: HostName = option("The host whose program asks.")
    name: DnsName = option("The name, e.g. host.containers.internal.")


ACTIONS = (
    "send",
    "arp",
    "connect",
    "listen",
    "close",
    "wait",
    "set_port",
    "set_bridge",
    "netns_add",
    "veth_add",
    "link_move",
    "link_rename",
    "link_set",
    "addr_add",
    "route_add",
    "addr_del",
    "route_del",
    "link_del",
    "netns_del",
    "nomaster",
    "ip_forward",
    "masquerade",
    "route_get",
    "ssh_forward",
    "publish",
    "route_localnet",
    "resolve",
    "reachable_time",
    "firewall_del",
    "sends",
)


@dataclass(frozen=True)
class Step:
    """One step of the story; exactly one action key besides id and title."""

    id: StepId = option("A stable name pages link to, e.g. 'bob-writes-to-alice'.")
    title: Text | None = option("A short heading for the step's figure.", None)
    send: Send | None = option(Send.__doc__ or "", None)
    arp: Resolve | None = option(Resolve.__doc__ or "", None)
    connect: Connect | None = option(Connect.__doc__ or "", None)
    listen: Socket | None = option("Open a listening TCP socket.", None)
    close: Socket | None = option("Close a listening TCP socket.", None)
    wait: Annotated[float, WAIT] | None = option("Let this many seconds pass on the simulated clock.", None)
    set_port: SetPort | None = option(SetPort.__doc__ or "", None)
    set_bridge: SetBridge | None = option(SetBridge.__doc__ or "", None)
    netns_add: HostName | None = option("Create a host's network namespace (declared with `absent: true`).", None)
    veth_add: VethAdd | None = option(VethAdd.__doc__ or "", None)
    link_move: LinkMove | None = option(LinkMove.__doc__ or "", None)
    link_rename: LinkRename | None = option(LinkRename.__doc__ or "", None)
    link_set: LinkSet | None = option(LinkSet.__doc__ or "", None)
    addr_add: AddrAdd | None = option(AddrAdd.__doc__ or "", None)
    route_add: RouteAdd | None = option(RouteAdd.__doc__ or "", None)
    addr_del: AddrDel | None = option(AddrDel.__doc__ or "", None)
    route_del: RouteDel | None = option(RouteDel.__doc__ or "", None)
    link_del: LinkDel | None = option(LinkDel.__doc__ or "", None)
    netns_del: HostName | None = option(
        "Delete a host's network namespace: `ip netns del NS`; its interfaces, and the far ends of their "
        "cables, vanish with it.",
        None,
    )
    nomaster: Unplug | None = option(Unplug.__doc__ or "", None)
    ip_forward: Forwarding | None = option(Forwarding.__doc__ or "", None)
    masquerade: Masquerade | None = option(Masquerade.__doc__ or "", None)
    route_get: RouteGet | None = option(RouteGet.__doc__ or "", None)
    ssh_forward: SshForward | None = option(SshForward.__doc__ or "", None)
    publish: Publish | None = option(Publish.__doc__ or "", None)
    route_localnet: RouteLocalnet | None = option(RouteLocalnet.__doc__ or "", None)
    resolve: NameLookup | None = option(NameLookup.__doc__ or "", None)
    reachable_time: ReachableTime | None = option(ReachableTime.__doc__ or "", None)
    firewall_del: FirewallDel | None = option(FirewallDel.__doc__ or "", None)
    sends: Sends | None = option(Sends.__doc__ or "", None)

    @property
    def action(self) -> str:
        found = self.__dict__.get("_action")  # a step is frozen: its action is looked for once
        if found is None:
            found = self.__dict__["_action"] = next(name for name in ACTIONS if getattr(self, name) is not None)
        return found


@dataclass(frozen=True)
class Scenario:
    """A scenario: a topology and the ordered steps a post narrates."""

    title: Text = option("The scenario's title.")
    hosts: Annotated[dict[HostName, Host], Most(MAX_HOSTS)] = option("The hosts (network namespaces), by name.")
    steps: Annotated[list[Step], Most(MAX_STEPS)] = option("What happens, in order.")
    description: LongText | None = option("One or two sentences on what the scenario shows.", None)
    bridges: Annotated[dict[IfName, Bridge], Most(MAX_BRIDGES)] = option(
        "The software bridges, by interface name.", factory=dict
    )
    name: str = field(default="", metadata={"doc": "Set from the file name; not written in the file."})
    file: str = field(default="", metadata={"doc": "Set from the path; not written in the file."})

    def firewall_after(self, host: str, step: Step) -> dict[str, list[int]]:
        """A host's input firewall rules, list by list, once `step` has run (firewall_del steps)."""
        rules = {k: list(getattr(self.hosts[host], k)) for k in FIREWALL_FIELDS}
        for st in self.steps:
            if st.firewall_del and st.firewall_del.by == host and st.firewall_del.port in rules[st.firewall_del.rule]:
                rules[st.firewall_del.rule].remove(st.firewall_del.port)
            if st is step:
                break
        return rules

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def host_mac(self, host: str, dev: str | None = None) -> str:
        """The MAC a host's interface wears (its only interface when `dev` is None)."""
        h = self.hosts[host]
        if dev is None:
            if h.interfaces:
                dev = next(iter(h.interfaces))
            else:
                bridge = next(b for b, br in self.bridges.items() if br.host == host)
                return self.bridge_mac(bridge)
        if dev in self.bridges and self.bridges[dev].host == host:
            return self.bridge_mac(dev)
        return h.interfaces[dev].mac or derived_mac(f"{host}/{dev}")

    def bridge_mac(self, bridge: str) -> str:
        return self.bridges[bridge].mac or derived_mac(f"bridge/{bridge}")

    def port_mac(self, bridge: str, port: str) -> str:
        return self.bridges[bridge].ports[port].mac or derived_mac(f"{bridge}/{port}")

    def port_of(self, host: str, dev: str | None = None) -> tuple[str, str] | None:
        """(bridge, port) the host's interface is plugged into, if any."""
        h = self.hosts[host]
        dev = dev or next(iter(h.interfaces), None)
        if dev is None or dev not in h.interfaces or not h.interfaces[dev].plug:
            return None
        bridge, _, port = h.interfaces[dev].plug.partition(".")
        return (bridge, port) if bridge in self.bridges else None

    def host_at(self, bridge: str, port: str) -> tuple[str, str] | None:
        """(host, interface) whose cable is plugged into bridge.port."""
        plugs = self.__dict__.get("_plugs")
        if plugs is None:  # one pass over every interface, kept: callers ask for every port
            plugs = {}
            for name, h in self.hosts.items():
                for dev, iface in h.interfaces.items():
                    if iface.plug:
                        plugs.setdefault(iface.plug, (name, dev))
            self.__dict__["_plugs"] = plugs
        return plugs.get(f"{bridge}.{port}")

    def static_devs(self, host: str) -> list[str]:
        """The interfaces a host has from the start: its own, then the bridges it holds."""
        return list(self.hosts[host].interfaces) + [b for b, br in self.bridges.items() if br.host == host]

    def named_devs(self, host: str) -> list[str]:
        """Every name an interface of the host has at some point: its interfaces from the start, then
        the names steps give (a new cable's ends, a rename, a cable end moved in)."""
        names = self.static_devs(host)
        for st in self.steps:
            if st.veth_add and st.veth_add.by == host:
                names += [st.veth_add.name, st.veth_add.peer]
            if st.link_rename and st.link_rename.by == host:
                names.append(st.link_rename.name)
            if st.link_move and st.link_move.to == host:
                names.append(st.link_move.dev)
        return list(dict.fromkeys(names))

    def default_dev(self, host: str) -> str:
        """The interface a step means when it names none: the host's only one."""
        return self.static_devs(host)[0]

    def plug_order(self, bridge: str) -> list[str]:
        """The order the lab plugs a bridge's ports in: hosts' cables as the hosts are listed, then
        empty seats. The kernel floods the newest port first, so the order is part of the story."""
        plugged = [
            end
            for host in self.hosts.values()
            for iface in host.interfaces.values()
            for target, _, end in [(iface.plug or "").partition(".")]
            if target == bridge
        ]
        return plugged + [p for p in self.bridges[bridge].ports if p not in plugged]

    def dynamic_ports(self) -> set[tuple[str, str]]:
        """(bridge, port) pairs that a `link_set ... master` step plugs in later (not ones that have a
        host's cable from the start and are plugged back after a `nomaster`)."""
        return {
            (st.link_set.master, st.link_set.dev)
            for st in self.steps
            if st.link_set and st.link_set.master and self.host_at(st.link_set.master, st.link_set.dev) is None
        }

    def tracks_connections(self, host: str) -> bool:
        """Whether a rule that needs conntrack ever stands in the host's namespace: masquerade, a firewall
        list, or a masquerade or published port a step adds there (nf_ct_netns_get())."""
        h = self.hosts[host]
        if h.masquerade or any(getattr(h, k) for k in FIREWALL_FIELDS):
            return True
        return any(
            (st.masquerade and st.masquerade.by == host) or (st.publish and st.publish.by == host) for st in self.steps
        )

    def needs_nft(self) -> bool:
        """Whether the lab and the script load nftables rules: a firewall or masquerade anywhere, or conntrack
        for its timeouts (plan.CT_LOAD)."""
        hosts = any(
            h.masquerade or h.conntrack_timeouts.changed() or any(getattr(h, k) for k in FIREWALL_FIELDS)
            for h in self.hosts.values()
        )
        return hosts or any(st.masquerade or st.publish for st in self.steps)

    def publish_subnet(self, host: str, to_ip: str) -> str | None:
        """The network of the host's bridge that holds a published port's container address: the
        `ip saddr SUBNET` netavark writes for the containers of that network."""
        addr = ipaddress.IPv4Address(to_ip)
        for br in self.bridges.values():
            if br.host == host and br.address and addr in ipaddress.IPv4Interface(br.address).network:
                return str(ipaddress.IPv4Interface(br.address).network)
        return None

    def needs_ssh(self) -> bool:
        """Whether the lab and the script run OpenSSH: an sshd host or an ssh_forward step."""
        return any(h.sshd for h in self.hosts.values()) or any(st.ssh_forward for st in self.steps)

    def needs_resolver(self) -> bool:
        """Whether the lab and the script write each host's /etc files: a step resolves a name."""
        return any(st.resolve for st in self.steps)

    def needs_dnsmasq(self) -> bool:
        """Whether the lab and the script run DNS servers (dnsmasq)."""
        return any(h.dns_servers for h in self.hosts.values())

    def forwarding_hosts(self) -> list[str]:
        """Hosts whose ip_forward the scenario sets, from the start or in a step."""
        stepped = {st.ip_forward.by for st in self.steps if st.ip_forward}
        return [h for h, host in self.hosts.items() if host.ip_forward or h in stepped]

    def addresses(self, host: str) -> list[ipaddress.IPv4Interface]:
        out = [ipaddress.IPv4Interface(i.address) for i in self.hosts[host].interfaces.values() if i.address]
        out += [
            ipaddress.IPv4Interface(st.addr_add.address) for st in self.steps if st.addr_add and st.addr_add.by == host
        ]
        out += [ipaddress.IPv4Interface(b.address) for b in self.bridges.values() if b.host == host and b.address]
        return out


# --- Loading and the checks a schema cannot make -------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Parse and validate a scenario file; raise ScenarioError naming file and line.

    Any path a maintainer names is accepted (the CLI, the tests), but the file's name must be a
    scenario name and the file itself a regular file, not a symlink, FIFO or device. The build
    reaches scenarios by name only, through `scenario_path`, which stays inside diagrams/.
    """
    path = Path(path)
    display = _display_path(path)
    if path.suffix != ".yaml" or not SCENARIO_NAME_RE.fullmatch(path.stem):
        raise ScenarioError(
            display,
            0,
            "",
            "is not a scenario file name; expected NAME.yaml, NAME of lower-case letters, digits, - or _",
        )
    return _from_source(read(path, display), path.stem)


def scenario_path(root: Path, name: str) -> Path:
    """diagrams/NAME.yaml under `root` for a scenario name a page asked for; never outside diagrams/."""
    if not SCENARIO_NAME_RE.fullmatch(name):
        raise ScenarioError(
            f"diagrams/{_safe(name)}.yaml", 0, "", "is not a scenario name; expected lower-case letters, digits, - or _"
        )
    folder = (root / "diagrams").resolve()
    path = folder / f"{name}.yaml"
    if path.resolve().parent != folder:  # e.g. a symlinked folder or file pointing elsewhere
        raise ScenarioError(f"diagrams/{name}.yaml", 0, "", "resolves outside diagrams/; expected a file there")
    return path


def _safe(text: str, limit: int = 300) -> str:
    """A name or path from outside, fit to repeat in a one-line error (its end kept: the file's name)."""
    shown = repr(text)[1:-1]
    return shown if len(shown) <= limit else "..." + shown[-(limit - 3) :]


def parse_scenario(text: str | bytes, file: str = "scenario.yaml") -> Scenario:
    """The same as load_scenario, from text or a file's bytes (tests and tools that generate scenarios)."""
    src = parse_bytes(text, file) if isinstance(text, bytes) else parse(text, file)
    return _from_source(src, Path(file).stem)


def scenario_from_data(data: Any, file: str = "scenario.yaml") -> Scenario:
    """The same as parse_scenario, from data already parsed (tools that edit scenarios)."""
    return _from_source(Source(file, data), Path(file).stem)


def _from_source(src: Source, name: str) -> Scenario:
    for key in ("name", "file"):  # whatever it holds: its value is not the mistake
        if isinstance(src.data, dict) and key in src.data:
            raise src.error((key,), "unknown key; it is set from the file's name")
    scenario: Scenario = build(Scenario, src.data, (), src)
    object.__setattr__(scenario, "name", name)
    object.__setattr__(scenario, "file", src.file)
    _validate(scenario, src)
    return scenario


def _display_path(path: Path) -> str:
    try:
        shown = str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return _safe(shown)


def _validate(s: Scenario, src: Source) -> None:
    _validate_names(s, src)
    _validate_topology(s, src)
    _validate_unique(s, src)
    _validate_steps(s, src)
    _validate_programs(s, src)


def _validate_names(s: Scenario, src: Source) -> None:
    """A name `dst:` would read another way is refused: `dst: broadcast` is ff:ff:ff:ff:ff:ff and a
    MAC-shaped name is that MAC (plan._send_frame), so such a host could never be addressed by name."""
    for kind, names in (("hosts", s.hosts), ("bridges", s.bridges)):
        for name in names:
            if name.lower() == "broadcast":
                raise src.error(
                    (kind, name), f"{name!r} is the word `dst:` uses for ff:ff:ff:ff:ff:ff; expected another name"
                )
            if normalise_mac(name) is not None:
                raise src.error(
                    (kind, name), f"{name!r} reads as a MAC address in `dst:`; expected a name that is not a MAC"
                )


def _validate_programs(s: Scenario, src: Source) -> None:
    """A program named for a listener the host never has is a slip: `ss -ltnp` would never show it."""
    from netsim.sshforward import bind_addresses, parse

    for name, host in s.hosts.items():
        bound = set(host.listeners) | ({"0.0.0.0:22"} if host.sshd else set())
        for step in s.steps:
            if step.listen is not None and step.listen.by == name:
                bound.add(step.listen.bind)
            if step.ssh_forward is not None and step.ssh_forward.by == name:
                forward = parse(step.ssh_forward.forward)
                assert forward is not None  # the schema checked the shape
                bound.add(f"{bind_addresses(forward, step.ssh_forward.gateway_ports)[0]}:{forward.port}")
        for listen in host.programs:
            if listen not in bound:
                raise src.error(
                    (*path_of(host), "programs", listen),
                    f"{name} never listens on {listen}; expected one of its listeners: "
                    f"{_names(sorted(bound)) or 'none'}",
                )


def _check_one_name_each(s: Scenario, src: Source) -> None:
    """A namespace holds one interface of each name (dev_get_valid_name(), net/core/dev.c, says
    EEXIST): the bridge host's lo, its bridges, their ports (its ends of the seats' cables) and its
    own interfaces. An interface named lo or after its own bridge is refused later, in its words."""
    for hname, host in s.hosts.items():
        taken: dict[str, str] = {"lo": "loopback, which every namespace has"}
        names: list[tuple[str, str, tuple]] = []
        for bname, bridge in s.bridges.items():
            if bridge.host == hname:
                names.append((bname, f"bridge {bname}", path_of(bridge)))
                names += [(port, f"port of bridge {bname}", (*path_of(bridge), "ports", port)) for port in bridge.ports]
        ports = {name for name, what, _ in names if what.startswith("port")}
        names += [(dev, "interface", path_of(iface)) for dev, iface in host.interfaces.items() if dev in ports]
        for name, what, where in names:
            if name in taken:
                raise src.error(
                    where,
                    f"{name!r} is already {hname}'s {taken[name]}: the kernel refuses a second interface of one "
                    "name in a namespace (EEXIST, RTNETLINK answers: File exists); expected another name",
                )
            taken[name] = what


def _check_empty_seats(s: Scenario, src: Source) -> None:
    """An empty seat is a veth pair made in the namespace the lab and the script run in, PORT and
    PORT-x, before PORT moves to its bridge's host (plan.py); PORT-x stays there. Two empty seats of
    one name, on bridges of two hosts, would make a second PORT-x there: EEXIST (dev_get_valid_name(),
    net/core/dev.c). Seats a step plugs in later are made by that step, not here."""
    dynamic = s.dynamic_ports()
    outer: dict[str, str] = {}  # a far end's name -> the bridge whose empty seat it is
    for bname, bridge in s.bridges.items():
        for port in bridge.ports:
            if (bname, port) in dynamic or s.host_at(bname, port) is not None:
                continue
            where = (*path_of(bridge), "ports", port)
            if f"{port}-x" in outer:
                raise src.error(
                    where,
                    f"{outer[f'{port}-x']} has an empty seat {port} too; both far ends would be called {port}-x in "
                    "the namespace the lab and the script run in, and the kernel refuses the second "
                    "(EEXIST, File exists); expected another name",
                )
            if port in outer:
                raise src.error(
                    where,
                    f"{port!r} is already the far end of {outer[port]}'s empty seat in the namespace the lab and "
                    "the script run in; the kernel refuses a second (EEXIST, File exists); expected another name",
                )
            outer[f"{port}-x"] = bname


def _validate_topology(s: Scenario, src: Source) -> None:
    for bridge in s.bridges.values():
        where = path_of(bridge)
        if bridge.host not in s.hosts:
            raise src.error(
                (*where, "host"),
                f"{bridge.host!r} is not a host; expected one of: {_names(s.hosts)}",
            )
        for port in bridge.ports:
            if len(port) > PORT_NAME_LIMIT:
                raise src.error(
                    (*where, "ports", port),
                    f"{port!r} is {len(port)} characters; expected at most {PORT_NAME_LIMIT} "
                    f"(an empty seat's far end is called {port}-x, and Linux names have at most 15 bytes)",
                )
    _check_one_name_each(s, src)
    _check_empty_seats(s, src)
    for hname, host in s.hosts.items():
        _check_whole_ms(host.reachable_time, (*path_of(host), "reachable_time"), src)
        if host.absent:  # nothing can be set up in a namespace before a step creates it
            held = [b for b, br in s.bridges.items() if br.host == hname]
            given = [
                k for k in ("interfaces", "listeners", "routes", *FIREWALL_FIELDS, "dns_servers") if getattr(host, k)
            ]
            given += ["bridges " + ", ".join(held)] if held else []
            given += ["gateway"] if host.gateway else []
            given += ["sshd"] if host.sshd else []
            # `ip netns add` makes a namespace with no nftables ruleset and forwarding as the lab pins it, off
            # (devinet_init_net(), net/ipv4/devinet.c, copies init_net's; plan.netns() sets 0): netsim turned
            # them on at netns_add, the kernel did not. The ip_forward and masquerade steps do it.
            given += ["ip_forward"] if host.ip_forward else []
            given += ["masquerade"] if host.masquerade else []
            if given:
                raise src.error(
                    (*path_of(host), "absent"),
                    f"{hname} is absent until a netns_add step, but has {', '.join(given)} from the start; "
                    "expected steps that add them after it exists",
                )
    plugged: dict[str, tuple[str, str]] = {}
    for hname, host in s.hosts.items():
        for dev, iface in host.interfaces.items():
            where = path_of(iface)
            if dev == "lo":
                raise src.error(where, f"{dev!r} is not a usable interface name (lo is always there)")
            if dev in s.bridges and s.bridges[dev].host == hname:
                raise src.error(where, f"{dev!r} is already this host's bridge {dev}")
            if not iface.plug and not s.host_at(hname, dev):
                raise src.error(
                    where,
                    f"{hname}.{dev} is not plugged anywhere, yet the host has it: a veth interface always has "
                    "another end; expected plug: 'BRIDGE.PORT' or 'HOST.INTERFACE'",
                )
            if not iface.plug:
                continue  # the other end names this one
            target, dot, end = iface.plug.partition(".")
            if not dot:
                raise src.error((*where, "plug"), f"{iface.plug!r} is not 'BRIDGE.PORT' or 'HOST.INTERFACE'")
            if target in s.bridges:
                if end not in s.bridges[target].ports:
                    raise src.error(
                        (*where, "plug"),
                        f"bridge {target} has no port {end!r}; expected one of: {_names(s.bridges[target].ports)}",
                    )
            elif target in s.hosts:
                if (target, end) == (hname, dev):
                    # A veth pair needs two ends: `ip link add eth0 type veth peer name eth0` in one
                    # namespace is refused (EEXIST, RTNETLINK answers: File exists) (outsider3's b10).
                    raise src.error(
                        (*where, "plug"),
                        f"{hname}.{dev} is plugged into itself; a cable needs two ends, and the kernel refuses a "
                        "veth whose peer has its own name in its own namespace (EEXIST, RTNETLINK answers: File "
                        "exists); expected plug: 'BRIDGE.PORT' or another host's 'HOST.INTERFACE'",
                    )
                other = s.hosts[target].interfaces.get(end)
                if other is None:
                    raise src.error((*where, "plug"), f"host {target} has no interface {end!r}")
                if other.plug not in (None, f"{hname}.{dev}"):
                    raise src.error((*where, "plug"), f"{target}.{end} is already plugged into {other.plug}")
            else:
                raise src.error(
                    (*where, "plug"),
                    f"{target!r} is neither a bridge nor a host; expected one of: {_names({**s.bridges, **s.hosts})}",
                )
            if iface.plug in plugged:
                other_host, other_dev = plugged[iface.plug]
                raise src.error((*where, "plug"), f"{iface.plug} already has {other_host}.{other_dev}'s cable")
            plugged[iface.plug] = (hname, dev)
        _check_gateways(s, hname, src)
        _check_firewall(host, src)
        _check_conntrack_timeouts(s, hname, src)
        sockets = Sockets(s, hname)
        for i, text in enumerate(host.listeners):
            sockets.listen(text, (*path_of(host), "listeners", i), src)
        for i, rule in enumerate(host.masquerade):
            _check_masquerade(s, hname, rule.saddr, rule.oifname, (*path_of(host), "masquerade", i), src)
        _check_dns_servers(s, hname, src)


def _check_dns_servers(s: Scenario, host: str, src: Source) -> None:
    """A DNS server binds UDP port 53 on one of the host's own addresses (127/8 included, as for any
    socket); two servers on one address would collide (EADDRINUSE)."""
    h = s.hosts[host]
    mine = {ipaddress.IPv4Interface(i.address).ip for i in h.interfaces.values() if i.address}
    mine |= {ipaddress.IPv4Interface(b.address).ip for b in s.bridges.values() if b.host == host and b.address}
    seen: set[str] = set()
    for server in h.dns_servers:
        addr = ipaddress.IPv4Address(server.listen)
        if addr not in mine and addr not in LOOPBACK_NET:
            have = ", ".join(["127.0.0.1", *sorted(str(a) for a in mine)])
            raise src.error(
                (*path_of(server), "listen"),
                f"{host} has no address {addr} to listen on; expected one of: {have}",
            )
        if server.listen in seen:
            raise src.error((*path_of(server), "listen"), f"{host} already has a DNS server on {server.listen}:53")
        seen.add(server.listen)


def _check_whole_ms(seconds: float, where: tuple, src: Source) -> None:
    """base_reachable_time_ms takes whole milliseconds (proc_dointvec_ms_jiffies()): a fraction of one
    would be rounded by the script and the lab, yet kept by the simulator, and the two would disagree."""
    if (Decimal(repr(seconds)) * 1000) % 1:
        raise src.error(
            where,
            f"{seconds!r} s is not a whole number of milliseconds; expected seconds with at most three decimals "
            "(the kernel takes base_reachable_time_ms, an int of milliseconds)",
        )


def _check_conntrack_timeouts(s: Scenario, hname: str, src: Source) -> None:
    """Timeouts for a table that never holds an entry would change nothing: say so rather than ignore them.

    A namespace tracks connections only once a rule needs conntrack (nf_ct_netns_get(), from the nat
    table's masquerade and DNAT or the firewall's rules); the lab loads conntrack to set the sysctls and
    drops that table again at once (plan.CT_LOAD), so nothing tracks there either."""
    host = s.hosts[hname]
    if not host.conntrack_timeouts.changed() or s.tracks_connections(hname):
        return
    raise src.error(
        (*path_of(host), "conntrack_timeouts"),
        f"{hname} tracks no connections (no masquerade, firewall or published port on it), so its "
        "conntrack_timeouts would change nothing; expected them only on a host that masquerades, filters "
        "or publishes a port",
    )


def _check_firewall(host: Host, src: Source) -> None:
    """One answer per port: a port in two of the firewall lists would leave the rule order to chance."""
    owner: dict[int, str] = {}
    for key in FIREWALL_FIELDS:
        for i, port in enumerate(getattr(host, key)):
            if port in owner and owner[port] == key:
                # nf_tables keeps two identical rules, each with its own handle, and deleting one
                # (nf_tables_delrule()) leaves the other; netsim holds one rule per port and would drop both.
                raise src.error(
                    (*path_of(host), key, i),
                    f"port {port} is in {key} twice; the kernel would load two identical rules, and a "
                    "firewall_del would remove only one of them; expected each port once",
                )
            if port in owner:
                raise src.error(
                    (*path_of(host), key, i),
                    f"port {port} is already in {owner[port]}; the kernel would load both rules and the first in "
                    "the chain would answer (nft_do_chain() stops at the first verdict), but the scenario format has "
                    "no rule order (a stated limit of netsim); expected each port in one firewall list only",
                )
            owner[port] = key


def _check_masquerade(s: Scenario, host: str, saddr: str, oifname: str | None, where: tuple, src: Source) -> None:
    try:
        ipaddress.IPv4Network(saddr)
    except ValueError:
        raise src.error((*where, "saddr"), f"{saddr!r} is not a network like 10.88.0.0/16") from None
    # nftables matches oifname by name at packet time (nft_meta_get_eval()), so the kernel takes a
    # rule for any name; one no interface of the host ever has is taken for a typo.
    ports = {port: b for b, br in s.bridges.items() if br.host == host for port in br.ports}
    if oifname in ports:
        # The port's end does exist in the host, so "no interface" would be untrue: say what is wrong.
        raise src.error(
            (*where, "oifname"),
            f"{oifname!r} is a port of {host}'s bridge {ports[oifname]}, not a device a packet is routed out of "
            f"(a packet leaves by the bridge, {ports[oifname]}); the kernel would take the rule and match nothing "
            f"by it, which netsim takes for a mistake; expected one of: {_names(s.named_devs(host))}",
        )
    if oifname is not None and oifname not in s.named_devs(host):
        raise src.error(
            (*where, "oifname"),
            f"{host} has no interface {oifname!r} at any step; the kernel would take the rule and match "
            f"nothing by it, which netsim takes for a mistake; expected one of: {_names(s.named_devs(host))}",
        )


def _check_gateways(s: Scenario, host: str, src: Source) -> None:
    """fib_check_nh(): a gateway must be on one of the host's own networks (on the route's device,
    when it names one); otherwise `ip route add` fails with "Nexthop has invalid gateway"."""
    h = s.hosts[host]
    addrs = {dev: ipaddress.IPv4Interface(i.address) for dev, i in h.interfaces.items() if i.address}
    addrs |= {b: ipaddress.IPv4Interface(br.address) for b, br in s.bridges.items() if br.host == host and br.address}
    # A prefix whose network is 0.0.0.0 (10.0.0.10/4) gets no prefix route (prefix_routed()): only the
    # address's own local route can take a gateway then.
    nets = {dev: a.network if prefix_routed(a) else ipaddress.IPv4Network(a.ip) for dev, a in addrs.items()}
    # One route per destination (same tos and metric): `ip route add` asks for NLM_F_CREATE|NLM_F_EXCL,
    # and fib_table_insert() (net/ipv4/fib_trie.c) answers EEXIST. The connected routes come first,
    # then the gateway's default, then `routes`, as the lab and the script add them.
    # Only a prefix route is in the main table: a /32's (or a 0.0.0.0 prefix's) own route is in the local
    # table, so `ip route add ADDR/32 dev eth0` beside it is taken (checked in a namespace: it succeeds).
    have: dict[ipaddress.IPv4Network, str] = {
        net: f"its connected route on {dev}" for dev, net in nets.items() if prefix_routed(addrs[dev])
    }
    given = [((*path_of(h), "gateway"), "default", f"its gateway {h.gateway}")] if h.gateway else []
    given += [((*path_of(r), "to"), r.to, f"its route to {r.to} via {r.via or r.dev}") for r in h.routes]
    for where, to, what in given:
        net = ipaddress.IPv4Network("0.0.0.0/0" if to == "default" else to)
        if net in have:
            raise src.error(
                where,
                f"{host} has a route to {to} already ({have[net]}); the kernel refuses a second one to the same "
                "destination (EEXIST, RTNETLINK answers: File exists)",
            )
        have[net] = what
    # A route given by device alone (`to: 10.6.0.1/32, dev: eth0`) reaches a gateway too, for the routes
    # after it: the lab adds them in order, and fib_check_nh_v4_gw() looks the gateway up in what is there.
    wanted: list[tuple[tuple[str | int, ...], str, str | None, list[tuple[str, ipaddress.IPv4Network]]]] = []
    if h.gateway:
        wanted.append(((*path_of(h), "gateway"), h.gateway, None, []))
    by_dev: list[tuple[str, ipaddress.IPv4Network]] = []
    for r in h.routes:
        if r.via:
            wanted.append(((*path_of(r), "via"), r.via, r.dev, list(by_dev)))
        elif r.dev:
            by_dev.append((r.dev, ipaddress.IPv4Network("0.0.0.0/0" if r.to == "default" else r.to)))
    # lo is up before any route is added, and 127.0.0.0/8 is RTN_LOCAL on it: fib_check_nh_v4_gw() takes a
    # gateway there (dev lo, scope host), as Simulation._dev_for() does.
    loopback = [("lo", ipaddress.IPv4Network("127.0.0.0/8"))]
    for where, via, dev, earlier in wanted:
        candidates = [(d, n) for d, n in [*nets.items(), *earlier, *loopback] if dev is None or d == dev]
        if not any(ipaddress.IPv4Address(via) in net for _, net in candidates):
            on = f"{dev}'s network" if dev else "any of its networks"
            shown = [c for c in candidates if c not in loopback]
            have = ", ".join(f"{d} {n}" for d, n in sorted(shown, key=lambda c: (c[0], str(c[1])))) or "none"
            raise src.error(
                where,
                f"{via} is not on {on} ({have}); the kernel refuses the route "
                "(ENETUNREACH, Nexthop has invalid gateway)",
            )
        broadcasts = [*nets.values(), *(net for _, net in loopback)]  # lo's 127.255.255.255 is one too
        if any(ipaddress.IPv4Address(via) == net.broadcast_address and net.prefixlen < 31 for net in broadcasts):
            raise src.error(
                where,
                f"{via} is a broadcast address; the kernel refuses the route (EINVAL, Nexthop has invalid gateway: "
                "fib_check_nh_v4_gw() takes only a unicast or local gateway)",
            )


class Sockets:
    """What bind() and listen() would say in one host's namespace, step by step.

    inet_bind() refuses an address the namespace does not have (EADDRNOTAVAIL; ip_nonlocal_bind
    is 0), and inet_csk_bind_conflict() refuses a port already listened on at the same address or
    with the wildcard on either side (EADDRINUSE; SO_REUSEADDR does not help against a listener,
    only SO_REUSEPORT on both sockets does, for the same user, which the lab and the script are).
    """

    def __init__(self, s: Scenario, host: str) -> None:
        h = s.hosts[host]
        self.host = host
        self.exists = not h.absent
        self.deleted = ""  # the id of the step that deleted the namespace, if one did
        self.loopback = not h.absent  # lo has 127.0.0.1 once it has been up
        self.mine = {ipaddress.IPv4Interface(i.address).ip for i in h.interfaces.values() if i.address}
        self.mine |= {ipaddress.IPv4Interface(b.address).ip for b in s.bridges.values() if b.host == host and b.address}
        self.ifaddrs = {ipaddress.IPv4Interface(i.address) for i in h.interfaces.values() if i.address}
        self.ifaddrs |= {ipaddress.IPv4Interface(b.address) for b in s.bridges.values() if b.host == host and b.address}
        self.on_lo: set[ipaddress.IPv4Network] = set()  # prefixes put on lo (addr_add), all RTN_LOCAL
        # No local fib table until the first address (a fresh namespace): any address binds (Simulation._bindable()).
        self.table = not h.absent
        self.bound: list[tuple[ipaddress.IPv4Address, int, str, bool]] = []
        if h.sshd:
            self.bound.append((ANY, 22, "0.0.0.0:22 (sshd)", False))

    def listen(self, text: str, where: tuple, src: Source, may_fail: bool = False, reuseport: bool = False) -> None:
        try:
            self._listen(text, where, src, reuseport)
        except ScenarioError:
            if not may_fail:
                raise  # a step that means to show the refusal says may_fail: true

    def _broadcast(self, addr: ipaddress.IPv4Address) -> bool:
        """255.255.255.255, or a subnet broadcast of one of the host's own addresses (its local table's)."""
        return addr == ipaddress.IPv4Address("255.255.255.255") or any(
            addr == i.network.broadcast_address and i.network.prefixlen < 31 for i in self.ifaddrs
        )

    def _listen(self, text: str, where: tuple, src: Source, reuseport: bool) -> None:
        parsed = parse_endpoint(text)
        assert parsed is not None  # the schema checked the shape
        addr, port = parsed
        self.need_namespace(where, src)
        local = addr == ANY or addr in self.mine or (self.loopback and addr in LOOPBACK_NET)
        # A prefix put on lo is RTN_LOCAL as a whole (fib_add_ifaddr(), net/ipv4/fib_frontend.c).
        local = local or any(addr in net for net in self.on_lo) or not self.table
        # inet_bind() also takes RTN_MULTICAST and RTN_BROADCAST addresses (inet_addr_valid_or_nonlocal(),
        # net/ipv4/af_inet.c; seen in `unshare -n`), though no SYN to one is ever answered
        # (tcp_v4_conn_request() drops it). A subnet's broadcast is one only while its interface is up:
        # the simulation, which knows, refuses it otherwise (Simulation._step_listen()).
        local = local or addr.is_multicast or self._broadcast(addr)
        if not local:
            # inet_addr_type_table() says RTN_LOCAL for the host's own addresses, and for all of 127/8
            # once lo has 127.0.0.1/8 (its local route is the whole /8, fib_add_ifaddr()).
            own = sorted(self.mine, key=int)
            have = ["0.0.0.0", *([f"one of its own addresses ({', '.join(map(str, own))})"] if own else [])]
            have += ["any address in 127.0.0.0/8"] if self.loopback else []
            have += [f"any address in {net} (on lo)" for net in sorted(self.on_lo)]
            expected = " or ".join([", ".join(have[:-1]), have[-1]] if len(have) > 1 else have)
            raise src.error(
                where,
                f"{self.host} has no address {addr} to listen on at this point; the kernel refuses the bind "
                f"(EADDRNOTAVAIL, Cannot assign requested address); expected {expected}",
            )
        for other, other_port, other_text, shared in self.bound:
            if other_port == port and (other == addr or ANY in (other, addr)) and not (reuseport and shared):
                raise src.error(
                    where,
                    f"{self.host} already listens on {other_text}; the kernel refuses a second listener on "
                    f"{text} (EADDRINUSE, Address already in use): one address, or the wildcard 0.0.0.0, per port",
                )
        self.bound.append((addr, port, text, reuseport))

    def need_namespace(self, where: tuple, src: Source) -> None:
        """Refuse a step in a namespace that does not exist at this point, with what `ip netns exec` says."""
        if self.exists:
            return
        kernel = f'the kernel refuses (Cannot open network namespace "lab-{self.host}": No such file or directory)'
        if self.deleted:
            raise src.error(where, f"{self.host}'s namespace was deleted at step {self.deleted!r}; {kernel}")
        raise src.error(where, f"{self.host} has no namespace yet; {kernel}; expected a netns_add step before this one")

    def close(self, text: str, where: tuple, src: Source) -> None:
        """Closing is the application's own act: there must be a listener it opened on that address and port
        (the lab's runner has nothing to stop otherwise, and a story would narrate a door that never opened)."""
        self.need_namespace(where, src)
        opened = [b[2] for b in self.bound if not b[2].endswith("(sshd)")]
        if text not in opened:
            sshd = "; sshd's 0.0.0.0:22 is a daemon's, not a story's listener" if text == "0.0.0.0:22" else ""
            raise src.error(
                where,
                f"{self.host} has no listener on {text} at this step, so there is nothing to close{sshd}; "
                f"expected one of: {', '.join(dict.fromkeys(opened)) or '(none)'}",
            )
        # One socket closes: of a reuseport group on that address and port, the others still listen
        # (reuseport_detach_sock(), net/core/sock_reuseport.c), and a later close may close them.
        last = max(i for i, b in enumerate(self.bound) if b[2] == text)
        del self.bound[last]


def _validate_unique(s: Scenario, src: Source) -> None:
    macs: dict[str, str] = {}
    addrs: dict[Any, tuple[str, str]] = {}  # address -> (host, interface)

    def claim_mac(mac: str, owner: str, where: tuple) -> None:
        if not is_valid_source(mac):
            raise src.error(
                where,
                f"{mac} is a group or all-zero address (lowest bit of the first byte set, or all zeros); "
                "expected a unicast MAC: Linux refuses to give an interface this address",
            )
        if mac in macs:
            raise src.error(where, f"MAC {mac} is already worn by {macs[mac]}; every badge must be unique")
        macs[mac] = owner

    def claim_addr(text: str | None, host: str, owner: str, where: tuple, duplicate: bool = False) -> None:
        if not text:
            return
        ip = ipaddress.IPv4Interface(text).ip
        if ip in addrs and not (duplicate and addrs[ip][0] != host):
            hint = "" if duplicate else "; if two hosts share it on purpose, say `duplicate: true`"
            raise src.error(where, f"address {ip} is already used by {addrs[ip][1]}{hint}")
        addrs.setdefault(ip, (host, owner))

    for bname, bridge in s.bridges.items():
        where = path_of(bridge)
        claim_mac(s.bridge_mac(bname), f"bridge {bname}", (*where, "mac"))
        claim_addr(bridge.address, bridge.host, f"bridge {bname}", (*where, "address"))
        for pname, port in bridge.ports.items():
            claim_mac(s.port_mac(bname, pname), f"port {bname}.{pname}", (*path_of(port), "mac"))
    for hname, host in s.hosts.items():
        for dev, iface in host.interfaces.items():
            where = path_of(iface)
            claim_mac(s.host_mac(hname, dev), f"{hname}.{dev}", (*where, "mac"))
            claim_addr(iface.address, hname, f"{hname}.{dev}", (*where, "address"), iface.duplicate)


def _validate_steps(s: Scenario, src: Source) -> None:
    seen: set[str] = set()
    sockets = {name: Sockets(s, name) for name in s.hosts}
    firewall = {name: {k: list(getattr(h, k)) for k in FIREWALL_FIELDS} for name, h in s.hosts.items()}
    for name, host in s.hosts.items():
        for text in host.listeners:
            sockets[name].listen(text, (), src)  # checked with its line by _validate_topology
    for step in s.steps:
        where = path_of(step)
        if step.id in seen:
            raise src.error((*where, "id"), f"step id {step.id!r} is used twice")
        seen.add(step.id)
        given = [a for a in ACTIONS if getattr(step, a) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise src.error(
                where,
                f"a step needs exactly one action; found {found}; expected one of: {', '.join(ACTIONS)}",
            )
        action = getattr(step, given[0])
        apath = (*where, given[0])
        by = getattr(action, "by", None)
        if by is not None and by not in s.hosts:
            raise src.error((*apath, "by"), f"{by!r} is not a host; expected one of: {_names(s.hosts)}")
        if isinstance(action, ReachableTime):
            _check_whole_ms(action.seconds, (*apath, "seconds"), src)
        if isinstance(action, Send):
            _validate_send(s, action, apath, src)
        elif isinstance(action, Sends):
            if len(action.frames) < 2:
                raise src.error(
                    (*apath, "frames"), f"{len(action.frames)} frame(s); expected 2 or more (one is a `send`)"
                )
            for i, frame in enumerate(action.frames):
                fpath = (*apath, "frames", i)
                if frame.by not in s.hosts:
                    raise src.error((*fpath, "by"), f"{frame.by!r} is not a host; expected one of: {_names(s.hosts)}")
                _validate_send(s, frame, fpath, src)
        elif isinstance(action, SetPort | SetBridge):
            if action.bridge not in s.bridges:
                raise src.error(
                    (*apath, "bridge"),
                    f"{action.bridge!r} is not a bridge; expected one of: {_names(s.bridges)}",
                )
            if isinstance(action, SetPort) and action.port not in s.bridges[action.bridge].ports:
                # A port an earlier step renames is the reason, not the name: say that first (outsider3's
                # r30), rather than offer the old name, which the kernel would no longer know.
                renamed = next(
                    (e for e in s.steps[: s.steps.index(step)] if e.link_rename and e.link_rename.name == action.port),
                    None,
                )
                if renamed is not None and renamed.link_rename is not None:
                    raise src.error(
                        (*path_of(renamed), "link_rename", "dev"),
                        f"{renamed.link_rename.dev} is a port of {action.bridge}, renamed {action.port!r} here and "
                        f"used by that name at step {step.id!r}; netsim does not model renaming a bridge or its ports",
                    )
                raise src.error(
                    (*apath, "port"),
                    f"bridge {action.bridge} has no port {action.port!r}; "
                    f"expected one of: {_names(s.bridges[action.bridge].ports)}",
                )
        elif isinstance(action, Connect) and action.deadline is not None:
            _check_deadline(s, action, apath, src)
        elif step.action == "listen":
            sockets[by].listen(action.bind, (*apath, "bind"), src, action.may_fail, action.reuseport)
        elif step.action == "close":
            sockets[by].close(action.bind, (*apath, "bind"), src)
        elif step.action == "netns_add":
            if action not in s.hosts or not s.hosts[action].absent:
                absent = [h for h, host in s.hosts.items() if host.absent]
                raise src.error(
                    apath, f"{action!r} is not a host declared with absent: true; expected one of: {_names(absent)}"
                )
        elif step.action == "netns_del" and action not in s.hosts:
            raise src.error(apath, f"{action!r} is not a host; expected one of: {_names(s.hosts)}")
        elif step.action == "route_del" and action.to != "default":
            try:
                ipaddress.IPv4Network(action.to)
            except ValueError:
                raise src.error(
                    (*apath, "to"), f"{action.to!r} is not 'default' or a network like 10.89.0.0/16"
                ) from None
        elif step.action == "link_move" and action.to not in s.hosts:
            raise src.error((*apath, "to"), f"{action.to!r} is not a host; expected one of: {_names(s.hosts)}")
        elif step.action == "link_set" and action.master is not None:
            owned = [b for b, br in s.bridges.items() if br.host == by]
            if action.master not in owned:
                # iproute2 looks the master's name up in `by`'s own namespace (ll_name_to_index()), before the kernel
                # is asked: a bridge of another host is no device there.
                raise src.error(
                    (*apath, "master"),
                    f"{action.master!r} is not a bridge of {by}, so ip refuses in {by}'s namespace (Error: argument "
                    f'"{action.master}" is wrong: Device does not exist); expected one of: {_names(owned)}',
                )
        elif isinstance(action, Masquerade):
            _check_masquerade(s, by, action.saddr, action.oifname, apath, src)
        elif isinstance(action, SshForward):
            _check_ssh_forward(s, action, apath, src, sockets[by])
        elif isinstance(action, Publish):
            to_ip = action.to.rsplit(":", 1)[0]
            if s.publish_subnet(by, to_ip) is None:
                nets = [br.address for br in s.bridges.values() if br.host == by and br.address]
                raise src.error(
                    (*apath, "to"),
                    f"{to_ip} is on none of {by}'s bridges' networks; expected an address in one of: "
                    f"{_names(nets) if nets else '(none: ' + by + ' holds no bridge with an address)'}",
                )
        elif isinstance(action, FirewallDel):
            sockets[by].need_namespace((*apath, "by"), src)  # the namespace first, as `ip netns exec` fails first
            rules = firewall[by].get(action.rule, [])
            if action.port not in rules:
                raise src.error(
                    (*apath, "port"),
                    f"{by} has no {action.rule} rule for port {action.port} at this step; the kernel refuses "
                    f"(Could not process rule: No such file or directory); expected one of: {_names(map(str, rules))}",
                )
            rules.remove(action.port)
        elif isinstance(action, ReachableTime) and action.dev not in [*_devices(s)[by], "lo"]:
            raise src.error(
                (*apath, "dev"), f"{by} has no interface {action.dev!r}; expected one of: {_names(_devices(s)[by])}"
            )
        elif isinstance(action, RouteLocalnet) and action.dev not in s.static_devs(by) and action.dev != "lo":
            raise src.error(
                (*apath, "dev"), f"{by} has no interface {action.dev!r}; expected one of: {_names(s.static_devs(by))}"
            )
        for field_name in {"veth_add": ("name", "peer"), "link_rename": ("name",)}.get(step.action, ()):
            name = getattr(action, field_name)
            # `ip link set lo name lo` is the one use of the name that stands: netif_change_name() returns 0
            # when the name is the device's own (net/core/dev.c).
            itself = step.action == "link_rename" and action.dev == name
            if not IFNAME_RE.fullmatch(name) or (name == "lo" and not itself):
                raise src.error((*apath, field_name), _bad_ifname(name))
        if step.action == "veth_add" and action.name == action.peer:
            raise src.error(
                (*apath, "peer"),
                f"{action.peer!r} is also the name of the other end, in the same namespace; the kernel refuses a "
                "second device by that name (EEXIST, File exists); expected two names",
            )
        _follow_addresses(step, sockets)
    _validate_real_time(s, src)


def _check_deadline(s: Scenario, c: Connect, where: tuple, src: Source) -> None:
    """An application deadline too close to the kernel's own SYN timeout is a race the lab cannot
    replay: which of the two fires first would depend on the machine's load."""
    from netsim.tcp import retransmit_times, syn_timeout

    deadline = c.deadline
    assert deadline is not None  # checked only for a connect that has one
    retries = s.hosts[c.by].tcp_syn_retries
    kernel = syn_timeout(retries)
    if abs(deadline - kernel) < 1:
        raise src.error(
            (*where, "deadline"),
            f"{deadline:g} s is within a second of {c.by}'s own SYN timeout ({kernel:g} s); expected a deadline "
            "at least a second shorter or longer, so that it is clear which gives up first",
        )
    close = [t for t in retransmit_times(retries) if abs(t - deadline) < 0.25]
    if close:
        raise src.error(
            (*where, "deadline"),
            f"{deadline:g} s is within a quarter of a second of a retransmitted SYN (at {close[0]:g} s); "
            "expected a deadline clear of the SYNs, so that it is clear whether that SYN goes out",
        )


def _check_ssh_forward(s: Scenario, fwd: SshForward, where: tuple, src: Source, sockets: Sockets) -> None:
    """The server must be a host running sshd; the listener is tracked like any other socket
    (its bind may fail: that is an outcome the step shows, as ssh reports it)."""
    from netsim.sshforward import bind_addresses, parse

    servers = {str(a.ip): name for name, h in s.hosts.items() if h.sshd for a in s.addresses(name) if not h.absent}
    if fwd.server not in servers:
        have = ", ".join(f"{addr} ({name})" for addr, name in sorted(servers.items())) or "none"
        raise src.error(
            (*where, "server"), f"no host with `sshd: true` has the address {fwd.server}; expected one of: {have}"
        )
    if servers[fwd.server] == fwd.by:
        raise src.error((*where, "server"), f"{fwd.by} would tunnel to itself; expected another host's sshd")
    forward = parse(fwd.forward)
    assert forward is not None  # the schema checked the shape
    addr, _ = bind_addresses(forward, fwd.gateway_ports)
    sockets.listen(f"{addr}:{forward.port}", (*where, "forward"), src, may_fail=True)


def _validate_real_time(s: Scenario, src: Source) -> None:
    """The lab and the reader's script replay the steps in real time: bound the worst case.

    A wait takes its seconds; a connect (an ssh_forward's too: ssh's connect() to its server) at most
    the host's SYN timeout (tcp.syn_timeout); a resolve at most every try of the C library timing out
    (resolver.longest).
    """
    from netsim.tcp import syn_timeout

    total = 0.0
    for step in s.steps:
        if step.wait is not None:
            total += step.wait
        elif step.connect is not None:
            kernel = syn_timeout(s.hosts[step.connect.by].tcp_syn_retries)
            total += min(kernel, step.connect.deadline or kernel)
        elif step.ssh_forward is not None:  # ssh's own connect() to the server
            total += syn_timeout(s.hosts[step.ssh_forward.by].tcp_syn_retries)
        elif step.resolve is not None:
            from netsim.resolver import longest

            total += longest(s.hosts[step.resolve.by].nameservers)
        if total > MAX_REAL_SECONDS:
            raise src.error(
                path_of(step),
                f"by this step the scenario may take {total:g} s of real time in the lab and the reader's script "
                f"(waits plus the connects' SYN timeouts); expected at most {MAX_REAL_SECONDS:g} s",
            )


def _devices(s: Scenario) -> dict[str, list[str]]:
    """Every interface a host may have at some step, gathered in one pass over the steps."""
    cached = s.__dict__.get("_devices_by_host")
    if cached is None:
        cached = {h: s.static_devs(h) for h in s.hosts}
        # Interfaces that steps create, move in or rename: whether they exist yet, the simulation says.
        for st in s.steps:
            if st.veth_add and st.veth_add.by in cached:
                cached[st.veth_add.by] += [st.veth_add.name, st.veth_add.peer]
            if st.link_move and st.link_move.to in cached:
                cached[st.link_move.to].append(st.link_move.dev)
            if st.link_rename and st.link_rename.by in cached:
                cached[st.link_rename.by].append(st.link_rename.name)
        s.__dict__["_devices_by_host"] = cached
    return cached


def _follow_addresses(step: Step, sockets: dict[str, Sockets]) -> None:
    """Keep each host's bindable addresses in step with the story."""
    if step.netns_add:
        sockets[step.netns_add].exists = True  # lo is down and bare in a new namespace
        sockets[step.netns_add].deleted = ""
        sockets[step.netns_add].loopback = sockets[step.netns_add].table = False
    elif step.link_set and step.link_set.dev == "lo" and step.link_set.up:
        sockets[step.link_set.by].loopback = True  # lo gets 127.0.0.1/8 when it first comes up
        sockets[step.link_set.by].table = True
    elif step.addr_add:
        sockets[step.addr_add.by].table = True
        sockets[step.addr_add.by].mine.add(ipaddress.IPv4Interface(step.addr_add.address).ip)
        sockets[step.addr_add.by].ifaddrs.add(ipaddress.IPv4Interface(step.addr_add.address))
        if step.addr_add.dev == "lo":
            sockets[step.addr_add.by].on_lo.add(ipaddress.IPv4Interface(step.addr_add.address).network)
    elif step.addr_del:
        sockets[step.addr_del.by].mine.discard(ipaddress.IPv4Interface(step.addr_del.address).ip)
        sockets[step.addr_del.by].ifaddrs.discard(ipaddress.IPv4Interface(step.addr_del.address))
        if step.addr_del.dev == "lo":
            sockets[step.addr_del.by].on_lo.discard(ipaddress.IPv4Interface(step.addr_del.address).network)
    elif step.netns_del:
        sockets[step.netns_del].exists = False
        sockets[step.netns_del].deleted = step.id
        sockets[step.netns_del].bound = []


def _bad_ifname(name: str) -> str:
    return bad_ifname(name)


def _validate_send(s: Scenario, send: Send, where: tuple, src: Source) -> None:
    devs = _devices(s)[send.by]
    if send.dev is not None and send.dev not in devs:
        raise src.error(
            (*where, "dev"),
            f"{send.by} has no interface {send.dev!r}; expected one of: {_names(devs)}",
        )
    if not devs:
        # A packet socket sends on one device (packet_snd()); lo is not one a step sends frames on.
        raise src.error(
            where,
            f"{send.by} has no interface (other than lo) to send a frame on at any step; expected an interface "
            f"of {send.by}'s under interfaces:, or one a veth_add or link_move step gives it",
        )
    if send.dev is None and len(devs) != 1:
        raise src.error(where, f"{send.by} has {len(devs)} interfaces; say which with dev:")
    if send.dst != "broadcast" and normalise_mac(send.dst) is None and send.dst not in s.hosts:
        raise src.error(
            (*where, "dst"),
            f"{send.dst!r} is not a MAC, a host or 'broadcast'; expected one of: broadcast, {_names(s.hosts)}",
        )
    if send.dst in s.hosts and normalise_mac(send.dst) is None and not s.static_devs(send.dst):
        # host_mac() names a host by its first interface in the file; one made by steps has none there.
        raise src.error(
            (*where, "dst"),
            f"{send.dst} has no interface in the file, so its name is no MAC; expected a MAC (such as "
            f"{_a_mac(s)}) or a host with an interface of its own",
        )
    if send.arp is not None and send.syn is not None:
        raise src.error((*where, "syn"), "a frame carries one packet: an arp or a syn, not both")


def _a_mac(s: Scenario) -> str:
    """A MAC of the scenario to show in a message, as an example of what `dst:` takes."""
    for name, host in s.hosts.items():
        for dev in host.interfaces:
            return s.host_mac(name, dev)
    return "02:00:00:00:00:01"


def _names(items: Any) -> str:
    return ", ".join(sorted(items)) or "(none)"
