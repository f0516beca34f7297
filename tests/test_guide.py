"""The contributor guide as a newcomer follows it: `netsim new` writes a post that builds green,
and every example in docs/contributing.md is run here, so an example that lies fails."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from datetime import date
from importlib import import_module
from pathlib import Path

import pytest
import yaml
from sitecopy import ROOT, copy_site, copy_small_site, mkdocs_build

from netsim.pages.book import Book
from netsim.pages.macros import Page, check_page
from netsim.scaffold import SCHEMA_COMMENT, ScaffoldError, new_post, next_number, post_text, scenario_text
from netsim.scenario import Step, parse_scenario
from netsim.schemafile import scenario_schema
from netsim.simulation import run

GUIDE = (ROOT / "docs" / "contributing.md").read_text(encoding="utf-8")
RAW = re.compile(r"\{% raw %\}(.*?)\{% endraw %\}", re.S)
MACRO_CALL = re.compile(r"\{\{.*?\}\}", re.S)
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}


def block(title: str) -> str:
    """The fenced code block of the guide with this title, as the reader sees it."""
    match = re.search(r'^```\w+ title="' + re.escape(title) + r'"\n(.*?)^```$', GUIDE, re.S | re.M)
    assert match, f"the guide has no code block titled {title}"
    return match.group(1)


def netsim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netsim", *args], cwd=cwd, capture_output=True, text=True, env=ENV, check=False
    )


# --- netsim new ---------------------------------------------------------------------------


def test_netsim_new_writes_a_post_that_builds_green_with_every_part(tmp_path: Path) -> None:
    # The small site (posts 1-3, tests/sitecopy.py): a new post's scenario changes the list of them,
    # so every page renders afresh, and what `netsim new` writes does not depend on the posts before it.
    root = copy_small_site(tmp_path / "src")
    for post in (root / "docs" / "posts").glob("*.md"):  # drafts written ahead would leave a gap before it
        if re.search(r"^draft: true", post.read_text(encoding="utf-8"), re.M):
            post.unlink()
            nav = root / "mkdocs.yml"
            kept = [line for line in nav.read_text().splitlines(True) if f"posts/{post.name}" not in line]
            nav.write_text("".join(kept))
    # The error decoder names some of those posts too: their words go with them here.
    words = root / "decoder" / "messages.yaml"
    data = yaml.safe_load(words.read_text(encoding="utf-8"))
    posts = {p.stem for p in (root / "docs" / "posts").glob("*.md")}
    for key in ("entries", "addresses"):
        data[key] = [item for item in data[key] if item["post"] in posts]
    words.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    made = netsim("new", "a-first-post", "--title", "A first post", cwd=root)
    assert made.returncode == 0, made.stderr
    assert "wrote docs/posts/a-first-post.md" in made.stdout
    number = next_number(root / "docs" / "posts") - 1  # the number it took: after every published post
    assert f'  - "{number}. A first post": posts/a-first-post.md\n' in (root / "mkdocs.yml").read_text()
    built = mkdocs_build(root, tmp_path / "site")  # a fresh process as far as the site is concerned (tests/prerun.py)
    assert built.returncode == 0, built.stderr
    page = (tmp_path / "site" / "posts" / "a-first-post.html").read_text()
    assert page.count('class="ns-claim"') == 3 and "ns-error" not in page  # every claim ticked
    assert 'class="ns-figure ' in page  # the inline figure
    assert 'class="ns-stepper"' in page and "captures/a-first-post.pcap" in page
    assert "Try it yourself" in page and "scripts/a-first-post.sh" in page
    assert (tmp_path / "site" / "scripts" / "a-first-post.sh").is_file()
    assert (tmp_path / "site" / "captures" / "a-first-post.pcap").is_file()
    assert "A first post" in (tmp_path / "site" / "index.html").read_text()  # the series index
    assert "a-first-post.html" in (tmp_path / "site" / "feed.xml").read_text()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bad_Name", "'Bad_Name' is not a post name; expected lower-case letters, digits and single dashes"),
        ("margarets-room", "diagrams/margarets-room.yaml already exists; choose another name"),
    ],
)
def test_netsim_new_refuses_bad_input_and_writes_nothing(tmp_path: Path, name: str, message: str) -> None:
    root = copy_site(tmp_path / "src")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    refused = netsim("new", name, cwd=root)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: {message}"), refused.stderr
    assert "Traceback" not in refused.stderr
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_netsim_new_outside_the_site_says_where_to_run_it(tmp_path: Path) -> None:
    refused = netsim("new", "a-post", cwd=tmp_path)
    assert refused.returncode == 2
    assert "expected the site's root (mkdocs.yml, diagrams/, docs/posts/)" in refused.stderr
    assert list(tmp_path.iterdir()) == []


def test_netsim_new_that_cannot_write_the_post_leaves_nothing_behind(tmp_path: Path) -> None:
    """A post that cannot be written (here its temporary file's name is taken by a folder, as a
    folder without write permission would refuse it) once left diagrams/NAME.yaml behind, with an
    internal error; a second try then said the name already existed."""
    (tmp_path / "diagrams").mkdir()
    (tmp_path / "docs" / "posts").mkdir(parents=True)
    (tmp_path / "mkdocs.yml").write_text('nav:\n  - "1. One": posts/one.md\n', encoding="utf-8")
    (tmp_path / "docs" / "posts" / "half.md.tmp").mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ScaffoldError, match=r"^docs/posts/half\.md\.tmp: cannot write it \(Is a directory\); nothing"):
        new_post(tmp_path, "half")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "mkdocs.yml").read_text(encoding="utf-8") == 'nav:\n  - "1. One": posts/one.md\n'


def test_netsim_is_a_command_once_installed() -> None:
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["netsim"]
    module, _, function = target.partition(":")
    assert getattr(import_module(module), function) is import_module("netsim.cli").main
    command = Path(sys.executable).parent / "netsim"  # make installs the project with `pip install -e .`
    if not command.exists():
        pytest.skip(f"{command} is not installed here (run make to install it); the entry point resolves")
    shown = subprocess.run([str(command), "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "usage: netsim" in shown.stdout


# --- the guide's examples are what netsim new writes, and they are true -------------------


def test_the_guides_scenario_is_the_one_netsim_new_writes() -> None:
    assert '--8<-- "diagrams/two-seats.yaml"' in block("diagrams/two-seats.yaml")
    assert (ROOT / "diagrams" / "two-seats.yaml").read_text() == scenario_text("two-seats", "Two seats")


def test_the_guides_post_is_the_one_netsim_new_writes() -> None:
    shown = block("docs/posts/two-seats.md")
    number = int(re.search(r"^number: (\d+)$", shown, re.M).group(1))  # type: ignore[union-attr]
    when = date.fromisoformat(re.search(r"^date: (\S+)$", shown, re.M).group(1))  # type: ignore[union-attr]
    assert shown == post_text("two-seats", "Two seats", number, when)


def test_every_macro_call_in_the_guide_renders_without_an_error(tmp_path: Path) -> None:
    calls = [call for raw in RAW.findall(GUIDE) for call in MACRO_CALL.findall(raw)]
    used = {re.match(r"\{\{\s*(\w+)\(", call).group(1) for call in calls}  # type: ignore[union-attr]
    # The reference tables and the decoder are pages of the site, not something a post writes.
    site_pages = {"field_reference", "fact_reference", "decoder"}
    assert used | site_pages == set(Page.MACROS), "a macro the guide never shows"
    page = tmp_path / "docs" / "posts" / "guide-examples.md"
    page.parent.mkdir(parents=True)
    page.write_text("---\nscenario: two-seats\n---\n" + "\n\n".join(calls) + "\n")
    assert [str(e) for e in check_page(page, tmp_path, Book(ROOT))] == []


def test_the_guides_false_claim_fails_with_the_message_it_shows(tmp_path: Path) -> None:
    post = block("docs/posts/two-seats.md").replace(
        'copies_to=["ben"], learns={"ann": "seat1"})', 'copies_to=["ben", "laptop"])'
    )
    page = tmp_path / "docs" / "posts" / "two-seats.md"
    page.parent.mkdir(parents=True)
    page.write_text(post)
    (error,) = check_page(page, tmp_path, Book(ROOT))
    assert str(error) == re.search(r"```text\n(docs/posts/two-seats\.md:.*?)\n```", GUIDE).group(1)  # type: ignore[union-attr]


def test_the_guides_step_link_example_is_what_the_macro_writes() -> None:
    page = Page(Book(ROOT), "docs/contributing.md", GUIDE, "two-seats")
    shown = re.search(r"a link to the step in the stepper, `(.*?)`", GUIDE).group(1)  # type: ignore[union-attr]
    assert page.step_link("ben-answers") == shown


def test_every_kind_of_step_has_a_working_example_in_the_guide() -> None:
    text = block("every-step.yaml")
    scenario = parse_scenario(text, "every-step.yaml")
    trace = run(scenario)
    actions = {f.name for f in dataclasses.fields(Step)} - {"id", "title"}
    assert {step.action for step in trace.steps} == actions
    table = set(re.findall(r"^\| `(\w+)` \|", GUIDE, re.M))
    assert actions <= table, f"steps missing from the guide's table: {sorted(actions - table)}"


# --- scenario files tell editors their schema --------------------------------------------


def test_every_scenario_file_carries_the_schema_association_and_make_writes_the_schema(tmp_path: Path) -> None:
    for path in ROOT.glob("diagrams/*.yaml"):  # the posts' scenarios (tests/lab_scenarios/ have it too, unchecked)
        first = path.read_text().splitlines()[0]
        assert first == SCHEMA_COMMENT, path
    assert scenario_text("x", "X").startswith(SCHEMA_COMMENT + "\n")
    root = copy_site(tmp_path / "src")  # make writes the file the comment names, beside the scenarios
    shutil.copy2(ROOT / "Makefile", root / "Makefile")
    (root / ".venv").symlink_to((ROOT / ".venv").resolve())
    made = subprocess.run(
        ["make", "-o", ".venv/.installed", "-o", ".venv/.installed-build", "diagrams/scenario.schema.json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert json.loads((root / "diagrams" / "scenario.schema.json").read_text()) == scenario_schema()


def test_every_row_of_the_field_reference_is_one_field(built_site: Path) -> None:
    """A field's documentation spread over lines (LinkSet's docstring) must stay in its cell: a line break
    in the Markdown row ended the row, and its second line showed as a row of its own with no field."""
    html = (built_site / "contributing.html").read_text(encoding="utf-8")
    table = html[html.index("<code>title</code>") : html.index("</table>", html.index("<code>title</code>"))]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>", table, re.S)
    assert len(rows) > 100
    loose = [row for row in rows if not row.startswith("<code>")]
    assert not loose, f"rows of the field reference that name no field: {loose[:3]}"
