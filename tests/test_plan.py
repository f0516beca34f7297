"""The plan: one list of argument vectors per scenario, which the lab executes and the script prints."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import golden
import pytest
from conftest import corpus

from netsim import plan
from netsim.render.labscript import line, render
from netsim.scenario import ACTIONS, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(ROOT.glob("diagrams/*.yaml")) + sorted((ROOT / "tests" / "lab_scenarios").glob("*.yaml"))
KNOWN = {*plan.PROGRAMS, *plan.HELPERS, *plan.SHOWS}


def test_every_step_kind_has_its_operations_in_the_plan() -> None:
    assert set(plan.STEP_KINDS) == set(ACTIONS)


CONTINUED = " \\\n  "  # how the script continues one command on the next line


def script_body(text: str) -> list[str]:
    """The script's commands after its fixed header, without the fixed last line (a command
    continued over several lines is one)."""
    body = text.split("\n# --- The room ---\n", 1)[1].replace(CONTINUED, " ").splitlines()
    assert body[-1].startswith("echo; echo ")
    return body[:-1]


def assert_each_line_is_one_quoted_vector(text: str) -> None:
    """Each command is one quoted argument vector; the only pipe feeds an nftables batch's lines
    (each one of the plan's nftables words) to `nft -f -`."""
    for row in script_body(text):
        if not row or row.startswith("# "):
            continue
        argv = shlex.split(row, comments=True)
        if "|" in argv:
            bar = argv.index("|")
            feed, argv = argv[:bar], argv[bar + 1 :]
            assert feed[:2] == ["printf", "%s\\n"] and argv[-3:] == ["nft", "-f", "-"], row
            assert all(plan.NFT_LINE.fullmatch(text) for text in feed[2:]), row
            assert row.startswith(" ".join(shlex.quote(a) for a in feed) + " | "), row
            row = row.rsplit(" | ", 1)[1]  # a rule may hold " | " itself (meta mark | 0x2000); the note never does
        assert argv[0] in KNOWN, row
        joined = shlex.join(argv)
        assert row == joined or row.startswith(joined + "   # "), row


@pytest.mark.parametrize("scenario", corpus(SCENARIOS), ids=lambda p: p.stem)
def test_the_script_is_the_plan_printed(scenario: Path) -> None:
    s = load_scenario(scenario)
    text = render(s)
    assert_each_line_is_one_quoted_vector(text)
    ops = [op for op in plan.setup(s) if op.argv and not op.show]
    for step in s.steps:
        ops += [op for op in plan.step_ops(s, step) if not op.show]
    printed = [row for row in script_body(text) if row and not row.startswith("#")]
    for op in ops:  # every operation the lab performs is a line of the script, in order
        assert line(op).replace(CONTINUED, " ") in printed
        printed = printed[printed.index(line(op).replace(CONTINUED, " ")) + 1 :]


def test_free_text_reaches_the_script_only_as_one_safe_line() -> None:
    text = (ROOT / "diagrams" / "margarets-room.yaml").read_text()
    hostile = "$(touch /tmp/MARK); `id` 'q' \"dq\" <b>"
    text = text.replace("title: Margaret's room", f"title: {json.dumps(hostile)}")
    assert "label: Alice" in text
    text = text.replace("label: Alice", "label: 'Queen Bee $(touch /tmp/MARK)'")
    s = parse_scenario(text, "diagrams/margarets-room.yaml")
    assert s.title == hostile
    script = render(s)
    assert "$(" not in script.split("set -euo pipefail", 1)[0]  # the header's comment lines
    assert "touch /tmp/MARK" not in script.replace("?(touch /tmp/MARK)", "")
    assert "Queen Bee" not in script  # labels are not needed by the script at all
    assert_each_line_is_one_quoted_vector(script)


def test_one_line_keeps_a_whitelist_and_a_length() -> None:
    assert plan.one_line("Margaret's room") == "Margaret\u2019s room"
    assert plan.one_line("a\nb\r\nc") == "a b c"
    assert plan.one_line('$(x) `y` <z>; "q"') == "?(x) ?y? ?z?? ?q?"
    assert len(plan.one_line("a" * 500)) == 80


def test_an_operation_is_an_argument_vector_of_known_programs() -> None:
    with pytest.raises(ValueError):
        plan.Op(("sh", "-c", "id"))
    with pytest.raises(ValueError):
        plan.Op(("ip", "a\0b"))
    assert line(plan.run("ip", "-n", "lab-x", "link", "set", "a b", "up")) == "ip -n lab-x link set 'a b' up"


def _device_positions(argv: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each (keyword, word after it) where an `ip link` command names a device: after `set`, `del`
    and `add`, and after `peer` in a veth pair."""
    words = list(argv)
    if words[:1] != ["ip"] or "link" not in words:
        return []
    rest = words[words.index("link") + 1 :]
    found = [(rest[0], rest[1])] if rest and rest[0] in ("set", "del", "add") else []
    if rest[:2] == ["add", "name"]:  # add name NAME [address MAC] type KIND [peer name PEER ...]
        i = 3
        while i < len(rest) and rest[i] != "type":
            i += 2  # a setting and its value
        if rest[i + 1 : i + 3] == ["veth", "peer"]:
            found.append(("peer", rest[i + 3]))
    return found


@pytest.mark.parametrize("path", corpus(SCENARIOS), ids=lambda p: p.stem)
def test_every_ip_link_command_names_its_device_after_dev_or_name(path: Path) -> None:
    # iproute2 reads a keyword wherever a name may stand (iplink_parse(), ip/iplink.c): a port named
    # `up` made `ip link set up master br0` fail with "dev argument is required". After `dev` or
    # `name` the next word is taken as it is, whatever it is.
    s = load_scenario(path)
    ops = [op for op in plan.setup(s) if op.argv and not op.show]
    for step in s.steps:
        ops += [op for op in plan.step_ops(s, step) if not op.show]
    for op in ops:
        for keyword, word in _device_positions(op.argv):
            expected = {"set": ("dev", "lo"), "del": ("dev",), "add": ("name",), "peer": ("name",)}[keyword]
            assert word in expected, f"{shlex.join(op.argv)}: a device named after `{keyword}` without `dev`/`name`"


def test_names_that_are_ip_keywords_reach_ip_as_names() -> None:
    s = load_scenario(ROOT / "tests" / "lab_scenarios" / "ip-keywords-as-names.yaml")
    lines = {shlex.join(op.argv) for op in plan.setup(s) if op.argv}
    assert "ip -n lab-sw link set dev up master master" in lines
    assert "ip -n lab-sw link add name down type veth peer name type netns lab-ben" in lines
    assert "ip -n lab-sw link add name master type bridge ageing_time 30000 stp_state 0 mcast_snooping 0" in lines


def test_a_hosts_conntrack_timeouts_are_its_own_namespaces_sysctls_once_conntrack_is_loaded() -> None:
    """Only the timeouts a host changes, as `sysctl -qw` argument vectors inside its own namespace, after the
    nft batch that loads conntrack (plan.CT_LOAD) there; a host that changes none gets neither."""
    s = load_scenario("tests/lab_scenarios/natport-syn-sent-entry-expires.yaml")
    laptop = [op.argv for op in plan.netns(s, "laptop")]
    load = ("ip", "netns", "exec", "lab-laptop", "nft", "-f", "-")
    sysctl = (
        "ip",
        "netns",
        "exec",
        "lab-laptop",
        "sysctl",
        "-qw",
        "net.netfilter.nf_conntrack_tcp_timeout_syn_sent=15",
    )
    assert laptop[-2:] == [load, sysctl]
    assert [op.stdin for op in plan.netns(s, "laptop") if op.argv == load] == [tuple(map(" ".join, plan.CT_LOAD))]
    assert not [argv for argv in map(tuple, [op.argv for op in plan.netns(s, "one")]) if "nft" in argv]
    assert s.needs_nft()


def test_every_command_of_every_post_s_script_is_the_golden_one() -> None:
    """The commands a reader runs as root, word for word: the lab tests run them against the kernel
    (make test, as root), and this holds them in the fast loop, where a misspelt chain, a lost
    argument or a sysctl left out would otherwise wait for a root run to show."""
    differ = golden.words_differ(golden.plan_lines(), golden.PLAN_LINES)
    assert not differ, differ
