"""Series of a chosen length for `make bench`: the site's posts, published, plus copies if needed.

The trend matters before the series is long: the bench measures a short series and a long one
(three and eight posts unless BENCH_SMALL / BENCH_POSTS say otherwise) in the same run and reports
the growth per post. A series of n posts is the site's first n posts in series order, every one
published (a draft's `draft:` line is dropped, so the built and the served series agree), the
later posts removed with their nav entries. Beyond the site's own posts, post k is a copy of post
((k - 1) mod n) + 1 with its scenario, both under a new name; the copy's scenario file is the
original's bytes. Numbers, nav entries and the index follow, so the series builds green with
`--strict` like the real site.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
from sitecopy import copy_site  # noqa: E402

FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def _meta(text: str, key: str) -> str | None:
    front = FRONT.match(text)
    found = re.search(rf"^{key}:\s*(.+)$", front.group(1), re.M) if front else None
    return found.group(1).strip() if found else None


def _draft(post: Path) -> bool:
    return (_meta(post.read_text(encoding="utf-8"), "draft") or "").split("#")[0].strip() == "true"


def real_posts(root: Path) -> list[Path]:
    """The site's posts in series order (front matter `number`), drafts too."""
    posts = sorted((root / "docs" / "posts").glob("*.md"))
    return sorted(posts, key=lambda p: int(_meta(p.read_text(encoding="utf-8"), "number") or 0))


def grow(dest: Path, posts: int, root: Path = ROOT) -> Path:
    """A copy of the site at `root` in `dest` with exactly `posts` posts, all published."""
    src = copy_site(dest)
    config = src / "mkdocs.yml"
    nav = config.read_text(encoding="utf-8")
    every = real_posts(src)
    for post in every:
        text = post.read_text(encoding="utf-8")
        front = FRONT.match(text)
        if front and _draft(post):
            head = re.sub(r"^draft:.*\n", "", front.group(1) + "\n", flags=re.M).rstrip("\n")
            post.write_text(f"---\n{head}\n---\n{text[front.end() :]}", encoding="utf-8")
    for post in every[posts:]:  # a shorter series: the later posts are not written yet
        post.unlink()
        nav = "".join(line for line in nav.splitlines(keepends=True) if f"posts/{post.name}" not in line)
    real = every[:posts]
    last_entry = max(nav.index(f"posts/{p.name}\n") for p in real)
    insert_at = nav.index("\n", last_entry) + 1
    entries = ""
    for number in range(len(real) + 1, posts + 1):
        original = real[(number - 1) % len(real)]
        text = original.read_text(encoding="utf-8")
        name = f"{original.stem}-copy-{number}"
        scenario = _meta(text, "scenario")
        title = f"{_meta(text, 'title')} (copy {number})"
        front = FRONT.match(text)
        assert front is not None, original
        head = re.sub(r"^number:.*$", f"number: {number}", front.group(1), count=1, flags=re.M)
        head = re.sub(r"^title:.*$", f"title: {title}", head, count=1, flags=re.M)
        if scenario:
            head = re.sub(r"^scenario:.*$", f"scenario: {name}", head, count=1, flags=re.M)
            yaml = src / "diagrams" / f"{scenario}.yaml"
            (src / "diagrams" / f"{name}.yaml").write_bytes(yaml.read_bytes())
        body = text[front.end() :].replace(f'"{scenario}/', f'"{name}/') if scenario else text[front.end() :]
        (src / "docs" / "posts" / f"{name}.md").write_text(f"---\n{head}\n---\n{body}", encoding="utf-8")
        entries += f'  - "{number}. {title}": posts/{name}.md\n'
    config.write_text(nav[:insert_at] + entries + nav[insert_at:], encoding="utf-8")
    return src
