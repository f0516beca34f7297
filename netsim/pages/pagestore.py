"""What a page's macros made, kept on disk under the content that determined it (issue 23).

A page's macros give the same Markdown, figures and errors as long as what they read is the same:
the page's source and title, the scenarios it asks for, the list of scenario files (an unknown
name's error lists them), the front matter of the posts (the decoder names them), the site's code
and data, and the versions of the libraries that draw and highlight. So a build keeps each page's
result here, keyed by a hash of the page's own inputs; the next build (or `make serve` after a
restart) finds it, checks that every scenario the page read still has the digest it had, and
replays it instead of compiling the page's template and running netsim again (macros.py).

It lives beside the figure cache, outside the checkout, for the same reason (netsim.pages.cache):
every key can be computed from a pull request, so a folder inside the checkout could arrive
pre-filled. It holds data only (JSON), never code. NETSIM_CACHE_DIR=off turns it off with the
figure cache.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from netsim.pages import writeback
from netsim.pages.cache import default_dir, graphviz_version

# Libraries whose output lands in a page: drawing, highlighting, templating, reading YAML.
LIBRARIES = ("pygraphviz", "Pygments", "Jinja2", "mkdocs-macros-plugin", "PyYAML")


def libraries() -> str:
    """The versions that shape a page's macro output besides the site's own files."""
    found = []
    for name in LIBRARIES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return "; ".join([*found, graphviz_version()])


def posts_front_matter(root: Path) -> str:
    """A digest of every post's name and front matter: the decoder page lists their titles and
    shows only the words of published posts, so its output depends on them (the prose does not)."""
    digest = hashlib.sha256()
    for path in sorted((root / "docs" / "posts").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        end = text.find("\n---\n", 4) if text.startswith("---\n") else -1
        front = text[: end + 5] if end >= 0 else ""
        digest.update(f"{path.name}\0{front}\0".encode())
    return digest.hexdigest()


class PageStore:
    """Each page's replayable result, one JSON file per key."""

    def __init__(self, root: Path) -> None:
        setting = os.environ.get("NETSIM_CACHE_DIR", str(default_dir(root)))
        self.dir = Path(setting) / "pages" if setting != "off" else None
        self.svg_dir = Path(setting) / "svg"  # netsim.pages.cache keeps every diagram there

    def load(self, key: str) -> dict[str, Any] | None:
        if self.dir is None:
            return None
        path = self.dir / key[:2] / f"{key}.json"
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent, or unreadable: render afresh
        if entry.get("key") != key:
            return None
        if entry.get("preview") is not None:  # the PNG itself, or what names it in the figure cache
            name, png, alt = entry["preview"]
            entry["preview"] = (name, base64.b64decode(png) if isinstance(png, str) else tuple(png), alt)
        entry["marks"] = {m: tuple(e) if e is not None else None for m, e in entry["marks"].items()}
        entry["errors"] = [tuple(e) for e in entry["errors"]]
        # The diagrams by name only: their files are in the figure cache, which wrote them when they
        # were drawn. One gone (a cache folder cleared by hand) and the page renders afresh.
        if not all((self.svg_dir / f"{name}.svg").is_file() for name in entry["svgs"]):
            return None
        entry["svgs"] = dict.fromkeys(entry["svgs"])
        return entry

    def has(self, key: str) -> bool:
        """Whether an entry is kept under `key` (load() may still refuse it)."""
        return self.dir is not None and (self.dir / key[:2] / f"{key}.json").is_file()

    def save(self, entry: dict[str, Any]) -> None:
        if self.dir is None:
            return
        data = dict(entry)
        data["svgs"] = sorted(entry["svgs"])  # the files themselves are in the figure cache
        if data.get("preview") is not None:
            name, png, alt = data["preview"]
            data["preview"] = (name, base64.b64encode(png).decode("ascii") if isinstance(png, bytes) else png, alt)
        # Behind the build, atomically, after the diagrams it names (netsim.pages.writeback).
        writeback.write(self.dir / entry["key"][:2] / f"{entry['key']}.json", json.dumps(data).encode("utf-8"))

    def load_download(self, key: str) -> tuple[str, str, bytes] | None:
        """A scenario's try-it script and capture (netsim.pages.book.write_downloads), if kept."""
        if self.dir is None:
            return None
        try:
            data = json.loads((self.dir / "downloads" / f"{key}.json").read_text(encoding="utf-8"))
            return data["name"], data["script"], base64.b64decode(data["pcap"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or unreadable: made afresh

    def save_download(self, key: str, made: tuple[str, str, bytes]) -> None:
        if self.dir is None:
            return
        name, script, capture = made
        data = {"name": name, "script": script, "pcap": base64.b64encode(capture).decode("ascii")}
        writeback.write(self.dir / "downloads" / f"{key}.json", json.dumps(data).encode("utf-8"))
