"""The "try it yourself" script: the scenario's plan printed as shell, with a few helpers.

Every command line is an operation of netsim.plan printed with `shlex.join`, the one place
scenario text is quoted for a shell; the lab executes the same operations. Scenario free text
appears only in the safe one-line form of `plan.one_line`. The script puts itself inside a
private network and mount namespace first: nothing it does can touch the reader's own
interfaces, routes or firewall, and everything vanishes when it exits.
"""

from __future__ import annotations

import shlex

from netsim import plan
from netsim.plan import Op
from netsim.scenario import Scenario, Step

HEADER = """#!/usr/bin/env bash
# Try it yourself: "{title}", from The Bottom Six.
# Generated from the scenario {name}; every step below is one step of the post.
#
# Run it as root on any Linux machine with iproute2 and Python 3:   sudo bash {name}.sh
# It first moves itself into a private network namespace of its own, so it never touches your
# interfaces, routes or firewall, and everything it builds disappears when it ends.
set -euo pipefail
if [ "${{BOTTOM_SIX_PRIVATE:-}}" != 1 ]; then
  exec unshare --net --mount --propagation private env BOTTOM_SIX_PRIVATE=1 bash "$0" "$@"
fi
mount -t tmpfs bottom-six /run   # `ip netns` keeps its files here, hidden from the rest of the machine
{needs_nft}mkdir -p /run/netns
declare -A LISTENER              # "host address:port" -> pid of the listening program
SSH_PIDS=()                      # sshd and ssh processes this script started
SSH_DIR=""                       # their keys and config, made for this run only
declare -A SSH_SHOWN             # ssh log -> how many of its lines the script has shown
KEPT=$(mktemp)                   # pids of the processes that hold a knock's connection open
cleanup() {{
  kill ${{LISTENER[@]:-}} ${{SSH_PIDS[@]:-}} $(cat "$KEPT") 2>/dev/null || true
  wait 2>/dev/null || true
  rm -f "$KEPT"
  [ -z "$SSH_DIR" ] || rm -rf "$SSH_DIR"
}}
trap cleanup EXIT
export START_US=${{EPOCHREALTIME/[.,]/}}  # microseconds: each step prints when it began, when its first
# packet left (the programs that send it print that) and when its tables were read
mark_clock() {{  # what: "# at SECONDS s: what", seconds since the script began (the post's clock replays them)
  local us=$(( ${{EPOCHREALTIME/[.,]/}} - START_US ))
  printf '# at %d.%06d s: %s\\n' $(( us / 1000000 )) $(( us % 1000000 )) "$1"
}}

SHOWN_REACHABLE=""
mark_reachable() {{  # "# REACHABLE ms: host/dev=MS ...": how long the kernel keeps each device's entries
  # REACHABLE this run, drawn between half and one and a half times the base (neigh_rand_reach_time());
  # printed when it changed (a new device, a new base), so the post's replay can use the same ones
  local ns out=""
  for ns in /run/netns/lab-*; do
    [ -e "$ns" ] || continue
    ns=${{ns#/run/netns/}}
    out+=$(ip -n "$ns" ntable show name arp_cache |
      awk -v h="${{ns#lab-}}" '$1 == "dev" {{ d = $2 }}
        $3 == "reachable" && d != "" {{ printf " %s/%s=%s", h, d, $4 }}')
  done
  [ "$out" = "$SHOWN_REACHABLE" ] || echo "# REACHABLE ms:$out"
  SHOWN_REACHABLE=$out
}}
show_fdb() {{  # the learned lines of the bridge's MAC table
  echo "\\$ bridge fdb show br $2   (learned entries)"
  bridge -n "lab-$1" fdb show br "$2" | grep ' master ' | grep -v permanent || echo "(empty)"
}}
show_links() {{  # every host's interfaces, as `ip -br addr` shows them
  for host in "$@"; do echo "-- ip addr in $host"; ip -n "lab-$host" -br addr show; done
}}
show_listeners() {{  # a host's listening TCP sockets, as `ss -ltn` shows them
  echo "-- ss -ltn in $1"; ip netns exec "lab-$1" ss -ltn
}}
show_neigh() {{  # every host's ARP table
  for host in "$@"; do echo "-- ip neigh in $host"; ip -n "lab-$host" neigh show; done
}}
send_frame() {{  # host dev dst-mac src-mac [ARP: op sender-mac sender-ip target-mac target-ip]
  # or [a TCP SYN: syn src-ip src-port dst-ip dst-port]: one raw frame
  ip netns exec "lab-$1" python3 - "${{@:2}}" <<'PY'
import socket, struct, sys
dev, dst, src, *arp = sys.argv[1:]
own = open(f"/sys/class/net/{{dev}}/address").read().strip()  # the interface's own MAC
src = own if src == "self" else src
mac = lambda text: bytes.fromhex(text.replace(":", ""))
def checksum(data):  # RFC 1071
    total = sum(struct.unpack(f"!{{len(data) // 2}}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
if arp[:1] == ["syn"]:  # a TCP SYN written by hand in a whole frame, as scapy's sendp() sends one: no socket behind it
    sip, sport, dip, dport = socket.inet_aton(arp[1]), int(arp[2]), socket.inet_aton(arp[3]), int(arp[4])
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", checksum(sip + dip + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0) + sip + dip
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    frame = mac(dst) + mac(src) + b"\\x08\\x00" + ip + tcp
elif arp:  # an ARP packet crafted by hand (RFC 826), as arping sends one
    op, smac, sip, tmac, tip = arp
    body = bytes([0, 1, 8, 0, 6, 4, 0, 1 if op == "request" else 2]) + mac(own if smac == "self" else smac)
    body += socket.inet_aton(sip) + mac(tmac) + socket.inet_aton(tip)
    frame = mac(dst) + mac(src) + b"\\x08\\x06" + body
else:
    frame = mac(dst) + mac(src) + b"\\x88\\xb5" + b"a note from the bottom six"
# Not padded to Ethernet's 60 bytes: on a veth cable nothing pads (the kernel's own ARP crosses
# it as 42 bytes), so the frame is the one the post's byte view and capture show.
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
import os, time
us = time.time_ns() // 1000 - int(os.environ["START_US"])
s.send(frame)
print(f"# at {{us // 1000000}}.{{us % 1000000:06d}} s: first packet leaves")  # mark_clock's line, from inside
PY
}}
set_address() {{  # host dev mac: ask for a new MAC; the kernel refuses a group or all-zero one
  local said
  if said=$(ip -n "lab-$1" link set dev "$2" address "$3" 2>&1); then echo "address $3 -> accepted"
  elif [[ $said == *"Cannot assign requested address"* ]]; then echo "address $3 -> address-not-available"
  else echo "address $3 -> refused: $said"; fi
}}
add_veth() {{  # host name mac peer peer-mac: a cable; the kernel refuses a group or all-zero MAC on either end
  local said
  if said=$(ip -n "lab-$1" link add name "$2" address "$3" type veth peer name "$4" address "$5" 2>&1); then
    echo "cable $2 $4 -> accepted"
  elif [[ $said == *"Cannot assign requested address"* ]]; then echo "cable $2 $4 -> address-not-available"
  else echo "cable $2 $4 -> refused: $said"; fi
}}
ask_arp() {{  # host target-ip: resolve target-ip the way an application's first packet would
  # `ip neigh ... use` makes the kernel use the entry (neigh_event_send()): a REACHABLE entry stays
  # as it is, a STALE one starts its 5 s DELAY towards a unicast check, an unknown one is asked for
  # by the kernel itself, retried and maybe given up on.
  # No route, the host's own address or a broadcast one: nobody to ask. Off the host's networks
  # the packet would go to the route's gateway, so that is the entry used.
  local way dev hop
  way=$(ip -n "lab-$1" -j route get "$2" 2>/dev/null) || return 0
  read -r dev hop < <(printf '%s' "$way" | python3 -c 'import json, sys
r = json.load(sys.stdin)[0]
print(r["dev"], r.get("gateway", r["dst"]) if r.get("type", "unicast") == "unicast" else "")')
  [ -n "$hop" ] || return 0
  mark_clock "first packet leaves"  # after the lookup's processes: the request leaves now
  ip -n "lab-$1" neigh replace "$hop" dev "$dev" use
  for _ in $(seq 50); do
    ip -n "lab-$1" neigh show "$hop" dev "$dev" | grep -q INCOMPLETE || return 0
    sleep 0.1
  done
}}
knock() {{  # host address port [source-port ttl deadline [read]]: a TCP connect, what the kernel answered
  KEPT="$KEPT" ip netns exec "lab-$1" python3 - "${{@:2}}" <<'PY'
import errno, os, signal, socket, sys, time
def say(line):  # one write() per line: with PYTHONUNBUFFERED print() writes the newline apart
    os.write(1, (line + "\\n").encode())
def mark(us):  # mark_clock's line from inside: when the SYN really left (Python's start-up is not the network's)
    us -= int(os.environ["START_US"])
    say(f"# at {{us // 1000000}}.{{us % 1000000:06d}} s: first packet leaves")
addr, port = sys.argv[1], int(sys.argv[2])
sport, ttl = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (0, 0)
deadline = float(sys.argv[5]) if len(sys.argv) > 5 else 0  # the application's own patience, in seconds
read = sys.argv[6:] == ["read"]  # then read once: end-of-file, or nothing for two seconds
names = {{errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "host-unreachable",
         errno.ENETUNREACH: "network-unreachable", errno.ETIMEDOUT: "timeout",
         errno.EADDRNOTAVAIL: "address-not-available"}}
s = socket.socket()
s.settimeout(deadline or 300)  # a deadline gives up the way Go's dialer does: close() before the kernel
if sport:  # a chosen source port (0: the kernel picks one)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport))
if ttl:  # IP_TTL, as traceroute sets it (0: the default, 64)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
left = time.time_ns() // 1000
try:
    s.connect((addr, port))
    result = "connected"
except TimeoutError:
    result = "deadline (the application gave up: i/o timeout)" if deadline else "timeout"
except OSError as exc:
    result = names.get(exc.errno, exc.strerror)
mark(left)
say(f"connect {{addr}}:{{port}} -> {{result}}")
if read and result == "connected":
    s.settimeout(2)
    try:
        said = "eof" if s.recv(1) == b"" else "data"
    except TimeoutError:
        said = "waiting"
    except ConnectionResetError:
        said = "reset"
    say(f"read -> {{said}}")
if result == "connected":  # the connection stays open until the script ends, as in the lab: a child
    # keeps it, so no FIN crosses the bridge that the post's figures do not show
    if os.fork():
        sys.exit(0)
    with open(os.environ["KEPT"], "a") as f:
        print(os.getpid(), file=f)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    signal.pause()
PY
  ssh_said
}}
ssh_said() {{  # what each ssh said on its standard error since it was last shown, here, between steps' lines
  # ssh writes its log line before it closes the connection it failed to forward, so a knock that
  # read end-of-file finds it in the file; printed here, it never runs into another program's line.
  [ -n "$SSH_DIR" ] || return 0
  local log said
  for log in "$SSH_DIR"/ssh-*.log; do
    [ -e "$log" ] || continue
    said=$(tail -n +$(( ${{SSH_SHOWN[$log]:-0}} + 1 )) "$log")
    [ -n "$said" ] || continue
    printf '%s\\n' "$said" | tr -d '\\r'   # a CR before the newline, if ssh wrote one, goes
    SSH_SHOWN[$log]=$(( ${{SSH_SHOWN[$log]:-0}} + $(printf '%s\\n' "$said" | wc -l) ))
  done
}}
ssh_keys() {{  # a private directory with a host key and a client key made for this run
  [ -z "$SSH_DIR" ] || return 0
  SSH_DIR=$(mktemp -d)
  ssh-keygen -q -t ed25519 -N '' -C 'bottom six host key' -f "$SSH_DIR/host_key"
  ssh-keygen -q -t ed25519 -N '' -C 'bottom six client key' -f "$SSH_DIR/client_key"
  cp "$SSH_DIR/client_key.pub" "$SSH_DIR/authorized_keys"
}}
start_sshd() {{  # host: OpenSSH's server in the host's namespace, its own config, never /etc/ssh's
  ssh_keys
  mkdir -p /run/sshd   # privilege separation; this /run is the script's own
  printf '%s\\n' 'Port 22' 'ListenAddress 0.0.0.0' "HostKey $SSH_DIR/host_key" \\
    "AuthorizedKeysFile $SSH_DIR/authorized_keys" 'PermitRootLogin prohibit-password' \\
    'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'UsePAM no' 'StrictModes no' \\
    'AllowTcpForwarding yes' 'PidFile none' > "$SSH_DIR/sshd_config-$1"
  ip netns exec "lab-$1" "$(command -v sshd || echo /usr/sbin/sshd)" -D -e -f "$SSH_DIR/sshd_config-$1" \\
    2>"$SSH_DIR/sshd-$1.log" &
  local pid=$!; SSH_PIDS+=("$pid")
  until ss -N "lab-$1" -Hltn 'sport = :22' | grep -q '0.0.0.0:22'; do
    kill -0 "$pid" 2>/dev/null || {{ cat "$SSH_DIR/sshd-$1.log" >&2; echo "sshd did not start" >&2; exit 1; }}
    sleep 0.05
  done
  echo "$1: sshd listens on 0.0.0.0:22"
}}
ssh_forward() {{  # host server forward -g|no-g: ssh -N -L from the host, until it listens or gives up
  ssh_keys
  local log="$SSH_DIR/ssh-${{#SSH_PIDS[@]}}.log" gflag=() parts
  [ "$4" != -g ] || gflag=(-g)
  IFS=: read -ra parts <<< "$3"
  local port=${{parts[${{#parts[@]}}-3]}}
  echo "\\$ ssh -N ${{gflag[*]:+-g }}-L $3 root@$2   (in $1)"
  ip netns exec "lab-$1" ssh -N -F /dev/null -i "$SSH_DIR/client_key" -o IdentitiesOnly=yes \\
    -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=no \\
    -o "UserKnownHostsFile=$SSH_DIR/known_hosts" -o GlobalKnownHostsFile=/dev/null \\
    -o ExitOnForwardFailure=yes "${{gflag[@]}}" -L "$3" "root@$2" 2>"$log" &
  local pid=$!; SSH_PIDS+=("$pid")
  until ss -N "lab-$1" -Hltnp "sport = :$port" | grep -q "pid=$pid,"; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  ssh_said   # its own file, shown between the script's lines: never in the middle of another program's
  if kill -0 "$pid" 2>/dev/null; then echo "$1: ssh listens on port $port; the server connects to what it accepts"
  elif grep -q 'Cannot assign requested address' "$log"; then echo "listen $3 -> address-not-available"
  elif grep -q 'Address already in use' "$log"; then echo "listen $3 -> address-in-use"
  else echo "listen $3 -> ssh exited"; fi
}}
route_get() {{  # host address: which way the host's routing table sends a packet there
  echo "\\$ ip route get $2   (in $1)"
  ip -n "lab-$1" route get "$2" 2>&1 || true
}}
show_conntrack() {{  # the connection tracking table of each host that has one
  for host in "$@"; do
    echo "-- conntrack table of $host"
    ip netns exec "lab-$host" cat /proc/net/nf_conntrack 2>/dev/null | sed 's/^ipv4 *2 //' || echo "(none)"
  done
}}
listen_on() {{  # host address port [reuseport]: a doorman that stays until close_on, or bind()'s refusal
  local dir; dir=$(mktemp -d); local ready="$dir/said"   # not there until the listener writes it
  KEPT="$KEPT" ip netns exec "lab-$1" python3 -c '
import errno, os, signal, socket, sys
def tell(word):  # one line for the shell, written whole
    with open(sys.argv[3] + ".part", "w") as f:
        print(word, file=f)
    os.rename(sys.argv[3] + ".part", sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if len(sys.argv) > 4:  # reuseport: may share its port with other listeners that set it too
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(128)  # the backlog ssh itself uses
except OSError as exc:
    names = {{errno.EADDRINUSE: "address-in-use", errno.EADDRNOTAVAIL: "address-not-available"}}
    tell(names.get(exc.errno, exc.strerror))
    sys.exit(0)
tell("listening")
# Each accepted connection is held by a keeper process of its own until the script ends, as in the
# lab: close_on then closes the listening socket alone, and no FIN leaves for what it accepted.
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
while True:
    conn, _ = s.accept()
    if os.fork() == 0:
        s.close()  # the keeper must not hold the doorway open after close_on
        with open(os.environ["KEPT"], "a") as f:
            print(os.getpid(), file=f)
        signal.pause()
    conn.close()
' "$2" "$3" "$ready" ${{4:+"$4"}} &
  local pid=$!
  # The listener says when bind() and listen() are done (or why not); a crash ends the wait too.
  until [ -s "$ready" ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  local said; said=$(cat "$ready" 2>/dev/null || echo "the listener did not start"); rm -rf "$dir"
  if [ "$said" = listening ]; then
    LISTENER["$1 $2:$3"]+="$pid "  # SO_REUSEPORT: several processes may listen on one address
    echo "$1 listens on $2:$3"
  else
    wait "$pid" 2>/dev/null || true
    echo "listen $2:$3 -> $said"
  fi
}}
close_all() {{  # host: every listener of the host goes (a socket keeps a namespace alive)
  local key
  for key in "${{!LISTENER[@]}}"; do
    [ "${{key%% *}}" = "$1" ] || continue
    kill ${{LISTENER[$key]}}; wait ${{LISTENER[$key]}} 2>/dev/null || true  # process ids, never scenario text
    unset 'LISTENER[$key]'
  done
}}
etc_files() {{  # host: its own /etc/nsswitch.conf, host.conf, hosts and resolv.conf, kept in the private /run
  mkdir -p "{etc}/$1"
  echo "{nsswitch}" > "{etc}/$1/nsswitch.conf"
  echo "{host_conf}" > "{etc}/$1/host.conf"
  : > "{etc}/$1/hosts"; : > "{etc}/$1/resolv.conf"
}}
etc_hosts() {{  # host address name...: one line of the host's /etc/hosts
  local host=$1 address=$2; shift 2
  printf '%s\t%s\n' "$address" "$*" >> "{etc}/$host/hosts"
}}
etc_nameserver() {{  # host address: one nameserver line of the host's /etc/resolv.conf
  printf 'nameserver %s\n' "$2" >> "{etc}/$1/resolv.conf"
}}
dns_server() {{  # host address dnsmasq ...: a DNS server inside the host, on address:53 only
  local host=$1 listen=$2; shift 2
  ip netns exec "lab-$host" "$@" &
  LISTENER["dns $host $listen"]=$!
  for _ in $(seq 200); do  # until port 53 on that address is taken: it listens
    ip netns exec "lab-$host" python3 -c {probe} "$listen" 2>/dev/null || break
    sleep 0.05
  done
  echo "$host runs a DNS server on $listen:53"
}}
resolve_name() {{  # host name: getaddrinfo() inside the host, reading the host's own /etc files
  echo "-- getaddrinfo($2) in $1, with its own /etc/hosts and /etc/resolv.conf"
  unshare --mount --propagation private -- bash -c {bind_etc} - "{etc}/$1" "lab-$1" python3 -c {resolve_py} "$2"
}}
show_hosts() {{  # host: its /etc/hosts, read by `cat` where its resolver reads it
  echo "-- cat /etc/hosts in $1"
  unshare --mount --propagation private -- bash -c {bind_etc} - "{etc}/$1" "lab-$1" cat /etc/hosts
}}
close_on() {{  # one listener of the address goes; others that share it with SO_REUSEPORT stay
  local pids
  read -ra pids <<< "${{LISTENER["$1 $2:$3"]}}"
  kill "${{pids[-1]}}"; wait "${{pids[-1]}}" 2>/dev/null || true
  if [ "${{#pids[@]}}" -gt 1 ]; then LISTENER["$1 $2:$3"]="${{pids[*]:0:${{#pids[@]}}-1}} "
  else unset 'LISTENER["$1 $2:$3"]'; fi
  echo "$1 stops listening on $2:$3"
}}
"""


