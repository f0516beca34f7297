"""`netsim new NAME`: a scenario and a post that build green at once, and the post's nav entry.

The post has everything a post of this series has: a figure of one step with its claim, a claim
beside every sentence about the network, the stepper (every step, its bytes, the capture) and the
"try it yourself" script. The contributor guide shows these very files (tests/test_guide.py keeps
them equal), so what the guide says is what a newcomer gets.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from string import Template

import yaml

from netsim.errors import NetsimError

NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
SCHEMA_FILE = "scenario.schema.json"  # beside the scenarios in diagrams/, for YAML editors
SCHEMA_COMMENT = f"# yaml-language-server: $schema={SCHEMA_FILE}"
NAV_POST = re.compile(r"^(\s*)- .*:\s*posts/\S+\.md\s*$")


class ScaffoldError(NetsimError):
    """`netsim new` cannot write the post: names what is wrong and what was expected."""


SCENARIO = Template(
    """$schema
# The scenario of "$title": every address, badge and port the post mentions comes from here.
# Check it with `netsim check diagrams/$name.yaml`; read its story with `netsim run diagrams/$name.yaml`.
title: $title_yaml
description: >
  Ann and Ben sit at a bridge with two seats; the laptop holds the bridge and listens on port 8080.

bridges:
  br0:
    host: laptop                # the host whose kernel holds the bridge
    label: the room
    address: 10.88.0.1/16       # the laptop's own seat in the room
    ports:
      seat1: {label: seat 1}
      seat2: {label: seat 2}

hosts:
  laptop:
    label: the laptop
    listeners: ['10.88.0.1:8080']
  ann:
    label: Ann
    interfaces:
      eth0: {mac: 02:a0:00:00:00:0a, address: 10.88.0.10/16, plug: br0.seat1}
  ben:
    label: Ben
    interfaces:
      eth0: {mac: 02:b0:00:00:00:0b, address: 10.88.0.11/16, plug: br0.seat2}

steps:
  - id: ann-writes-to-ben
    title: Ann writes to Ben
    send: {by: ann, dst: ben}
  - id: ben-answers
    title: Ben answers
    send: {by: ben, dst: ann}
  - id: ann-knocks
    title: Ann knocks on the laptop's port 8080
    connect: {by: ann, to: '10.88.0.1:8080'}
"""
)

POST = Template(
    """---
title: $title_yaml
description: >-
  One sentence for the series index and the RSS feed: what a reader will understand afterwards.
date: $date
number: $number
scenario: $name
---

# $title

Start with the story: what I was doing, what I expected, and what surprised me. Every address,
badge and port comes from the scenario, so Ann's card is {{ mac("ann") }} at
{{ ip("ann") }}, and she sits at {{ seat("ann") }}.

## The first frame

Ann writes to Ben before the bridge has seen Ben at all. It does not know which seat his badge
belongs to, so it hands a copy to every other seat.
{{ claim("ann-writes-to-ben", decision="flood", copies_to=["ben"], learns={"ann": "seat1"}) }}

{{ figure("ann-writes-to-ben") }}

When Ben answers, the bridge has already written down where Ann sits, and his frame goes to her
seat alone. It also notes where Ben sits.
{{ claim("ben-answers", decision="forward", copies_to=["ann"], learns={"ben": "seat2"}) }}

Ann then knocks on the laptop's port 8080, and somebody is listening there.
{{ claim("ann-knocks", outcome="connected") }}

## Every step

Step through the whole scenario here ({{ step_link("ann-knocks", "Ann's knock") }} is the last
step); under each diagram are the exact bytes of every frame, and the capture file opens in
Wireshark.

{{ stepper() }}

## Try it yourself

