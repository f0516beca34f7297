"""A throwaway copy of the site's sources, for tests that build or serve a modified site, and the
build those tests run.

Tests that only read the site use the one strict build of the checkout that every test shares
(the `built_site` fixture in conftest.py); a copy is for a test that changes something.
"""

from __future__ import annotations

import functools
import importlib.util
import marshal
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import prerun
import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    "mkdocs.yml",
    "macros.py",
    "hooks.py",
    "serve.py",
    "includes",
    "docs",
    "diagrams",
    "decoder",
    "netsim",
    "overrides",
]
# How mkdocs 1.6 ends a strict build whose only fault is warnings, after writing the whole site.
STOPPED_BY_WARNINGS = re.compile(r"Aborted with \d+ warnings? in strict mode!")


def copy_site(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    _add_bytecode(dest)
    return dest


# The compiled code of the checkout's modules, each kept with the source it was compiled from.
_COMPILED: dict[str, tuple[bytes, bytes]] = {}


def _add_bytecode(dest: Path) -> None:
    """Give the copy's Python files (netsim, macros.py, hooks.py, serve.py) their compiled code,
    in __pycache__ beside them, as a checkout a contributor has built in has it.

    A build of a copy imports netsim, macros.py and hooks.py from the copy (tests/prerun.py), and
    with no bytecode there (a fresh folder; most containers set PYTHONDONTWRITEBYTECODE, so no
    build writes any) every build compiled them from source: ~0.1 CPU s a build that replays its
    pages, ~0.16 s one that renders them, over the ~50 builds of copies in `make check`. Here each
    file is compiled once per pytest process, and the copies get the same code.

    Each .pyc is a checked hash-based one (PEP 552): Python hashes the source beside it on every
    import and compiles the source instead when they differ. A test that plants a fault in a
    copy's netsim, with any edit at any time, imports the fault; nothing here depends on mtimes.
    The code's file name is the copy's own (importlib sets it to the source's path on loading).
    """
    tag = sys.implementation.cache_tag
    if tag is None:
        return
    for path in sorted(dest.rglob("*.py")):
        relative = str(path.relative_to(dest))
        source = path.read_bytes()
        kept = _COMPILED.get(relative)
        if kept is None or kept[0] != source:
            code = compile(source, str(ROOT / relative), "exec", dont_inherit=True)
            flags = (0b11).to_bytes(4, "little")  # hash-based, checked against the source
            header = importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source)
            kept = _COMPILED[relative] = (source, header + marshal.dumps(code))
        cache = path.parent / "__pycache__"
        cache.mkdir(exist_ok=True)
        (cache / f"{path.stem}.{tag}.pyc").write_bytes(kept[1])


# The posts of the small site: the first three, which link only to each other, and between them
# every kind of page the build machinery treats differently (a reveal, a decoder's post, a try-it).
FIRST_POSTS = ("margarets-room", "rooms-inside-rooms", "three-ways-to-say-no")
NAV_POST = re.compile(r'^  - "(\d+)\. (.*)": posts/([a-z0-9-]+)\.md$', re.M)


def copy_small_site(dest: Path, keep: tuple[str, ...] = FIRST_POSTS) -> Path:
    """A copy of the site with only the posts in `keep`, rewritten so that it builds strict and
    green: the nav lists them numbered 1..N in the nav's order, each post's `number` follows, a
    link to a post left out becomes its text, and the decoder keeps the words whose post is kept.

    For the tests of the build machinery (page store, serve rebuilds, prerender workers, caches,
    series checks, the post guard): what they check does not depend on how many posts there are,
    and a build of these three costs about 60 per cent of one of all eight (uncached: 4.8 CPU
    seconds against 8.0, most of the rest the theme and mkdocs). The full site is still
    built strict once per run (conftest.py's `built_site`), and the claim audit covers every post.
    Every scenario file is kept: a scenario no page reads costs nothing, and the list of them
    (which an unknown name's error prints) stays the checkout's.
    """
    copy_site(dest)
    config = (dest / "mkdocs.yml").read_text(encoding="utf-8")
    listed = [m.group(3) for m in NAV_POST.finditer(config)]
    assert set(keep) <= set(listed), (keep, listed)
    numbers = {name: n for n, name in enumerate([name for name in listed if name in keep], 1)}

    def nav_line(m: re.Match[str]) -> str:
        name = m.group(3)
        return f'  - "{numbers[name]}. {m.group(2)}": posts/{name}.md' if name in numbers else "\x00"

    config = NAV_POST.sub(nav_line, config).replace("\x00\n", "")
    (dest / "mkdocs.yml").write_text(config, encoding="utf-8")
    dropped = set(listed) - set(keep)
    names = "|".join(map(re.escape, sorted(dropped))) or "(?!)"  # (?!): nothing dropped, no link matches
    link = re.compile(r"\[([^\]]+)\]\((?:\.\./posts/|posts/)?(?:" + names + r")\.md(?:#[^)]*)?\)")
    for post in sorted((dest / "docs" / "posts").glob("*.md")):
        if post.stem in dropped:
            post.unlink()
            continue
        text = post.read_text(encoding="utf-8")
        text, found = re.subn(r"^number: \d+$", f"number: {numbers[post.stem]}", text, count=1, flags=re.M)
        assert found == 1, post
        post.write_text(link.sub(r"\1", text), encoding="utf-8")
    for page in (dest / "docs").glob("*.md"):  # the pages that are not posts
        text = page.read_text(encoding="utf-8")
        assert not link.search(text), (page, link.search(text))
    decoder = dest / "decoder" / "messages.yaml"
    decoder.write_text(_decoder_words(decoder.read_text(encoding="utf-8"), tuple(keep)), encoding="utf-8")
    return dest


@functools.cache
def _decoder_words(text: str, keep: tuple[str, ...]) -> str:
    """The decoder's words (decoder/messages.yaml, `text`) for the posts in `keep` alone; worked out
    once per process for each text and set of posts (PyYAML in Python took ~0.04 CPU s a copy)."""
    words = yaml.safe_load(text)
    for kind in ("entries", "addresses"):
        words[kind] = [item for item in words[kind] if item["post"] in keep]
    assert words["entries"], f"the decoder explains no word in {keep}: keep a post it names"
    return yaml.safe_dump(words, sort_keys=False, allow_unicode=True, width=100)


def mkdocs_build(
    root: Path, out: Path, *, strict: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`mkdocs build [--strict] -d out` in `root`, in a fresh process, as a contributor runs it
    (tests/prerun.py: a process that starts with the libraries loaded)."""
    return prerun.python(
        ["-m", "mkdocs", "build", *(["--strict"] if strict else []), "-d", str(out)],
        cwd=root,
        env={**(os.environ if env is None else env), "NO_MKDOCS_2_WARNING": "1"},
    )


def stopped_by_warnings(result: subprocess.CompletedProcess[str]) -> bool:
    """A strict build that failed on its warnings alone, so its folder is a lenient build's.

    mkdocs 1.6 counts warnings in strict mode and raises only once the whole site is written
    (mkdocs/commands/build.py: the Abort comes after on_post_build), and --strict changes
    nothing else in a build. So one strict build answers both questions a test asks of a broken
    post: does `make build` fail, and what does `make serve` (no --strict) show? A build
    without --strict would have written the same files and exited 0; test_site.py pins this.
    """
    return result.returncode == 1 and bool(STOPPED_BY_WARNINGS.search(result.stdout + result.stderr))
