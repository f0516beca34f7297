"""Entering network namespaces (setns) and running iproute2 inside them."""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from netsim.errors import LabError, LabUnavailable

if TYPE_CHECKING:
    from netsim.scenario import Scenario

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


def ns_name(host: str) -> str:
    return f"lab-{host}"


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def inside(host: str) -> Iterator[None]:
    """Run the body with this thread in the host's namespace; sockets made there stay there."""
    with open("/proc/thread-self/ns/net") as here, open(f"{NETNS_DIR}/{ns_name(host)}") as there:
        _setns(there.fileno())
        try:
            yield
        finally:
            _setns(here.fileno())


SYSCTL_KEY = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")


def sysctl_inside(host: str, settings: Sequence[str], *, missing_ok: bool = False) -> None:
    """`ip netns exec NS sysctl -qw KEY=VALUE...` (-qew with missing_ok) without its two processes: this
    thread enters the namespace and writes each /proc/sys file itself. A file under /proc/sys/net is the
    namespace's of the thread that opens it (net_ctl_header_lookup() takes current->nsproxy->net_ns).
    The keys come from the plan; one that is not a dotted name is refused, never made a path."""
    with inside(host):
        for setting in settings:
            key, sep, value = setting.partition("=")
            if not sep or not SYSCTL_KEY.fullmatch(key):
                raise LabError(f"sysctl {setting!r}: expected KEY=VALUE with a dotted key")
            path = "/proc/sys/" + key.replace(".", "/")
            try:
                with open(path, "w", encoding="ascii") as f:
                    f.write(value)
            except FileNotFoundError:
                if not missing_ok:
                    raise LabError(f"sysctl: cannot stat {path}: No such file or directory") from None
            except OSError as exc:
                raise LabError(f'sysctl: setting key "{key}": {exc.strerror}') from None


def processes_in(hosts: Sequence[str]) -> list[int]:
    """A pidfd for every process but this one whose network namespace is one of `hosts`': what
    `ip netns pids` finds, from /proc directly. The namespaces are the files still named under the
    lab's own /run/netns (a private tmpfs), compared by device and inode as iproute2 compares them
    (netns_identify_pid(), ip/ipnetns.c): a named namespace's inode cannot be freed and reused by
    another lab's. A pidfd names its process, not a number a new process may take later."""
    wanted = set()
    for host in hosts:
        try:
            found = os.stat(f"{NETNS_DIR}/{ns_name(host)}")
        except OSError:
            continue  # not made yet, or deleted by a step
        wanted.add((found.st_dev, found.st_ino))
    me, fds = os.getpid(), []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if _net_of(entry.name) not in wanted:
                continue
            fd = os.pidfd_open(int(entry.name))
        except OSError:  # gone meanwhile
            continue
        if _net_of(entry.name) in wanted:  # still the same process: its number was not taken again
            fds.append(fd)
        else:
            os.close(fd)
    return fds


def _net_of(pid: str) -> tuple[int, int] | None:
    try:
        found = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return None
    return found.st_dev, found.st_ino


def end_processes(pidfds: list[int], limit: float = 3.0) -> int:
    """SIGKILL each process, wait up to `limit` seconds in all for them to exit (a pidfd reads as ready
    once its process has), and close the pidfds: how many were still there to signal.

    The lab ends what it started, but not what those started: an sshd session whose client's side
    was reset (an impostor's RST reaches the client only) still holds an ESTABLISHED connection,
    and it would wait on TCP keepalive for two hours after the lab had gone."""
    ended = 0
    for fd in pidfds:
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            ended += 1
        except ProcessLookupError:
            pass  # it exited already
    deadline = time.monotonic() + limit
    for fd in pidfds:
        select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        os.close(fd)
    return ended


def run(*args: str, check: bool = True, stdin: str | None = None) -> str:
    """Run one command (`stdin`: what it reads); a failure is a LabError naming the command and what it printed."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30, input=stdin)
    except FileNotFoundError as exc:
        raise LabUnavailable(f"{args[0]} is not installed (it comes with iproute2)") from exc
    if check and done.returncode != 0:
        raise LabError(f"`{' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def ip(host: str, *args: str) -> str:
    return run("ip", "-n", ns_name(host), *args)


# The words a batch line may hold. iproute2 splits a batch line itself (makeargs(), lib/utils.c:
# quotes, backslashes and `#` mean something there), so a line is built only from words with none
# of those: fixed words and names the scenario reader has already held to its patterns. Anything
# else is refused here, never quoted.
_BATCH_WORD = re.compile(r"[A-Za-z0-9_.:@/-]+")


def batch_safe(words: Sequence[str]) -> bool:
    """Whether every word may go into a batch line as it is (see _BATCH_WORD)."""
    return all(_BATCH_WORD.fullmatch(word) for word in words)


def batch(tool: str, host: str | None, options: tuple[str, ...], commands: list[list[str]]) -> str:
    """`TOOL -n NS OPTIONS -batch -` (`ip` or `bridge`) running `commands`, each one's words (no
    options of its own: iproute2 takes options only before -batch), in one process: what it
    printed. `host` None: the lab's own namespace (no -n), where `ip netns` works. A command that
    fails stops the batch (unless -force is among the options), and that is a LabError naming it,
    as a lone command's failure is."""
    for words in commands:
        for word in words:
            if not _BATCH_WORD.fullmatch(word):
                raise LabError(f"`{tool} -batch` line {words!r}: the word {word!r} is not one a batch line may hold")
    lines = "".join(" ".join(c) + "\n" for c in commands)
    where = ("-n", ns_name(host)) if host is not None else ()
    try:
        return run(tool, *where, *options, "-batch", "-", stdin=lines)
    except LabError as exc:
        # iproute2 says which line: "Command failed -:N" (batch(), ip/ip.c and bridge/bridge.c).
        line = re.search(r"Command failed -:(\d+)", str(exc))
        if line is None or not 0 < int(line.group(1)) <= len(commands):
            raise
        n = int(line.group(1))
        failed = " ".join((*where, *commands[n - 1]))
        raise LabError(f"`{tool} {failed}` (batch line {n}) failed: {exc}") from None