{{ try_it() }}
"""
)


def scenario_text(name: str, title: str) -> str:
    return SCENARIO.substitute(schema=SCHEMA_COMMENT, name=name, title=title, title_yaml=json.dumps(title))


def post_text(name: str, title: str, number: int, when: date) -> str:
    return POST.substitute(name=name, title=title, title_yaml=json.dumps(title), number=number, date=when.isoformat())


def check_name(name: str) -> None:
    if not NAME.match(name) or len(name) > 60:
        raise ScaffoldError(
            f"{name!r} is not a post name; expected lower-case letters, digits and single dashes, "
            "at most 60 characters, e.g. 'two-seats'"
        )


def check_title(title: str) -> None:
    if not title.strip() or any(c in title for c in "{}<>`\n\r\t"):
        raise ScaffoldError(f"{title!r} is not a title; expected one line of words, without {{ }} < > or backticks")


def next_number(posts: Path) -> int:
    """The first number no post has: after the last post, or the gap a draft written ahead left."""
    numbers = [0]
    for path in posts.glob("*.md"):
        match = re.match(r"\A---\n(.*?)\n---\n", path.read_text(encoding="utf-8"), re.S)
        meta = yaml.safe_load(match.group(1)) if match else None
        if isinstance(meta, dict) and isinstance(meta.get("number"), int):
            numbers.append(meta["number"])
    return min(n for n in range(1, max(numbers) + 2) if n not in numbers)


def _nav_number(line: str) -> int:
    """The number a nav line's label starts with (`- "4. Title": ...`); 0 when it has none."""
    found = re.match(r"""\s*- ["']?(\d+)\.""", line)
    return int(found.group(1)) if found else 0


def nav_with(mkdocs_yml: str, entry: str, number: int | None = None) -> str:
    """mkdocs.yml's text with `entry` after the last post in `nav` numbered below `number` (all of
    them when None), so the posts stay in order (comments and layout kept)."""
    lines = mkdocs_yml.splitlines(keepends=True)
    posts = [i for i, line in enumerate(lines) if NAV_POST.match(line)]
    below = [i for i in posts if number is None or _nav_number(lines[i]) < number]
    last = max(below or posts, default=None)
    if last is None:
        raise ScaffoldError('mkdocs.yml: found no post in `nav` (a line like `  - "1. Title": posts/x.md`)')
    indent = NAV_POST.match(lines[last]).group(1)  # type: ignore[union-attr]
    return "".join([*lines[: last + 1], f"{indent}- {entry}\n", *lines[last + 1 :]])


def new_post(root: Path, name: str, title: str | None = None, today: date | None = None) -> list[Path]:
    """Write diagrams/NAME.yaml and docs/posts/NAME.md and add the post to nav; every check first."""
    check_name(name)
    title = title if title is not None else name.replace("-", " ").capitalize()
    check_title(title)
    config, diagrams, posts = root / "mkdocs.yml", root / "diagrams", root / "docs" / "posts"
    if not config.is_file() or not diagrams.is_dir() or not posts.is_dir():
        raise ScaffoldError(f"{root}: expected the site's root (mkdocs.yml, diagrams/, docs/posts/); run it there")
    scenario, post = diagrams / f"{name}.yaml", posts / f"{name}.md"
    for path in (scenario, post):
        if path.exists():
            raise ScaffoldError(f"{path.relative_to(root)} already exists; choose another name")
    number = next_number(posts)
    texts = {
        scenario: scenario_text(name, title),
        post: post_text(name, title, number, today or date.today()),
        config: nav_with(
            config.read_text(encoding="utf-8"), f"{json.dumps(f'{number}. {title}')}: posts/{name}.md", number
        ),
    }
    # Every file is written beside its place first and only then renamed into it: a write that fails
    # (a folder not writable, a full disk) once left the scenario behind, and the name then "existed".
    written: list[Path] = []
    try:
        for path, text in texts.items():
            tmp = path.with_name(path.name + ".tmp")
            written.append(tmp)
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        for tmp in written:
            if tmp.is_file():
                tmp.unlink()
        where = written[-1].relative_to(root)
        raise ScaffoldError(f"{where}: cannot write it ({exc.strerror}); nothing was written") from None
    for tmp, path in zip(written, texts, strict=True):
        tmp.replace(path)
    return [scenario, post, config]
