"""`make bench` measures a short series and a long one (benchmarks/series.py): each must be a series
the site accepts, every post published, or the figures would measure error boxes or leave posts out."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from mkdocs.config import load_config

from benchmarks import series

ROOT = Path(__file__).resolve().parent.parent


def series_of(tmp_path: Path, posts: int) -> tuple[Path, object]:
    src = series.grow(tmp_path / f"site-{posts}", posts)
    spec = importlib.util.spec_from_file_location(f"bench_hooks_{posts}", src / "hooks.py")
    assert spec and spec.loader
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    hooks.on_config(load_config(config_file=str(src / "mkdocs.yml"), site_dir=str(tmp_path / "out")))
    return src, hooks


def test_a_series_shorter_or_longer_than_the_site_holds_together_every_post_published(tmp_path: Path) -> None:
    real = series.real_posts(ROOT)
    for posts in (3, len(real) + 2):
        src, hooks = series_of(tmp_path, posts)
        assert hooks.SERIES_ERRORS == {}  # in nav, in order, numbered 1..n, each scenario there
        assert [p["number"] for p in hooks.POSTS] == list(range(1, posts + 1))  # drafts too: none left out
        assert len(list((src / "docs" / "posts").glob("*.md"))) == posts
        for post in hooks.POSTS[: len(real)]:
            assert post["src"] == f"posts/{real[post['number'] - 1].name}"
        for post in hooks.POSTS[len(real) :]:  # copies of the first posts, each with its scenario
            name = Path(post["src"]).stem
            original = real[(post["number"] - 1) % len(real)]
            text = (src / "docs" / post["src"]).read_text(encoding="utf-8")
            assert re.search(rf"^scenario: {re.escape(name)}$", text, re.M), name
            scenario = re.search(r"^scenario: (.+)$", original.read_text(encoding="utf-8"), re.M)
            assert scenario is not None
            copied = (src / "diagrams" / f"{name}.yaml").read_bytes()
            assert copied == (ROOT / "diagrams" / f"{scenario.group(1)}.yaml").read_bytes()
