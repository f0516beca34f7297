"""The files a built site needs beside its pages, for any generator.

Under MkDocs, hooks write these as the build ends. A generator that runs no hooks (Zensical)
gets them from `python -m netsim site-files SITE_DIR` after its build: every diagram a page
refers to (from netsim's content-named figure store), each scenario's script and capture, the
diagrams' palette, the scenario schema, the series' bylines, index and feed (from hooks.py's
own functions), and the Content-Security-Policy in every page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from netsim.pages import csp
from netsim.pages.book import Book
from netsim.render import palette
from netsim.schemafile import schema_text

FIGURE_REF = re.compile(r'figures/([0-9a-f]{20})\.svg"')


def write(site: Path, root: Path) -> dict[str, int]:
    """Write the files; return how many of each, for the command's one line of progress."""
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site}: no index.html; build the site first")
    book = Book(root)
    pages = sorted(site.rglob("*.html"))
    names: set[str] = set()
    for page in pages:
        names.update(FIGURE_REF.findall(page.read_text(encoding="utf-8")))
    book.figures.write_figures(names, site)
    book.write_downloads(site)
    (site / "assets").mkdir(parents=True, exist_ok=True)
    (site / "assets" / "diagrams.css").write_text(palette.css() + palette.layout_css(), encoding="utf-8")
    (site / "scenario.schema.json").write_text(schema_text(), encoding="utf-8")
    shim = (root / "docs" / "assets" / "vendor" / "iframe-worker-shim.js").read_text(encoding="utf-8")
    styles = tuple(
        h
        for bundle in sorted((site / "assets" / "javascripts").glob("bundle.*.js"))
        for h in csp.theme_style_hashes(bundle.read_text(encoding="utf-8"))
    )
    for page in pages:
        html = page.read_text(encoding="utf-8")
        if "Content-Security-Policy" not in html:
            page.write_text(csp.add_to_page(html, shim, styles), encoding="utf-8")
    posts = write_series(site, root)
    return {"pages": len(pages), "figures": len(names), "posts": posts}


def write_series(site: Path, root: Path) -> int:
    """The series' own parts that hooks.py adds under MkDocs: each post's byline under its title,
    the list of posts on the front page, and the feed. Same functions, same words."""
    import importlib.util

    import markdown
    from mkdocs.utils.yaml import yaml_load

    spec = importlib.util.spec_from_file_location("_bottom_six_hooks", root / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    with open(root / "mkdocs.yml", encoding="utf-8") as f:
        config = yaml_load(f)
    config["docs_dir"] = str(root / config.get("docs_dir", "docs"))
    config.setdefault("site_url", None)
    config.setdefault("site_description", "")
    hooks.on_config(config)
    for src in hooks.DRAFTS:  # MkDocs leaves a draft out (hooks.on_files); a generator without hooks built it
        (site / src.replace(".md", ".html")).unlink(missing_ok=True)
    for post in hooks.POSTS:
        page = site / post["src"].replace(".md", ".html")
        if not page.is_file():
            continue
        html = page.read_text(encoding="utf-8")
        if 'class="ns-byline"' not in html:  # a page keeps its byline: a second run once added another
            line = hooks.byline(post)
            page.write_text(html.replace("</h1>", "</h1>" + line, 1), encoding="utf-8")
    index = site / "index.html"
    html = index.read_text(encoding="utf-8")
    if hooks.SERIES_INDEX in html:
        listing = markdown.markdown(hooks.series_index(Path()).replace(".md", ".html"))
        index.write_text(html.replace(hooks.SERIES_INDEX, listing, 1), encoding="utf-8")
    hooks._write_feed(config, site)
    prune_search(site)
    return len(hooks.POSTS)


def prune_search(site: Path) -> int:
    """Drop from Zensical's search index every section of a page the site does not have (a draft
    left out above), so search never offers a reader a page that is not there; return how many.

    The index is search.json (fetched over http) and search.js (`var __index = {...};`, loaded
    as a script when the site is opened from a folder): both are written again from one list.
    """
    index = site / "search.json"
    if not index.is_file():
        return 0
    data = json.loads(index.read_text(encoding="utf-8"))
    kept = [item for item in data["items"] if (site / (item["location"].split("#")[0] or "index.html")).is_file()]
    dropped = len(data["items"]) - len(kept)
    data["items"] = kept
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    index.write_text(text, encoding="utf-8")
    if (site / "search.js").is_file():
        (site / "search.js").write_text(f"var __index = {text};", encoding="utf-8")
    return dropped
