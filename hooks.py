"""Site-wide MkDocs hooks: the series index, reading time, the RSS feed and the scenario schema.

These are about the series as a publication; everything about networks lives in netsim.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from html import escape
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
import yaml

ROOT = Path(__file__).resolve().parent
WORDS_PER_MINUTE = 220
POSTS: list[dict[str, Any]] = []


def _front_matter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"\A---\n(.*?)\n---\n", text, re.S)
    if not match:
        return {}, text
    return yaml.safe_load(match.group(1)) or {}, text[match.end() :]


def reading_minutes(markdown: str) -> int:
    """Minutes for the prose alone: macros, code and HTML are not read as words."""
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", markdown, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return max(1, math.ceil(len(re.findall(r"[A-Za-z0-9']+", text)) / WORDS_PER_MINUTE))


def on_config(config: Any) -> Any:
    POSTS.clear()
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
            }
        )
    POSTS.sort(key=lambda p: p["number"])
    return config


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


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    dump = os.environ.get("NETSIM_DUMP_MARKDOWN")
    if dump:  # benchmarks/run.py: the pages as they are once every macro has run
        target = Path(dump) / page.file.src_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(markdown, encoding="utf-8")
        aside = json.dumps(getattr(page, "netsim_set_aside", {}))
        target.with_suffix(".aside.json").write_text(aside, encoding="utf-8")
    if "<!-- series-index -->" in markdown:
        here = Path(page.file.src_path).parent
        items = [
            f"{p['number']}. **[{p['title']}]({Path(p['src']).relative_to(here) if here != Path() else p['src']})**"
            f" · {p['date']} · {p['minutes']} min read  \n   {p['description']}"
            for p in POSTS
        ]
        markdown = markdown.replace("<!-- series-index -->", "\n".join(items))
    post = next((p for p in POSTS if p["src"] == page.file.src_path), None)
    if post is not None:
        byline = (
            f'<p class="ns-byline">Post {post["number"]} of the series · {post["date"]} · '
            f"{post['minutes']} min read</p>"
        )
        # After the first heading, so the title stays on top.
        markdown = re.sub(r"^(# .*\n)", lambda m: m.group(1) + "\n" + byline + "\n", markdown, count=1, flags=re.M)
    return markdown


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Put back the figure contents that netsim's macros kept out of Markdown and search."""
    aside = getattr(page, "netsim_set_aside", None)
    baseline = os.environ.get("NETSIM_BASELINE_ASIDE")
    if not aside and baseline:  # benchmarks/run.py's baseline: pages pre-expanded, figures from disk
        saved = (Path(baseline) / page.file.src_path).with_suffix(".aside.json")
        aside = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else {}
    for marker, inner in (aside or {}).items():
        output = output.replace(marker, inner, 1)
    return output


def on_post_build(config: Any) -> None:
    site = Path(config["site_dir"])
    _write_feed(config, site)
    sys.path.insert(0, str(ROOT))
    from netsim.schemafile import scenario_schema

    (site / "scenario.schema.json").write_text(json.dumps(scenario_schema(), indent=2) + "\n", encoding="utf-8")


def _write_feed(config: Any, site: Path) -> None:
    base = config["site_url"] or ""
    items = []
    for p in reversed(POSTS):
        link = base + p["src"].replace(".md", ".html")
        when = p["date"] if isinstance(p["date"], date) else date.fromisoformat(str(p["date"]))
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
