"""`make bench` measures a synthetic sixteen-post series beside the real site (benchmarks/series.py):
it must be a series the site accepts, or the figures at sixteen posts would measure error boxes."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from mkdocs.config import load_config

from benchmarks import series

ROOT = Path(__file__).resolve().parent.parent


def test_the_synthetic_series_holds_together_and_copies_each_post_with_its_scenario(tmp_path: Path) -> None:
    src = series.grow(tmp_path / "site", 16)
    spec = importlib.util.spec_from_file_location("bench_hooks", src / "hooks.py")
    assert spec and spec.loader
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    hooks.on_config(load_config(config_file=str(src / "mkdocs.yml"), site_dir=str(tmp_path / "out")))
    assert hooks.SERIES_ERRORS == {}  # in nav, in order, numbered 1..16, each scenario there
    assert [p["number"] for p in hooks.POSTS] == list(range(1, 17))
    real = series.real_posts(ROOT)
    assert len(real) < 16  # copies are added
    for post in hooks.POSTS[len(real) :]:
        name = Path(post["src"]).stem
        original = real[(post["number"] - 1) % len(real)]
        text = (src / "docs" / post["src"]).read_text(encoding="utf-8")
        assert re.search(rf"^scenario: {re.escape(name)}$", text, re.M), name
        scenario = re.search(r"^scenario: (.+)$", original.read_text(encoding="utf-8"), re.M)
        assert scenario is not None
        copied = (src / "diagrams" / f"{name}.yaml").read_bytes()
        assert copied == (ROOT / "diagrams" / f"{scenario.group(1)}.yaml").read_bytes()
