"""`make serve`: `mkdocs serve`, told of edits by the kernel and rebuilding only what an edit touches.

mkdocs watches files by polling (watchdog's PollingObserver, 0.5 s by default), then waits until
no change has come for `build_delay` (0.1 s) before it rebuilds: on average a quarter of a second
of a reload was spent noticing the edit. Here the watched paths are watched with inotify
(watchdog's InotifyObserver): the kernel reports a write as it happens, so nothing is polled and
the quiet wait can be short (QUIET; an editor's save, written in place or renamed over the old
file, is over in milliseconds, and a save caught half-way is only built twice, the second time
complete). A watched single file (mkdocs.yml) is watched through its folder, so a file renamed
over it is seen too. Where inotify cannot be used (not Linux, no inotify in a container, or
SERVE_POLLING=1), everything is polled every 0.1 s and mkdocs waits its own 0.1 s, as before.

Only an edit starts a rebuild: a file written, made, removed, renamed or touched (EDITS), outside
the folders where Python keeps compiled code (__pycache__). inotify also reports a file opened and
closed unwritten, and every rebuild reads the watched files (mkdocs.yml, the pages, macros.py's
digest of netsim); taken for edits, each rebuild asked for the next, for ever (390 rebuilds after
one netsim edit in tests/test_serve.py). A rebuild after a netsim edit also writes the edited
module's compiled code beside it, which would ask for one rebuild more.

On every edit mkdocs rebuilds the whole site in this process. netsim's macros already replay each
page whose inputs are unchanged (macros.py); the rest of a rebuild is mkdocs' own, and most of it
gives the same result as last time for every page the edit did not touch (issue 23). So, in this
process only, each of these steps is kept under everything that determines its result, and done
again only when one of those changed:

- listing the theme's files (about 14,500 of them in mkdocs-material, walked on every rebuild):
  the installed theme cannot change under a running server, the site's own overrides are listed
  afresh each time;
- the theme's compiled templates, also those the search plugin loads for its translations
  (mkdocs makes a fresh Jinja environment for each);
- a page's Markdown conversion, under the page's Markdown as the plugins left it, the site's file
  list (links resolve against it), the Markdown settings and the snippet files the page pulls in;
  the warnings a conversion logged (a broken link) are logged again when it is reused;
- a page's search-index entries, under its HTML, table of contents, title and front matter;
- a page's template output (before the on_post_page hooks, which still run), under everything the
  template can see: the page, the menu with every page's title and state, the configuration, the
  plugins' settings, the hooks' and the site's own templates' sources. Anything in the context
  this cannot describe exactly (an object of an unknown kind) makes the page render afresh.

The served site itself is made in memory (/dev/shm) where there is room (site_folder()).

A title edit still renders every page again (the menu lists every page), and every file is still
written. tests/test_serve_rebuild.py checks that a rebuild after an edit writes exactly what a
full build of the edited site writes, file by file.
"""

from __future__ import annotations

import copy
import datetime
import enum
import hashlib
import json
import logging
import os
import re
import signal
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
import mkdocs.livereload
from material.plugins.search.plugin import SearchIndex
from mkdocs.__main__ import cli
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.theme import Theme
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver
from watchdog.utils import UnsupportedLibcError

POLLING_INTERVAL = 0.1  # where inotify is not available
QUIET = 0.03  # with inotify: no change for this long and the rebuild starts (mkdocs waits 0.1 s)
log = logging.getLogger("mkdocs.serve")
_init = mkdocs.livereload.LiveReloadServer.__init__


