"""mkdocs-macros entry point: gives pages the netsim macros.

mkdocs-macros runs this file again on every rebuild of `mkdocs serve`, but Python would keep the
netsim modules it imported the first time. Dropping them from sys.modules first makes an edit to
the simulator show on the next reload without restarting the server.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Zensical loads this file again for every page: there the netsim modules (and the scenarios they
# simulated) are kept for the whole build instead.
ZENSICAL = "zensical" in sys.modules
if not ZENSICAL:
    for _name in [m for m in sys.modules if m == "netsim" or m.startswith("netsim.")]:
        del sys.modules[_name]

from netsim.pages import postguard  # noqa: E402
from netsim.pages.book import Book  # noqa: E402
from netsim.pages.macros import Page  # noqa: E402
from netsim.render import escape, palette  # noqa: E402 - after the purge above, on purpose

_state: dict[str, Any] = {}
log = logging.getLogger("mkdocs.plugins.netsim")


def define_env(env: Any) -> None:
    if type(env).__module__.startswith("zensical"):
        from netsim.pages import zensical

        zensical.define_env(env, ROOT)
        return
    _state["book"] = Book(ROOT)
    _state["page"] = None

    def call(name: str) -> Any:
        def macro(*args: Any, **kwargs: Any) -> Any:
            return _state["page"].functions()[name](*args, **kwargs)

        macro.__name__ = name
        return macro

    for name in Page.MACROS:
        env.macro(call(name), name)


def on_pre_page_macros(env: Any) -> None:
    src = env.page.file.abs_src_path
    source = Path(src).read_text(encoding="utf-8") if src else ""
    file = str(Path(src).resolve().relative_to(ROOT)) if src else env.page.file.src_path
    try:  # before anything renders: a post may only call the macros, with literal arguments
        postguard.check(env.markdown, file, postguard.body_offset(source, env.markdown), Page.MACROS, env.env)
        if "{" in (env.page.title or ""):  # mkdocs-macros renders a title with Jinja in it too
            line = next((n for n, text in enumerate(source.splitlines(), 1) if text.startswith("title:")), 1)
            postguard.check(env.page.title, file, line - 1, Page.MACROS, env.env)
    except postguard.PostError as exc:
        # Nothing of this template is rendered: the page becomes one box saying why (make serve
        # shows it where the writer looks), and the warning fails a strict build.
        log.warning(f"{exc.kind}: {exc}")
        env.markdown = f'!!! failure "{exc.kind}"\n    {escape.markdown(exc)}\n'
        env.page.title = re.sub(r"[{}%#]", "", env.page.title or "")  # mkdocs-macros renders a title too
        _state["page"] = None
        return
    _state["page"] = Page(_state["book"], file, source, env.page.meta.get("scenario"))
    env.page.netsim_set_aside = _state["page"].set_aside  # read back by hooks.on_post_page
    env.page.netsim_marks = _state["page"].marks  # the error boxes, placed by hooks.on_post_page


def on_post_build(env: Any) -> None:
    book, site = _state["book"], Path(env.conf["site_dir"])
    book.figures.write_figures(book.used_figures, site)
    (site / "assets").mkdir(parents=True, exist_ok=True)  # the diagrams' palette and layouts, one source
    (site / "assets" / "diagrams.css").write_text(palette.css() + palette.layout_css(), encoding="utf-8")
    book.write_downloads(site)
    for name, png in book.previews.items():  # each post's share image (og:image)
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(png)


def on_post_page_macros(env: Any) -> None:
    page = _state["page"]
    if page is not None:
        page.finish()  # a step shown with no claim: its box goes where the figure is
        shared = page.preview(env.page.meta.get("title") or env.page.title or "")
        if shared is not None:  # the first figure, as the picture a shared link shows (overrides/main.html)
            name = "previews/" + env.page.file.src_uri.removesuffix(".md") + ".png"
            _state["book"].previews[name] = shared[0]
            env.page.netsim_preview, env.page.netsim_preview_alt = name, shared[1]
