"""A build reads no cache that a checkout could supply (issue 11).

Jinja's bytecode cache is marshalled code: one on disk inside the checkout is code a pull request
can bring. Figures cached as HTML inside the checkout could likewise arrive pre-filled, never
escaped here. So the theme's compiled templates stay in memory, and figures are cached outside.
The build is of post one and the cheapest other (tests/sitecopy.py; the decoder needs a post of its
words): every cache a build writes, it writes for any post.
"""

from __future__ import annotations

import os
from pathlib import Path

import prerun
from sitecopy import copy_small_site


def test_a_build_writes_and_reads_no_cache_inside_the_checkout(tmp_path: Path) -> None:
    root = copy_small_site(tmp_path / "src", ("margarets-room", "a-name-for-the-host"))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NETSIM_CACHE_DIR", "NETSIM_JINJA_CACHE_DIR", "NETSIM_LAYOUT_CACHE_DIR")
    }
    env |= {"NO_MKDOCS_2_WARNING": "1", "XDG_CACHE_HOME": str(tmp_path / "user-cache")}
    result = prerun.python(["-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")], cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    assert not (root / ".cache").exists(), sorted(str(p.relative_to(root)) for p in (root / ".cache").rglob("*"))
    assert any((tmp_path / "user-cache" / "the-bottom-six" / "figures").glob("*/*/*.html"))  # one folder per checkout


def test_the_theme_is_compiled_in_memory_between_rebuilds() -> None:
    import importlib.util

    import jinja2

    spec = importlib.util.spec_from_file_location("site_hooks", Path(__file__).resolve().parent.parent / "hooks.py")
    assert spec and spec.loader
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    env = hooks.on_env(jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ 1 + 1 }}"})), None, None)
    assert not isinstance(env.bytecode_cache, jinja2.FileSystemBytecodeCache)
    assert env.get_template("t").render() == "2"
    again = hooks.on_env(jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ 1 + 1 }}"})), None, None)
    bucket = again.bytecode_cache.get_bucket(again, "t", None, "{{ 1 + 1 }}")
    assert bucket.code is not None  # a second environment (a rebuild) reuses the compiled code
    changed = again.bytecode_cache.get_bucket(again, "t", None, "{{ 2 + 2 }}")
    assert changed.code is None  # but never for a changed source