NEEDS_DNSMASQ = (
    'command -v dnsmasq >/dev/null || { echo "this scenario needs dnsmasq (package dnsmasq-base)" >&2; exit 3; }\n'
)
# Exits 0 while nobody holds UDP port 53 on the address (the DNS server is not listening yet).
PROBE_PY = "import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind((sys.argv[1], 53))"


# What the script prints of its own clock (mark_clock), which tests/test_try_it_yourself.py replays
# netsim at, as `netsim lab --compare` replays the lab's (lab-clock).
CLOCK_BEGINS, CLOCK_READ = "step begins", "tables read"
# After the last step's tables: where their reading ended (another step's begins where the last ended). The
# `ip` processes that show them take a loaded machine a while, and a timer may fall due meanwhile.
CLOCK_SHOWN = "tables shown"
# Printed by the programs that send a step's first packet (knock, send_frame, getaddrinfo's): when it left.
CLOCK_LEFT = "first packet leaves"
TABLES = ("show_fdb", "show_links", "show_neigh", "show_conntrack")


def line(op: Op) -> str:
    """One operation as a shell line: `shlex.join` of its argument vector, and its note. Lines the
    program reads on its standard input come first, one quoted word each of `printf '%s\\n'`."""
    text = shlex.join(op.argv)
    if shlex.split(text) != list(op.argv):  # the quoting point checks itself
        raise AssertionError(f"{op.argv!r} does not survive shell quoting")
    if op.stdin:
        feed = ["printf", "%s\\n", *op.stdin]
        if shlex.split(shlex.join(feed)) != feed:
            raise AssertionError(f"{op.stdin!r} does not survive shell quoting")
        text = " \\\n  ".join([shlex.join(feed[:2]), *map(shlex.quote, op.stdin)]) + " \\\n  | " + text
    if op.note:
        return f"{text}   # {op.note}" if text else f"# {op.note}"
    return text


