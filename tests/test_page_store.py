"""A build replays each page whose inputs are unchanged since it was last rendered (macros.py,
netsim/pages/pagestore.py, issue 23): the files it writes must be the files a build without any
cache writes, byte for byte, and a page re-renders when anything it read has changed. On the small
site (tests/sitecopy.py): the replay is per page, whatever the number of posts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import prerun
from sitecopy import copy_small_site
from test_serve_rebuild import files

# `mkdocs build`'s own sequence (mkdocs/__main__.py), in a process that then says how many pages
# were replayed and how many rendered.
BUILD = """
import json, sys
from pathlib import Path
from mkdocs.config import load_config
from mkdocs.commands.build import build

root, out = Path(sys.argv[1]), Path(sys.argv[2])
config = load_config(config_file=str(root / "mkdocs.yml"), site_dir=str(out))
config.plugins.on_startup(command="build", dirty=False)
build(config)
pages = sys.modules["_bottom_six_pages"]
print(json.dumps([pages.hits, pages.renders, "netsim.simulation" in sys.modules]))
"""


SIMULATED: dict[Path, bool] = {}  # each build's output folder: did the build load the simulator?


def build(root: Path, out: Path, cache: str) -> tuple[int, int]:
    """A build of `root` into `out` with NETSIM_CACHE_DIR=cache: (pages replayed, pages rendered)."""
    # A fresh process as far as the site is concerned (tests/prerun.py): only the libraries are
    # loaded already, never netsim, so "did the build load the simulator?" is this build's answer.
    done = prerun.python(
        ["-c", BUILD, str(root), str(out)],
        cwd=root,
        env={**os.environ, "NETSIM_CACHE_DIR": cache, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    hits, renders, SIMULATED[out] = json.loads(done.stdout.strip().splitlines()[-1])
    return hits, renders


def same_files(got: Path, want: Path) -> None:
    a, b = files(got), files(want)
    assert sorted(a) == sorted(b), set(a) ^ set(b)
    different = [name for name in b if a[name] != b[name]]
    assert not different, different


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_replayed_build_writes_what_an_uncached_build_writes_and_edits_re_render(tmp_path: Path) -> None:
    root = copy_small_site(tmp_path / "src")
    cache = str(tmp_path / "cache")
    hits, pages = build(root, tmp_path / "first", cache)
    assert hits == 0 and pages > 4, (hits, pages)
    assert build(root, tmp_path / "second", cache) == (pages, 0)  # every page replayed
    same_files(tmp_path / "second", tmp_path / "first")
    # Nothing simulated, not even for the try-it scripts and captures: netsim's work is all kept.
    assert SIMULATED[tmp_path / "first"] and not SIMULATED[tmp_path / "second"]

    # A scenario's text: post three, the guide and the decoder read it; every other page replays.
    edit(root / "diagrams" / "three-ways-to-say-no.yaml", "title: A door with a doorman", "title: A door with a porter")
    assert build(root, tmp_path / "scenario-edited", cache) == (pages - 3, 3)
    # A post's title in its front matter: the post, and the decoder page, which lists it by title.
    edit(root / "docs" / "posts" / "margarets-room.md", "title: Margaret's room", "title: Margaret's own room")
    assert build(root, tmp_path / "edited", cache) == (pages - 2, 2)
    build(root, tmp_path / "uncached", "off")
    same_files(tmp_path / "edited", tmp_path / "uncached")
    assert "A door with a porter" in (tmp_path / "edited" / "posts" / "three-ways-to-say-no.html").read_text()
    assert "Margaret&#39;s own room" in (tmp_path / "edited" / "decoder.html").read_text()
