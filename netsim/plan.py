"""The plan: a scenario turned into kernel operations, once, for the lab and the reader alike.

Each operation is an argument vector (a tuple of str), never a shell string. The lab executes
the plan (netsim.lab.runner); the reader's try-it script is the same plan printed with
`shlex.join` (netsim.render.labscript), the one place anything is quoted for a shell.

An operation's first word is one of:

- `ip`, `bridge`, `sleep`: real programs, run as they are by the lab and by the script;
- one of HELPERS: a small action iproute2 cannot express (a raw frame, an ARP question, a TCP
  connect or listener). The script defines each as a shell function; the lab performs it in
  Python with the same arguments;
- one of SHOWS (only in operations marked `show`): what the script prints for the reader. The
  lab skips them, because it reads the same tables itself after every step.

Free text from a scenario (titles, labels, descriptions) reaches the plan only through
`one_line()`, reduced to letters, digits and a little punctuation.

Adding a step kind: write one function below decorated with `@step_kind("name")` that
returns the step's operations. The lab and the script need nothing more unless the step needs a
new helper (then add it to HELPERS, to the script's header and to the lab's `_helper_*`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netsim.addresses import BROADCAST, derived_mac, normalise_mac, refuses_as_address
from netsim.scenario import PORT_DEFAULTS, Port, Scenario, Step, declared_port_flags
from netsim.schema import DNS_NAME_FORMAT, DNS_NAME_LIMIT

# Shell functions of the try-it script that the lab performs in Python.
HELPERS = (
    "send_frame",
    "set_address",
    "add_veth",
    "ask_arp",
    "knock",
    "listen_on",
    "close_on",
    "close_all",
    "route_get",
    "start_sshd",
    "ssh_forward",
    "etc_files",
    "etc_hosts",
    "etc_nameserver",
    "dns_server",
    "resolve_name",
)
# Shell functions and commands the script runs only to show the reader a table.
# mark_clock prints the script's own clock (when a step began, when its tables were read);
# mark_reachable the REACHABLE lifetimes the kernel drew (the test replays netsim with them).
SHOWS = (
    "show_fdb",
    "show_links",
    "show_neigh",
    "show_listeners",
    "show_hosts",
    "show_conntrack",
    "echo",
    "ip",
    "sleep",
    "mark_clock",
    "mark_reachable",
)
PROGRAMS = ("ip", "bridge", "sleep", "sysctl")  # sysctl only ever in the private room itself
NS_PREFIX = "lab-"
# What a line of the plan's nftables batches may hold: keywords, names, addresses, numbers, the
# chain specs' braces and semicolons. No quote, `#`, `$`, backslash or newline: a scenario's value
# that reached a rule with one would change the rule set's meaning, so it is refused here too
# (the scenario's reader validated every value first).
NFT_LINE = re.compile(r"[A-Za-z0-9_.:/&|=!{}; -]+")
# Seconds for links to come up before the first step: linkwatch tells a bridge of a new port's
# carrier up to a second late (net/core/link_watch.c), and until then the port drops what it gets.
SETTLE = "1.5"

SYN_RETRIES_DEFAULT = 6  # TCP_SYN_RETRIES, what a new namespace starts with
REACHABLE_DEFAULT = 30.0  # seconds, neigh.default.base_reachable_time


@dataclass(frozen=True)
class Op:
    """One operation: an argument vector, and a note for the reader made from names only."""

    argv: tuple[str, ...]
    note: str = ""
    show: bool = False  # printed by the script for the reader; the lab observes on its own
    # Lines the program reads on its standard input (only `nft -f -`, see nft_batch()): the lab
    # passes them on a pipe, the script with `printf '%s\n' LINE... |`, each line quoted by shlex.
    stdin: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for arg in self.argv:
            if not isinstance(arg, str) or "\0" in arg:
                raise ValueError(f"operation argument {arg!r} is not text without NUL")
        if self.stdin and self.argv[-3:] != ("nft", "-f", "-"):
            raise ValueError(f"only `nft -f -` reads lines from the plan, not {self.argv!r}")
        for text in self.stdin:
            if not isinstance(text, str) or not NFT_LINE.fullmatch(text):
                raise ValueError(f"nftables line {text!r} has a character outside the plan's nftables words")
        if self.argv and not self.show and self.argv[0] not in (*PROGRAMS, *HELPERS):
            raise ValueError(f"{self.argv[0]!r} is not a program or helper the lab can run")
        if self.argv and self.show and self.argv[0] not in SHOWS:
            raise ValueError(f"{self.argv[0]!r} is not something the script shows")


def ns(host: str) -> str:
    """The name of a host's network namespace, in the lab and in the script."""
    return NS_PREFIX + host


def run(*argv: str, note: str = "") -> Op:
    return Op(tuple(argv), one_line(note))


def show(*argv: str) -> Op:
    return Op(tuple(argv), show=True)


def comment(text: str) -> Op:
    return Op((), one_line(text), show=True)


_UNSAFE = re.compile(r"[^A-Za-z0-9 ,.:()/_+=\u2019-]")


def one_line(text: str, limit: int = 80) -> str:
    """Free text reduced to a safe one-line form: a whitelist of characters, a bounded length.

    Whitespace runs (newlines too) become one space; an apostrophe becomes a typographic one;
    anything else outside the whitelist becomes '?'.
    """
    flat = _UNSAFE.sub("?", " ".join(text.replace("'", "\u2019").split()))
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def ip(host: str, *args: str, note: str = "") -> Op:
    return run("ip", "-n", ns(host), *args, note=note)


