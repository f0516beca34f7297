"""The error decoder: its data is validated with file and line, every statement about the wire is
checked against a scenario (and fails when the simulation disagrees), and the matcher finds the
words of real error lines, including lines collected from real programs in a private namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsim import decoder
from netsim.errors import ScenarioError
from netsim.pages.book import Book

ROOT = Path(__file__).resolve().parent.parent
DATA = decoder.load(ROOT)

# Real lines, as the programs print them (curl 7.88 and CPython 3.11 collected in a namespace by
# the lab test below; Go's from net.OpError's format; Java's and Node's from their own messages).
CORPUS = {
    'Get "https://host.containers.internal:19001/ping": dial tcp 10.88.0.1:19001: connect: connection refused': [
        "host-name",
        "go-dial",
        "address",
        "go-connect",
        "refused",
    ],
    "dial tcp 10.88.0.1:19003: i/o timeout": ["go-dial", "address", "io-timeout"],
    "dial tcp 10.88.0.99:19001: connect: no route to host": ["go-dial", "address", "go-connect", "host-unreachable"],
    "dial tcp 192.0.2.10:19001: connect: network is unreachable": [
        "go-dial",
        "address",
        "go-connect",
        "net-unreachable",
    ],
    "dial tcp 10.88.0.1:19003: connect: connection timed out": ["go-dial", "address", "go-connect", "timeout"],
    "curl: (7) Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server": [
        "curl-7",
        "address",
        "curl-7",
    ],
    "curl: (28) Failed to connect to 10.9.0.3 port 80 after 1000 ms: Timeout was reached": [
        "curl-28",
        "address",
        "io-timeout",
    ],
    "* connect to 127.0.0.1 port 1 failed: Connection refused": ["address", "refused"],
    "ConnectionRefusedError: [Errno 111] Connection refused": ["python-oserror", "refused", "refused"],
    "OSError: [Errno 113] No route to host": ["python-oserror", "host-unreachable"],
    "OSError: [Errno 101] Network is unreachable": ["python-oserror", "net-unreachable"],
    "TimeoutError: timed out": ["io-timeout"],
    "TimeoutError: [Errno 110] Connection timed out": ["timeout", "timeout"],
    "java.net.ConnectException: Connection refused": ["java-connect", "refused"],
    "Error: connect ECONNREFUSED 10.88.0.1:19001": ["node-connect", "refused", "address"],
    'Get "http://127.0.0.1:19001/ping": EOF': ["address", "eof"],
    "curl: (52) Empty reply from server": ["eof"],
    "channel 2: open failed: connect failed: Connection refused": ["channel-failed", "refused"],
    "dial tcp: lookup protainer on 10.88.0.1:53: no such host": ["go-dial", "go-lookup", "address", "no-such-host"],
    "curl: (6) Could not resolve host: nosuchhost.invalid": ["curl-6", "curl-6"],
    "curl: (28) Connection timed out after 5001 milliseconds": ["curl-28", "io-timeout"],
    "curl: (28) Operation timed out after 30001 milliseconds with 0 bytes received": ["curl-28", "io-timeout"],
    "channel 3: open failed: administratively prohibited: open failed": ["ssh-prohibited"],
    "ssh: Could not resolve hostname server: Name or service not known": ["no-such-host"],
    "curl: (28) Resolving timed out after 5000 milliseconds": ["curl-28", "try-again"],
    "dial tcp: lookup web on 10.88.0.1:53: read udp 10.88.0.2:41000->10.88.0.1:53: i/o timeout": [
        "go-dial",
        "go-lookup",
        "address",
        "address",
        "address",
        "io-timeout",
    ],
    "socket.gaierror: [Errno -3] Temporary failure in name resolution": ["try-again", "try-again"],
    "ping: dns.podman: No address associated with hostname": ["no-address"],
    "lookup web on 10.88.0.1:53: server misbehaving": ["go-lookup", "address", "go-misbehaving"],
    "socket.gaierror: [Errno -5] No address associated with hostname": ["no-address", "no-address"],
}


def ids(line: str) -> list[str]:
    return [t.id for t in decoder.decode(line, DATA)]


@pytest.mark.parametrize("line", list(CORPUS))
def test_each_word_of_a_real_error_line_is_found_in_order(line: str) -> None:
    assert ids(line) == CORPUS[line]


def test_every_entry_is_found_by_some_real_line() -> None:
    found = {i for line in CORPUS for i in ids(line)}
    assert {e.id for e in DATA.entries} - found == set()


def test_an_address_is_explained_by_its_most_specific_network() -> None:
    assert decoder.address_note("10.88.0.1", DATA) == "10.88.0.1/32"
    assert decoder.address_note("10.88.0.7", DATA) == "10.88.0.0/16"
    assert decoder.address_note("127.0.0.53", DATA) == "127.0.0.0/8"
    assert decoder.address_note("192.0.2.10", DATA) == "other"
    assert decoder.address_note("300.1.1.1", DATA) is None  # not an address at all
    assert ids("version 1.2.3.4.5 of nothing") == []  # a dotted version string is not an address


def test_every_statement_about_the_wire_agrees_with_the_simulation() -> None:
    outcomes = [e for e in DATA.entries if e.kind == "outcome"]
    assert outcomes and all(e.shown_by for e in outcomes)
    assert decoder.check(DATA, Book(ROOT)) == []


def _copy(tmp_path: Path, text: str) -> Path:
    (tmp_path / "decoder").mkdir()
    (tmp_path / "decoder" / "messages.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "docs" / "posts", tmp_path / "docs" / "posts")
    shutil.copytree(ROOT / "diagrams", tmp_path / "diagrams")
    return tmp_path


def test_a_false_statement_about_the_wire_fails_with_its_line(tmp_path: Path) -> None:
    text = (ROOT / "decoder" / "messages.yaml").read_text(encoding="utf-8")
    lie = text.replace(
        "facts: {outcome: refused, counts: {SYN: 1, RST: 1}, takes: 0}",
        "facts: {outcome: refused, counts: {SYN: 1, RST: 1}, takes: 3}",
    )
    assert lie != text
    root = _copy(tmp_path, lie)
    problems = decoder.check(decoder.load(root), Book(root))
    line = next(n for n, t in enumerate(lie.splitlines(), 1) if "step: three-ways-to-say-no/kernel-says-no" in t)
    assert len(problems) == 1
    assert str(problems[0]).startswith(
        f"decoder/messages.yaml:{line}: entries.refused.shown_by: takes: the page says 3, the simulation did 0"
    )


@pytest.mark.parametrize(
    ("fault", "entry"),
    [
        ("no-reset", "refused"),
        ("icmp-ignored", "refused"),
        ("classic-doubling", "timeout"),
        ("classic-doubling", "io-timeout"),
        ("slow-questions", "host-unreachable"),
        ("default-everywhere", "net-unreachable"),
    ],
)
def test_a_fault_in_the_simulation_makes_the_decoder_fail(fault: str, entry: str) -> None:
    """The claim audit's own faults: a simulator that believes something false about the kernel
    makes the decoder's statement about the wire fail, as it makes the posts' claims fail."""
    from netsim.claimaudit.faults import FAULTS

    (broken,) = [f for f in FAULTS if f.name == fault]
    with broken.applied():
        problems = decoder.check(DATA, Book(ROOT))
    assert any(f"entries.{entry}.shown_by" in str(p) for p in problems), [str(p) for p in problems]


BAD = [
    ("entries:\n  - id: x\n", "decoder/messages.yaml:2: entries[0]: missing field 'kind'"),
    ("entries: []\n", "decoder/messages.yaml:1: entries: expected a non-empty list, found list"),
    ("oops: 1\n", "expected a mapping with 'entries'"),
]
ENTRY = """entries:
  - id: refused
    kind: outcome
    token: connection refused
    match: [connection refused]
    layer: TCP
    meaning: nothing listens there
    shown_by:
      - step: three-ways-to-say-no/kernel-says-no
        facts: {outcome: refused}
    causes:
      - {cause: nothing listens, check: ss -ltnp}
    post: three-ways-to-say-no
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("kind: outcome", "kind: guess"), ":3: entries[0].kind: 'guess'; expected one of: outcome, wording"),
        (("post: three-ways-to-say-no", "post: no-such-post"), ":13: entries[0].post: no post 'no-such-post'"),
        (("    post:", "    colour: red\n    post:"), ":13: entries[0].colour: unknown field 'colour'"),
        (("match: [connection refused]", "match: [x]"), ":5: entries[0].match[0]: 'x'; expected 2 to 60"),
        (("id: refused", "id: Refused!"), ":2: entries[0].id: 'Refused!' is not a short name"),
        (("    post: three", "    anchor: nowhere\n    post: three"), "no heading 'nowhere' in three-ways-to-say-no"),
        (("kind: outcome", "kind: wording"), "only an outcome has 'shown_by'"),
        (("meaning: nothing listens there", "meaning: no"), "found the boolean False; put the text in quotes"),
    ],
)
def test_bad_data_is_refused_with_file_line_and_what_was_expected(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    root = _copy(tmp_path, ENTRY.replace(*change))
    with pytest.raises(ScenarioError) as caught:
        decoder.load(root)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("decoder/messages.yaml:")


ADDRESS = "addresses:\n  - {prefix: PREFIX, says: x, post: margarets-room}\n"
CAUSE = "{cause: nothing listens, check: ss -ltnp}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            ENTRY.replace("      - step: three-ways-to-say-no/kernel-says-no\n        facts:", "      - facts:"),
            ":9: entries[0].shown_by[0]: missing field 'step': SCENARIO/STEP",
        ),
        (
            ENTRY.replace("        facts: {outcome: refused}\n", ""),
            ":9: entries[0].shown_by[0]: missing field 'facts': claim facts",
        ),
        (
            ENTRY.replace("facts: {outcome: refused}", "facts: [refused]"),
            ":10: entries[0].shown_by[0].facts: expected a mapping of facts, as a claim states them",
        ),
        (
            ENTRY.replace(CAUSE, "{cause: nothing listens}"),
            ":12: entries[0].causes[0]: missing field 'check': the command that tells",
        ),
        (
            ENTRY.replace(CAUSE, "{cause: nothing listens, check: " + "x" * 130 + "}"),
            ":12: entries[0].causes[0].check: expected at most 120 characters of plain text",
        ),
        (
            ENTRY.replace(CAUSE, "{cause: nothing listens, check: no}"),
            ":12: entries[0].causes[0].check: expected text, found the boolean False; put the text in quotes",
        ),
        (
            ENTRY.replace("layer: TCP", "layer: " + "T" * 130),
            ":6: entries[0].layer: expected at most 120 characters of plain text",
        ),
        (
            ENTRY.replace("match: [connection refused]", "match: []"),
            ":5: entries[0].match: expected a non-empty list of words",
        ),
        (
            ENTRY + ADDRESS.replace("PREFIX", "10.88.0.300/16"),
            ":15: addresses[0].prefix: '10.88.0.300/16' is not an IPv4 network: Octet 300 (> 255) not permitted",
        ),
        (ENTRY + ADDRESS.replace("PREFIX", "5"), ":15: addresses[0].prefix: expected text, found 5"),
    ],
)
def test_each_field_refused_names_its_line_its_place_and_what_it_wants(
    tmp_path: Path, text: str, expected: str
) -> None:
    """A contributor's mistake in the decoder's words, told where it is: the file, the line, the field's
    path, and what the field expects (the known fields of a claim shown, a cause's command)."""
    with pytest.raises(ScenarioError) as caught:
        decoder.load(_copy(tmp_path, text))
    assert str(caught.value).startswith("decoder/messages.yaml" + expected), str(caught.value)


