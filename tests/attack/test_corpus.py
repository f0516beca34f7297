"""The attack corpus: every payload in every field of every step kind (see payloads.py).

For each case, `check` refuses the scenario with its file and line, or netsim accepts it and
then the try-it script it generates is nothing but the plan's argument vectors, each quoted
once, so the payload cannot be more than one argument. A sample of the accepted hostile
scenarios then runs for real, as root, in the script and in the lab: the payloads try to create
a MARK file, and the test looks for it.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from conftest import quick
from test_plan import assert_each_line_is_one_quoted_vector

from attack.payloads import BASE, Case, cases, dotted, fields, payloads
from netsim import cli
from netsim.errors import ScenarioError
from netsim.lab.netns import ensure_tools, missing_requirement
from netsim.render.labscript import render
from netsim.scenario import parse_scenario
from netsim.simulation import run

ROOT = Path(__file__).resolve().parents[2]
FILE = "tests/attack/attack.yaml"
WHERE = re.compile(r"^tests/attack/attack\.yaml:[1-9][0-9]*: ")
SHELL = ("newline-command", "semicolon", "substitution", "backticks", "single-quote", "double-quote", "carriage-return")
# Shell payloads that free text may carry (one line, printable): what the scripts must survive.
ACCEPTED_IN_TEXT = ("semicolon", "substitution", "backticks", "single-quote", "double-quote", "glob-and-redirect")
REASON = missing_requirement()


@cache
def all_cases() -> tuple[Case, ...]:
    """The corpus, made once per process: several tests walk it."""
    return tuple(cases("/nonexistent/MARK"))


# Under `make check` (pytest --quick, tests/conftest.py) the two tests that walk the whole corpus
# walk a fixed quarter of it: each field with every QUICK_EVERY-th payload of its kind, starting
# one further along from one field of that kind to the next, so every field is still attacked and
# every payload still tried in a quarter of the fields of each kind. `make test` walks all of it.
QUICK_EVERY = 4


@cache
def walked_cases() -> tuple[Case, ...]:
    """all_cases(), or under --quick the covering sample described above."""
    if not quick():
        return all_cases()
    kinds = {dotted(path): kind for path, kind in fields()}
    nth_of_kind: collections.Counter[str] = collections.Counter()  # fields of each kind seen so far
    kept, field, offset, j = [], None, 0, 0
    for case in all_cases():
        if case.field != field:
            field, j = case.field, 0
            offset = nth_of_kind[kinds[field]]
            nth_of_kind[kinds[field]] += 1
        if (offset + j) % QUICK_EVERY == 0:
            kept.append(case)
        j += 1
    return tuple(kept)


@cache
def outcome(text: bytes) -> str:
    """'refused' (with file:line) or 'accepted' (and the script is only quoted vectors).

    Remembered per text within a process: the tests below ask again about cases the first one
    judged (an AssertionError is never remembered, so a failing case fails every test that asks)."""
    try:
        scenario = parse_scenario(text, FILE)
        run(scenario)  # the simulation may refuse it too (with its line), never crash or hang
    except ScenarioError as exc:
        message = str(exc)
        assert WHERE.match(message), message
        assert "\n" not in message and len(message) < 2500, message
        return "refused"
    assert_each_line_is_one_quoted_vector(render(scenario))
    return "accepted"


# One test per payload, so that a failure names its payload. `make check` runs this file on one
# worker (--dist loadfile): the tests after it ask again about the cases these judged, and
# `outcome` remembers them within a process.
@pytest.mark.parametrize("payload", sorted(payloads("x")))
def test_every_payload_in_every_field_is_refused_or_harmless(payload: str) -> None:
    counts: collections.Counter[str] = collections.Counter()
    for case in walked_cases():
        if case.payload != payload:
            continue
        try:
            counts[outcome(case.text)] += 1
        except AssertionError as exc:
            raise AssertionError(f"{case.field} = {case.payload}: {exc}") from None
    print(f"\n{payload}: refused {counts['refused']}, accepted {counts['accepted']} over {len(fields())} fields")
    assert sum(counts.values()) > 0, f"no field gets the payload {payload}"


def test_names_refuse_every_shell_payload() -> None:
    """Names and every other field that reaches a command line accept no payload with a shell
    meaning at all; only free text (titles, labels, descriptions) may carry one, and plan.one_line
    reduces it."""
    for case in walked_cases():
        if case.payload not in (*SHELL, "trailing-newline", "dash-option", "glob-and-redirect"):
            continue
        if case.field.rsplit(".", 1)[-1] in ("title", "description", "label"):
            continue
        assert outcome(case.text) == "refused", (case.field, case.payload)


def test_interface_names_have_at_most_15_bytes() -> None:
    """IFNAMSIZ is 16 with the NUL: every field that names an interface refuses 16 letters."""
    ifname_fields = ("dev", "name", "peer", "bridge", "port", "master", "interfaces.<key>", "ports.<key>")
    checked = 0
    for case in all_cases():
        host_name = case.field.endswith("resolve.name")  # a DNS name: up to 253 characters, not an interface
        if case.payload == "overlong-name" and case.field.endswith(ifname_fields) and not host_name:
            assert outcome(case.text) == "refused", case.field
            checked += 1
    assert checked >= 10


def test_the_corpus_covers_every_field_of_the_schema() -> None:
    walked = {f for f in map(str, fields())}
    for action in ("veth_add", "link_move", "route_add", "send"):  # spot checks of the walk
        assert any(f"'{action}'" in f for f in walked), action
    paths = {case.field for case in all_cases()}
    for expected in ("steps[6].veth_add.peer", "steps[7].link_move.to", "steps[12].route_add.to", "hosts.h.<key>"):
        assert expected in paths


def test_the_cli_answers_each_payload_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One field of each kind through the real file path (read, size, bytes) and the CLI."""
    (tmp_path / "tests" / "attack").mkdir(parents=True)
    target = tmp_path / FILE
    sample = {"steps[6].veth_add.peer", "title", "steps[2].wait", "hosts.a.tcp_syn_retries", "bridges.br0.<key>"}
    seen: set[str] = set()
    for case in all_cases():
        if case.field not in sample:
            continue
        target.write_bytes(case.text)
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(tmp_path)
            code = cli.main(["check", FILE])
        err = capsys.readouterr().err
        assert code in (0, 2), (case.field, case.payload, err)
        if code == 2:
            assert err.count("\n") == 1 and err.startswith("error: "), err
            assert WHERE.match(err.removeprefix("error: ")), err
        seen.add(case.field)
    assert seen == sample