# What changes a file or a folder; not FileOpenedEvent or FileClosedNoWriteEvent, which a read gives.
EDITS: list[type[FileSystemEvent]] = [
    FileModifiedEvent,
    FileClosedEvent,  # closed after writing
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileAttribEvent,  # touched (os.utime) or chmod-ed; reading changes only the access time, unreported
    DirModifiedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
COMPILED = "__pycache__"  # where Python writes a module's compiled code as it imports it


def _compiled(path: bytes | str) -> bool:
    return COMPILED in Path(os.fsdecode(path)).parts


class _Edits(FileSystemEventHandler):
    """mkdocs' handler, told of an event only if it touches something besides compiled code."""

    def __init__(self, handler: FileSystemEventHandler) -> None:
        self.handler = handler

    def dispatch(self, event: FileSystemEvent) -> None:
        if not all(_compiled(p) for p in (event.src_path, event.dest_path) if p):
            self.handler.dispatch(event)


class _EditsOnly(BaseObserver):
    """A watcher whose every watch hears edits only (LiveReloadServer.watch() schedules without a filter)."""

    def schedule(
        self,
        event_handler: FileSystemEventHandler,
        path: str | Path,
        *,
        recursive: bool = False,
        event_filter: list[type[FileSystemEvent]] | None = None,
        follow_symlink: bool = False,
    ) -> ObservedWatch:
        return super().schedule(
            _Edits(event_handler),
            path,
            recursive=recursive,
            event_filter=EDITS if event_filter is None else event_filter,
            follow_symlink=follow_symlink,
        )


class _PollingEdits(_EditsOnly, PollingObserver):
    pass


try:  # Linux only: elsewhere every watched path is polled
    from watchdog.observers.inotify import InotifyObserver
except (ImportError, OSError, UnsupportedLibcError) as _missing:
    INOTIFY_MISSING: str | None = str(_missing) or type(_missing).__name__
else:
    INOTIFY_MISSING = None

    class _InotifyEdits(_EditsOnly, InotifyObserver):
        pass


def observer() -> BaseObserver:
    """The watcher `make serve` uses: inotify where it can, else mkdocs' own polling; edits only."""
    missing = INOTIFY_MISSING
    if missing is None and os.environ.get("SERVE_POLLING") != "1":
        try:
            return _InotifyEdits()  # fails where the kernel or a container gives no inotify
        except OSError as exc:
            missing = str(exc)
    if missing is not None:
        log.info(f"inotify is not available ({missing}): looking for edits every {POLLING_INTERVAL} s")
    return _PollingEdits(timeout=POLLING_INTERVAL)


def _faster_init(self: mkdocs.livereload.LiveReloadServer, *args: object, **kwargs: object) -> None:
    kwargs.setdefault("polling_interval", POLLING_INTERVAL)
    _init(self, *args, **kwargs)  # type: ignore[arg-type]
    self.observer = observer()
    if not isinstance(self.observer, PollingObserver):
        self.build_delay = QUIET


# --- what earlier rebuilds made, in this process -------------------------------------------------

STATS = {"converted": 0, "reused": 0, "rendered": 0, "kept": 0}  # pages converted / templates rendered, and reused
_THEME_FILES: dict[str, list[tuple[str, str]]] = {}
_COMPILED: dict[str, tuple[str, Any]] = {}
_CONVERTED: dict[str, tuple[str, dict[str, Any]]] = {}  # page src_uri -> (key, result)
_INDEXED: dict[str, tuple[str, list[dict[str, Any]]]] = {}  # page url -> (key, entries)
_RENDERED: dict[str, tuple[str, str]] = {}  # page url -> (key, the template's output)
_INSTALLED = {Path(sysconfig.get_paths()[name]).resolve() for name in ("purelib", "platlib")}


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=repr, sort_keys=True).encode()).hexdigest()


def _installed(folder: str) -> bool:
    path = Path(folder).resolve()
    return any(path.is_relative_to(top) for top in _INSTALLED)


def _listing(folder: str) -> list[str]:
    return sorted(str(Path(d, f).relative_to(folder)) for d, _dirs, files in os.walk(folder) for f in files)


_add_files_from_theme = Files.add_files_from_theme


def _theme_files(self: Files, env: jinja2.Environment, config: Any) -> None:
    dirs = list(config.theme.dirs)
    key = _digest(
        dirs,
        list(config.theme.static_templates),
        config.use_directory_urls,
        config.site_dir,
        sorted(f.src_uri for f in self),  # a docs file of the same name wins over the theme's
        [_listing(d) for d in dirs if not _installed(d)],
    )
    if key in _THEME_FILES:
        for path, folder in _THEME_FILES[key]:
            self.append(File(path, folder, config.site_dir, config.use_directory_urls))
        return
    before = {id(f) for f in self}
    _add_files_from_theme(self, env, config)
    _THEME_FILES[key] = [(f.src_path, f.src_dir) for f in self if id(f) not in before]


