"""Site-wide MkDocs hooks: the series index, reading time, the RSS feed and the scenario schema.

These are about the series as a publication; everything about networks lives in netsim.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from html import escape
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import jinja2
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent
WORDS_PER_MINUTE = 220
POSTS: list[dict[str, Any]] = []


def _netsim() -> None:
    """This checkout's netsim first on the import path (a copied site imports its own, not the installed
    one), without a new entry on every call: the page hooks run for every page of every build."""
    if sys.path[:1] != [str(ROOT)]:
        sys.path.insert(0, str(ROOT))


def _front_matter(path: Path) -> tuple[dict[str, Any], str]:
    """A page's front matter and body, as netsim's macros read them (one parser, one cache)."""
    _netsim()
    from netsim.pages.macros import split_front_matter

    return split_front_matter(path.read_text(encoding="utf-8"))


def reading_minutes(markdown: str) -> int:
    """Minutes for the prose alone: macros, code and HTML are not read as words."""
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", markdown, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return max(1, math.ceil(len(re.findall(r"[A-Za-z0-9']+", text)) / WORDS_PER_MINUTE))


def on_config(config: Any) -> Any:
    POSTS.clear()
    SERIES_ERRORS.clear()
    serving = _SERIES.__dict__.get("command") == "serve"
    for path in sorted((Path(config["docs_dir"]) / "posts").glob("*.md")):
        meta, body = _front_matter(path)
        POSTS.append(
            {
                "src": f"posts/{path.name}",
                "title": meta.get("title", path.stem),
                "description": meta.get("description", ""),
                "date": meta.get("date"),
                "number": meta.get("number", 0),
                "minutes": reading_minutes(body),
                "draft": meta.get("draft") is True,
            }
        )
    baseline = os.environ.get("NETSIM_BASELINE_ASIDE")
    for post in POSTS if baseline else []:  # benchmarks/run.py's baseline: its pages are pre-expanded
        saved = (Path(baseline) / post["src"]).with_suffix(".aside.json")
        if saved.exists():
            post["minutes"] = json.loads(saved.read_text(encoding="utf-8"))["minutes"]
    DRAFTS.clear()
    if not serving:  # drafts are shown by `make serve` only: not built, not indexed, not in the feed
        DRAFTS.update(p["src"] for p in POSTS if p["draft"])
        POSTS[:] = [p for p in POSTS if not p["draft"]]
        config["nav"] = _without(config["nav"], DRAFTS)
    _SERIES.__dict__["drafts"] = frozenset(DRAFTS)  # macros.py's workers, started before on_files, skip them too
    _check_site_url(config, serving)
    for src, message in series_errors(config, POSTS):
        SERIES_ERRORS.setdefault(src, []).append(message)
        SERIES_LOG.warning(message)  # a warning: `mkdocs build --strict` fails on it
    POSTS.sort(key=lambda p: p["number"] if isinstance(p["number"], int) else 0)
    return config


# --- The series' integrity: nav, numbers, dates, scenarios -----------------------------------

SERIES_LOG = logging.getLogger("mkdocs.hooks.series")
SERIES_ERRORS: dict[str, list[str]] = {}  # page src path ("" for mkdocs.yml) -> messages
DRAFTS: set[str] = set()  # posts left out of this build
# What `mkdocs` was started as ("serve" or "build"). mkdocs loads this file afresh on every
# rebuild of `mkdocs serve` but calls on_startup only once, so the answer lives in a module of
# its own that stays loaded.
_SERIES = sys.modules.setdefault("_bottom_six_series", ModuleType("_bottom_six_series"))


def on_startup(command: str, dirty: bool) -> None:
    _SERIES.__dict__["command"] = command
    if command == "serve":
        _live_reload_with_a_nonce()  # the policy allows its inline script by a nonce


def on_files(files: Any, config: Any) -> Any:
    for src in DRAFTS:
        file = files.get_file_from_path(src)
        if file is not None:
            files.remove(file)
    return files


LOOPBACK = re.compile(r"\A(localhost|127(\.\d+){3}|\[::1\]|0\.0\.0\.0)\Z", re.I)


def _check_site_url(config: Any, serving: bool) -> None:
    """A site built to publish never names this machine: SITE_URL is the public address, or unset.

    Unset, nothing in the site is absolute (no canonical links, no og:url, an empty sitemap, the
    feed's links relative to the feed), so the folder works on any host or opened from disk.
    """
    if serving:
        return  # mkdocs serve sets its own local address, rightly
    url = config.get("site_url") or ""
    host = urlsplit(url).hostname or ""
    if LOOPBACK.match(host) or LOOPBACK.match(f"[{host}]"):
        raise PluginError(
            f"site_url is {url}, an address on this machine, and a published site would send readers "
            "there; set SITE_URL to the address the site is published at (https://example.org/blog/) "
            "or leave it unset for a site without absolute links"
        )
    if not url:
        SERIES_LOG.info("SITE_URL is not set: the site has no absolute links (feed links are relative)")


def _nav_paths(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_paths(value)]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_paths(item)]
    return []


def _without(nav: Any, drop: set[str]) -> Any:
    """The nav with the entries for these pages left out."""
    if not isinstance(nav, list) or not drop:
        return nav
    kept = []
    for item in nav:
        paths = _nav_paths(item)
        if paths and all(p in drop for p in paths):
            continue
        kept.append({k: _without(v, drop) for k, v in item.items()} if isinstance(item, dict) else item)
    return kept


def _line_of(path: Path, key: str) -> int:
    """The line of `key:` in a file's front matter (1 if it is not there)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()[:60], 1):
        if re.match(rf"{re.escape(key)}\s*:", line):
            return number
    return 1


def series_errors(config: Any, posts: list[dict[str, Any]], today: date | None = None) -> list[tuple[str, str]]:
    """(page, message) for each way the series does not hold together; each names file and line."""
    docs = Path(config["docs_dir"])
    root = Path(config["config_file_path"]).parent if config.get("config_file_path") else ROOT
    today = today or date.today()
    errors: list[tuple[str, str]] = []

    def where(post: dict[str, Any], key: str) -> str:
        path = docs / post["src"]
        try:
            shown = path.relative_to(root)
        except ValueError:
            shown = path
        return f"{shown}:{_line_of(path, key)}"

    in_nav = [p for p in _nav_paths(config["nav"]) if p.startswith("posts/")]
    for post in posts:
        if post["src"] not in in_nav:
            errors.append(
                (
                    post["src"],
                    f"{where(post, 'title')}: this post is not in `nav` in mkdocs.yml, so readers cannot reach it "
                    f'from the menu; add a line like `  - "{post["number"]}. {post["title"]}": {post["src"]}`',
                )
            )
    numbers: dict[int, dict[str, Any]] = {}
    for post in posts:
        number = post["number"]
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            errors.append((post["src"], f"{where(post, 'number')}: number: {number!r}; expected 1, 2, 3, ..."))
        elif number in numbers:
            first = numbers[number]["src"]
            errors.append((post["src"], f"{where(post, 'number')}: number: {number} is also the number of {first}"))
        else:
            numbers[number] = post
    expected = list(range(1, len(numbers) + 1))
    if numbers and sorted(numbers) != expected:
        missing = sorted(set(expected) - set(numbers))
        last = numbers[max(numbers)]
        errors.append(
            (
                last["src"],
                f"{where(last, 'number')}: number: {last['number']}; the posts are numbered "
                f"{', '.join(map(str, sorted(numbers)))}, expected {', '.join(map(str, expected))} "
                f"(no post {', '.join(map(str, missing))})",
            )
        )
    by_number = [p["src"] for p in sorted(numbers.values(), key=lambda p: p["number"])]
    nav_order = [p for p in in_nav if p in by_number]
    if nav_order != [p for p in by_number if p in nav_order]:
        errors.append(("", f"mkdocs.yml:{_nav_line(root)}: nav lists the posts as {nav_order}; expected {by_number}"))
    for post in posts:
        when = post["date"]
        if not isinstance(when, date):
            errors.append((post["src"], f"{where(post, 'date')}: date: {when!r}; expected a date like 2026-12-05"))
        elif when > today and not post["draft"]:
            errors.append(
                (
                    post["src"],
                    f"{where(post, 'date')}: date: {when} is in the future; publish on that day, or mark the "
                    "post `draft: true` (drafts show under make serve and are left out of the build and the feed)",
                )
            )
    known = sorted(p.stem for p in (root / "diagrams").glob("*.yaml"))
    for post in posts:
        scenario = _front_matter(docs / post["src"])[0].get("scenario")
        if scenario is not None and str(scenario) not in known:
            errors.append(
                (
                    post["src"],
                    f"{where(post, 'scenario')}: scenario: no diagrams/{scenario}.yaml; expected one of: "
                    f"{', '.join(known)}",
                )
            )
    return errors


def _code(text: str) -> str:
    """Text as a Markdown code span, whatever backticks it holds (the span escapes HTML)."""
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks} {text} {ticks}"