def test_a_false_statement_is_placed_at_its_step_line_whatever_the_order_of_its_fields(tmp_path: Path) -> None:
    shown = "      - step: three-ways-to-say-no/kernel-says-no\n        facts: {outcome: refused}\n"
    swapped = "      - facts: {outcome: timeout}\n        step: three-ways-to-say-no/kernel-says-no\n"
    root = _copy(tmp_path, ENTRY.replace(shown, swapped))
    problems = [str(p) for p in decoder.check(decoder.load(root), Book(root))]
    assert problems == [
        "decoder/messages.yaml:10: entries.refused.shown_by: outcome: the page says 'timeout', "
        "the simulation did 'refused'"
    ]


def test_an_address_in_a_line_is_told_with_the_network_that_explains_it() -> None:
    tokens = decoder.decode("dial tcp 10.88.0.1:19001: connect: connection refused; 127.0.0.53; 192.0.2.1", DATA)
    assert [(t.id, t.note) for t in tokens if t.id == "address"] == [
        ("address", "10.88.0.1/32"),
        ("address", "127.0.0.0/8"),
        ("address", "other"),
    ]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_a_malformed_file_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    root = _copy(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        decoder.load(root)
    assert expected in str(caught.value)


def test_two_entries_with_one_id_are_refused(tmp_path: Path) -> None:
    twice = ENTRY + "".join(ENTRY.splitlines(keepends=True)[1:])
    root = _copy(tmp_path, twice)
    with pytest.raises(ScenarioError, match=r"'refused' is used twice \(first at line 2\)"):
        decoder.load(root)


def test_the_page_shows_every_entry_and_its_post(built_site: Path) -> None:
    html = (built_site / "decoder.html").read_text(encoding="utf-8")
    shown = decoder.published(DATA, ROOT)
    for e in DATA.entries:
        assert (f'id="token-{e.id}"' in html) == (e in shown.entries), e.id  # a draft's words wait with it
    for e in shown.entries:
        assert f'id="token-{e.id}"' in html
    assert 'id="ns-decoder-data"' in html and "</script>" in html
    data = html.split('id="ns-decoder-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data  # the data can never close its element
    assert "in the simulation (checked at every build), connect() is refused; 1 SYN and 1 RST" in html


# --- real programs, real messages ----------------------------------------------------------

PROBE = r"""
set -e
ip link set lo up
ip link add va type veth peer name vb
ip addr add 10.9.0.1/24 dev va
ip link set va up
ip link set vb up
sleep 1
"""
CURL_SAYS = "connect to .* failed:|connect fail for"  # curl -v's lines with the kernel's words
PY = """import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
except Exception as e:
    print(f"{type(e).__name__}: {e}")
"""


@pytest.mark.lab
def test_lines_printed_by_real_programs_are_decoded() -> None:
    """curl and Python, run inside a private network namespace (nothing leaves it), print their
    own error lines for each kernel answer; the decoder must find the right outcome in each."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("collecting real error lines needs root and unshare (util-linux)")
    cases = [  # (address, port, what the kernel answers, the entry the decoder must find)
        ("127.0.0.1", "1", "refused"),
        ("10.9.0.2", "80", "host-unreachable"),  # on the veth's network, nobody answers ARP
        ("192.0.2.10", "80", "net-unreachable"),  # no route at all
    ]
    script = (
        PROBE
        + "".join(f'{sys.executable} -c "$PY" {a} {p} 10\n' for a, p, _ in cases)
        + f'{sys.executable} -c "$PY" 10.9.0.3 80 1\n'
    )  # a deadline the program sets: Python's own timeout
    has_curl = shutil.which("curl") is not None
    if has_curl:
        script += "".join(
            f"curl -sS -v --max-time 10 http://{a}:{p}/ 2>&1 | grep -iE '{CURL_SAYS}' || true\n" for a, p, _ in cases
        )
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", script],
        env={**os.environ, "PY": PY},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    python_lines, rest = lines[:4], lines[4:]
    for (_, _, expected), line in zip(cases, python_lines, strict=False):
        assert expected in ids(line), (line, ids(line))
    assert "io-timeout" in ids(python_lines[3]), python_lines[3]
    if not has_curl:
        print("curl is not installed: only Python's lines were collected", file=sys.stderr)
        return
    # curl -v: "connect to A port P failed: <kernel's words>", or "Immediate connect fail for A: <words>"
    failed = [ln for ln in rest if "failed:" in ln or "connect fail for" in ln]
    assert len(failed) == len(cases), rest
    for (_, _, expected), line in zip(cases, failed, strict=True):
        assert expected in ids(line), (line, ids(line))