def bridge(host: str, *args: str, note: str = "") -> Op:
    return run("bridge", "-n", ns(host), *args, note=note)


def sysctl(host: str, *settings: str, note: str = "") -> Op:
    return run("ip", "netns", "exec", ns(host), "sysctl", "-qw", *settings, note=note)


def seconds(value: float) -> str:
    """A duration for `sleep`, to the millisecond (the lab sleeps the same string)."""
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


# --- Names: each host's own /etc files and DNS servers ---------------------------------------

# Where each host's /etc/hosts, /etc/resolv.conf, /etc/nsswitch.conf and /etc/host.conf are kept, in the private /run
# of the lab and of the script; a resolve binds them over /etc in a mount namespace of its own, so the
# machine's /etc is never written (`ip netns exec` would read /etc/netns/NAME/, which is the machine's).
ETC_DIR = "/run/bottom-six-etc"
NSSWITCH = "hosts: files dns"
# The one program a resolve runs, in both the lab and the script: the C library's getaddrinfo() for
# IPv4 inside the host, printing one JSON line. Fixed text; the name arrives as an argument.
RESOLVE_PY = """import json, os, socket, sys, time
name = sys.argv[1]
words = {socket.EAI_NONAME: "not-found", socket.EAI_NODATA: "no-data", socket.EAI_AGAIN: "try-again"}
started = time.monotonic()  # CLOCK_MONOTONIC: the same clock the lab reads, across processes
if "START_US" in os.environ:  # the try-it script's clock (its mark_clock lines): when the question left
    us = time.time_ns() // 1000 - int(os.environ["START_US"])
    print(f"# at {us // 1000000}.{us % 1000000:06d} s: first packet leaves", flush=True)
try:
    found = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    said = {"name": name, "address": found[0][4][0], "error": None}
except socket.gaierror as exc:
    said = {"name": name, "address": None, "error": words.get(exc.errno, exc.strerror), "text": exc.strerror}
said["seconds"] = round(time.monotonic() - started, 3)
said["started"] = started
print(json.dumps(said))
"""
# Binds a host's files over /etc in a fresh private mount namespace, then runs a command inside the host.
# host.conf says `multi on` (as Debian, Ubuntu and Fedora ship it): with it, a lookup for IPv4 gets
# every /etc/hosts line naming the name, not the first (nss_files gethostbyname3_r(), HCONF_FLAG_MULTI),
# and getaddrinfo() sorts them (netsim.resolver). A machine with no /etc/host.conf has no file to
# cover, and glibc's default (multi off) applies there.
HOST_CONF = "multi on"
BIND_ETC = (
    "for f in hosts resolv.conf nsswitch.conf host.conf; do "
    '[ "$f" != host.conf ] || [ -e /etc/host.conf ] || continue; '
    'mount --bind "$1/$f" "/etc/$f"; done; shift; exec ip netns exec "$@"'
)


def dns_name(name: str) -> str:
    """A name checked again where it is written into a file or onto a command line (the reader checked it)."""
    if len(name) > DNS_NAME_LIMIT or not re.fullmatch(DNS_NAME_FORMAT.pattern or "", name):
        raise ValueError(f"{name!r} is not a host name; refusing to write it")
    return name


def ipv4(text: str) -> str:
    return str(ipaddress.IPv4Address(text))  # raises ValueError for anything else


def resolve_argv(host: str, name: str, program: str = RESOLVE_PY) -> tuple[str, ...]:
    """getaddrinfo() inside `host` with its own /etc files: the argument vector both lab and script run."""
    return (
        *("unshare", "--mount", "--propagation", "private", "--", "bash", "-c", BIND_ETC, "-"),
        *(f"{ETC_DIR}/{host}", ns(host), "python3", "-c", program, dns_name(name)),
    )


HOST_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


def dnsmasq_argv(listen: str, records: tuple[str, ...] | list[str]) -> list[str]:
    """dnsmasq as aardvark-dns's stand-in: only LISTEN:53, no upstream, no /etc/hosts, the records
    given as NAME=ADDRESS, and NXDOMAIN for every other name (`local=/#/`: every domain is local)."""
    argv = ["dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces"]
    argv += [f"--listen-address={ipv4(listen)}", "--port=53", "--local=/#/", "--user=root", "--pid-file="]
    for record in records:
        name, _, address = record.partition("=")
        argv.append(f"--host-record={dns_name(name)},{ipv4(address)}")
    return argv


def name_files(s: Scenario) -> list[Op]:
    """Every host's /etc files, written before any namespace is used to resolve a name."""
    out = [comment("--- Names: each host's own /etc/hosts and /etc/resolv.conf ---")]
    for host, h in s.hosts.items():
        out.append(run("etc_files", host, note=f"{host}: {NSSWITCH}"))
        for line in h.hosts_file:
            out.append(run("etc_hosts", host, ipv4(line.address), *(dns_name(n) for n in line.names)))
        for server in h.nameservers:
            out.append(run("etc_nameserver", host, ipv4(server)))
    return out


