"""A disk cache of rendered figures, keyed by everything that determines them.

The key hashes what the figure is drawn from (netsim.pages.figkey: the scenario and the step's
trace as netsim read them), the figure's arguments, every source file of netsim and the Graphviz
version, so an edit to any of them renders afresh and nothing stale is ever served.

The cache lives outside the checkout (in the user's cache folder): every key can be computed
from files in a pull request, so a cache folder inside the checkout could arrive pre-filled with
figures that were never rendered, or escaped, here. Each checkout has a folder of its own there,
as it had inside the checkout: a test that renders with a fault patched into memory (the source
on disk, and so the key, unchanged) cannot leave its figure for another checkout.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from netsim.pages import writeback
from netsim.render import palette
from netsim.render.layout import default_dir, graphviz_version

NETSIM = Path(__file__).resolve().parents[1]


def code_salt() -> str:
    """A digest of netsim's own code and the renderer's version."""
    digest = hashlib.sha256(graphviz_version().encode())
    for path in sorted(NETSIM.rglob("*.py")):
        digest.update(str(path.relative_to(NETSIM)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# A diagram as site/figures/ gets it, kept in this process: `make serve` writes every figure
# into a fresh site on each rebuild, and reading and restyling each one was most of that.
_STANDALONE: dict[tuple[str, str], bytes] = {}


class FigureCache:
    def __init__(self, root: Path) -> None:
        setting = os.environ.get("NETSIM_CACHE_DIR", str(default_dir(root)))
        self.dir = Path(setting) if setting != "off" else None
        self._salt: str | None = None
        self.hits = self.misses = 0
        self.svgs: dict[str, str] = {}  # diagrams rendered in this process, by name
        self.written: set[str] = set()  # diagrams on disk, or on their way there

    @property
    def salt(self) -> str:
        """code_salt(), worked out on the first figure asked for: a build replaying every page asks none."""
        if self._salt is None:
            self._salt = code_salt() if self.dir else ""
        return self._salt

    def store_svg(self, svg: str) -> str:
        """Keep a diagram under a name made from its content; return the name."""
        name = hashlib.sha256(svg.encode()).hexdigest()[:20]
        self.svgs[name] = svg
        if self.dir is not None:
            path = self.dir / "svg" / f"{name}.svg"
            if name not in self.written and not path.exists():
                writeback.write(path, svg.encode("utf-8"))  # behind the build, atomically
            self.written.add(name)
        return name

    def svg(self, name: str) -> str:
        if name in self.svgs:
            return self.svgs[name]
        assert self.dir is not None  # a name from a cached figure implies a cache directory
        path = self.dir / "svg" / f"{name}.svg"
        kept = writeback.pending(path)  # asked to be written, not yet on disk
        return kept.decode("utf-8") if kept is not None else path.read_text(encoding="utf-8")

    def write_figures(self, names: set[str], site_dir: Path) -> None:
        """Put every diagram the pages used into site/figures/."""
        out = site_dir / "figures"
        out.mkdir(parents=True, exist_ok=True)
        # Opened on its own (full screen without JavaScript) a diagram has no page around it: it
        # brings the palette along, in the system's colour scheme.
        style = f"><style>{palette.standalone_css()}</style>"
        for name in sorted(names):
            key = (name, style)  # a name is its SVG's hash: with the style, the file's whole content
            data = _STANDALONE.get(key) if self.dir is not None else None
            if data is None:
                data = self.svg(name).replace(">", style, 1).encode("utf-8")
                if self.dir is not None:  # no cache asked for: nothing kept (make mutants)
                    if len(_STANDALONE) >= 4096:
                        _STANDALONE.clear()
                    _STANDALONE[key] = data
            (out / f"{name}.svg").write_bytes(data)

    def get(self, parts: tuple[str, ...], make: Callable[[], str]) -> str:
        return self._get(parts, ".html", lambda: make().encode("utf-8")).decode("utf-8")

    def get_png(self, parts: tuple[str, ...], make: Callable[[], bytes]) -> bytes:
        """The same for a picture (a post's share image, netsim.render.preview)."""
        return self._get(parts, ".png", make)

    def _get(self, parts: tuple[str, ...], suffix: str, make: Callable[[], bytes]) -> bytes:
        if self.dir is None:
            return make()
        key = hashlib.sha256("\0".join((self.salt, *parts)).encode()).hexdigest()
        path = self.dir / "made" / f"{key}{suffix}"  # one folder: a folder per key was a mkdir per figure
        kept = writeback.pending(path)
        if kept is not None or path.exists():
            self.hits += 1
            return kept if kept is not None else path.read_bytes()
        self.misses += 1
        data = make()
        writeback.write(path, data)  # behind the build, atomically
        return data