class _CompiledTemplates(jinja2.BytecodeCache):
    """A template's compiled code, reused only for the same source (Jinja's checksum)."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        checksum, code = _COMPILED.get(bucket.key, ("", None))
        if code is not None and checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        _COMPILED[bucket.key] = (bucket.checksum, bucket.code)


_get_env = Theme.get_env


def _theme_env(self: Theme) -> jinja2.Environment:
    env = _get_env(self)
    env.bytecode_cache = _CompiledTemplates()
    env.template_class = _KeptTemplate
    return env


class _Unknown(Exception):
    """Something in a page's context that _stable() cannot describe by its contents."""


# Kinds whose instances are described by their attributes, one by one: mkdocs' pages, sections,
# links, files, tables of contents, configuration values, the theme. Anything else that is not
# plain data raises _Unknown, and the page renders afresh: a key must never miss a difference.
_WALKED = ("mkdocs.structure.", "mkdocs.config.", "mkdocs.theme", "mkdocs.utils.babel_stub")
# What the site's macros leave on a page for hooks.on_post_page, which runs after the template on
# every rebuild: the set-aside parts (a scenario's figures, changed by a scenario edit without a
# change to the page's HTML) and the error marks. No template reads them (tests/test_serve_rebuild.py
# checks overrides/); the page's preview image, which overrides/main.html shows, stays in the key.
FOR_HOOKS_ONLY = frozenset({"netsim_put_back", "netsim_set_aside", "netsim_marks"})
# The theme shows a page's HTML and table of contents on that page only (mkdocs-material's
# partials/content.html, toc.html and nav-item.html read `page.content` and `page.toc`); the menu
# shows the other pages' titles, addresses and front matter. The site's overrides/main.html shows
# the page's own preview image and its description. So another page's body and preview are left
# out, and a prose or scenario edit renders only the pages it changes again, not every page whose
# menu lists one of them.
THIS_PAGE_ONLY = frozenset(
    {"content", "markdown", "toc", "present_anchor_ids", "links_to_anchors", "netsim_preview", "netsim_preview_alt"}
)
# The time of the build: mkdocs puts it in every context, and nothing the site renders shows it
# (full builds are byte-identical; tests/test_serve_rebuild.py checks no template names it).
UNSHOWN = frozenset({"build_date_utc"})
LONG = 512  # a longer string (a page's HTML) goes into a key as its hash: JSON-escaping it cost more


# What a walk has met: id -> (its number, the object). The object is held so that its id cannot be
# given to another while the walk lasts: a plugin's settings are walked as a dict made for the purpose
# (dict(value.config)), and once freed its id went to the next plugin's, which then read as "seen"
# (the site's search and offline plugins, 27 walks in 30): the key missed a difference, and two
# builds of one configuration disagreed.
Seen = dict[int, tuple[int, Any]]


def _stable(value: Any, seen: Seen) -> Any:
    """`value` as plain data for a digest, every object once (a page's parent lists the page again).

    A page met here is another page than the one rendered (_context_key() describes that one first)."""
    if isinstance(value, str) and len(value) > LONG:
        return ["text", hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime.date):
        return ["date", value.isoformat()]
    if isinstance(value, enum.Enum):
        return ["enum", type(value).__qualname__, value.name]
    if isinstance(value, type):  # a class (a configuration option's kind): installed code, by name
        return ["class", value.__module__, value.__qualname__]
    if id(value) in seen:
        return ["seen", seen[id(value)][0]]
    seen[id(value)] = (len(seen), value)
    if isinstance(value, BasePlugin):  # its settings, not its state (the search index, the macros)
        return ["plugin", type(value).__qualname__, _stable(dict(value.config), seen)]
    if isinstance(value, ModuleType):  # a hook module: its source, read afresh
        source = Path(value.__file__).read_bytes() if value.__file__ else b""
        return ["module", value.__name__, hashlib.sha256(source).hexdigest()]
    if isinstance(value, dict):  # also mkdocs' Config and PluginCollection
        return ["dict", type(value).__qualname__, [[str(k), _stable(v, seen)] for k, v in value.items()]]
    if isinstance(value, list | tuple | set | frozenset):
        items = [_stable(v, seen) for v in value]
        if isinstance(value, set | frozenset):
            items.sort(key=repr)
        return ["list", type(value).__qualname__, items]
    kind = type(value)
    if (kind.__module__, kind.__qualname__) in (("babel.core", "Locale"), ("mkdocs.utils.babel_stub", "Locale")):
        return ["locale", str(value)]  # the theme's language: its identifier names it whole
    if kind.__module__.startswith(_WALKED) and hasattr(value, "__dict__"):
        left_out = FOR_HOOKS_ONLY | THIS_PAGE_ONLY if isinstance(value, Page) else FOR_HOOKS_ONLY
        return ["object", kind.__qualname__, _fields(value, left_out, seen)]
    raise _Unknown(f"{kind.__module__}.{kind.__qualname__}")


