"""The page layer under Zensical: the same macros, for a generator that runs no MkDocs hooks.

mkdocs-macros calls `define_env` once and tells the project when each page starts and ends
(`on_pre_page_macros`, `on_post_page_macros`), and hooks.py puts set-aside figures back after
Markdown. Zensical's macros extension instead calls `define_env` for every page, with the page
already known, and nothing after it. So here each page gets its netsim `Page` at once, in inline
mode (figures in place, errors as their boxes), and one `Book` serves the whole build.
What runs after the build (figure files, scripts, captures, the palette) is
`python -m netsim site-files SITE_DIR` (netsim/pages/sitefiles.py), which works for any generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netsim.pages import postguard
from netsim.pages.book import Book
from netsim.pages.macros import Page, error_box

_books: dict[Path, Book] = {}


def define_env(env: Any, root: Path) -> None:
    book = _books.setdefault(root, Book(root))
    page_info = env.page
    docs = Path(env.conf.get("docs_dir", "docs"))
    docs = docs if docs.is_absolute() else root / docs
    src = docs / page_info.path if page_info is not None else None
    source = src.read_text(encoding="utf-8") if src is not None and src.is_file() else ""
    file = str(src.resolve().relative_to(root)) if src is not None and src.is_file() else "<page>"
    meta = page_info.meta if page_info is not None else {}
    page = Page(book, file, source, meta.get("scenario"), inline=True)
    from netsim.pages.macros import split_front_matter

    _, body = split_front_matter(source)
    try:  # a post may only call the macros, with literal arguments, under either generator
        postguard.check(body, file, postguard.body_offset(source, body), Page.MACROS)
    except postguard.PostError as exc:
        box = error_box(exc.kind, str(exc))
        for name in Page.MACROS:
            env.macro(lambda *a, _box=box, **k: _box, name)
        return
    functions = page.functions()
    for name in Page.MACROS:
        env.macro(functions[name], name)
