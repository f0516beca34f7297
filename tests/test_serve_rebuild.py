"""Under `make serve`, a rebuild after an edit renders only the pages whose inputs changed (the
edited page, the pages that use an edited scenario) and replays the rest (macros.py), and converts
from Markdown only the pages whose Markdown, links or snippets changed (serve.py): the files it
writes must be the files a full build of the edited site writes, byte for byte. On the small site
(tests/sitecopy.py): what a rebuild reuses is per page, whatever the number of posts."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import prerun
import pytest
from conftest import quick
from sitecopy import copy_small_site

# mkdocs serve's own sequence: one on_startup("serve"), then a fresh config and a build into the
# same folder on every change (mkdocs/commands/serve.py), here without the server around it.
SERVE = """
import json, sys
from pathlib import Path
from mkdocs.config import load_config
from mkdocs.commands.build import build

root, out, edits = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
URL = "http://127.0.0.1:8000/"
import serve  # what `make serve` runs: it keeps what a rebuild can reuse, in this process
serve.keep_between_rebuilds()

def rebuild(first=False):
    config = load_config(config_file=str(root / "mkdocs.yml"), site_dir=str(out / "site"))
    if first:
        config.plugins.on_startup(command="serve", dirty=False)
    config.site_url = URL
    build(config, serve_url=URL)

