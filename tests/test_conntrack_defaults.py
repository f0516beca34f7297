"""netsim's conntrack timeouts are the kernel's: read in a fresh private network namespace.

The lab scenarios shorten the timeouts they wait for (a host's `conntrack_timeouts`), so no replay
waits out the kernel's own 300 s, 120 s or 432000 s any more: this test is what pins those values.
Needs root and network namespaces, as tests/test_lab.py does; skipped with the reason elsewhere.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import pytest

from netsim.conntrack import DEFAULTS, SYN_SENT2_TIMEOUT
from netsim.lab.netns import missing_requirement
from netsim.plan import CT_LOAD, CT_SYSCTLS

REASON = missing_requirement()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(REASON is not None, reason=f"lab unavailable: {REASON}")]
PROC = "/proc/sys/net/netfilter"
# Inside `unshare --net`: load conntrack where it is a module (plan.CT_LOAD on stdin: a `ct state` rule, added
# and deleted), then print every timeout sysctl of that namespace as PATH:VALUE.
READ = f"{{ ! command -v nft >/dev/null || nft -f -; }} && grep -H . {PROC}/nf_conntrack_*timeout*"


def fresh_namespace_timeouts() -> dict[str, int]:
    """net.netfilter.nf_conntrack_*timeout* of a new network namespace, by sysctl name."""
    lines = "".join(" ".join(command) + "\n" for command in CT_LOAD)
    out = subprocess.run(
        ["unshare", "--net", "sh", "-c", READ], input=lines, capture_output=True, text=True, check=False, timeout=30
    )
    if out.returncode != 0:
        why = out.stderr.strip() or "no nf_conntrack_*timeout* sysctl"
        if shutil.which("nft") is None:
            pytest.skip(f"conntrack is not loaded and nft, which would load it, is not installed: {why}")
        pytest.fail(f"reading the conntrack sysctls of a fresh namespace failed: {why}")
    found = {}
    for line in out.stdout.splitlines():
        path, _, value = line.partition(":")
        found[path.rsplit("/", 1)[1]] = int(value)
    return found


def test_netsims_default_conntrack_timeouts_are_a_fresh_namespaces() -> None:
    """Every timeout netsim models (conntrack.Timeouts' defaults) is the sysctl's value in a new namespace."""
    kernel = fresh_namespace_timeouts()
    netsim = {CT_SYSCTLS[f.name]: getattr(DEFAULTS, f.name) for f in dataclasses.fields(DEFAULTS)}
    assert {name: kernel.get(name) for name in netsim} == netsim


def test_syn_sent2_has_no_sysctl_so_netsim_keeps_it_at_120_s() -> None:
    """nf_conntrack_standalone_init_tcp_sysctl() gives tcp_timeouts[TCP_CONNTRACK_SYN_SENT2] no sysctl: a
    host's syn_sent does not change it, and netsim holds it at 2 MINS."""
    kernel = fresh_namespace_timeouts()
    assert "nf_conntrack_tcp_timeout_syn_sent" in kernel
    assert not [name for name in kernel if "syn_sent2" in name]
    assert SYN_SENT2_TIMEOUT == 120