def _nav_line(root: Path) -> int:
    config = root / "mkdocs.yml"
    lines = config.read_text(encoding="utf-8").splitlines() if config.exists() else []
    return next((n for n, line in enumerate(lines, 1) if line.startswith("nav:")), 1)


# The theme's compiled templates, kept in this process's memory between `mkdocs serve` rebuilds.
# Never on disk: Jinja's bytecode cache holds marshalled code objects, and a cache inside the
# checkout (as .cache/jinja was) is code that a pull request could supply. mkdocs loads this
# file afresh on every rebuild, so the store lives in a module of its own that stays loaded.
_HOLDER = sys.modules.setdefault("_bottom_six_templates", ModuleType("_bottom_six_templates"))
_STORE: dict[str, tuple[str, Any]] = _HOLDER.__dict__.setdefault("compiled", {})


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """A template's compiled code, reused only for the same source (Jinja's checksum)."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        checksum, code = _STORE.get(bucket.key, ("", None))
        if code is not None and checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        _STORE[bucket.key] = (bucket.checksum, bucket.code)


def on_env(env: Any, config: Any, files: Any) -> Any:
    """Keep the theme's compiled templates between rebuilds: a live reload need not recompile them."""
    env.bytecode_cache = _MemoryBytecodeCache()
    return env