rebuild(first=True)
rendered, converted, templated = [], [], []
for file, old, new, keep in edits:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (file, old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    before, was, drawn = sys.modules["_bottom_six_pages"].hits, serve.STATS["converted"], serve.STATS["rendered"]
    rebuild()
    rendered.append(sys.modules["_bottom_six_pages"].hits - before)
    converted.append(serve.STATS["converted"] - was)
    templated.append(serve.STATS["rendered"] - drawn)
    if keep:
        import shutil
        shutil.copytree(out / "site", out / keep)
print(json.dumps([rendered, converted, templated]))
"""


def serve(
    root: Path, out: Path, edits: list[tuple[str, str, str, str]], cache: str | None = None
) -> tuple[list[int], list[int], list[int]]:
    """Build as `make serve` does, then apply each edit and rebuild; per rebuild, the pages replayed
    by the macros, the pages converted from Markdown and the pages whose template rendered.

    `cache` is NETSIM_CACHE_DIR for it ("off": every page rendered, nothing replayed from disk).
    """
    # A fresh process as far as the site is concerned (tests/prerun.py): it imports serve.py,
    # macros.py and netsim from `root`; only the libraries are loaded already.
    done = prerun.python(
        ["-c", SERVE, str(root), str(out), json.dumps(edits)],
        cwd=root,
        env={**os.environ, **({"NETSIM_CACHE_DIR": cache} if cache else {})},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    replayed, converted, templated = json.loads(done.stdout.strip().splitlines()[-1])
    return replayed, converted, templated


def files(site: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(site)): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.suffix != ".gz"  # sitemap.xml.gz: gzip's header carries the time
    }


def test_a_rebuild_after_each_kind_of_edit_writes_what_a_full_build_writes(tmp_path: Path) -> None:
    prose = ("docs/posts/margarets-room.md", "an old acquaintance", "an old friend", "after-prose")
    scenario = (
        "diagrams/three-ways-to-say-no.yaml",
        "title: A door with a doorman",
        "title: A door with a porter",
        "after-scenario",
    )
    # A comment in the scenario the guide shows whole (a snippet): the guide's macros give the same
    # Markdown as before, but the snippet it pulls in has changed.
    snippet = ("diagrams/two-seats.yaml", "every address, badge", "each address, badge", "after-snippet")
    # A post's title: the index lists it, the decoder names it, its own page shows it.
    title = ("docs/posts/margarets-room.md", "title: Margaret's room", "title: Margaret's own room", "after-title")
    edits = [prose, scenario, snippet, title]
    replayed, converted, templated = serve(copy_small_site(tmp_path / "served"), tmp_path / "served-out", edits)
    pages = len(list((tmp_path / "served" / "docs").rglob("*.md")))
    # Only the edited page renders after the prose edit; after the scenario edit, the pages that
    # use three-ways-to-say-no render again: post three, the guide and the decoder.
    assert replayed[:2] == [pages - 1, pages - 3], replayed
    # Converted from Markdown: the edited post; none after the scenario edit (a figure's contents
    # are set aside, out of the Markdown, and put back into the finished page); the guide, whose
    # snippet changed; the post and the index, which lists it by title. Every other conversion is
    # reused, and what the pages show is checked against full builds below.
    assert converted == [1, 0, 1, 2], converted
    # Rendered through the theme's template (serve.py): the edited post; after the scenario edit,
    # post three alone (its figures are put back after the template, by hooks.on_post_page, but its
    # preview image's description, in its head, names the scenario's title); the guide; after the
    # title edit every page, whose menu lists the post by its title.
    assert templated == [1, 1, 1, pages], templated
    # The references: full serve builds of the site as each edit left it, each in a fresh process
    # with no page or figure cache (a replay compared with a replay would prove nothing). Under
    # make check (pytest --quick, tests/conftest.py), only the site as the last edit left it: the
    # pages the scenario and snippet edits re-rendered are still in it as they were then.
    checked = [len(edits) - 1] if quick() else range(len(edits))
    for n, keep in ((n, edits[n][3]) for n in checked):
        fresh = copy_small_site(tmp_path / f"fresh-{n}")
        for earlier in edits[: n + 1]:
            path = fresh / earlier[0]
            path.write_text(path.read_text(encoding="utf-8").replace(earlier[1], earlier[2]), encoding="utf-8")
        serve(fresh, tmp_path / f"fresh-{n}-out", [], cache="off")
        want, got = files(tmp_path / f"fresh-{n}-out" / "site"), files(tmp_path / "served-out" / keep)
        assert sorted(got) == sorted(want), set(got) ^ set(want)
        different = [name for name in want if got[name] != want[name]]
        assert not different, (keep, different)
    assert "an old friend" in (tmp_path / "served-out" / "after-prose" / "posts" / "margarets-room.html").read_text()
    three = tmp_path / "served-out" / "after-scenario" / "posts" / "three-ways-to-say-no.html"
    assert "A door with a porter" in three.read_text()
    assert "each address, badge" in (tmp_path / "served-out" / "after-snippet" / "contributing.html").read_text()
    assert "s own room" in (tmp_path / "served-out" / "after-title" / "index.html").read_text()


# What the edit-in-a-window scripts run in: serve's rebuilds, in one process, as make serve runs
# them (the site at argv[1], built into argv[2]).
REBUILDS = """
import sys
from pathlib import Path
from mkdocs.config import load_config
from mkdocs.commands.build import build

root, out = Path(sys.argv[1]), Path(sys.argv[2])
URL = "http://127.0.0.1:8000/"
import serve
serve.keep_between_rebuilds()

def rebuild(first=False):
    config = load_config(config_file=str(root / "mkdocs.yml"), site_dir=str(out))
    if first:
        config.plugins.on_startup(command="serve", dirty=False)
    config.site_url = URL
    build(config, serve_url=URL)
"""


# A netsim edit that lands as a rebuild starts: after macros.py has checked netsim's files (the
# modules are kept), before define_env keys the pages (it makes the page store just before).
EDIT_AS_A_REBUILD_STARTS = """
store = sys.modules["netsim.pages.pagestore"].PageStore
made = store.__init__
def edit_then_make(self, *args, **kwargs):
    words = root / "netsim" / "render" / "words.py"
    text = words.read_text(encoding="utf-8")
    words.write_text(text.replace('"forward": "forwarded to"', '"forward": "walked straight to"'), encoding="utf-8")
    store.__init__ = made
    made(self, *args, **kwargs)
store.__init__ = edit_then_make
rebuild()  # the rebuild the edit lands in
rebuild()  # the rebuild the edit asks for
"""


# A scenario edit that lands while a page that reads it renders: after the page's macros read the
# scenario, before the page's result is kept (its last step, Page.finish).
EDIT_AS_A_PAGE_RENDERS = """
def edit(name, old, new):
    text = (root / name).read_text(encoding="utf-8")
    (root / name).write_text(text.replace(old, new), encoding="utf-8")

page = sys.modules["netsim.pages.macros"].Page
finish = page.finish
def edit_then_finish(self):
    edit("diagrams/margarets-room.yaml", "label: Carlos", "label: Carla")
    page.finish = finish
    return finish(self)
page.finish = edit_then_finish
edit("docs/posts/margarets-room.md", "an old acquaintance", "an old friend")
rebuild()  # the rebuild the prose edit asked for: the scenario edit lands in it
rebuild()  # the rebuild the scenario edit asks for
"""


@pytest.fixture(scope="module")
def edited_in_a_window(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both edit-in-a-window scripts, one after the other, in one make serve process on the two-post
    copy with a page store of its own; the site as each left it is kept in after-code-edit/ and
    after-scenario-edit/. Each starts from a site its rebuilds made whole (the first build, then
    the code edit's second rebuild), as it did when each had a process and a first build of its
    own: the one first build is the cost they shared."""
    top = tmp_path_factory.mktemp("window")
    root = copy_small_site(top / "served", ("margarets-room", "a-name-for-the-host"))
    script = (
        REBUILDS
        + "import shutil\nrebuild(first=True)\n"
        + EDIT_AS_A_REBUILD_STARTS
        + "shutil.copytree(out, out.parent / 'after-code-edit')\n"
        + EDIT_AS_A_PAGE_RENDERS
        + "shutil.copytree(out, out.parent / 'after-scenario-edit')\n"
    )
    done = prerun.python(
        ["-c", script, str(root), str(top / "site")],
        cwd=root,
        env={**os.environ, "NETSIM_CACHE_DIR": str(top / "cache")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return top


def test_an_edit_that_lands_as_a_rebuild_starts_shows_on_the_next(edited_in_a_window: Path) -> None:
    """What a rebuild made while an edit landed is never kept as the edited site's: the page the
    old code made was once kept under the new code's key, so no later rebuild, and no later build
    from the same page store, showed the edit."""
    page = edited_in_a_window / "after-code-edit" / "posts" / "margarets-room.html"
    assert "walked straight to" in page.read_text(encoding="utf-8")


def test_a_scenario_edit_that_lands_as_its_page_renders_shows_on_the_next_rebuild(edited_in_a_window: Path) -> None:
    """A page is kept under the digest of the scenario bytes it was made from, not of the file as
    it is once the page is done: else the page the old scenario made is replayed as the new one's."""
    page = (edited_in_a_window / "after-scenario-edit" / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    assert "an old friend" in page
    assert re.search(r"Carla(&#x27;|&#39;|')s test frame", page), "the scenario edit is not shown"


# The served site made to match one whole folder after another, rebuilding after each, as make
# serve does when an author's edit spans several files (a new post: the post, its nav entry, the
# decoder's words). argv[3]: the folders in order, each with the name its built site is kept under.
STATES = (
    REBUILDS
    + """
import json, shutil
states = json.loads(sys.argv[3])

def tree(top):
    return {p.relative_to(top) for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts}

def become(state):
    want, have = tree(state), tree(root)
    for name in have - want:
        (root / name).unlink()
    for name in sorted(want):
        if name not in have or (root / name).read_bytes() != (state / name).read_bytes():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(state / name, root / name)

rebuild(first=True)
for state, keep in states:
    become(Path(state))
    rebuild()
    shutil.copytree(out, out.parent / keep)
"""
)


def test_a_rebuild_after_a_code_config_new_or_deleted_post_edit_writes_what_a_full_build_writes(
    tmp_path: Path,
) -> None:
    """serve.py keeps a page's template output under everything the template can see: after an
    edit to netsim's code, to mkdocs.yml, a post added and a post removed, a rebuild writes the
    files a full build of the site as edited writes, byte for byte, and each edit shows."""
    import shutil

    two = ("margarets-room", "a-name-for-the-host")  # the decoder's words need a post of theirs
    base = copy_small_site(tmp_path / "state-base", two)

    def edited(state: Path) -> Path:
        for name, old, new in (
            ("netsim/schemafile.py", '"title": "netsim scenario"', '"title": "a netsim scenario"'),
            ("mkdocs.yml", "copyright: Written in the first person", "copyright: Written, in the first person"),
        ):
            text = (state / name).read_text(encoding="utf-8")
            assert text.count(old) == 1, (name, old)
            (state / name).write_text(text.replace(old, new), encoding="utf-8")
        return state

    code = tmp_path / "state-code"
    shutil.copytree(base, code)
    schema = code / "netsim" / "schemafile.py"
    schema.write_text(
        schema.read_text(encoding="utf-8").replace('"title": "netsim scenario"', '"title": "a netsim scenario"'),
        encoding="utf-8",
    )
    config = tmp_path / "state-config"
    shutil.copytree(base, config)
    edited(config)
    # The post added between the two: the second is numbered third from then on.
    added = edited(copy_small_site(tmp_path / "state-added", (*two, "rooms-inside-rooms")))
    states = [(code, "after-code"), (config, "after-config"), (added, "after-new-post"), (config, "after-deleted-post")]
    served = tmp_path / "served"
    shutil.copytree(base, served)
    done = prerun.python(
        ["-c", STATES, str(served), str(tmp_path / "out" / "site"), json.dumps([[str(s), k] for s, k in states])],
        cwd=served,
        env={**os.environ, "NETSIM_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    kept = tmp_path / "out"
    assert '"title": "a netsim scenario"' in (kept / "after-code" / "scenario.schema.json").read_text()
    assert "Written, in the first person" in (kept / "after-config" / "index.html").read_text()
    assert (kept / "after-new-post" / "posts" / "rooms-inside-rooms.html").is_file()
    assert not (kept / "after-deleted-post" / "posts" / "rooms-inside-rooms.html").exists()
    # The references: full builds of each state in a fresh process, no page or figure cache. Under
    # make check, the post added and the post removed (the code and config edits are in both).
    checked = states[2:] if quick() else states
    for n, (state, keep) in enumerate(checked):
        fresh = tmp_path / f"fresh-{n}"
        shutil.copytree(state, fresh, ignore=shutil.ignore_patterns("__pycache__"))
        serve(fresh, tmp_path / f"fresh-{n}-out", [], cache="off")
        want, got = files(tmp_path / f"fresh-{n}-out" / "site"), files(kept / keep)
        assert sorted(got) == sorted(want), (keep, set(got) ^ set(want))
        different = [name for name in want if got[name] != want[name]]
        assert not different, (keep, different)


def test_the_site_s_templates_read_only_what_a_kept_page_render_is_keyed_on() -> None:
    """serve.py leaves out of a page's key the build's time, the macros' state for hooks.on_post_page
    and other pages' bodies and previews: the theme reads none of them, and neither may the site's
    own templates (a template that did would show a stale page after an edit under make serve)."""
    import serve

    root = Path(__file__).resolve().parent.parent
    for template in sorted((root / "overrides").rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for name in (*serve.UNSHOWN, *serve.FOR_HOOKS_ONLY):
            assert name not in text, (template.name, name)
        for name in serve.THIS_PAGE_ONLY:  # the page's own, never another's (nav_item.content)
            for use in re.finditer(rf"(\w+)\.{name}\b", text):
                assert use.group(1) == "page", (template.name, use.group(0))


def test_a_configuration_walked_again_reads_the_same_every_time() -> None:
    """The key of a page's template output walks the configuration; each plugin's settings are walked
    as a dict made for the purpose. When that dict was freed, its id went to the next plugin's, which
    then read as one met already: the site's search and offline plugins read so in 27 walks of 30,
    the key missed the offline plugin's settings, and a rebuild after a prose edit rendered every
    page's template again (test_a_rebuild_after_each_kind_of_edit_..., after test_page_store ran)."""
    from mkdocs.config import load_config

    import serve

    plugins = load_config(str(Path(__file__).resolve().parent.parent / "mkdocs.yml"))["plugins"]
    walks = {json.dumps(serve._stable(plugins, {})) for _ in range(30)}
    assert len(walks) == 1
    assert '"seen"' not in walks.pop()  # no plugin, and no plugin's settings, is met twice