def render(scenario: Scenario) -> str:
    s = scenario
    needs_nft = (
        'command -v nft >/dev/null || { echo "this scenario needs nft (package nftables)" >&2; exit 3; }\n'
        if s.needs_nft()
        else ""
    )
    if s.needs_ssh():
        needs_nft += (
            "{ command -v ssh && command -v ssh-keygen && { command -v sshd || [ -x /usr/sbin/sshd ]; }; } "
            '>/dev/null || { echo "this scenario needs OpenSSH (packages openssh-client, openssh-server)" >&2; '
            "exit 3; }\n"
        )
    if s.needs_dnsmasq():
        needs_nft += NEEDS_DNSMASQ
    header = HEADER.format(
        title=plan.one_line(s.title),
        name=s.name,
        needs_nft=needs_nft,
        etc=plan.ETC_DIR,
        nsswitch=plan.NSSWITCH,
        host_conf=plan.HOST_CONF,
        probe=shlex.quote(PROBE_PY),
        bind_etc=shlex.quote(plan.BIND_ETC),
        resolve_py=shlex.quote(plan.RESOLVE_PY),
    )
    lines = [header, *(line(op) for op in plan.setup(s))]
    for n, step in enumerate(s.steps, 1):
        lines.append("")
        lines.append(line(plan.show("echo")))
        lines.append(line(plan.step_heading(s, n, step)))
        lines.append(line(plan.show("mark_clock", CLOCK_BEGINS)))
        ops = plan.step_ops(s, step)
        # The tables are read where the first one is shown (the lab reads its own at the same point).
        read = next((i for i, op in enumerate(ops) if op.show and op.argv and op.argv[0] in TABLES), len(ops))
        lines.extend(line(op) for op in ops[:read])
        lines.append(line(plan.show("mark_clock", CLOCK_READ)))
        lines.append(line(plan.show("mark_reachable")))
        lines.extend(line(op) for op in ops[read:])
    lines.append(line(plan.show("mark_clock", CLOCK_SHOWN)))
    lines.append("")
    lines.append('echo; echo "done: everything above lived in namespaces that vanish now"')
    return "\n".join(lines) + "\n"


def commands(s: Scenario, step: Step) -> list[str]:
    """The `ip` and `bridge` commands a step runs, exactly as the lab and the script run them."""
    return [line(op) for op in plan.step_ops(s, step) if not op.show and op.argv[0] in ("ip", "bridge")]
