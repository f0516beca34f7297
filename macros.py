"""mkdocs-macros entry point: gives pages the netsim macros.

mkdocs-macros runs this file again on every rebuild of `mkdocs serve`, but Python would keep the
netsim modules it imported the first time. Dropping them from sys.modules first makes an edit to
the simulator show on the next reload without restarting the server; when netsim's files are as
they were at the last import, the modules are kept (importing them again is a good part of a
reload's time).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Zensical loads this file again for every page: there the netsim modules (and the scenarios they
# simulated) are kept for the whole build instead.
ZENSICAL = "zensical" in sys.modules
_LOADED = sys.modules.setdefault("_bottom_six_netsim", ModuleType("_bottom_six_netsim"))


def _netsim_files() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "netsim").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


SITE_INPUTS = ("netsim", "macros.py", "hooks.py", "decoder", "includes", "mkdocs.yml")


def _digest_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"\0missing")
    return digest.hexdigest()


def _site_inputs() -> str:
    files: list[Path] = []
    for name in SITE_INPUTS:
        top = ROOT / name
        files += (
            sorted(p for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if top.is_dir() else [top]
        )
    return _digest_of(files)


# The site's code and data as this build keys its pages (_site_key), read before netsim's modules
# are checked and imported below: an edit that lands while a rebuild starts (make serve) is then
# either in both or newer than the key, and never old code under the new key. Read after the
# modules, such a page was kept under the edited code's key, made by the code before the edit, and
# replayed by every later rebuild and build (the page store is on disk).
_INPUTS = "" if ZENSICAL else _site_inputs()

if not ZENSICAL and _LOADED.__dict__.get("digest") != (_now := _netsim_files()):
    for _name in [m for m in sys.modules if m == "netsim" or m.startswith("netsim.")]:
        del sys.modules[_name]
    _LOADED.__dict__["digest"] = _now
    _LOADED.__dict__["traces"] = {}  # simulated by the old code: none is reused
    _LOADED.__dict__["memo"] = {}

from netsim.pages import pagestore, postguard, prerender, writeback  # noqa: E402
from netsim.pages.book import Book  # noqa: E402
from netsim.render import escape, palette  # noqa: E402 - after the purge above, on purpose

if TYPE_CHECKING:
    from netsim.pages.macros import Page

_state: dict[str, Any] = {}
log = logging.getLogger("mkdocs.plugins.netsim")

# A page's macros are most of a page's cost, and they give the same Markdown as long as what they
# read is the same: the page's own source, the scenarios it asks for (and the list of scenario
# files, which an unknown name's error lists), the posts' front matter for the decoder page, the
# site's code and data (netsim, this file, hooks.py, decoder/, includes/) and the libraries that
# draw and highlight. So a page whose inputs are all unchanged since it was last rendered gets its
# Markdown, figures and error boxes back, and its errors are logged again; any other page renders
# afresh. The result is kept in memory between the rebuilds of `make serve` and on disk for the
# next build (netsim.pages.pagestore, outside the checkout; NETSIM_CACHE_DIR=off turns it off).
# tests/test_serve_rebuild.py checks that a rebuild after an edit writes the same files as a full
# build, and tests/test_page_store.py that a replayed build writes what a fresh one does. The
# memo lives in a module of its own, since mkdocs-macros loads this file afresh on every rebuild.
_PAGES = sys.modules.setdefault("_bottom_six_pages", ModuleType("_bottom_six_pages"))
_MEMO: dict[str, dict[str, Any]] = _PAGES.__dict__.setdefault("memo", {})
_PAGES.__dict__.setdefault("hits", 0)  # pages replayed
_PAGES.__dict__.setdefault("renders", 0)  # pages whose macros ran
POSTS_READ = "@posts"  # the read a decoder() call makes: every post's front matter


def _site_key() -> str:
    return hashlib.sha256((_INPUTS + pagestore.libraries()).encode()).hexdigest()


def _read_digest(name: str) -> str:
    """The digest of one thing a page read: a scenario file, or (POSTS_READ) the posts' front matter."""
    if name == POSTS_READ:
        return pagestore.posts_front_matter(ROOT)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name):  # netsim.scenario.SCENARIO_NAME_RE
        return ""
    path = ROOT / "diagrams" / f"{name}.yaml"  # hashed as Book.digest() hashes what it simulated
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def _listing() -> list[str]:
    return sorted(p.stem for p in (ROOT / "diagrams").glob("*.yaml"))