def test_yaml_that_is_more_than_data_is_refused_with_its_line() -> None:
    base = BASE.read_text()
    title_line = base.splitlines().index("title: Every step kind") + 1
    for text, expected in (
        ("a: &x 1\nb: *x\n", ":1: an anchor (&x)"),
        ("a: [x]\nb: !!python/object/apply:os.system ['id']\n", ":2: a tag"),
        ("a: {b: 1}\nc:\n  <<: {d: 1}\n", ":3: a merge key"),
        ("a: " + "[" * 40 + "]" * 40 + "\n", ":1: nested more than 16 levels"),
        ("title: " + "9" * 5000 + "\n", ":1: title: cannot read this value"),
        (base.replace("title: Every step kind", "title: a\x07b"), f":{title_line}: character '\\x07' is not allowed"),
    ):
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(text, FILE)
        assert expected in str(caught.value), str(caught.value)


def test_text_that_reads_other_than_it_is_written_is_refused() -> None:
    # A right-to-left override or a zero-width space shows a caption, a label or an alt text in
    # another order or with hidden letters than the scenario's text has (CVE-2021-42574).
    base = BASE.read_text()
    title_line = base.splitlines().index("title: Every step kind") + 1
    for invisible in ("\u202e", "\u2066", "\u200b", "\u200f", "\ufeff"):
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(base.replace("title: Every step kind", f"title: a{invisible}b"), FILE)
        assert f":{title_line}: title:" in str(caught.value) and "invisible" in str(caught.value), str(caught.value)