def _fields(value: Any, left_out: frozenset[str], seen: Seen) -> list[list[Any]]:
    return [[k, _stable(v, seen)] for k, v in sorted(vars(value).items()) if k not in left_out]


_THIS_BUILD: dict[str, Any] = {}  # the configuration this build renders with, and what it gives every page


def _for_every_page(config: Any) -> tuple[str, list[tuple[str, str]]]:
    """The configuration's digest and the site's own templates, worked out once per build: each
    page's template sees the same ones (the pages render after every page's Markdown is done,
    and no plugin or hook of the site changes the configuration while they do)."""
    if _THIS_BUILD.get("config") is not config:
        _THIS_BUILD.update(config=config, made=(_digest(_stable(config, {})), _own_templates(list(config.theme.dirs))))
    return _THIS_BUILD["made"]


def _context_key(name: str | None, context: dict[str, Any], page: Page, config: Any) -> str:
    """Everything the template `name` can show of `context`, rendering `page`, as one digest."""
    seen: Seen = {id(page): (0, page)}  # the page itself whole, first: elsewhere (the menu) it is a reference
    this_page = _fields(page, FOR_HOOKS_ONLY, seen)
    shown = {k: v for k, v in context.items() if k not in UNSHOWN and v is not config}
    return _digest(name, this_page, _stable(shown, seen), _for_every_page(config))


def _own_templates(dirs: list[str]) -> list[tuple[str, str]]:
    """The site's own template folders' files (overrides/) with their contents; the installed theme's
    cannot change under a running server."""
    found = []
    for folder in (d for d in dirs if not _installed(d)):
        for name in _listing(folder):
            found.append((name, hashlib.sha256(Path(folder, name).read_bytes()).hexdigest()))
    return found


class _KeptTemplate(jinja2.Template):
    """A page's template output reused when nothing it is rendered from has changed."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        context = dict(*args, **kwargs)
        page, config = context.get("page"), context.get("config")
        if not isinstance(page, Page) or not page.active or config is None:  # not a page (sitemap, 404)
            return super().render(context)
        try:
            key = _context_key(self.name, context, page, config)
        except _Unknown as unknown:
            log.debug(f"{page.file.src_uri}: rendered afresh ({unknown} in its context)")
            key = None
        kept = _RENDERED.get(page.url)
        if key is not None and kept is not None and kept[0] == key:
            STATS["kept"] += 1
            return kept[1]
        STATS["rendered"] += 1
        output = super().render(context)
        if key is not None:
            _RENDERED[page.url] = (key, output)
        return output


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _files_key(files: Files) -> str:
    """The site's files as links see them, worked out once per build (a build makes its own Files)."""
    key = getattr(files, "_serve_key", None)
    if key is None:
        key = _digest(sorted((f.src_uri, f.dest_uri, f.url, str(f.inclusion)) for f in files))
        files._serve_key = key  # type: ignore[attr-defined]
    return key


SNIPPET = re.compile(r"^\s*-{1,}8<-{1,}\s+[\"']([^\"'\n]+)[\"']", re.M)


def _snippets(config: Any, markdown: str) -> list[tuple[str, str]]:
    """The snippet files a page pulls in (`--8<-- "file"`) and every page appends (the glossary),
    with their contents. pymdownx.snippets reads them from its base path, the folder mkdocs runs in;
    a snippet inside a snippet is not followed (none of the site's snippets has one)."""
    settings = (config["mdx_configs"] or {}).get("pymdownx.snippets", {})
    found = []
    for name in [*settings.get("auto_append", []), *SNIPPET.findall(markdown)]:
        path = Path(name)
        found.append((name, path.read_text(encoding="utf-8") if path.is_file() else "\0missing"))
    return found


_render = Page.render