def netns_batch(verb: str, hosts: Sequence[str], *, check: bool = True) -> None:
    """`ip netns add` (or `del`) for several hosts' namespaces in one `ip -batch` process rather than
    one process each (about 2.5 ms of CPU each). iproute2 enters each new namespace to make it
    (netns_add(): unshare(CLONE_NEWNET), then a bind mount of /proc/self/ns/net) and goes back to the
    one it started in before the next line (netns_restore(), ip/ipnetns.c), so every namespace is
    made from the lab's own, as a lone `ip netns add` makes it. `check=False`: -force, every line
    tried and a failure ignored (close() deletes what is left, as `ip netns del` each did)."""
    commands = [["netns", verb, ns_name(host)] for host in hosts]
    if not commands:
        return
    try:
        batch("ip", None, () if check else ("-force",), commands)
    except LabError:
        if check:
            raise


def apt_install(package: str) -> bool:
    """Install a Debian package with apt-get when we are root; True when its command is then there.

    One install at a time: parallel test workers may all find the package missing at once, and
    apt-get refuses to run while another holds its lock. The lock file serialises them, and the
    ones that waited find the package installed.
    """
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    with open(os.path.join(tempfile.gettempdir(), "netsim-apt-get.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if shutil.which(COMMAND_OF.get(package, package)):
            return True
        print(f"installing {package} with apt-get (first run only)", file=sys.stderr, flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt-get on the machine: wait for it
        for cmd in (["apt-get", *wait, "update", "-qq"], ["apt-get", *wait, "install", "-y", "-qq", package]):
            subprocess.run(cmd, capture_output=True, env=env, check=False)
    return shutil.which(COMMAND_OF.get(package, package)) is not None


COMMAND_OF = {"nftables": "nft", "dnsmasq-base": "dnsmasq", "openssh-client": "ssh", "openssh-server": "sshd"}


NFT_MISSING = "this scenario has a firewall and the lab needs `nft` (Debian package nftables), which is not installed"


def nft_missing() -> str | None:
    """Why the lab cannot load a scenario's firewall here, or None. The lab itself never installs."""
    return None if shutil.which("nft") else NFT_MISSING


def ensure_nft() -> str | None:
    """For test setups only: nftables installed with apt when we are root (with a printed line); else why not."""
    if shutil.which("nft") or apt_install("nftables"):
        return None
    return NFT_MISSING


SSH_MISSING = (
    "this scenario runs OpenSSH and the lab needs `ssh`, `sshd` and `ssh-keygen` "
    "(Debian packages openssh-client and openssh-server), which are not installed"
)


def sshd_path() -> str | None:
    return shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd", "/sbin/sshd") if Path(p).exists()), None)


def ssh_missing() -> str | None:
    """Why the lab cannot run OpenSSH here, or None. The lab itself never installs."""
    if shutil.which("ssh") and shutil.which("ssh-keygen") and sshd_path():
        return None
    return SSH_MISSING


POLICY_RC_D = "/usr/sbin/policy-rc.d"


def _services_stay_down() -> bool:
    """Whether installing a package here leaves its service stopped: policy-rc.d says 101 (deny)."""
    if not Path(POLICY_RC_D).exists():
        return False
    done = subprocess.run([POLICY_RC_D, "ssh", "start"], capture_output=True, check=False, timeout=10)
    return done.returncode == 101


def ensure_ssh() -> str | None:
    """For test setups only: OpenSSH installed with apt (with a printed line) when we are root and the
    install cannot start the machine's own sshd service; else why not."""
    if ssh_missing() is None:
        return None
    if not _services_stay_down():
        return SSH_MISSING + "; not installed here, because the openssh-server package would start this machine's sshd"
    for package in ("openssh-client", "openssh-server"):
        apt_install(package)
    return ssh_missing()


DNSMASQ_MISSING = (
    "this scenario runs a DNS server and the lab needs `dnsmasq` (Debian package dnsmasq-base), which is not installed"
)


def dnsmasq_missing() -> str | None:
    """Why the lab cannot run a scenario's DNS server here, or None. The lab itself never installs."""
    return None if shutil.which("dnsmasq") else DNSMASQ_MISSING


def ensure_dnsmasq() -> str | None:
    """For test setups only: dnsmasq-base (the binary alone, no service that would start on the machine)
    installed with apt when we are root, with a printed line; else why not."""
    if shutil.which("dnsmasq") or apt_install("dnsmasq-base"):
        return None
    return DNSMASQ_MISSING


def ensure_tools(scenario: Scenario) -> str | None:
    """For test setups only: what a scenario's lab and script need beyond iproute2 (nft, dnsmasq, OpenSSH),
    installed when we are root; else why not."""
    if scenario.needs_nft() and (why := ensure_nft()):
        return why
    if scenario.needs_dnsmasq() and (why := ensure_dnsmasq()):
        return why
    if scenario.needs_ssh() and (why := ensure_ssh()):
        return why
    return None


def missing_requirement() -> str | None:
    """One line saying why the lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the lab needs root (it creates network namespaces); run it with sudo"
    for tool in ("unshare", "ip", "bridge", "mount"):
        if shutil.which(tool) is None:
            return f"the lab needs `{tool}` (util-linux / iproute2), which is not installed"
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"this machine cannot create network namespaces: {probe.stderr.strip() or 'unshare failed'}"
    return None