class _RecordedSet(set):
    """A set that also tells the page being rendered what was put into it."""

    def update(self, *others: Any) -> None:
        for other in others:
            items = set(other)
            _state["figures"].update(items)
            super().update(items)

    def add(self, item: Any) -> None:
        _state["figures"].add(item)
        super().add(item)


def define_env(env: Any) -> None:
    if type(env).__module__.startswith("zensical"):
        from netsim.pages import zensical

        zensical.define_env(env, ROOT)
        return
    kept = _LOADED.__dict__
    book = _state["book"] = Book(ROOT, kept.setdefault("traces", {}), kept.setdefault("memo", {}))
    _state["page"] = None
    _state["started"], _state["pool"] = False, None
    _state["store"] = pagestore.PageStore(ROOT)
    _state["site_key"] = _site_key()
    _state["listing"] = _listing()
    _state["reads"] = {}
    get = book.get

    def recorded_get(name: str) -> Any:  # which scenarios a page's macros read, and what they read
        try:
            got = get(name)
        except Exception:
            _state["reads"][name] = _read_digest(name)  # no such file: the page changes when it comes
            raise
        # The bytes simulated, not the file as it is once the page is done: an edit that lands
        # meanwhile is then newer than the page, and the next rebuild renders it again.
        if name not in _state["reads"]:
            _state["reads"][name] = ""  # book.digest() asks this get() again
            _state["reads"][name] = book.digest(name)
        return got

    book.get = recorded_get  # type: ignore[method-assign]
    book.used_figures = _RecordedSet(book.used_figures)  # which diagrams a page's macros used

    def call(name: str) -> Any:
        def macro(*args: Any, **kwargs: Any) -> Any:
            if name == "decoder":  # it lists the posts by title: their front matter is an input
                _state["reads"].setdefault(POSTS_READ, _read_digest(POSTS_READ))  # before it reads them
            return _state["page"].functions()[name](*args, **kwargs)

        macro.__name__ = name
        return macro

    for name in postguard.MACROS:  # netsim.pages.macros (the simulator too) loads on the first page rendered
        env.macro(call(name), name)
    # The workers start at pre_build, the first event after this plugin's own on_config; an earlier
    # load of this file's (a plugin collection kept across make serve's rebuilds) is replaced.
    events = env.conf.plugins.events["pre_build"]
    events[:] = [m for m in events if not getattr(m, "netsim_prerender", False)]
    env.conf.plugins._register_event("pre_build", _start_at_pre_build, plugin_name="macros")


def _file_of(src: str | None, src_path: str) -> str:
    """A page as its key names it: its path in the checkout (docs/posts/x.md)."""
    return str(Path(src).resolve().relative_to(ROOT)) if src else src_path


def _start_at_pre_build(config: Any) -> None:
    """The build's pre_build event: fork the workers now, before mkdocs lists the theme's files
    (some 14,500 of them) and reads the pages, so they render while the build does its own work."""
    if not _state.get("started"):
        _state["started"] = True
        _start_workers(config)


_start_at_pre_build.netsim_prerender = True  # type: ignore[attr-defined] - replaced on the next define_env
# Before mkdocs-macros' own pre_build, which only writes its variables out for its debug log (as
# JSON, whatever the log level: a tenth of a second on a busy machine).
_start_at_pre_build.mkdocs_priority = 50  # type: ignore[attr-defined]