def _convert(self: Page, config: Any, files: Files) -> None:
    if self.markdown is None:
        _render(self, config, files)
        return
    key = _digest(
        self.file.src_uri,
        self.markdown,
        _files_key(files),
        config["markdown_extensions"],
        config["mdx_configs"],
        config.use_directory_urls,
        str(config.validation),
        config.docs_dir,
        _snippets(config, self.markdown),
    )
    kept = _CONVERTED.get(self.file.src_uri)
    if kept is not None and kept[0] == key:
        STATS["reused"] += 1
        made = kept[1]
        self.content, self.toc = made["content"], copy.deepcopy(made["toc"])
        self._title_from_render = made["title"]
        self.present_anchor_ids = set(made["anchors"])
        if made["links"] is not None:
            self.links_to_anchors = {files.get_file_from_path(src): dict(v) for src, v in made["links"].items()}
        for record in made["log"]:  # the same warnings as a conversion gives (mkdocs counts them)
            logging.getLogger(record.name).handle(record)
        return
    STATS["converted"] += 1
    recorder = _Recorder()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(recorder)
    try:
        _render(self, config, files)
    finally:
        logger.removeHandler(recorder)
    links = getattr(self, "links_to_anchors", None)
    _CONVERTED[self.file.src_uri] = (
        key,
        {
            "content": self.content,
            "toc": copy.deepcopy(self.toc),
            "title": self._title_from_render,
            "anchors": set(self.present_anchor_ids or ()),
            "links": {f.src_uri: dict(v) for f, v in links.items()} if links is not None else None,
            "log": recorder.records,
        },
    )


def _toc(items: Any) -> list[Any]:
    return [(i.id, i.title, i.level, _toc(i.children)) for i in items]


_add_entry = SearchIndex.add_entry_from_context


def _index(self: SearchIndex, page: Page) -> None:
    key = _digest(page.url, page.content, _toc(page.toc), page.title, page.meta, self.config)
    kept = _INDEXED.get(page.url)
    if kept is not None and kept[0] == key:
        self.entries.extend(copy.deepcopy(kept[1]))
        return
    before = len(self.entries)
    _add_entry(self, page)
    _INDEXED[page.url] = (key, copy.deepcopy(self.entries[before:]))


def keep_between_rebuilds() -> None:
    """Patch mkdocs (in this process) to reuse what earlier rebuilds made; once only."""
    if getattr(Page.render, "serve_kept", False):
        return
    mkdocs.livereload.LiveReloadServer.__init__ = _faster_init  # type: ignore[method-assign]
    Files.add_files_from_theme = _theme_files  # type: ignore[method-assign]
    Theme.get_env = _theme_env  # type: ignore[method-assign]
    Page.render = _convert  # type: ignore[method-assign]
    SearchIndex.add_entry_from_context = _index  # type: ignore[method-assign]
    _convert.serve_kept = True  # type: ignore[attr-defined]


MEMORY = Path("/dev/shm")  # a tmpfs on Linux: files made and removed without a disk's journal
MEMORY_FREE = 512 * 1024 * 1024  # the served site is some 13 MB; leave room for anything else there


def site_folder(environ: dict[str, str], memory: Path = MEMORY) -> Path | None:
    """Where mkdocs serve should make its temporary site, or None for the usual temporary folder.

    Every rebuild empties the served site and writes its few hundred files again; on a disk each
    new file is a journal entry, in memory a fraction of that (measured on this machine: 300
    figure-sized files in 60-95 ms under /tmp on ext4, 13-36 ms in /dev/shm). So in memory when
    there is a tmpfs with room to spare, unless the user chose a folder (TMPDIR)."""
    if environ.get("TMPDIR") or not (memory.is_dir() and os.access(memory, os.W_OK | os.X_OK)):
        return None
    stats = os.statvfs(memory)
    return memory if stats.f_bavail * stats.f_frsize >= MEMORY_FREE else None


def _stop(_signum: int, _frame: object) -> None:
    """SIGTERM ends the server as Ctrl-C does, so mkdocs removes its temporary site (in memory too)."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    keep_between_rebuilds()
    tempfile.tempdir = str(site_folder(dict(os.environ)) or tempfile.gettempdir())  # mkdocs serve's mkdtemp()
    sys.exit(cli(["serve", *sys.argv[1:]]))
