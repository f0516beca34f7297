"""Every kind of bad scenario gets its own message: file, line, field, found, expected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netsim import schema, yamlsource
from netsim.errors import NetsimError, ScenarioError
from netsim.scenario import load_scenario, parse_scenario
from netsim.simulation import run

GOOD = """\
title: t
bridges:
  podman0:
    host: laptop
    address: 10.88.0.1/16
    ports:
      seat3: {label: seat 3}
hosts:
  laptop: {}
  alice:
    interfaces:
      eth0: {mac: aa:42:81:9c:0e:33, address: 10.88.0.3/16, plug: podman0.seat3}
steps:
  - id: hello
    send: {by: alice, dst: broadcast}
"""


def error_for(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "diagrams/bridge.yaml")
    return str(info.value)


def test_the_good_scenario_parses() -> None:
    assert parse_scenario(GOOD).steps[0].id == "hello"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "plug: podman0.seat3}",
            "plug: laptop.eth9}",
            "diagrams/bridge.yaml:12: hosts.alice.interfaces.eth0.plug: host laptop has no interface 'eth9'",
        ),
        (
            "laptop: {}",
            "laptop: {listeners: [10.88.0.1:80], programs: {'10.88.0.1:81': {name: ssh, pid: 2817}}}",
            "diagrams/bridge.yaml:9: hosts.laptop.programs.'10.88.0.1:81': laptop never listens on 10.88.0.1:81; "
            "expected one of its listeners: 10.88.0.1:80",
        ),
        (
            "laptop: {}",
            "laptop: {listeners: [10.88.0.1:80], programs: {'10.88.0.1:80': {name: 'ss\"h', pid: 2817}}}",
            "diagrams/bridge.yaml:9: hosts.laptop.programs.'10.88.0.1:80'.name: 'ss\"h' is not a command name: "
            "a letter or digit, then up to 14 letters, digits, ., - or _ (Linux's comm)",
        ),
        (
            "laptop: {}",
            "laptop: {listeners: [10.88.0.1:80], programs: {'10.88.0.1:80': {name: ssh, pid: 0}}}",
            "diagrams/bridge.yaml:9: hosts.laptop.programs.'10.88.0.1:80'.pid: 0 is out of range; "
            "expected a whole number from 1 to 4194303 (a process id is 1 to PID_MAX_LIMIT - 1 = 4194303 "
            "(include/linux/threads.h, kernel/pid.c))",
        ),
        (
            "laptop: {}",
            "laptop: {listeners: [10.88.0.1:80], programs: {'10.88.0.1:80': {name: ssh, pid: 4194304}}}",
            "diagrams/bridge.yaml:9: hosts.laptop.programs.'10.88.0.1:80'.pid: 4194304 is out of range; "
            "expected a whole number from 1 to 4194303 (a process id is 1 to PID_MAX_LIMIT - 1 = 4194303 "
            "(include/linux/threads.h, kernel/pid.c))",
        ),
        (
            "laptop: {}",
            "laptop: {listeners: [10.88.0.1:80], programs: {'10.88.0.1:80': {name: ssh, pid: 9, fd: 1048576}}}",
            "diagrams/bridge.yaml:9: hosts.laptop.programs.'10.88.0.1:80'.fd: 1048576 is out of range; "
            "expected a whole number from 0 to 1048575 (a file descriptor is 0 to fs.nr_open - 1 = 1048575 "
            "(nr_open's default, fs/file.c))",
        ),
        (  # not a number at all: the range is said as for a number outside it
            "laptop: {}",
            "laptop: {conntrack_timeouts: {syn_sent: ten}}",
            "diagrams/bridge.yaml:9: hosts.laptop.conntrack_timeouts.syn_sent: 'ten' is not a whole number "
            "from 1 to 2147483",
        ),
        (
            "mac: aa:42:81:9c:0e:33",
            "mac: aa:42:81:9c:0e",
            "diagrams/bridge.yaml:12: hosts.alice.interfaces.eth0.mac: "
            "'aa:42:81:9c:0e' is not a MAC address (six hex pairs)",
        ),
        (
            "address: 10.88.0.3/16",
            "address: 10.88.0.300/16",
            "diagrams/bridge.yaml:12: hosts.alice.interfaces.eth0.address: "
            "'10.88.0.300/16' is not an IPv4 address with prefix, like 10.88.0.1/16",
        ),
        (
            "plug: podman0.seat3",
            "plug: podman0.seat4",
            "diagrams/bridge.yaml:12: hosts.alice.interfaces.eth0.plug: "
            "bridge podman0 has no port 'seat4'; expected one of: seat3",
        ),
        (
            "send: {by: alice, dst: broadcast}",
            "send: {by: alicia, dst: broadcast}",
            "diagrams/bridge.yaml:15: steps[0].send.by: 'alicia' is not a host; expected one of: alice, laptop",
        ),
        (
            "  laptop: {}",
            "  laptop: {colour: blue}",
            "diagrams/bridge.yaml:9: hosts.laptop.colour: unknown key; expected one of: absent, conntrack_timeouts, "
            "dns_servers, drop_tcp_ports, gateway, hosts_file, interfaces, ip_forward, label, listeners, masquerade, "
            "nameservers, programs, prohibit_tcp_ports, reachable_time, reject_tcp_ports, reset_tcp_ports, routes, "
            "sshd, tcp_syn_retries",
        ),
        (
            "address: 10.88.0.3/16",
            "address: 10.88.0.1/16",
            "diagrams/bridge.yaml:12: hosts.alice.interfaces.eth0.address: "
            "address 10.88.0.1 is already used by bridge podman0; if two hosts share it on purpose, "
            "say `duplicate: true`",
        ),
        (
            "mac: aa:42:81:9c:0e:33",
            "mac: bb:11:22:33:44:55",
            "diagrams/bridge.yaml:12: hosts.alice.interfaces.eth0.mac: bb:11:22:33:44:55 is a group or "
            "all-zero address (lowest bit of the first byte set, or all zeros); expected a unicast MAC: "
            "Linux refuses to give an interface this address",
        ),
        (
            "  - id: hello",
            "  - id: Hello World",
            "diagrams/bridge.yaml:14: steps[0].id: 'Hello World' is not a step id: "
            "up to 64 lower-case letters, digits and -",
        ),
        (
            "    send: {by: alice, dst: broadcast}",
            "    send: {by: alice, dst: broadcast}\n    wait: 3",
            "diagrams/bridge.yaml:14: steps[0]: a step needs exactly one action; found send, wait; expected one "
            "of: send, arp, connect, listen, close, wait, set_port, set_bridge, netns_add, veth_add, link_move, "
            "link_rename, link_set, addr_add, route_add, addr_del, route_del, link_del, netns_del, nomaster, "
            "ip_forward, masquerade, route_get, ssh_forward, publish, route_localnet, resolve, reachable_time, "
            "firewall_del, sends",
        ),
        (
            "  laptop: {}",
            "  laptop: {listeners: [10.88.0.9:80]}",
            "diagrams/bridge.yaml:9: hosts.laptop.listeners[0]: laptop has no address 10.88.0.9 to listen on at "
            "this point; the kernel refuses the bind (EADDRNOTAVAIL, Cannot assign requested address); "
            "expected 0.0.0.0, one of its own addresses (10.88.0.1) or any address in 127.0.0.0/8",
        ),
        (
            "  laptop: {}",
            "  laptop: {listeners: [10.88.0.1]}",
            "diagrams/bridge.yaml:9: hosts.laptop.listeners[0]: '10.88.0.1' is not an IPv4 address and port, "
            "like 10.88.0.1:19001",
        ),
        (
            "    host: laptop",
            "    host: desktop",
            "diagrams/bridge.yaml:4: bridges.podman0.host: 'desktop' is not a host; expected one of: alice, laptop",
        ),
        (
            "send: {by: alice, dst: broadcast}",
            "send: {by: alice, dst: everyone}",
            "diagrams/bridge.yaml:15: steps[0].send.dst: 'everyone' is not a MAC, a host or 'broadcast'; "
            "expected one of: broadcast, alice, laptop",
        ),
        (
            "title: t",
            "title: t\ntitle: u",
            "diagrams/bridge.yaml:2: title: key given twice",
        ),
        (
            "      seat3: {label: seat 3}",
            "      seat3: {label: seat 3, flood: off-ish}",
            "diagrams/bridge.yaml:7: bridges.podman0.ports.seat3.flood: 'off-ish' is not true or false",
        ),
        # What the kernel refuses, check refuses, in the kernel's words.
        (
            "  laptop: {}",
            "  laptop: {listeners: ['0.0.0.0:80', '10.88.0.1:80']}",
            "diagrams/bridge.yaml:9: hosts.laptop.listeners[1]: laptop already listens on 0.0.0.0:80; the kernel "
            "refuses a second listener on 10.88.0.1:80 (EADDRINUSE, Address already in use): one address, or the "
            "wildcard 0.0.0.0, per port",
        ),
        (
            "  - id: hello\n    send: {by: alice, dst: broadcast}",
            "  - id: hello\n    listen: {by: alice, bind: '10.88.0.9:80'}\n"
            "  - id: later\n    addr_add: {by: alice, dev: eth0, address: 10.88.0.9/16}",
            "diagrams/bridge.yaml:15: steps[0].listen.bind: alice has no address 10.88.0.9 to listen on at this "
            "point; the kernel refuses the bind (EADDRNOTAVAIL, Cannot assign requested address); expected "
            "0.0.0.0, one of its own addresses (10.88.0.3) or any address in 127.0.0.0/8",
        ),
        (
            "  alice:\n",
            "  alice:\n    gateway: 10.88.0.1\n    routes: [{to: default, via: 10.88.0.9}]\n",
            "diagrams/bridge.yaml:12: hosts.alice.routes[0].to: alice has a route to default already (its gateway "
            "10.88.0.1); the kernel refuses a second one to the same destination (EEXIST, RTNETLINK answers: File "
            "exists)",
        ),
        (
            # Its connected route is in the main table (a /32's own would be in the local table alone and
            # is no duplicate: corners-route-to-own-slash32).
            "  alice:\n",
            "  alice:\n    routes: [{to: 10.88.0.0/16, dev: eth0}]\n",
            "diagrams/bridge.yaml:11: hosts.alice.routes[0].to: alice has a route to 10.88.0.0/16 already (its "
            "connected route on eth0); the kernel refuses a second one to the same destination (EEXIST, RTNETLINK "
            "answers: File exists)",
        ),
        (
            "  alice:\n",
            "  alice:\n    routes: [{to: 10.89.0.0/16, via: 10.88.0.1}, {to: 10.89.0.0/16, via: 10.88.0.9}]\n",
            "diagrams/bridge.yaml:11: hosts.alice.routes[1].to: alice has a route to 10.89.0.0/16 already (its route "
            "to 10.89.0.0/16 via 10.88.0.1); the kernel refuses a second one to the same destination (EEXIST, "
            "RTNETLINK "
            "answers: File exists)",
        ),
        (
            "  alice:\n",
            "  alice:\n    gateway: 10.89.0.1\n",
            "diagrams/bridge.yaml:11: hosts.alice.gateway: 10.89.0.1 is not on any of its networks "
            "(eth0 10.88.0.0/16); the kernel refuses the route (ENETUNREACH, Nexthop has invalid gateway)",
        ),
        (
            # A route by device alone reaches a gateway for the routes after it, not before it (the lab adds
            # them in order; tests/lab_scenarios/gateway-behind-a-dev-route.yaml has them the right way round).
            "  alice:\n",
            "  alice:\n    routes: [{to: default, via: 10.89.0.1}, {to: 10.89.0.1/32, dev: eth0}]\n",
            "diagrams/bridge.yaml:11: hosts.alice.routes[0].via: 10.89.0.1 is not on any of its networks "
            "(eth0 10.88.0.0/16); the kernel refuses the route (ENETUNREACH, Nexthop has invalid gateway)",
        ),
        (
            "      eth0: {mac: aa:42:81:9c:0e:33, address: 10.88.0.3/16, plug: podman0.seat3}",
            "      eth0: {mac: aa:42:81:9c:0e:33, address: 10.88.0.3/16, plug: podman0.seat3}\n"
            "      eth1: {address: 10.99.0.3/16}",
            "diagrams/bridge.yaml:13: hosts.alice.interfaces.eth1: alice.eth1 is not plugged anywhere, yet the host "
            "has it: a veth interface always has another end; expected plug: 'BRIDGE.PORT' or 'HOST.INTERFACE'",
        ),
        (
            # outsider3's b10: a cable plugged into itself
            "      eth0: {mac: aa:42:81:9c:0e:33, address: 10.88.0.3/16, plug: podman0.seat3}",
            "      eth0: {mac: aa:42:81:9c:0e:33, address: 10.88.0.3/16, plug: alice.eth0}",
            "diagrams/bridge.yaml:12: hosts.alice.interfaces.eth0.plug: alice.eth0 is plugged into itself; a cable "
            "needs two ends, and the kernel refuses a veth whose peer has its own name in its own namespace "
            "(EEXIST, RTNETLINK answers: File exists); expected plug: 'BRIDGE.PORT' or another host's "
            "'HOST.INTERFACE'",
        ),
        (
            "  laptop: {}",
            "  laptop: {drop_tcp_ports: [80], reset_tcp_ports: [81, 80]}",
            "diagrams/bridge.yaml:9: hosts.laptop.reset_tcp_ports[1]: port 80 is already in drop_tcp_ports; "
            "the kernel would load both rules and the first in the chain would answer (nft_do_chain() stops at the "
            "first verdict), but the scenario format has no rule order (a stated limit of netsim); expected each "
            "port in one firewall list only",
        ),
        (
            # Timeouts for a conntrack table nothing fills: the lab drops the table it loads for the sysctls.
            "  laptop: {}",
            "  laptop: {conntrack_timeouts: {unacknowledged: 20}}",
            "diagrams/bridge.yaml:9: hosts.laptop.conntrack_timeouts: laptop tracks no connections (no "
            "masquerade, firewall or published port on it), so its conntrack_timeouts would change nothing; "
            "expected them only on a host that masquerades, filters or publishes a port",
        ),
        (
            "send: {by: alice, dst: broadcast}",
            "reachable_time: {by: alice, dev: eth0, seconds: 0.0019}",
            "diagrams/bridge.yaml:15: steps[0].reachable_time.seconds: 0.0019 s is not a whole number of "
            "milliseconds; expected seconds with at most three decimals (the kernel takes "
            "base_reachable_time_ms, an int of milliseconds)",
        ),
        (
            "  laptop: {}",
            "  laptop: {reachable_time: 12.3456}",
            "diagrams/bridge.yaml:9: hosts.laptop.reachable_time: 12.3456 s is not a whole number of "
            "milliseconds; expected seconds with at most three decimals (the kernel takes "
            "base_reachable_time_ms, an int of milliseconds)",
        ),
        (
            "  laptop: {}",
            "  laptop: {drop_tcp_ports: [82, 82]}",
            "diagrams/bridge.yaml:9: hosts.laptop.drop_tcp_ports[1]: port 82 is in drop_tcp_ports twice; the "
            "kernel would load two identical rules, and a firewall_del would remove only one of them; expected "
            "each port once",
        ),
        (
            "send: {by: alice, dst: broadcast}",
            "connect: {by: alice, to: '10.88.0.1:80', deadline: 131.5}",
            "diagrams/bridge.yaml:15: steps[0].connect.deadline: 131.5 s is within a second of alice's own SYN "
            "timeout (131 s); expected a deadline at least a second shorter or longer, so that it is clear which "
            "gives up first",
        ),
        (
            "send: {by: alice, dst: broadcast}",
            "connect: {by: alice, to: '10.88.0.1:80', deadline: 7.1}",
            "diagrams/bridge.yaml:15: steps[0].connect.deadline: 7.1 s is within a quarter of a second of a "
            "retransmitted SYN (at 7 s); expected a deadline clear of the SYNs, so that it is clear whether that "
            "SYN goes out",
        ),
        (
            "  - id: hello\n    send: {by: alice, dst: broadcast}",
            "  - id: hello\n    veth_add: {by: alice, name: a/b, peer: eth9}",
            "diagrams/bridge.yaml:15: steps[0].veth_add.name: 'a/b' is not a usable interface name: the kernel "
            "refuses it (dev_valid_name(): at most 15 characters, no '/', ':' or space)",
        ),
        (  # 15 characters are the kernel's most: the dot is this project's rule, not the kernel's
            "  - id: hello\n    send: {by: alice, dst: broadcast}",
            "  - id: hello\n    veth_add: {by: alice, name: eth0.123456789a, peer: eth9}",
            "diagrams/bridge.yaml:15: steps[0].veth_add.name: 'eth0.123456789a' is not a usable interface name: the "
            "kernel would take it, but scripts here keep to letters, digits, - and _, starting with a letter",
        ),
        (
            "  - id: hello\n    send: {by: alice, dst: broadcast}",
            "  - id: hello\n    veth_add: {by: alice, name: '..', peer: eth9}",
            "diagrams/bridge.yaml:15: steps[0].veth_add.name: '..' is not a usable interface name: the kernel "
            "refuses it (dev_valid_name(): at most 15 characters, no '/', ':' or space)",
        ),
        (  # what was found is cut to one short line, and says so
            "  - id: hello\n    send: {by: alice, dst: broadcast}",
            "  - id: hello\n    veth_add: {by: alice, name: " + "x" * 70 + ", peer: eth9}",
            "diagrams/bridge.yaml:15: steps[0].veth_add.name: '" + "x" * 56 + "... is not a usable interface name: "
            "the kernel refuses it (dev_valid_name(): at most 15 characters, no '/', ':' or space)",
        ),
        (
            "  - id: hello\n    send: {by: alice, dst: broadcast}",
            "  - id: hello\n    listen: {by: alice, bind: '10.88.0.2:0'}",
            "diagrams/bridge.yaml:15: steps[0].listen.bind: '10.88.0.2:0': port 0 is not modelled (a listener bound "
            "to port 0 gets a free port the kernel picks, inet_csk_get_port(); a SYN to port 0 is answered like one "
            "to a closed port); expected a port from 1 to 65535, like 10.88.0.1:19001",
        ),
        (
            # The kernel takes a broadcast or multicast address (tests/test_kernel_refusals.py); not 10.88.0.0.
            "send: {by: alice, dst: broadcast}",
            "listen: {by: alice, bind: '10.88.0.0:80'}",
            "diagrams/bridge.yaml:15: steps[0].listen.bind: alice has no address 10.88.0.0 to listen on at this "
            "point; the kernel refuses the bind (EADDRNOTAVAIL, Cannot assign requested address); expected "
            "0.0.0.0, one of its own addresses (10.88.0.3) or any address in 127.0.0.0/8",
        ),
        # Names the kernel refuses (issue 12: an outsider's lab runs failed on them; now `check` says so).
        (
            "      eth0: {mac",
            "      all: {mac",
            "diagrams/bridge.yaml:12: hosts.alice.interfaces.all: 'all' is not a usable interface name: the "
            "kernel refuses it (EINVAL, RTNETLINK answers: Invalid argument): net.ipv4.conf.all and .default are "
            "sysctl "
            "directories of their own (devinet_sysctl_register(), net/ipv4/devinet.c)",
        ),
        (
            "  - id: hello\n    send: {by: alice, dst: broadcast}",
            "  - id: hello\n    veth_add: {by: alice, name: default, peer: eth9}",
            "diagrams/bridge.yaml:15: steps[0].veth_add.name: 'default' is not a usable interface name: the "
            "kernel refuses it (EINVAL, RTNETLINK answers: Invalid argument): net.ipv4.conf.all and .default are "
            "sysctl "
            "directories of their own (devinet_sysctl_register(), net/ipv4/devinet.c)",
        ),
        (
            "      seat3: {label: seat 3}",
            "      lo: {label: seat 3}",
            "diagrams/bridge.yaml:7: bridges.podman0.ports.lo: 'lo' is already laptop's loopback, which every "
            "namespace has: the kernel refuses a second interface of one name in a namespace (EEXIST, RTNETLINK "
            "answers: "
            "File exists); expected another name",
        ),
        (
            "      seat3: {label: seat 3}",
            "      seat3: {label: seat 3}\n      podman0: {}",
            "diagrams/bridge.yaml:8: bridges.podman0.ports.podman0: 'podman0' is already laptop's bridge podman0: "
            "the kernel refuses a second interface of one name in a namespace (EEXIST, RTNETLINK answers: File "
            "exists); "
            "expected another name",
        ),
        (
            "laptop: {}",
            "laptop: {interfaces: {seat3: {mac: 02:00:00:00:00:09, plug: alice.eth1}}}",
            "diagrams/bridge.yaml:9: hosts.laptop.interfaces.seat3: 'seat3' is already laptop's port of bridge "
            "podman0: the kernel refuses a second interface of one name in a namespace (EEXIST, RTNETLINK answers: "
            "File "
            "exists); expected another name",
        ),
        (
            "send: {by: alice, dst: broadcast}",
            "send: {by: alice, dst: laptop, arp: {op: request, sender_ip: 10.88.0.3, target_ip: 10.88.0.1}, "
            "syn: {src: '10.88.0.3:4000', dst: '127.0.0.1:80'}}",
            "diagrams/bridge.yaml:15: steps[0].send.syn: a frame carries one packet: an arp or a syn, not both",
        ),
    ],
)
def test_each_mistake_is_named_with_file_and_line(old: str, new: str, message: str) -> None:
    assert old in GOOD
    assert error_for(GOOD.replace(old, new, 1)) == message


def test_conntrack_timeouts_are_taken_on_a_host_whose_rules_track() -> None:
    for rules in ("drop_tcp_ports: [80]", "masquerade: [{saddr: 10.88.0.0/16}]"):
        text = GOOD.replace("  laptop: {}", f"  laptop: {{conntrack_timeouts: {{unacknowledged: 20}}, {rules}}}", 1)
        assert parse_scenario(text).hosts["laptop"].conntrack_timeouts.changed() == {"unacknowledged": 20}


def test_a_unicast_mac_asked_for_is_no_mistake_the_kernel_takes_it() -> None:
    # It used to be refused as unmodelled; netif_set_mac_address() (net/core/dev.c) takes it, and so does netsim.
    text = GOOD.replace(
        "send: {by: alice, dst: broadcast}", "link_set: {by: alice, dev: eth0, address: BA:11:22:33:44:55}"
    )
    step = run(parse_scenario(text, "diagrams/bridge.yaml")).steps[0]
    assert step.outcome is None
    assert step.links["alice"]["eth0"]["mac"] == "ba:11:22:33:44:55"


def test_a_missing_required_field_points_at_its_parent() -> None:
    text = GOOD.replace("    host: laptop\n", "")
    assert (
        error_for(text) == "diagrams/bridge.yaml:4: bridges.podman0.host: missing; "
        "expected a host name: a letter, then up to 31 letters, digits, - or _"
    )


def test_broken_yaml_names_the_line() -> None:
    assert error_for("title: [unclosed\nhosts: {}\n").startswith("diagrams/bridge.yaml:2: not valid YAML")


def test_a_wrong_shape_says_what_was_expected() -> None:
    text = GOOD.split("steps:")[0] + "steps: {}\n"
    assert error_for(text) == "diagrams/bridge.yaml:13: steps: a mapping is not a list of mappings"


def test_yes_no_on_off_get_a_hint() -> None:
    assert "put quotes around it" in error_for(GOOD.replace("id: hello", "id: no"))


def test_two_cables_in_one_seat_are_refused() -> None:
    text = GOOD.replace(
        "steps:",
        "  bob:\n    interfaces:\n      eth0: {mac: ba:11:22:33:44:55, plug: podman0.seat3}\nsteps:",
    )
    assert error_for(text).endswith("podman0.seat3 already has alice.eth0's cable")


# --- mistakes only the simulation can see: the step that cannot happen at that point -------------

ROOMS = """\
title: t
bridges:
  br0:
    host: h
    address: 10.0.0.1/24
    ports:
      p1: {}
      p2: {}