def _start_workers(config: Any) -> None:
    """Fork workers to render the pages the page store lacks (netsim.pages.prerender).

    This process lists the docs folder as mkdocs will (the theme's files aside), less the drafts
    hooks.py leaves out; a worker makes the pages it takes as mkdocs does (with the navigation, for
    their titles). Only where there is a store to hand the results back through, and at least two
    pages to share."""
    old = _PAGES.__dict__.pop("pool", None)
    if old is not None:  # a build that failed half-way left it (make serve): reap its workers
        old.close()
    workers = prerender.workers_wanted()
    if ZENSICAL or workers == 0 or _state["store"].dir is None:
        return
    from mkdocs.structure.files import get_files

    files = get_files(config)
    drafts = sys.modules.get("_bottom_six_series", ModuleType("")).__dict__.get("drafts", ())
    pages: dict[str, Any] = {}
    for doc in files.documentation_pages():
        if not doc.abs_src_path or doc.src_uri in drafts:
            continue
        file = _file_of(doc.abs_src_path, doc.src_path)
        key = _page_key(file, Path(doc.abs_src_path).read_text(encoding="utf-8"))
        if not (_MEMO.get(file, {}).get("key") == key or _state["store"].has(key)):
            pages[file] = doc
    if len(pages) < 2:
        return
    plugin = config.plugins["macros"]

    def page_of(file: str) -> Any:  # in a worker: the page as mkdocs makes it, with its title from the nav
        if pages[file].page is None:
            from mkdocs.structure.nav import get_navigation

            logging.disable(logging.CRITICAL)  # what the navigation has to say, the build says itself
            try:
                nav = get_navigation(files, config)
            finally:
                logging.disable(logging.NOTSET)
            plugin.on_nav(nav, config=config, files=files)
        return pages[file].page

    def render(file: str) -> None:  # in a worker: the page as the build renders it, into the store
        _state["pool"] = None  # this process renders what it takes, and waits for nobody
        _state["book"].late = prerender.Prerender.serving  # its pages' late jobs: its own, after its pages
        page = config.plugins.on_pre_page(page_of(file), config=config, files=files)
        page.read_source(config)
        plugin.on_page_markdown(page.markdown, page=page, config=config, files=files)
        writeback.flush()  # on disk before the build is told

    def late(item: tuple[str, Any]) -> None:  # a late job, in a worker or the build: into the caches
        kind, what = item
        if kind == "preview":
            _state["book"].share_image(what)  # into the figure cache, where on_post_build finds it
        elif kind == "code":
            _state["book"].made_code(what)  # into the figure cache, where hooks.on_post_page finds it
        else:
            _state["book"].keep_download(what, _state["site_key"], _state["store"])
        writeback.flush()  # on disk before the build looks

    # What every process rendering pages needs, loaded once before the fork rather than once in each
    # (the build would load it for its own first page anyway): the simulator, the renderers, the
    # figure cache's digest of netsim's code (and so Graphviz's version).
    for name in ("netsim.pages.macros", "netsim.render.labscript", "netsim.simulation", "netsim.wire"):
        importlib.import_module(name)
    _state["book"].figures.salt  # noqa: B018 - worked out here, once
    writeback.flush()  # nothing half-written is inherited
    pool = prerender.Prerender(list(pages), render, min(workers, len(pages) - 1), late)
    _state["pool"] = _PAGES.__dict__["pool"] = _state["book"].late = pool


