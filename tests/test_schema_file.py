"""The JSON Schema that editors check scenario files with agrees with netsim's reader.

Every scenario file names diagrams/scenario.schema.json in its first line, so a contributor's
editor underlines a mistake while it is typed. The schema is generated from the same declarations
as the reader (netsim.schema.json_schema), but it is a second judge: where the two disagree, an
editor either marks a good file as wrong or lets a typo through to `netsim check`. So the schema is
held to the reader on every scenario file and on the attack corpus (tests/attack/payloads.py: every
hostile value in every field), read as an editor reads it (tests/editor_yaml.py: YAML 1.2, ECMA-262
patterns):

- what the reader accepts, the schema accepts, without exception;
- what the reader refuses, the schema refuses, except what only the reader can know (READER_ONLY):
  a value of the right form that another part of the file contradicts, and NaN, which JSON lacks.

Under --quick (`make check`) the corpus is sampled: every field, and every payload in some fields.
"""

from __future__ import annotations

import collections
import json
import random
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from attack.payloads import Case, cases
from conftest import quick
from editor_yaml import EditorValidator, load

from netsim import schema
from netsim.errors import ScenarioError
from netsim.scenario import Scenario, parse_scenario
from netsim.schema import field_reference, json_schema
from netsim.schemafile import scenario_schema, schema_text

ROOT = Path(__file__).resolve().parent.parent

# What the schema cannot refuse, by payload: the reader refuses these cases for what the rest of the
# file says, or for a number JSON cannot hold.
READER_ONLY = {
    "overlong-name": "a well-formed name (16 letters) that nothing in the file declares",
    "null": "a step's action left empty (the step then has none), or an optional address another field needs",
    "boolean": "a key `true:` is the name 'true' to an editor; the rest of the file still names the old key",
    "nan": "YAML's .nan: JSON has no NaN, and no JSON Schema bound refuses it",
}
# And by field and payload, where the same payload elsewhere is a mistake of form the schema sees.
READER_ONLY_IN = {
    ("hosts.h.drop_tcp_ports", "list"): "a later firewall_del step names a rule the list no longer holds",
}
QUICK_EVERY = 16


def validator() -> EditorValidator:
    """The schema as generated now. Not kept between tests: mutation testing runs, for a mutant of
    the generator, only the tests that called it when it recorded them (benchmarks/mutants.py)."""
    return EditorValidator(scenario_schema())


@cache
def corpus() -> tuple[Case, ...]:
    """The attack corpus; under --quick each field's every QUICK_EVERY-th payload, starting one further
    along from one field to the next."""
    every = tuple(cases("/nonexistent/MARK"))
    if not quick():
        return every
    fields: dict[str, int] = {}
    seen: collections.Counter[str] = collections.Counter()
    kept = []
    for case in every:
        ordinal = fields.setdefault(case.field, len(fields))
        if (ordinal + seen[case.field]) % QUICK_EVERY == 0:
            kept.append(case)
        seen[case.field] += 1
    return tuple(kept)


def _reader_accepts(text: bytes) -> bool:
    try:
        parse_scenario(text, "attack.yaml")
    except ScenarioError:
        return False
    return True


def _schema_accepts(editor: EditorValidator, text: bytes) -> bool:
    try:
        data = load(text)
    except (yaml.YAMLError, ValueError):  # not YAML to an editor either: it shows a syntax error
        return False
    return editor.is_valid(data)


def _reader_only(case: Case) -> bool:
    return case.payload in READER_ONLY or (case.field, case.payload) in READER_ONLY_IN


def _files() -> list[Path]:
    lab = sorted((ROOT / "tests" / "lab_scenarios").glob("*.yaml"))
    return sorted((ROOT / "diagrams").glob("*.yaml")) + (lab[::4] if quick() else lab)


def test_the_published_schema_is_the_one_the_reader_declares() -> None:
    published = (ROOT / "diagrams" / "scenario.schema.json").read_text(encoding="utf-8")
    made = json.dumps(scenario_schema(), indent=2) + "\n"  # schema_text(), not kept from an earlier call
    assert made == schema_text()
    assert published == made, "diagrams/scenario.schema.json is stale: `make check` rewrites it"


def test_every_scenario_file_passes_the_schema() -> None:
    schema = validator()
    for path in _files():
        errors = sorted(schema.iter_errors(load(path.read_bytes())), key=lambda e: e.json_path)
        assert not errors, f"{path.relative_to(ROOT)}: {errors[0].json_path}: {errors[0].message}"