hosts:
  h: {}
  a:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0a", address: 10.0.0.10/24, plug: br0.p1}
  b:
    interfaces:
      eth0: {mac: "02:00:00:00:00:0b", address: 10.0.0.11/24, plug: br0.p2}
  n: {absent: true}
steps:
"""


@pytest.mark.parametrize(
    ("case", "steps", "message"),
    [
        (
            "netns-twice",
            "  - id: made\n    netns_add: n\n  - id: bad\n    netns_add: n\n",
            "bad.yaml:21: steps[1].netns_add: n's namespace exists already",
        ),
        (
            "veth-without-room",
            "  - id: bad\n    veth_add:\n      by: n\n      name: v0\n      peer: v1\n",
            'bad.yaml:21: steps[0].veth_add.by: n has no namespace yet; the kernel refuses (Cannot open network namespace "lab-n": No such file or directory); expected a netns_add step before this one',  # noqa: E501
        ),
        (
            "veth-name-taken",
            "  - id: bad\n    veth_add:\n      by: a\n      name: eth0\n      peer: v1\n",
            "bad.yaml:21: steps[0].veth_add.name: a already has an interface 'eth0'; the kernel refuses a second one "
            "(EEXIST, RTNETLINK answers: File exists)",
        ),
        (
            "move-to-no-room",
            "  - id: bad\n    link_move:\n      by: a\n      dev: eth0\n      to: n\n",
            'bad.yaml:21: steps[0].link_move.to: n has no namespace yet; the kernel refuses (Cannot open network namespace "lab-n": No such file or directory); expected a netns_add step before this one',  # noqa: E501
        ),
        (
            "move-onto-a-name",
            "  - id: bad\n    link_move:\n      by: a\n      dev: eth0\n      to: b\n",
            "bad.yaml:21: steps[0].link_move.dev: b already has an interface 'eth0'; the kernel refuses a second one "
            "(EEXIST, RTNETLINK answers: File exists)",
        ),
        (
            "move-bridge",
            "  - id: bad\n    link_move:\n      by: h\n      dev: br0\n      to: a\n",
            "bad.yaml:21: steps[0].link_move.dev: br0 cannot leave its namespace; the kernel refuses (The interface netns is immutable.)",  # noqa: E501
        ),
        (
            "move-lo",
            "  - id: bad\n    link_move:\n      by: a\n      dev: lo\n      to: h\n",
            "bad.yaml:21: steps[0].link_move.dev: lo cannot leave its namespace; the kernel refuses (The interface netns is immutable.)",  # noqa: E501
        ),
        (
            "move-unknown-dev",
            "  - id: bad\n    link_move:\n      by: a\n      dev: eth7\n      to: h\n",
            "bad.yaml:21: steps[0].link_move.dev: a has no interface 'eth7' at this step; the kernel refuses (Cannot find device \"eth7\"); it has: lo, eth0",  # noqa: E501
        ),
        (
            "rename-onto-a-name",
            "  - id: bad\n    link_rename:\n      by: a\n      dev: eth0\n      name: lo\n",
            "bad.yaml:23: steps[0].link_rename.name: 'lo' is not a usable interface name: every namespace has its own lo already",  # noqa: E501
        ),
        (
            "rename-bridge",  # netsim knows a bridge by its name in the scenario (this crashed it: KeyError)
            "  - {id: down, link_set: {by: h, dev: br0, up: false}}\n"
            "  - id: bad\n    link_rename:\n      by: h\n      dev: br0\n      name: br9\n",
            "bad.yaml:22: steps[1].link_rename.dev: br0 is a bridge; netsim does not model renaming a bridge or its "
            "ports",
        ),
        (
            "rename-port",  # and its ports by theirs (the kernel renames either)
            "  - id: bad\n    link_rename:\n      by: h\n      dev: p1\n      name: p9\n",
            "bad.yaml:21: steps[0].link_rename.dev: p1 is a port of br0; netsim does not model renaming a bridge or "
            "its ports",
        ),
        (
            "addr-twice",
            "  - id: bad\n    addr_add:\n      by: a\n      dev: eth0\n      address: 10.0.0.10/24\n",
            "bad.yaml:21: steps[0].addr_add.address: eth0 has 10.0.0.10/24 already; the kernel refuses it (EEXIST, "
            "File exists; iproute2 prints 'Error: ipv4: Address already assigned.')",
        ),
        (
            # outsider3's r28: the kernel adds the same address with another prefix; netsim cannot hold it
            "addr-other-prefix",
            "  - id: bad\n    addr_add:\n      by: a\n      dev: eth0\n      address: 10.0.0.10/16\n",
            "bad.yaml:21: steps[0].addr_add.address: eth0 has 10.0.0.10/24 already; the kernel would add 10.0.0.10/16 "
            "beside it (another prefix is another entry, __inet_insert_ifa(), net/ipv4/devinet.c), but netsim does "
            "not model one address with two prefixes (a stated limit of netsim); expected another address, or "
            "addr_del 10.0.0.10/24 first",
        ),
        (
            # inetdev_event(NETDEV_UP): lo coming up adds 127.0.0.1/8 beside a 127.0.0.1 of another prefix
            "lo-up-beside-another-loopback-prefix",
            "  - {id: d, addr_del: {by: a, dev: lo, address: 127.0.0.1/8}}\n"
            "  - {id: n, addr_add: {by: a, dev: lo, address: 127.0.0.1/16}}\n"
            "  - {id: dn, link_set: {by: a, dev: lo, up: false}}\n"
            "  - id: bad\n    link_set:\n      by: a\n      dev: lo\n      up: true\n",
            "bad.yaml:24: steps[3].link_set.dev: lo has 127.0.0.1/16; coming up, the kernel would add 127.0.0.1/8 "
            "beside it (another prefix is another entry, __inet_insert_ifa(), net/ipv4/devinet.c), but netsim does "
            "not model one address with two prefixes (a stated limit of netsim); expected addr_del 127.0.0.1/16 first",
        ),
        (
            "ssh-forward-to-no-sshd",  # no host runs sshd: the list of servers says so
            "  - id: bad\n    ssh_forward:\n      by: a\n      server: 10.0.0.11\n"
            "      forward: '19001:127.0.0.1:9001'\n",
            "bad.yaml:22: steps[0].ssh_forward.server: no host with `sshd: true` has the address 10.0.0.11; "
            "expected one of: none",
        ),
        (
            "route-localnet-no-such-dev",
            "  - id: bad\n    route_localnet:\n      by: a\n      dev: eth9\n      enabled: true\n",
            "bad.yaml:22: steps[0].route_localnet.dev: a has no interface 'eth9'; expected one of: eth0",
        ),
        (
            "addr-del-missing",
            "  - id: bad\n    addr_del:\n      by: a\n      dev: eth0\n      address: 10.0.0.11/24\n",
            "bad.yaml:21: steps[0].addr_del.address: eth0 has no 10.0.0.11/24; the kernel refuses (Cannot assign requested address)",  # noqa: E501
        ),
        (
            "route-del-missing",
            "  - id: bad\n    route_del:\n      by: a\n      to: 10.9.0.0/16\n",
            "bad.yaml:21: steps[0].route_del.to: a has no route to 10.9.0.0/16; the kernel refuses (No such process)",
        ),
        (
            "route-add-broadcast",  # fib_check_nh_v4_gw(): RTN_BROADCAST is no gateway
            "  - id: bad\n    route_add:\n      by: a\n      to: 10.9.0.0/16\n      via: 10.0.0.255\n",
            "bad.yaml:21: steps[0].route_add.via: 10.0.0.255 is a broadcast address; the kernel refuses the route "
            "(EINVAL, Nexthop has invalid gateway: fib_check_nh_v4_gw() takes only a unicast or local gateway)",
        ),
        (
            # fib_check_nh_v4_gw(): a gateway on none of the host's networks that are up has no
            # connected route to it, so fib_lookup() finds none for it (ENETUNREACH)
            "route-add-gateway-off-every-network",
            "  - id: bad\n    route_add:\n      by: a\n      to: 10.9.0.0/16\n      via: 10.7.0.1\n",
            "bad.yaml:21: steps[0].route_add.via: 10.7.0.1 is on none of a's networks that are up; the kernel refuses "
            "the route (ENETUNREACH, Nexthop has invalid gateway)",
        ),
        (
            # fib_check_nh_v4_gw(): the gateway is a's own address, whose local route stays while v0 is
            # down and names v0: ENETDOWN, though eth0 (up) has 10.0.0.0/24 connected
            "route-add-own-address-link-down",
            "  - id: cable\n    veth_add:\n      by: a\n      name: v0\n      peer: v1\n"
            "  - id: addr\n    addr_add:\n      by: a\n      dev: v0\n      address: 10.0.0.20/24\n"
            "  - id: bad\n    route_add:\n      by: a\n      to: 10.9.0.0/16\n      via: 10.0.0.20\n",
            "bad.yaml:31: steps[2].route_add.via: 10.0.0.20 is a's own address on v0, which is down; the kernel "
            "refuses the route (ENETDOWN, RTNETLINK answers: Network is down: fib_check_nh_v4_gw() takes the "
            "device of the gateway's local route, and that device is not up)",
        ),
        (
            # fib_check_nh_v4_gw(): 127.0.0.1 is RTN_LOCAL on lo (its local route stays while lo is down),
            # and lo is not up: ENETDOWN (with lo up the kernel takes the route, dev lo)
            "route-add-via-loopback-lo-down",
            "  - id: lo-down\n    link_set:\n      by: a\n      dev: lo\n      up: false\n"
            "  - id: bad\n    route_add:\n      by: a\n      to: 10.9.0.0/16\n      via: 127.0.0.1\n",
            "bad.yaml:26: steps[1].route_add.via: 127.0.0.1 is a's own address on lo, which is down; the kernel "
            "refuses the route (ENETDOWN, RTNETLINK answers: Network is down: fib_check_nh_v4_gw() takes the "
            "device of the gateway's local route, and that device is not up)",
        ),
        (
            # a prefix on lo is in the local table (fib_magic(RTN_LOCAL)); `ip route del` looks in main
            "route-del-lo-prefix",
            "  - id: lo-prefix\n    addr_add:\n      by: a\n      dev: lo\n      address: 10.9.0.1/24\n"
            "  - id: bad\n    route_del:\n      by: a\n      to: 10.9.0.0/24\n",
            "bad.yaml:26: steps[1].route_del.to: a has no route to 10.9.0.0/24; the kernel refuses (No such process)",
        ),
        (
            "route-add-existing",  # the connected route is there: `ip route add` says EEXIST (fib_table_insert())
            "  - id: bad\n    route_add:\n      by: a\n      to: 10.0.0.0/24\n      via: 10.0.0.1\n",
            "bad.yaml:21: steps[0].route_add.to: a has a route to 10.0.0.0/24 already; the kernel refuses a second "
            "one to the same destination (EEXIST, RTNETLINK answers: File exists)",
        ),
        (
            "link-del-lo",
            "  - id: bad\n    link_del:\n      by: a\n      dev: lo\n",
            "bad.yaml:21: steps[0].link_del.dev: lo cannot be deleted; the kernel refuses (Operation not supported)",
        ),
        (
            "link-del-bridge",
            "  - id: bad\n    link_del:\n      by: h\n      dev: br0\n",
            "bad.yaml:21: steps[0].link_del.dev: br0 is a bridge; netsim does not model deleting a bridge",
        ),
        (
            "netns-del-missing",
            "  - id: bad\n    netns_del: n\n",
            'bad.yaml:19: steps[0].netns_del: n\'s namespace does not exist yet; the kernel refuses (Cannot remove namespace file "/run/netns/lab-n": No such file or directory)',  # noqa: E501
        ),
        (
            "netns-del-bridge",
            "  - id: bad\n    netns_del: h\n",
            "bad.yaml:19: steps[0].netns_del: h holds a bridge; netsim does not model deleting a bridge",
        ),
        (
            # outsider3's r30: the port renamed, then used by its new name; the rename is the reason
            "set-port-by-new-name",
            "  - id: down\n    link_set: {by: h, dev: p1, up: false}\n"
            "  - id: renamed\n    link_rename: {by: h, dev: p1, name: seat1}\n"
            "  - id: bad\n    set_port: {bridge: br0, port: seat1, flood: false}\n",
            "bad.yaml:22: steps[1].link_rename.dev: p1 is a port of br0, renamed 'seat1' here and used by that "
            "name at step 'bad'; netsim does not model renaming a bridge or its ports",
        ),
        (
            # The second frame's host has no namespace yet: the message names that frame, at its line.
            "sends-second-frame-no-room",
            "  - id: bad\n    sends:\n      frames:\n        - {by: a, dst: b}\n        - {by: n, dst: a, dev: v1}\n"
            "  - {id: room, netns_add: n}\n  - {id: cable, veth_add: {by: h, name: v0, peer: v1}}\n"
            "  - {id: move, link_move: {by: h, dev: v1, to: n}}\n",
            'bad.yaml:23: steps[0].sends.frames[1].by: n has no namespace yet; the kernel refuses (Cannot open network namespace "lab-n": No such file or directory); expected a netns_add step before this one',  # noqa: E501
        ),
        (
            "firewall-del-no-room",
            "  - id: bad\n    firewall_del:\n      by: n\n      rule: drop_tcp_ports\n      port: 82\n",
            'bad.yaml:21: steps[0].firewall_del.by: n has no namespace yet; the kernel refuses (Cannot open network namespace "lab-n": No such file or directory); expected a netns_add step before this one',  # noqa: E501
        ),
        (
            "route-get-no-room",
            "  - id: bad\n    route_get:\n      by: n\n      to: 10.0.0.1\n",
            'bad.yaml:21: steps[0].route_get.by: n has no namespace yet; the kernel refuses (Cannot open network namespace "lab-n": No such file or directory); expected a netns_add step before this one',  # noqa: E501
        ),
    ],
)
def test_a_step_that_cannot_happen_names_its_file_line_field_and_the_kernel_s_answer(
    case: str, steps: str, message: str
) -> None:
    # Each field of a step sits on a line of its own here, so the message names the field that is
    # wrong (steps[0].link_move.dev), not only the step; the kernel's errno is named where it has one.
    with pytest.raises(NetsimError) as info:
        run(parse_scenario(ROOMS + steps, "bad.yaml"))
    assert str(info.value) == message


@pytest.mark.parametrize("written", ["0123", "1_000", "0x1f", "1:30", "1e3", "404", "0o17", ".5"])
def test_a_title_that_yaml_reads_as_a_number_is_kept_as_written(written: str) -> None:
    # YAML 1.1 reads 0123 as octal 83, 1_000 as 1000, 0x1f as 31, 1:30 as 90 and 1e3 as 1000.0:
    # text that looks like a number must stay what its author typed.
    assert parse_scenario(GOOD.replace("title: t", f"title: {written}")).title == written


@pytest.mark.parametrize("written", ["0123", "0x1f", "1e3", "404"])
def test_a_step_id_that_yaml_reads_as_a_number_is_kept_as_written(written: str) -> None:
    assert parse_scenario(GOOD.replace("id: hello", f"id: {written}")).steps[0].id == written


def test_a_key_that_yaml_reads_as_a_number_is_kept_as_written() -> None:
    # A key 0123 would be the number 83; as a port name it stays 0123 (and is refused as one).
    message = error_for(GOOD.replace("seat3: {label: seat 3}", "0123: {label: seat 3}"))
    assert "'0123'" in message, message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("broadcast", "hosts.broadcast: 'broadcast' is the word `dst:` uses for ff:ff:ff:ff:ff:ff"),
        ("Broadcast", "hosts.Broadcast: 'Broadcast' is the word `dst:` uses for ff:ff:ff:ff:ff:ff"),
        ("aa-42-81-9c-0e-34", "hosts.aa-42-81-9c-0e-34: 'aa-42-81-9c-0e-34' reads as a MAC address in `dst:`"),
    ],
)
def test_a_host_name_that_dst_would_read_another_way_is_refused(name: str, message: str) -> None:
    # `dst: broadcast` means ff:ff:ff:ff:ff:ff and `dst: aa-42-...` that MAC: a host so named could
    # never be addressed by its name.
    text = GOOD.replace("  alice:\n", f"  {name}:\n").replace("by: alice", f"by: {name}")
    assert message in error_for(text)


def test_a_frame_from_a_host_with_no_declared_interface_must_name_its_interface() -> None:
    # n's only interface came by a step (link_move): `dev:` cannot default to it (it crashed before).
    steps = (
        "  - {id: room, netns_add: n}\n"
        "  - {id: cable, veth_add: {by: h, name: v9, peer: t9}}\n"
        "  - {id: hand, link_move: {by: h, dev: t9, to: n}}\n"
        "  - {id: up, link_set: {by: n, dev: t9, up: true}}\n"
        "  - id: hello\n    send:\n      by: n\n      dst: broadcast\n"
    )
    with pytest.raises(NetsimError) as info:
        run(parse_scenario(ROOMS + steps, "bad.yaml"))
    assert str(info.value) == (
        "bad.yaml:25: steps[4].send.by: n declares no interface in the file, so the frame's interface must be "
        "named; expected dev: one of t9"
    )


def test_a_frame_from_a_host_with_no_interface_at_all_is_refused() -> None:
    # A packet socket sends on a device (packet_snd()); n never has one but lo.
    steps = "  - {id: room, netns_add: n}\n  - id: hello\n    send:\n      by: n\n      dst: broadcast\n"
    with pytest.raises(NetsimError) as info:
        run(parse_scenario(ROOMS + steps, "bad.yaml"))
    assert str(info.value) == (
        "bad.yaml:22: steps[1].send: n has no interface (other than lo) to send a frame on at any step; expected "
        "an interface of n's under interfaces:, or one a veth_add or link_move step gives it"
    )


def test_two_bridges_with_one_address_point_at_the_second_bridges_address() -> None:
    text = (
        "title: t\nbridges:\n  br0: {host: h, address: 10.0.0.1/24, ports: {p1: {}}}\n"
        "  br1:\n    host: h\n    address: 10.0.0.1/24\n    ports: {q1: {}}\nhosts:\n  h: {}\nsteps: []\n"
    )
    with pytest.raises(NetsimError) as info:
        parse_scenario(text, "two.yaml")
    assert str(info.value) == (
        "two.yaml:6: bridges.br1.address: address 10.0.0.1 is already used by bridge br0; if two hosts share it "
        "on purpose, say `duplicate: true`"
    )


def test_a_file_not_named_as_a_scenario_is_refused_by_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "Not A Name.yaml"
    bad.write_text("title: t\n")
    with pytest.raises(NetsimError) as info:
        load_scenario(bad)
    assert str(info.value) == (
        f"{bad}: is not a scenario file name; expected NAME.yaml, NAME of lower-case letters, digits, - or _"
    )
    wrong = tmp_path / "fine.yaml"
    wrong.write_text("title: t\n")
    with pytest.raises(NetsimError) as info:
        load_scenario(wrong)
    assert str(info.value).startswith(f"{wrong}:1: ")  # an error inside the file names it as given


def test_an_error_inside_a_file_names_it_as_a_reader_can_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A path under the working directory is shown relative to it, and a control character in a folder's
    # name (a stranger's checkout) is shown escaped, never raw in the one-line error.
    odd = tmp_path / "odd\x1b[31mdir"
    odd.mkdir()
    (odd / "fine.yaml").write_text("title: t\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NetsimError) as info:
        load_scenario(odd / "fine.yaml")
    assert str(info.value).startswith("odd\\x1b[31mdir/fine.yaml:1: hosts: missing")


def test_a_hosts_gateway_that_is_a_broadcast_address_is_refused() -> None:
    text = ROOMS.replace("plug: br0.p1}\n", "plug: br0.p1}\n    gateway: 10.0.0.255\n", 1) + "  - {id: x, wait: 1}\n"
    with pytest.raises(NetsimError) as info:
        parse_scenario(text, "bad.yaml")
    assert str(info.value).endswith(
        "hosts.a.gateway: 10.0.0.255 is a broadcast address; the kernel refuses the route (EINVAL, Nexthop has "
        "invalid gateway: fib_check_nh_v4_gw() takes only a unicast or local gateway)"
    )


def test_a_file_that_is_not_a_regular_file_is_refused_by_name(tmp_path: Path) -> None:
    """yamlsource.read(): never through a symlink (O_NOFOLLOW), never a FIFO, device or folder."""
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    link = tmp_path / "link.yaml"
    link.symlink_to(good)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path, message in (
        (link, "is a symbolic link; expected a regular file"),
        (fifo, "is not a regular file; expected a scenario file"),
        (tmp_path, "is not a regular file; expected a scenario file"),
        (tmp_path / "missing.yaml", "cannot read file: No such file or directory"),
        (Path("/proc/self/mem"), "cannot read file: Input/output error"),  # opens as a file, then read() fails
    ):
        with pytest.raises(ScenarioError) as caught:
            yamlsource.read(path)
        assert str(caught.value) == f"{path}: {message}"
        assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), 0, "")
    assert yamlsource.read(good, "diagrams/good.yaml").file == "diagrams/good.yaml"


def test_a_strangers_key_is_named_in_one_short_line() -> None:
    forty = "a key with spaces " + "x" * 22
    assert yamlsource.dotted(("hosts", forty, "mac")) == f"hosts.{forty!r}.mac"
    assert yamlsource.dotted(("hosts", forty + "y")) == f"hosts.{forty + '...'!r}"
    assert yamlsource.dotted(("steps", 3, "connect")) == "steps[3].connect"


def test_a_value_python_cannot_hold_is_refused_at_its_line() -> None:
    text = GOOD.replace("seat3: {label: seat 3}", "seat3: {label: " + "9" * 5000 + "}")
    message = error_for(text)  # Python's own words follow: int() refuses 5000 digits (sys.int_info)
    assert message.startswith("diagrams/bridge.yaml:7: bridges.podman0.ports.seat3.label: cannot read this value: ")
    assert "5000 digits" in message and "\n" not in message


@pytest.mark.parametrize(
    ("read", "given", "message"),
    [
        (
            yamlsource.parse_bytes,
            b"title: t\nhosts: {a\x00: 1}\n",
            "d/x.yaml:2: contains a NUL byte; expected UTF-8 text",
        ),
        (yamlsource.parse_bytes, b"title: t\nx: \xff\n", "d/x.yaml:2: byte 0xff is not UTF-8; expected UTF-8 text"),
        (
            yamlsource.parse_bytes,
            b"x" * (256 * 1024 + 1),
            "d/x.yaml: is larger than 256 KiB; expected a small scenario file",
        ),
        (yamlsource.parse, "title: t\n\nx: \x00\n", "d/x.yaml:3: contains a NUL character"),
        (yamlsource.parse, "x" * (256 * 1024 + 1), "d/x.yaml: is larger than 256 KiB; expected a small scenario file"),
        (yamlsource.parse, "title: t\nx: a\x07b\n", "d/x.yaml:2: character '\\x07' is not allowed in YAML"),
        (yamlsource.parse, "title: t\nx: [1,\n", "d/x.yaml:3: not valid YAML: did not find expected node content"),
        (yamlsource.parse, "title: t\n---\ntitle: u\n", "d/x.yaml:2: not valid YAML: but found another document"),
    ],
)
def test_bytes_that_are_no_scenario_text_are_refused_before_yaml_reads_them(read, given, message) -> None:  # noqa: ANN001
    with pytest.raises(ScenarioError) as caught:
        read(given, "d/x.yaml")
    assert str(caught.value) == message and caught.value.field == ""


@pytest.mark.parametrize("value", ["foo", "{a: 1}", "[1, 2]"])
def test_a_name_or_file_written_in_the_file_is_refused_whatever_it_holds(value: str) -> None:
    for key in ("name", "file"):
        assert error_for(GOOD + f"{key}: {value}\n") == (
            f"diagrams/bridge.yaml:16: {key}: unknown key; it is set from the file's name"
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: *x\n", "d/x.yaml:1: an alias (*x); a scenario is plain data: write it out"),
        ("title: t\nhosts: &a {}\n", "d/x.yaml:2: an anchor (&a); a scenario is plain data: no anchors"),
        ("title: t\nx: " + "[" * 16 + "]" * 16 + "\n", "d/x.yaml:2: nested more than 16 levels deep"),
        ("", "d/x.yaml:1: the file is empty; expected a scenario mapping"),
        ("# a comment and nothing else\n", "d/x.yaml:1: the file is empty; expected a scenario mapping"),
    ],
)
def test_yaml_beyond_plain_data_is_refused_at_its_line(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        yamlsource.parse(text, "d/x.yaml")
    assert str(caught.value) == message


def test_sixteen_levels_are_the_most_a_scenario_may_nest() -> None:
    assert yamlsource.parse("x: " + "[" * 15 + "]" * 15 + "\n", "d/x.yaml").data["x"]


def test_a_dns_name_may_be_253_characters_and_no_more() -> None:
    longest = ".".join(["a" * 63] * 3) + "." + "a" * 61
    assert len(longest) == 253 and schema._check_format(schema.DNS_NAME_FORMAT, longest) == longest
    assert schema._check_format(schema.DNS_NAME_FORMAT, longest + "a") is None


def test_a_frame_addressed_to_a_mac_in_capitals_is_addressed_to_that_mac() -> None:
    text = GOOD.replace("send: {by: alice, dst: broadcast}", "send: {by: alice, dst: 'AA:42:81:9C:0E:33'}")
    assert parse_scenario(text, "diagrams/bridge.yaml").steps[0].send.dst == "aa:42:81:9c:0e:33"