# A reader searching "ARP" or "refused" wants the post that explains it, not the guide or the decoder
# (whose reference repeats every word of the series).
SEARCH_BOOST = {"posts/": 3.0, "contributing.md": 0.05, "decoder.md": 0.05}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for prefix, boost in SEARCH_BOOST.items():  # read by the theme's search index (its `boost`)
        if page.file.src_path.startswith(prefix):
            page.meta.setdefault("search", {}).setdefault("boost", boost)
    dump = os.environ.get("NETSIM_DUMP_MARKDOWN")
    if dump:  # benchmarks/run.py: the pages as they are once every macro has run
        target = Path(dump) / page.file.src_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(markdown, encoding="utf-8")
        preview = getattr(page, "netsim_preview", None)
        post = next((p for p in POSTS if p["src"] == page.file.src_path), None)
        put_back = _as_shipped(page)
        made = {
            "set_aside": {m: put_back(part) for m, part in getattr(page, "netsim_set_aside", {}).items()},
            "marks": getattr(page, "netsim_marks", {}),
            "preview": [preview, page.netsim_preview_alt] if preview else None,
            "minutes": post["minutes"] if post else None,  # of the prose, not of what the macros made
        }
        target.with_suffix(".aside.json").write_text(json.dumps(made), encoding="utf-8")
    baseline = os.environ.get("NETSIM_BASELINE_ASIDE")
    if baseline:  # benchmarks/run.py's baseline: pages pre-expanded, what the macros made read back
        saved = (Path(baseline) / page.file.src_path).with_suffix(".aside.json")
        made = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else {}
        page.netsim_set_aside = made.get("set_aside", {})
        page.netsim_marks = {m: tuple(e) if e else None for m, e in made.get("marks", {}).items()}
        if made.get("preview"):  # the share image (overrides/main.html)
            page.netsim_preview, page.netsim_preview_alt = made["preview"]
    if SERIES_INDEX in markdown:
        markdown = markdown.replace(SERIES_INDEX, series_index(Path(page.file.src_path).parent))
    post = next((p for p in POSTS if p["src"] == page.file.src_path), None)
    problems = SERIES_ERRORS.get(page.file.src_path, [])
    if post is not None or page.is_homepage:
        problems = problems + SERIES_ERRORS.get("", [])
    if problems:  # where the writer is looking, under make serve as in the log
        markdown += '\n\n!!! failure "Series error"\n' + "".join(f"    - {_code(m)}\n" for m in problems)
    if post is not None:
        # After the first heading, so the title stays on top.
        line = byline(post)
        markdown = re.sub(r"^(# .*\n)", lambda m: m.group(1) + "\n" + line + "\n", markdown, count=1, flags=re.M)
    return markdown


SERIES_INDEX = "<!-- series-index -->"


def series_index(here: Path) -> str:
    """The posts in reading order, as Markdown for a page in folder `here` (index.md: Path())."""
    return "\n".join(
        f"{p['number']}. **[{p['title']}]({Path(p['src']).relative_to(here) if here != Path() else p['src']})**"
        f" · {p['date']} · {p['minutes']} min read  \n   {p['description']}"
        for p in POSTS
    )


def byline(post: dict[str, Any]) -> str:
    draft = " · draft: not published" if post["draft"] else ""
    return (
        f'<p class="ns-byline">Post {post["number"]} of the series · {post["date"]} · '
        f"{post['minutes']} min read{draft}</p>"
    )