def test_a_billion_laughs_is_refused_before_it_is_built() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for n in range(1, 10):
        laughs += f"{'bcdefghij'[n - 1]}: &{'bcdefghij'[n - 1]} [" + ", ".join([f"*{'abcdefghij'[n - 1]}"] * 10) + "]\n"
    with pytest.raises(ScenarioError, match=r":1: an anchor \(&a\)"):
        parse_scenario(laughs, FILE)


def test_files_that_are_not_regular_files_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    good = tmp_path / "good.yaml"
    good.write_bytes(BASE.read_bytes())
    link = tmp_path / "link.yaml"
    link.symlink_to(good)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (300 * 1024) + b"\n")
    # The CLI in this process, as test_the_cli_answers_each_payload_in_one_line asks it: its exit
    # code and its one line on stderr, without a new Python for each file.
    monkeypatch.chdir(ROOT)
    for path, expected in (
        (link, "is a symbolic link"),
        (big, "is larger than 256 KiB"),
        (tmp_path / "bad name.yaml", "is not a scenario file name"),
    ):
        assert cli.main(["check", str(path)]) == 2, path
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, err
    # The two a reader that opens before it looks would never finish reading (a FIFO with no
    # writer blocks, /dev/zero never ends): in a process of its own, with a timeout.
    for path, expected in (
        (fifo, "is not a regular file"),
        (Path("/dev/zero"), "is not a scenario file name"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "netsim", "check", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=30,
            check=False,
        )
        assert done.returncode == 2, (path, done.stderr)
        assert expected in done.stderr and done.stderr.count("\n") == 1, done.stderr


def hostile(payload: str) -> bytes:
    """The base scenario with `payload` in every field that accepts text with a shell meaning."""
    doc = yaml.safe_load(BASE.read_text())
    doc["title"] = doc["description"] = payload
    for host in doc["hosts"].values():
        host["label"] = payload
    for bridge in doc["bridges"].values():
        bridge["label"] = payload
        for port in bridge["ports"].values():
            port["label"] = payload
    for step in doc["steps"]:
        step["title"] = payload
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


def test_every_field_that_accepts_a_shell_payload_is_free_text() -> None:
    accepted = {c.field for c in all_cases() if c.payload == "semicolon" and outcome(c.text) == "accepted"}
    assert accepted and all(f.rsplit(".", 1)[-1] in ("title", "description", "label") for f in accepted), accepted


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"running the scripts needs what the lab needs: {REASON}")
@pytest.mark.parametrize("payload", ACCEPTED_IN_TEXT)
def test_hostile_text_runs_in_the_script_and_creates_nothing(payload: str, tmp_path: Path) -> None:
    if why := ensure_tools(parse_scenario(BASE.read_bytes(), "tests/attack/base.yaml")):  # a firewall, a DNS server
        pytest.skip(why)
    mark = tmp_path / "MARK"
    scenario = parse_scenario(hostile(payloads(str(mark))[payload]), "tests/attack/hostile.yaml")
    script = tmp_path / "hostile.sh"
    script.write_text(render(scenario))
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert not mark.exists(), "a payload ran"
    assert done.returncode == 0, done.stderr[-2000:]
    assert "connect 10.0.0.11:90 -> connected" in done.stdout  # the script really ran every step


@pytest.mark.lab
@pytest.mark.skipif(REASON is not None, reason=f"lab unavailable: {REASON}")
def test_hostile_text_in_the_lab_agrees_and_creates_nothing(tmp_path: Path) -> None:
    if why := ensure_tools(parse_scenario(BASE.read_bytes(), "tests/attack/base.yaml")):
        pytest.skip(why)
    mark = tmp_path / "MARK"
    target = tmp_path / "hostile.yaml"
    target.write_bytes(hostile(payloads(str(mark))["substitution"]))
    done = subprocess.run(
        [sys.executable, "-m", "netsim", "lab", str(target), "--compare"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.strip().endswith("agree")
    assert not mark.exists()