def on_pre_page_macros(env: Any) -> None:
    src = env.page.file.abs_src_path
    source = Path(src).read_text(encoding="utf-8") if src else ""
    file = _file_of(src, env.page.file.src_path)
    _state["hit"], _state["guard"] = None, []
    env.__dict__.pop("render", None)  # never a replay left over from a page that failed
    key = _page_key(file, source)
    _state["key"], _state["reads"], _state["file"] = key, {}, file
    _state["figures"] = set()
    _state["title_in"] = env.page.title or ""
    env.page.netsim_put_back = _state["book"].made_code  # a set-aside part made late: hooks.on_post_page
    pool, _state["by_worker"] = _state.get("pool"), False
    if pool is not None and not pool.take(file):  # a worker has it: its result comes from the store
        _state["by_worker"], records = pool.wait(file)
        prerender.relog(records, skip=log.name)  # the replay logs netsim's own errors
    entry = _lookup(file, key)
    if entry is not None and entry["title_in"] == _state["title_in"]:
        _replay(env, entry)
        return
    try:  # before anything renders: a post may only call the macros, with literal arguments
        markdown = env.markdown
        tree = postguard.check(markdown, file, postguard.body_offset(source, markdown), postguard.MACROS, env.env)
        _compile_parsed(env.env, markdown, tree)
        if "{" in (env.page.title or ""):  # mkdocs-macros renders a title with Jinja in it too
            line = next((n for n, text in enumerate(source.splitlines(), 1) if text.startswith("title:")), 1)
            postguard.check(env.page.title, file, line - 1, postguard.MACROS, env.env)
    except postguard.PostError as exc:
        # Nothing of this template is rendered: the page becomes one box saying why (make serve
        # shows it where the writer looks), and the warning fails a strict build.
        log.warning(f"{exc.kind}: {exc}")
        _state["guard"] = [(exc.kind, str(exc))]
        env.markdown = f'!!! failure "{exc.kind}"\n    {escape.markdown(exc)}\n'
        env.page.title = re.sub(r"[{}%#]", "", env.page.title or "")  # mkdocs-macros renders a title too
        _state["page"] = None
        return
    _PAGES.__dict__["renders"] += 1
    from netsim.pages.macros import Page

    _state["page"] = Page(_state["book"], file, source, env.page.meta.get("scenario"))
    env.page.netsim_set_aside = _state["page"].set_aside  # read back by hooks.on_post_page
    env.page.netsim_marks = _state["page"].marks  # the error boxes, placed by hooks.on_post_page


def _compile_parsed(jinja: Any, markdown: str, tree: Any) -> None:
    """mkdocs-macros compiles the page from its text (from_string(), then render()): its next
    from_string() of this very text gives a template that renders the tree the guard parsed and
    passed, with no second parse and no compiling (postguard.render())."""

    def from_string(source: Any, *args: Any, **kwargs: Any) -> Any:
        jinja.__dict__.pop("from_string", None)  # once: the next call is Jinja's own again
        if source is markdown and not args and not kwargs:
            return _Guarded(jinja, tree)
        return type(jinja).from_string(jinja, source, *args, **kwargs)

    jinja.from_string = from_string


class _Guarded:
    """A page's template as mkdocs-macros uses it: render(**variables)."""

    def __init__(self, jinja: Any, tree: Any) -> None:
        self.jinja, self.tree = jinja, tree

    def render(self, **variables: Any) -> str:
        def lookup(name: str) -> Any:
            if name in variables:
                return variables[name]
            if name in self.jinja.globals:
                return self.jinja.globals[name]
            from jinja2 import UndefinedError

            raise UndefinedError(f"{name!r} is undefined")  # what calling Jinja's Undefined raises

        return postguard.render(self.tree, lookup)


def _page_key(file: str, source: str) -> str:
    return hashlib.sha256("\0".join((_state["site_key"], file, source)).encode()).hexdigest()


def _lookup(file: str, key: str) -> dict[str, Any] | None:
    """The page's last result if everything it read is as it was (its title is checked apart)."""
    entry = _MEMO.get(file)
    if entry is None or entry["key"] != key:
        entry = _state["store"].load(key)
    if (
        entry is not None
        and entry["listing"] == _state["listing"]
        and all(_read_digest(name) == digest for name, digest in entry["reads"].items())
    ):
        return entry
    return None