def test_the_schema_accepts_what_the_reader_accepts_and_refuses_what_it_refuses() -> None:
    too_strict, too_loose = [], []
    judged: collections.Counter[tuple[bool, bool]] = collections.Counter()
    editor = validator()
    for case in corpus():
        reader, schema = _reader_accepts(case.text), _schema_accepts(editor, case.text)
        judged[reader, schema] += 1
        if reader and not schema:
            too_strict.append(f"{case.field} = {case.payload}")
        elif schema and not reader and not _reader_only(case):
            too_loose.append(f"{case.field} = {case.payload}")
    assert not too_strict, f"the schema refuses what the reader accepts: {too_strict[:20]}"
    assert not too_loose, f"the schema lets through a mistake of form the reader refuses: {too_loose[:20]}"
    # The corpus is mostly refusals; both verdicts must be there for the two assertions to mean anything.
    assert judged[True, True] and judged[False, False], judged


def _schema_fields(schema: dict[str, Any], prefix: str = "") -> dict[str, tuple[bool, str]]:
    """Every field a scenario can hold, by the path the field reference writes it at ('hosts.*.routes[].to'):
    (required, its documentation)."""
    found: dict[str, tuple[bool, str]] = {}
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        found[path] = (name in required, prop["description"])
        for inner, suffix in _nested(prop):
            found.update(_schema_fields(inner, f"{path}{suffix}"))
    return found


def _nested(prop: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The mappings of fields inside a field: its own, its list's items', its mapping's values'."""
    for alt in prop.get("anyOf", [prop]):
        if "properties" in alt:
            return [(alt, ".")]
        if isinstance(alt.get("items"), dict) and "properties" in alt["items"]:
            return [(alt["items"], "[].")]
        if isinstance(alt.get("additionalProperties"), dict) and "properties" in alt["additionalProperties"]:
            return [(alt["additionalProperties"], ".*.")]
    return []


def test_the_field_reference_has_a_row_for_every_field_a_scenario_can_hold() -> None:
    """The contributor guide's table of fields (netsim.schema.field_reference), against the schema:
    both come from netsim.scenario's dataclasses, so a row missing, misnamed or marked wrongly shows."""
    rows = field_reference(Scenario)
    fields = _schema_fields(json_schema(Scenario))
    assert [row[0] for row in rows] == list(fields)  # in declaration order, nested rows after their field
    for name, kind, default, doc in rows:
        required, described = fields[name]
        assert (default == "required") == required, (name, default)
        assert doc == described and kind, name
    assert {"hosts.*.routes[].to", "steps[].connect.to", "hosts.*.interfaces.*.mac"} <= set(fields)


def test_every_value_the_reader_takes_in_a_parsed_format_matches_its_editor_pattern() -> None:
    """The corpus tries a few hostile values per field; the formats the reader parses in code (addresses,
    networks, endpoints, forwards) get random values shaped like them too. Whatever the reader takes,
    the pattern editors get must take: it may only ever be looser."""
    rng = random.Random(18)
    numbers = ["0", "1", "9", "10", "25", "99", "255", "256", "00", "01", "300", "24", "32", "33", "080"]
    numbers += ["65535", "65536", "19001", "000019001", " 1", "1 ", "+1", "-1", "\u0661", ""]

    octets = ["0", "1", "9", "10", "25", "99", "127", "255"]

    def address() -> str:
        count = rng.choice((4, 4, 4, 4, 3, 5))
        return ".".join(rng.choice(octets if rng.random() < 0.9 else numbers) for _ in range(count))

    def part() -> str:
        return rng.choice([address(), address(), rng.choice(numbers), "localhost", "*", "", "default", "a"])

    formats = [fmt for fmt in vars(schema).values() if isinstance(fmt, schema.Format) and fmt.editor]
    names = {"ipv4", "ipv4-interface", "endpoint", "route-to", "ipv4-network", "ssh-forward"}
    assert {f.name for f in formats} >= names
    taken: collections.Counter[str] = collections.Counter()
    for _ in range(30_000):
        if rng.random() < 0.5:  # the shapes the formats take, each part right or a little wrong
            shape = rng.choice(["{a}/{n}", "{a}/{a}", "{a}:{n}", "{p}:{n}:{p}:{n}", "{n}:{p}:{n}", ":{n}:{p}:{n}"])
            text = shape.format_map(collections.defaultdict(str, a=address(), p=part(), n=rng.choice(numbers)))
        else:
            text = part()
            for _ in range(rng.randint(0, 3)):
                text += rng.choice(["/", ":", ":"]) + part()
        for fmt in formats:
            if schema._check_format(fmt, text) is not None:
                taken[fmt.name] += 1
                assert re.fullmatch(fmt.editor, text), (fmt.name, text)
    assert min(taken[f.name] for f in formats) >= 20, taken  # each format took enough values to mean something