def dns_servers(s: Scenario) -> list[Op]:
    out = []
    for host, h in s.hosts.items():
        for server in h.dns_servers:
            records = [f"{dns_name(name)}={ipv4(addr)}" for name, addr in server.records.items()]
            argv = [*dnsmasq_argv(server.listen, records), "--keep-in-foreground"]
            out.append(run("dns_server", host, ipv4(server.listen), *argv, note=f"a DNS server in {host}"))
    return out


# --- The room: what exists before the first step -------------------------------------------


# IPv4 per-device settings whose kernel default (0) netsim models, pinned in every namespace.
INHERITED = ("arp_ignore", "arp_announce", "arp_filter", "arp_accept", "arp_notify", "accept_local", "proxy_arp")


def netns(s: Scenario, host: str) -> list[Op]:
    """A host's namespace: made, IPv6 off (its neighbour discovery would teach the bridge behind
    the scenario's back), and its TCP SYN retries when the scenario changes them."""
    h = s.hosts[host]
    out = [
        run("ip", "netns", "add", ns(host), note=f"{host}: a network namespace of its own"),
        sysctl(host, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", note="no IPv6"),
        # The kernel's own default, whatever the machine set (systemd sets 1): deleting a primary
        # address deletes its secondaries too (__inet_del_ifa(), net/ipv4/devinet.c).
        sysctl(host, "net.ipv4.conf.all.promote_secondaries=0", "net.ipv4.conf.default.promote_secondaries=0"),
        # Likewise reverse-path filtering: off, as netsim models it (systemd sets 2, and a new
        # namespace copies init_net's IPv4 settings, net.core.devconf_inherit_init_net 0); with it
        # on, a source with no route back is a martian (fib_validate_source(), fib_frontend.c).
        sysctl(host, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"),
        # And the rest of what a new namespace copies from the machine's own IPv4 settings
        # (devinet_init_net(), net/ipv4/devinet.c): the kernel's defaults, which netsim models,
        # whatever the machine set (Docker and Podman turn ip_forward on; hardening guides change
        # arp_ignore and arp_announce). Forwarding comes on only where the scenario says so.
        sysctl(
            host, "net.ipv4.ip_forward=0", *(f"net.ipv4.conf.{w}.{k}=0" for w in ("all", "default") for k in INHERITED)
        ),
        # ICMP redirects off: netsim does not model them (the `redirects` simplification).
        sysctl(host, "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0"),
    ]
    if h.tcp_syn_retries != SYN_RETRIES_DEFAULT:
        out.append(sysctl(host, f"net.ipv4.tcp_syn_retries={h.tcp_syn_retries}"))
    return out + conntrack_timeouts(host, h.conntrack_timeouts.changed())


# The sysctl behind each field of a host's conntrack_timeouts (nf_ct_sysctl_table[], nf_conntrack_standalone.c).
CT_SYSCTLS = {
    "syn_sent": "nf_conntrack_tcp_timeout_syn_sent",
    "syn_recv": "nf_conntrack_tcp_timeout_syn_recv",
    "established": "nf_conntrack_tcp_timeout_established",
    "close": "nf_conntrack_tcp_timeout_close",
    "unacknowledged": "nf_conntrack_tcp_timeout_unacknowledged",
    "udp": "nf_conntrack_udp_timeout",
    "udp_stream": "nf_conntrack_udp_timeout_stream",
}
# A rule that needs conntrack, added and deleted in one transaction: nft_ct's `ct state` makes nftables load
# nf_conntrack where it is a module (nft_request_module()), whose pernet init registers the namespace's
# net.netfilter sysctls; the table goes with the same batch (nf_ct_netns_put()), so no hook stays behind.
CT_LOAD = [
    ("add", "table", "ip", "labct"),
    ("add", "chain", "ip", "labct", "load"),
    ("add", "rule", "ip", "labct", "load", "ct", "state", "established"),
    ("delete", "table", "ip", "labct"),
]


def conntrack_timeouts(host: str, changed: dict[str, int]) -> list[Op]:
    """A host's conntrack timeouts away from the kernel's, in its own namespace (the sysctls are per
    namespace), before anything there is tracked."""
    if not changed:
        return []
    settings = [f"net.netfilter.{CT_SYSCTLS[key]}={int(value)}" for key, value in changed.items()]
    return [
        nft_batch(host, CT_LOAD, note="conntrack loaded, for its sysctls"),
        sysctl(host, *settings, note=f"{host}'s conntrack timeouts"),
    ]


def reachable_time(s: Scenario, host: str, dev: str) -> list[Op]:
    """A host's reachable time, on one of its devices: the sysctl is per device, and a namespace
    has no `default` of its own for a new device to inherit, so every device gets it."""
    h = s.hosts[host]
    if h.reachable_time == REACHABLE_DEFAULT:
        return []
    return [sysctl(host, f"net.ipv4.neigh.{dev}.base_reachable_time_ms={round(h.reachable_time * 1000)}")]


def port_flags(owner: str, port: str, flags: Any, *, changed_only: bool) -> list[Op]:
    """`bridge link set` for the flags given (a Port's non-defaults, or a set_port step's)."""
    # The plan states only the flags a `ports:` entry changes from a new port's (declared_port_flags());
    # a set_port step's, all it gives (None: left as they are).
    stated = (
        declared_port_flags(flags)
        if changed_only
        else {k: v for k in PORT_DEFAULTS if (v := getattr(flags, k)) is not None}
    )
    args = [word for key, value in stated.items() for word in (key, "on" if value else "off")]
    return [bridge(owner, "link", "set", "dev", port, *args)] if args else []


# How each firewall list of a host is written as an nftables verdict. In an `inet` table, `icmpx`
# names a reject that nft_reject_inet turns into ICMP code 13 for IPv4 (admin-prohibited).
VERDICTS = {
    "drop_tcp_ports": ("drop",),
    "reject_tcp_ports": ("reject", "with", "icmp", "type", "port-unreachable"),
    "reset_tcp_ports": ("reject", "with", "tcp", "reset"),
    "prohibit_tcp_ports": ("reject", "with", "icmpx", "type", "admin-prohibited"),
}


def nft_batch(host: str, commands: list[tuple[str, ...]], note: str = "") -> Op:
    """nftables commands as one transaction inside the host's namespace: `nft -f -` reads them on
    its standard input and applies all or none (one netlink batch, nf_tables_commit()), in one
    process instead of one `ip netns exec nft` per rule. Each command is the argument vector
    `nft` would take (nft joins its arguments with spaces and parses the line, so the words are the
    same); NFT_LINE checks every line."""
    return Op(("ip", "netns", "exec", ns(host), "nft", "-f", "-"), one_line(note), stdin=tuple(map(" ".join, commands)))


def firewall_rules(ports: dict[str, list[int]]) -> list[tuple[str, ...]]:
    """The input chain's rules, in VERDICTS' order (the first rule that matches decides)."""
    commands: list[tuple[str, ...]] = []
    for key, verdict in VERDICTS.items():
        for port in ports.get(key, []):
            rule = ("iifname", "!=", "lo", "tcp", "dport", str(port), *verdict)
            commands.append(("add", "rule", "inet", "lab", "input", *rule))
    return commands


def firewall(host: str, ports: dict[str, list[int]]) -> list[Op]:
    """An nftables input filter inside the host's own namespace, nowhere else."""
    commands: list[tuple[str, ...]] = [
        ("add", "table", "inet", "lab"),
        ("add", "chain", "inet", "lab", "input", "{ type filter hook input priority 0; policy accept; }"),
        *firewall_rules(ports),
    ]
    return [
        # br_netfilter (loaded wherever Docker runs) would pass bridged frames through these rules
        # too, and make `reject with tcp reset` send its RST straight out of the port the SYN came
        # in by, past the bridge and the ARP table (nf_send_reset(), nf_reject_ipv4.c). netsim models
        # a machine without it; the setting is per namespace, and -e lets a machine without the
        # module skip it.
        run("ip", "netns", "exec", ns(host), "sysctl", "-qew", "net.bridge.bridge-nf-call-iptables=0"),
        nft_batch(host, commands, note=f"{host}'s firewall"),
    ]


def nat_table() -> list[tuple[str, ...]]:
    """A nat chain on the postrouting hook (`add` is idempotent: a second masquerade keeps it)."""
    chain = "{ type nat hook postrouting priority srcnat; policy accept; }"
    return [("add", "table", "ip", "labnat"), ("add", "chain", "ip", "labnat", "postrouting", chain)]


def masquerade(host: str, saddr: str, oifname: str | None) -> list[Op]:
    """One masquerade rule, as nftables writes it: the source becomes the outgoing address."""
    out = ("oifname", oifname) if oifname else ()
    rule = ("add", "rule", "ip", "labnat", "postrouting", "ip", "saddr", saddr, *out, "masquerade")
    return [nft_batch(host, [*nat_table(), rule], note=f"{host}'s nat table")]


# netavark's table and chains (src/firewall/nft.rs): one table for every network it manages.
NV = ("inet", "netavark")
NV_DNAT, NV_SETMARK = "NETAVARK-HOSTPORT-DNAT", "NETAVARK-HOSTPORT-SETMARK"


def dnat_chain(subnet: str) -> str:
    """netavark's per-network chain name, nv_ID_SUBNET_dnat (its ID, a hash, left out here)."""
    return "nv_" + subnet.replace(".", "_").replace("/", "_nm") + "_dnat"


def netavark_base() -> list[tuple[str, ...]]:
    """What netavark writes once per host before any port: the nat base chains, the jump to its
    port chain for every local destination, and masquerade for what is marked 0x2000."""
    chains = (
        ("PREROUTING", "{ type nat hook prerouting priority dstnat; policy accept; }"),
        ("OUTPUT", "{ type nat hook output priority -100; policy accept; }"),
        ("POSTROUTING", "{ type nat hook postrouting priority srcnat; policy accept; }"),
    )
    out: list[tuple[str, ...]] = [("add", "table", *NV)]
    out += [("add", "chain", *NV, name, spec) for name, spec in chains]
    out += [("add", "chain", *NV, name) for name in (NV_DNAT, NV_SETMARK)]
    out += [
        ("add", "rule", *NV, hook, "fib", "daddr", "type", "local", "jump", NV_DNAT)
        for hook in ("PREROUTING", "OUTPUT")
    ]
    out.append(("add", "rule", *NV, "POSTROUTING", "meta", "mark", "&", "0x2000", "==", "0x2000", "masquerade"))
    out.append(("add", "rule", *NV, NV_SETMARK, "meta", "mark", "set", "meta", "mark", "|", "0x2000"))
    return out


def publish(s: Scenario, step: Step, p: Any) -> list[Op]:
    """One published port's rules, as netavark writes them for `-p [HOST_IP:]PORT:TO_PORT`: one
    transaction (netavark too commits its rules in one netlink batch)."""
    to_ip, to_port = p.to.rsplit(":", 1)
    subnet = s.publish_subnet(p.by, to_ip)
    assert subnet is not None  # validated with the scenario
    chain = dnat_chain(subnet)
    earlier = [st.publish for st in _before(s, step) if st.publish and st.publish.by == p.by]
    out = [] if earlier else netavark_base()
    if not any(s.publish_subnet(p.by, e.to.rsplit(":", 1)[0]) == subnet for e in earlier):
        out.append(("add", "chain", *NV, chain))
    daddr = ("ip", "daddr", p.daddr) if p.daddr else ()
    dport = ("tcp", "dport", str(p.port))
    out.append(("add", "rule", *NV, NV_DNAT, *daddr, *dport, "jump", chain))
    if p.snat:
        for src in (subnet, "127.0.0.1"):
            out.append(("add", "rule", *NV, chain, "ip", "saddr", src, *daddr, *dport, "jump", NV_SETMARK))
    out.append(("add", "rule", *NV, chain, *daddr, *dport, "dnat", "ip", "to", f"{to_ip}:{to_port}"))
    note = f"{p.by}'s netavark rules for port {p.port}"
    return [nft_batch(p.by, out, note=note)]


def _before(s: Scenario, step: Step) -> list[Step]:
    """The steps before `step`."""
    return s.steps[: next(i for i, st in enumerate(s.steps) if st is step)]


def no_bridge_netfilter(host: str) -> Op:
    """br_netfilter (built in here, loaded by Docker elsewhere) hands bridged IPv4 to the host's own
    netfilter hooks, so NAT would touch frames that only cross the bridge. netavark does not rely on
    it and netsim does not model it: off in the host's own namespace (-e: fine where it is absent)."""
    return run("ip", "netns", "exec", ns(host), "sysctl", "-qew", "net.bridge.bridge-nf-call-iptables=0")


def forwarding(host: str, on: bool) -> Op:
    """net.ipv4.ip_forward inside the host's namespace (a new namespace starts with 0)."""
    note = f"{host} {'forwards' if on else 'does not forward'} packets for others"
    return sysctl(host, f"net.ipv4.ip_forward={1 if on else 0}", note=note)


def setup(s: Scenario) -> list[Op]:
    """Every operation that builds the room before the first step, in order."""
    out = [
        comment("--- The room ---"),
        # The private namespace the lab and the script run in holds an empty seat's far end: with
        # IPv6 on, its DAD and MLD frames would flood the bridge and be learned.
        run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"),
    ]
    for host, h in s.hosts.items():
        if not h.absent:
            out += [*netns(s, host), ip(host, "link", "set", "lo", "up")]
    for name, br in s.bridges.items():
        ageing = str(br.ageing_time * 100)  # iproute2 counts centiseconds
        out.append(
            ip(
                br.host,
                "link",
                "add",
                "name",
                name,
                "type",
                "bridge",
                "ageing_time",
                ageing,
                "stp_state",
                "0",
                "mcast_snooping",
                "0",
                note=f"the bridge {name}",
            )
        )
        out.append(ip(br.host, "link", "set", "dev", name, "address", s.bridge_mac(name)))
        out += reachable_time(s, br.host, name)
    made: set[tuple[str, str]] = set()  # cable ends that exist
    for host, h in s.hosts.items():
        if h.absent:
            continue
        for dev, iface in h.interfaces.items():
            if not iface.plug or (host, dev) in made:
                continue
            target, _, end = iface.plug.partition(".")
            if target in s.bridges:
                owner = s.bridges[target].host
                out.append(comment(f"{host}'s cable: {dev} inside {host}, {end} on {target}"))
                out.append(
                    ip(owner, "link", "add", "name", end, "type", "veth", "peer", "name", dev, "netns", ns(host))
                )
                out.append(ip(owner, "link", "set", "dev", end, "address", s.port_mac(target, end)))
                out.append(ip(owner, "link", "set", "dev", end, "master", target))
            elif not s.hosts[target].absent:  # a cable between two hosts, made once, from this side
                out.append(comment(f"a cable from {host} to {target}"))
                out.append(
                    ip(host, "link", "add", "name", dev, "type", "veth", "peer", "name", end, "netns", ns(target))
                )
                made.add((target, end))
            made.add((host, dev))
    for host, dev in sorted(made, key=lambda hd: (list(s.hosts).index(hd[0]), hd[1])):
        out.append(ip(host, "link", "set", "dev", dev, "address", s.host_mac(host, dev)))
    dynamic = s.dynamic_ports()
    for name, br in s.bridges.items():
        for port, flags in br.ports.items():
            if (name, port) in dynamic:
                continue  # a later step plugs it in
            if s.host_at(name, port) is None:
                # An empty seat still needs a device. Its far end stays in the private namespace the
                # lab and the script run in, out of every host's tables.
                out.append(comment(f"an empty seat: {port} on {name}"))
                out.append(run("ip", "link", "add", "name", port, "type", "veth", "peer", "name", f"{port}-x"))
                out.append(run("ip", "link", "set", "dev", f"{port}-x", "up"))
                out.append(run("ip", "link", "set", "dev", port, "netns", ns(br.host)))
                out.append(ip(br.host, "link", "set", "dev", port, "address", s.port_mac(name, port)))
                out.append(ip(br.host, "link", "set", "dev", port, "master", name))
            out += port_flags(br.host, port, flags, changed_only=True)
    for host, h in s.hosts.items():
        if h.absent:
            continue
        for dev, iface in h.interfaces.items():
            if (host, dev) not in made:
                continue
            out += reachable_time(s, host, dev)
            if iface.address:
                out.append(ip(host, "addr", "add", iface.address, "dev", dev))
            out.append(ip(host, "link", "set", "dev", dev, "up"))
    for name, br in s.bridges.items():
        if br.address:
            out.append(ip(br.host, "addr", "add", br.address, "dev", name, note="the host's own seat"))
        out.append(ip(br.host, "link", "set", "dev", name, "up"))
        for port in br.ports:
            if (name, port) not in dynamic:
                out.append(ip(br.host, "link", "set", "dev", port, "up"))
    if s.needs_nft():
        out += [no_bridge_netfilter(host) for host in dict.fromkeys(br.host for br in s.bridges.values())]
    for host, h in s.hosts.items():
        if h.absent:
            continue
        if h.gateway:
            out.append(ip(host, "route", "add", "default", "via", h.gateway))
        for route in h.routes:
            extra = (["via", route.via] if route.via else []) + (["dev", route.dev] if route.dev else [])
            out.append(ip(host, "route", "add", route.to, *extra))
        for text in h.listeners:
            addr, port = text.rsplit(":", 1)
            out.append(run("listen_on", host, addr, port))
        if h.sshd:
            out.append(run("start_sshd", host, note=f"OpenSSH's server in {host}, with keys made for this run"))
        ports = {key: getattr(h, key) for key in VERDICTS if getattr(h, key)}
        if ports:
            out += firewall(host, ports)
        if host in s.forwarding_hosts():
            out.append(forwarding(host, h.ip_forward))
        for rule in h.masquerade:
            out += masquerade(host, rule.saddr, rule.oifname)
    if s.needs_resolver():
        out += name_files(s)
    out += dns_servers(s)
    out.append(settle())
    return out


def settle() -> Op:
    """The script's pause for the links to come up before the first step (the lab waits for them
    instead: netsim.lab.runner)."""
    return run("sleep", SETTLE, note="let the links come up")


# --- Steps: one function per step kind -----------------------------------------------------

StepOps = Callable[[Scenario, Step, Any], list[Op]]
STEP_KINDS: dict[str, StepOps] = {}


def step_kind(action: str) -> Callable[[StepOps], StepOps]:
    """Register the operations of one step kind (the Step field named `action`)."""

    def register(fn: StepOps) -> StepOps:
        STEP_KINDS[action] = fn
        return fn

    return register


def step_ops(s: Scenario, step: Step) -> list[Op]:
    """A step's operations, including what the script shows the reader afterwards."""
    return STEP_KINDS[step.action](s, step, getattr(step, step.action))


def _show_fdb(s: Scenario) -> list[Op]:
    return [show("show_fdb", br.host, name) for name, br in s.bridges.items()]


def present(s: Scenario, step: Step) -> list[str]:
    """The hosts whose namespace exists once `step` has run."""
    lives = s.__dict__.get("_plan_lives")
    if lives is None:  # one pass: each step's index, and the steps that make or delete each host
        lives = ({id(st): i for i, st in enumerate(s.steps)}, {}, {})
        for i, st in enumerate(s.steps):
            if st.netns_add:
                lives[1].setdefault(st.netns_add, []).append(i)
            if st.netns_del:
                lives[2].setdefault(st.netns_del, []).append(i)
        s.__dict__["_plan_lives"] = lives
    at = lives[0].get(id(step), len(s.steps))

    def alive(host: str) -> bool:
        made = [i for i in lives[1].get(host, []) if i <= at]
        gone = [i for i in lives[2].get(host, []) if i <= at]
        born = max(made, default=-1 if not s.hosts[host].absent else None)
        return born is not None and (not gone or max(gone) < born)

    return [h for h in s.hosts if alive(h)]


def _show_links(s: Scenario, step: Step) -> list[Op]:
    return [show("show_links", *present(s, step))]


def _show_neigh(s: Scenario, step: Step) -> list[Op]:
    return [show("show_neigh", *present(s, step))]


@step_kind("netns_add")
def _netns_add(s: Scenario, step: Step, host: str) -> list[Op]:
    return [*netns(s, host), *_show_links(s, step)]  # lo stays down, as in a fresh namespace


@step_kind("veth_add")
def _veth_add(s: Scenario, step: Step, a: Any) -> list[Op]:
    mac = a.mac or derived_mac(f"veth/{a.by}/{a.name}")
    peer_mac = a.peer_mac or derived_mac(f"veth/{a.by}/{a.peer}")
    if refuses_as_address(mac) or refuses_as_address(peer_mac):  # the kernel's refusal is the outcome
        return [run("add_veth", a.by, a.name, mac, a.peer, peer_mac), *_show_links(s, step)]
    add = ip(
        a.by, "link", "add", "name", a.name, "address", mac, "type", "veth", "peer", "name", a.peer, "address", peer_mac
    )
    return [add, *reachable_time(s, a.by, a.name), *reachable_time(s, a.by, a.peer), *_show_links(s, step)]


@step_kind("link_move")
def _link_move(s: Scenario, step: Step, m: Any) -> list[Op]:
    return [
        ip(m.by, "link", "set", "dev", m.dev, "netns", ns(m.to)),
        *reachable_time(s, m.to, m.dev),
        *_show_links(s, step),
    ]


@step_kind("link_rename")
def _link_rename(s: Scenario, step: Step, r: Any) -> list[Op]:
    return [ip(r.by, "link", "set", "dev", r.dev, "name", r.name), *_show_links(s, step)]


@step_kind("link_set")
def _link_set(s: Scenario, step: Step, c: Any) -> list[Op]:
    out: list[Op] = []
    if c.address is not None and refuses_as_address(c.address):  # the kernel's refusal is the outcome
        return [run("set_address", c.by, c.dev, c.address), *_show_links(s, step)]
    if c.address is not None:  # do_setlink() sets the address before master and flags
        out.append(ip(c.by, "link", "set", "dev", c.dev, "address", c.address))
    if c.master is not None:
        out.append(ip(c.by, "link", "set", "dev", c.dev, "master", c.master))
        port: Port | None = s.bridges[c.master].ports.get(c.dev)
        if port is not None:
            out += port_flags(c.by, c.dev, port, changed_only=True)
    if c.up is not None:
        out.append(ip(c.by, "link", "set", "dev", c.dev, "up" if c.up else "down"))
        out.append(run("sleep", "0.05"))
    return [*out, *_show_links(s, step)]


@step_kind("addr_add")
def _addr_add(s: Scenario, step: Step, a: Any) -> list[Op]:
    return [ip(a.by, "addr", "add", a.address, "dev", a.dev), *_show_links(s, step)]


@step_kind("route_add")
def _route_add(s: Scenario, step: Step, r: Any) -> list[Op]:
    return [ip(r.by, "route", "add", r.to, "via", r.via), show("ip", "-n", ns(r.by), "route")]


@step_kind("addr_del")
def _addr_del(s: Scenario, step: Step, a: Any) -> list[Op]:
    return [ip(a.by, "addr", "del", a.address, "dev", a.dev), *_show_links(s, step)]


@step_kind("route_del")
def _route_del(s: Scenario, step: Step, r: Any) -> list[Op]:
    via = ["via", r.via] if r.via else []
    return [ip(r.by, "route", "del", r.to, *via), show("ip", "-n", ns(r.by), "route")]


@step_kind("link_del")
def _link_del(s: Scenario, step: Step, d: Any) -> list[Op]:
    return [ip(d.by, "link", "del", "dev", d.dev), *_show_links(s, step)]


@step_kind("netns_del")
def _netns_del(s: Scenario, step: Step, host: str) -> list[Op]:
    # The lab first closes the host's listening sockets: a socket keeps its namespace alive.
    return [run("close_all", host), run("ip", "netns", "del", ns(host)), *_show_links(s, step)]


@step_kind("nomaster")
def _nomaster(s: Scenario, step: Step, u: Any) -> list[Op]:
    return [ip(u.by, "link", "set", "dev", u.dev, "nomaster"), *_show_links(s, step), *_show_fdb(s)]


@step_kind("send")
def _send(s: Scenario, step: Step, send: Any) -> list[Op]:
    # The script waits a moment before it shows the table; the lab waits in its own watch.
    ops = [_send_frame(s, send), show("sleep", "0.2"), *_show_fdb(s)]
    return ops + (_show_neigh(s, step) if send.arp is not None else [])


@step_kind("sends")
def _sends(s: Scenario, step: Step, burst: Any) -> list[Op]:
    ops = [*(_send_frame(s, send) for send in burst.frames), show("sleep", "0.2"), *_show_fdb(s)]
    return ops + (_show_neigh(s, step) if any(send.arp is not None for send in burst.frames) else [])


def _send_frame(s: Scenario, send: Any) -> Op:
    dev = send.dev or s.default_dev(send.by)
    named = BROADCAST if send.dst == "broadcast" else normalise_mac(send.dst)
    dst = named or s.host_mac(send.dst)
    src = send.src or "self"
    arp: list[str] = []
    if send.arp is not None:  # OP SENDER-MAC SENDER-IP TARGET-MAC TARGET-IP, each checked by the schema
        a = send.arp
        target_mac = a.target_mac or ("00:00:00:00:00:00" if a.op == "request" else dst)
        arp = [a.op, a.sender_mac or src, a.sender_ip, target_mac, a.target_ip]
    elif send.syn is not None:  # syn SRC-IP SRC-PORT DST-IP DST-PORT, each checked by the schema
        (sip, _, sport), (dip, _, dport) = send.syn.src.rpartition(":"), send.syn.dst.rpartition(":")
        arp = ["syn", sip, sport, dip, dport]
    return run("send_frame", send.by, dev, dst, src, *arp)


@step_kind("arp")
def _arp(s: Scenario, step: Step, resolve: Any) -> list[Op]:
    return [run("ask_arp", resolve.by, resolve.target), run("sleep", "0.1"), *_show_fdb(s), *_show_neigh(s, step)]


def _show_conntrack(s: Scenario, step: Step) -> list[Op]:
    natting = {h for h, host in s.hosts.items() if host.masquerade}
    for st in s.steps:
        if st.masquerade:
            natting.add(st.masquerade.by)
        if st.publish:
            natting.add(st.publish.by)
        if st is step:
            break
    return [show("show_conntrack", *sorted(natting))] if natting else []


@step_kind("connect")
def _connect(s: Scenario, step: Step, c: Any) -> list[Op]:
    addr, port = c.to.rsplit(":", 1)
    # Positional after the address and port: source port, TTL, deadline ("0": none), "read".
    extra = [str(c.sport or 0), str(c.ttl or 0)] if c.sport or c.ttl or c.deadline or c.read else []
    extra += [f"{c.deadline:g}" if c.deadline else "0"] if c.deadline or c.read else []
    extra += ["read"] if c.read else []
    return [run("knock", c.by, addr, port, *extra), *_show_fdb(s), *_show_neigh(s, step), *_show_conntrack(s, step)]


@step_kind("ip_forward")
def _ip_forward(s: Scenario, step: Step, c: Any) -> list[Op]:
    return [forwarding(c.by, c.enabled)]


@step_kind("masquerade")
def _masquerade(s: Scenario, step: Step, m: Any) -> list[Op]:
    return [*masquerade(m.by, m.saddr, m.oifname), show("ip", "netns", "exec", ns(m.by), "nft", "list", "ruleset")]


@step_kind("publish")
def _publish(s: Scenario, step: Step, p: Any) -> list[Op]:
    return [*publish(s, step, p), show("ip", "netns", "exec", ns(p.by), "nft", "list", "table", *NV)]


@step_kind("route_localnet")
def _route_localnet(s: Scenario, step: Step, r: Any) -> list[Op]:
    return [sysctl(r.by, f"net.ipv4.conf.{r.dev}.route_localnet={1 if r.enabled else 0}")]


@step_kind("firewall_del")
def _firewall_del(s: Scenario, step: Step, f: Any) -> list[Op]:
    # One transaction (nf_tables_commit()): the chain emptied and the other rules added back, so no
    # packet meets an empty chain in between; what is left is what deleting the one rule leaves.
    left = firewall_rules(s.firewall_after(f.by, step))
    return [
        nft_batch(f.by, [("flush", "chain", "inet", "lab", "input"), *left], note=f"{f.by}'s firewall, one rule less"),
        show("ip", "netns", "exec", ns(f.by), "nft", "list", "chain", "inet", "lab", "input"),
    ]


@step_kind("reachable_time")
def _reachable_time(s: Scenario, step: Step, r: Any) -> list[Op]:
    ms = round(r.seconds * 1000)
    return [
        sysctl(r.by, f"net.ipv4.neigh.{r.dev}.base_reachable_time_ms={ms}"),
        show("ip", "-n", ns(r.by), "ntable", "show", "name", "arp_cache", "dev", r.dev),
    ]


@step_kind("route_get")
def _route_get(s: Scenario, step: Step, r: Any) -> list[Op]:
    return [run("route_get", r.by, r.to)]


@step_kind("ssh_forward")
def _ssh_forward(s: Scenario, step: Step, f: Any) -> list[Op]:
    gateway = "-g" if f.gateway_ports else "no-g"
    return [run("ssh_forward", f.by, f.server, f.forward, gateway, note=f"ssh -N -L {f.forward} in {f.by}")]


@step_kind("resolve")
def _resolve(s: Scenario, step: Step, r: Any) -> list[Op]:
    return [
        run("resolve_name", r.by, dns_name(r.name)),
        *_show_fdb(s),
        *_show_neigh(s, step),
        # The file the resolver read, as `cat` inside the host shows it: last, after the tables were
        # read, so that it delays neither the step's frames nor the reading (their clock is replayed).
        show("show_hosts", r.by),
    ]


@step_kind("listen")
def _listen(s: Scenario, step: Step, sock: Any) -> list[Op]:
    addr, port = sock.bind.rsplit(":", 1)
    return [
        run("listen_on", sock.by, addr, port, *(["reuseport"] if sock.reuseport else [])),
        show("show_listeners", sock.by),
    ]


@step_kind("close")
def _close(s: Scenario, step: Step, sock: Any) -> list[Op]:
    addr, port = sock.bind.rsplit(":", 1)
    return [run("close_on", sock.by, addr, port), show("show_listeners", sock.by)]


@step_kind("wait")
def _wait(s: Scenario, step: Step, wait: float) -> list[Op]:
    return [run("sleep", seconds(wait)), *_show_fdb(s)]


@step_kind("set_port")
def _set_port(s: Scenario, step: Step, c: Any) -> list[Op]:
    return port_flags(s.bridges[c.bridge].host, c.port, c, changed_only=False)


@step_kind("set_bridge")
def _set_bridge(s: Scenario, step: Step, c: Any) -> list[Op]:
    owner = s.bridges[c.bridge].host
    return [
        ip(owner, "link", "set", "dev", c.bridge, "type", "bridge", "ageing_time", str(c.ageing_time * 100)),
        *_show_fdb(s),
    ]


def step_heading(s: Scenario, n: int, step: Step) -> Op:
    """The line the script prints before a step: its number, id and a one-line title."""
    title = one_line(step.title or step.action)
    return show("echo", f"== step {n}/{len(s.steps)} {step.id}: {title}")