def _as_shipped(page: Any) -> Callable[[str], str]:
    """A set-aside part as the page ships it: a part made late (macros.py) filled in, any other as it is."""
    return getattr(page, "netsim_put_back", None) or (lambda part: part)


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Put back the figure contents that netsim's macros kept out of Markdown and search, and each
    error box where its macro was called: one pass over the page for each kind of marker (a
    replace per marker costed a page's length each, a tenth of a reload on a long series)."""
    _netsim()
    from netsim.pages.macros import ERROR_MARK, SET_ASIDE

    aside = getattr(page, "netsim_set_aside", None) or {}
    made = _as_shipped(page)
    if aside:
        output = _put_back(output, SET_ASIDE, lambda marker, _inside_tag: made(aside[marker]), aside, once=True)
    marks = getattr(page, "netsim_marks", None) or {}
    if marks:
        output = _put_back(
            output, ERROR_MARK, lambda mark, inside_tag: _error_box(marks[mark], inside_tag), marks, once=False
        )
    return _with_policy(output, config)


def _put_back(output: str, marker: re.Pattern[str], put: Any, known: dict[str, Any], once: bool) -> str:
    """Each marker in `known` replaced by put(marker, inside_tag) in one pass (only its first
    appearance when `once`); `inside_tag` says whether the text made so far leaves us inside a
    tag (an attribute's value); a marker not in `known` is left as it is."""
    made: list[str] = []
    inside_tag = False
    at = 0
    done: set[str] = set()
    for found in marker.finditer(output):
        text = found.group(0)
        if text not in known or text in done:
            continue
        if once:
            done.add(text)
        chunk = output[at : found.start()]
        inside_tag = _after(chunk, inside_tag)
        replacement = put(text, inside_tag)
        made += (chunk, replacement)
        inside_tag = _after(replacement, inside_tag)
        at = found.end()
    made.append(output[at:])
    return "".join(made)


def _after(text: str, inside_tag: bool) -> bool:
    """Whether, after `text`, the last angle bracket seen opens a tag (`<`) rather than closes one."""
    opened, closed = text.rfind("<"), text.rfind(">")
    return inside_tag if opened == closed == -1 else opened > closed


def _error_box(error: tuple[str, str] | None, inside_tag: bool) -> str:
    """An error where its macro was called: a red box in text (a code span too), plain escaped
    text inside a tag (an attribute), nothing for a mark no error claimed."""
    if error is None:
        return ""
    kind, message = error
    if inside_tag:
        return escape(f"✗ {kind}: {message}", quote=True)
    return f'<span class="ns-error" role="alert"><strong>✗ {escape(kind)}.</strong> {escape(message)}</span>'


def on_post_template(output: str, template_name: str, config: Any) -> str:
    return _with_policy(output, config) if template_name.endswith(".html") else output


def _with_policy(html: str, config: Any) -> str:
    """Every page gets the site's Content-Security-Policy (netsim/pages/csp.py)."""
    _netsim()
    from netsim.pages import csp

    shim = (Path(config["docs_dir"]) / "assets" / "vendor" / "iframe-worker-shim.js").read_text(encoding="utf-8")
    return csp.add_to_page(html, shim)


def _live_reload_with_a_nonce() -> None:
    """mkdocs serve injects an inline live-reload script, which the policy refuses: give that one
    script a fresh random nonce in each page it serves, and allow exactly that nonce."""
    import secrets

    from mkdocs.livereload import LiveReloadServer

    inject = LiveReloadServer._inject_js_into_html
    if getattr(inject, "with_nonce", False):
        return

    def with_nonce(self: LiveReloadServer, content: bytes, epoch: int) -> bytes:
        html = inject(self, content, epoch)
        nonce = secrets.token_urlsafe(18).encode()
        at = html.rindex(b"<script>")  # the script mkdocs just put before </body>
        html = html[:at] + b'<script nonce="' + nonce + b'">' + html[at + len(b"<script>") :]
        return html.replace(b"script-src 'self'", b"script-src 'self' 'nonce-" + nonce + b"'", 1)

    with_nonce.with_nonce = True  # type: ignore[attr-defined]
    LiveReloadServer._inject_js_into_html = with_nonce  # type: ignore[method-assign]


def on_post_build(config: Any) -> None:
    site = Path(config["site_dir"])
    _write_feed(config, site)
    _netsim()
    from netsim.schemafile import schema_text

    (site / "scenario.schema.json").write_text(schema_text(), encoding="utf-8")


def _write_feed(config: Any, site: Path) -> None:
    base = config["site_url"] or ""
    items = []
    for p in reversed(POSTS):
        link = base + p["src"].replace(".md", ".html")
        if not isinstance(p["date"], date):
            continue  # reported by series_errors, with its line; the feed never guesses a date
        when = p["date"]
        stamp = format_datetime(datetime.combine(when, time(12), tzinfo=UTC))
        items.append(
            f"<item><title>{escape(p['title'])}</title><link>{escape(link)}</link>"
            f"<guid>{escape(link)}</guid><pubDate>{stamp}</pubDate>"
            f"<description>{escape(p['description'])}</description></item>"
        )
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(config['site_name'])}</title><link>{escape(base)}</link>"
        f"<description>{escape(config['site_description'] or '')}</description>" + "".join(items) + "</channel></rss>\n"
    )
    (site / "feed.xml").write_text(feed, encoding="utf-8")