def on_post_build(env: Any) -> None:
    pool = _PAGES.__dict__.pop("pool", None)
    _state["book"].late = None
    if pool is not None:
        pool.close()  # the late jobs too: their share images and downloads are in the caches now
        log.info(f"{pool.by_workers()} of {len(pool.jobs)} pages rendered by {pool.workers} worker process(es)")
    book, site = _state["book"], Path(env.conf["site_dir"])
    book.figures.write_figures(book.used_figures, site)
    (site / "assets").mkdir(parents=True, exist_ok=True)  # the diagrams' palette and layouts, one source
    (site / "assets" / "diagrams.css").write_text(palette.css() + palette.layout_css(), encoding="utf-8")
    book.write_downloads(site, _PAGES.__dict__.setdefault("downloads", {}), _state["site_key"], _state["store"])
    for name, image in book.previews.items():  # each post's share image (og:image)
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(book.share_image(image))  # made here if no late job made it
    writeback.flush()  # the cache files written behind the build: on disk before the build ends


def on_post_page_macros(env: Any) -> None:
    page = _state["page"]
    if _state.get("hit") is not None:
        env.__dict__.pop("render", None)  # mkdocs-macros' own again, for the next page
        return
    if page is not None:
        page.finish()  # a step shown with no claim: its box goes where the figure is
        shared = page.preview(env.page.meta.get("title") or env.page.title or "")
        if shared is not None:  # the first figure, as the picture a shared link shows (overrides/main.html)
            name = "previews/" + env.page.file.src_uri.removesuffix(".md") + ".png"
            late = _state["book"].late
            if late is not None:  # a cold build: the PNG is a late job, its file written at the end
                late.later(("preview", shared[0]))
                _state["book"].previews[name] = shared[0]
            else:
                _state["book"].previews[name] = _state["book"].share_image(shared[0])
            env.page.netsim_preview, env.page.netsim_preview_alt = name, shared[1]
        late = _state["book"].late
        # The try-it script and capture of each scenario this page simulated, written at the end
        # (on_post_build): late jobs of the process that simulated it, which need not simulate it again.
        for name in _state["book"].handed_out() if late is not None else ():
            late.later(("download", name))
    _remember(env, page)


def _remember(env: Any, page: Page | None) -> None:
    """Keep what this page's macros made, and what they read, for the next rebuild."""
    book = _state["book"]
    figures = _state["figures"]
    entry = _MEMO[_state["file"]] = {
        "key": _state["key"],
        "listing": _state["listing"],
        "reads": dict(_state["reads"]),
        "markdown": env.markdown,
        "title_in": _state["title_in"],
        "title": env.page.title,
        "set_aside": dict(page.set_aside) if page is not None else {},
        "marks": dict(page.marks) if page is not None else {},
        "svgs": {name: book.figures.svg(name) for name in figures},
        "errors": [(e.kind, str(e)) for e in page.errors] if page is not None else _state.get("guard", []),
        "preview": (
            (env.page.netsim_preview, book.previews[env.page.netsim_preview], env.page.netsim_preview_alt)
            if getattr(env.page, "netsim_preview", None) in book.previews
            else None
        ),
    }
    _state["store"].save(entry)


def _replay(env: Any, entry: dict[str, Any]) -> None:
    """This page as it was last made: Markdown, figures, error boxes and log lines."""
    book = _state["book"]
    _MEMO[_state["file"]] = entry
    # Rendered in this build by a worker (netsim.pages.prerender), or replayed from an earlier one.
    _PAGES.__dict__["renders" if _state["by_worker"] else "hits"] += 1
    _state["hit"], _state["page"] = entry, None
    env.page.title = entry["title"]
    env.page.netsim_set_aside = dict(entry["set_aside"])
    env.page.netsim_marks = dict(entry["marks"])
    set.update(book.used_figures, entry["svgs"])
    book.figures.svgs.update({name: svg for name, svg in entry["svgs"].items() if svg is not None})
    for kind, message in entry["errors"]:
        if message not in book.logged:  # each cause once per rebuild, as a render logs it
            book.logged.add(message)
            log.warning(f"{kind}: {message}")
    if entry["preview"] is not None:  # the picture a shared link shows
        name, picture, alt = entry["preview"]
        book.previews[name] = picture
        env.page.netsim_preview, env.page.netsim_preview_alt = name, alt
    env.render = lambda markdown, force_rendering=False: entry["markdown"]  # instead of Jinja, this once
