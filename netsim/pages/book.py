"""Scenarios and their traces, loaded once per build from diagrams/."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from netsim.errors import ScenarioError
from netsim.pages.cache import FigureCache

T = TypeVar("T")
# A post's share image as a page names it: (scenario, its step's netsim.pages.figkey.figure_key, step, view,
# title).
# Book.share_image() makes the PNG; a cold build leaves that to a late job (netsim.pages.prerender).
SharedImage = tuple[str, str, str, str, str]
# A set-aside code block whose highlighting is a late job: this, its language, NUL, its text (a NUL
# is never in a page: the scripts refuse one). Book.made_code() gives the block's inside.
LATE_CODE = "\0netsim-late-code\0"


@functools.cache
def pygments_version() -> str:
    """Part of a highlighted block's key in the figure cache: another Pygments may colour it otherwise."""
    return metadata.version("Pygments")


if TYPE_CHECKING:
    from netsim.scenario import Scenario
    from netsim.trace import Trace


class Book:
    """Every scenario a build needs, simulated at most once per build."""

    def __init__(
        self,
        root: Path,
        traces: dict[str, tuple[str, Scenario, Trace]] | None = None,
        memo: dict[tuple[Any, ...], Any] | None = None,
    ) -> None:
        self.root = root
        # `traces`: what earlier builds in this process simulated, by name, with the file's digest
        # (make serve's, kept by macros.py for as long as netsim's code is unchanged): a prose
        # edit does not simulate its scenarios again. One per name: the file as it was last read.
        self._traces = traces
        # `memo`: results of pure functions of a page's inputs (highlighted code, a figure's check),
        # kept by macros.py between make serve's rebuilds while netsim's code is unchanged.
        self._memo = memo
        self._loaded: dict[str, tuple[Scenario, Trace]] = {}
        self._digest: dict[str, str] = {}
        self._scripts: dict[str, str] = {}  # scenario -> its try-it script
        self._kept: set[str] = set()  # scenarios whose downloads keep_download() has stored
        self._handed: set[str] = set()  # scenarios handed_out() has named
        self.figures = FigureCache(root)
        self.logged: set[str] = set()  # error messages already in this build's log: each cause once
        self.used_figures: set[str] = set()  # diagram files the pages of this build refer to
        # "previews/posts/x.png" -> each post's share image, or what names it (made at the build's end)
        self.previews: dict[str, bytes | SharedImage] = {}
        self.diagrams: dict[tuple[str, str, str], tuple[str, str]] = {}  # (scenario, step, view) -> (svg, alt)
        # Where a cold build's late jobs go (a netsim.pages.prerender.Prerender), else None: made at once.
        self.late: Any = None

    def path(self, name: str) -> Path:
        return self.root / "diagrams" / f"{name}.yaml"

    def get(self, name: str) -> tuple[Scenario, Trace]:
        if name not in self._loaded:
            # Imported here: a build that replays every page (macros.py) simulates nothing, and
            # importing the simulator is a good part of such a build's own cost.
            from netsim.scenario import load_scenario, scenario_path
            from netsim.simulation import run

            path = scenario_path(self.root, name)  # a name from a page: checked, and inside diagrams/
            if not path.exists():
                known = ", ".join(sorted(p.stem for p in (self.root / "diagrams").glob("*.yaml")))
                raise ScenarioError(f"diagrams/{name}.yaml", 0, "", f"no such scenario; expected one of: {known}")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            last = self._traces.get(name) if self._traces is not None else None
            if last is not None and last[0] == digest:
                kept = last[1], last[2]
            else:
                scenario = load_scenario(path)
                kept = (scenario, run(scenario))
                # Kept only if the file did not change while it was read (else the next build reads it).
                if self._traces is not None and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
                    self._traces[name] = (digest, *kept)
            self._loaded[name], self._digest[name] = kept, digest
        return self._loaded[name]

    def remember(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """make(), or what it gave last time for `key` in this process (make serve); `key` must hold
        everything the result depends on, and the result must not be changed by its users."""
        if self._memo is None:
            return make()
        if key not in self._memo:
            if len(self._memo) >= 4096:
                self._memo.clear()
            self._memo[key] = make()
        return self._memo[key]

    def script(self, name: str) -> str:
        """The scenario's "try it yourself" script, written once per build (a page shows it, the
        site offers it for download)."""
        if name not in self._scripts:
            from netsim.render.labscript import render

            scenario = self.get(name)[0]
            self._scripts[name] = self.remember(("script", name, self.digest(name)), lambda: render(scenario))
        return self._scripts[name]

    def _download_key(self, path: Path, salt: str) -> str:
        return hashlib.sha256(f"{salt}\0{path.name}\0".encode() + path.read_bytes()).hexdigest()

    def _made(self, name: str) -> tuple[str, str, bytes]:
        from netsim.wire import pcap

        scenario, trace = self.get(name)
        return scenario.name, self.script(name), pcap([hop for step in trace.steps for hop in step.frames])

    def handed_out(self) -> list[str]:
        """The scenarios simulated since the last call: each one's downloads, a late job, once."""
        new = sorted(set(self._loaded) - self._handed)
        self._handed.update(new)
        return new

    def keep_download(self, name: str, salt: str, store: Any) -> None:
        """Put one scenario's downloads into `store` (a late job of netsim.pages.prerender, for the
        build that writes them); a scenario that fails to load raises, and the build reports it."""
        if name not in self._kept:
            self._kept.add(name)
            store.save_download(self._download_key(self.path(name), salt), self._made(name))

    def made_code(self, part: str) -> str:
        """A set-aside part as the page ships it: a code block left to a late job (netsim.pages.macros.
        late_code) highlighted, from the figure cache if a late job made it; any other part as it is."""
        if not part.startswith(LATE_CODE):
            return part
        from netsim.pages.macros import code_block

        language, _, text = part[len(LATE_CODE) :].partition("\0")
        return self.figures.get(("code", pygments_version(), language, text), lambda: code_block(text, language))

    def share_image(self, image: bytes | SharedImage) -> bytes:
        """A post's share image as a PNG: kept in the figure cache under what determines it."""
        if isinstance(image, bytes):
            return image
        from netsim.pages.macros import draw_share_image

        return self.figures.get_png(("preview", *image), lambda: draw_share_image(self, image))

    def write_downloads(
        self,
        site_dir: Path,
        kept: dict[str, tuple[str, str, bytes]] | None = None,
        salt: str = "",
        store: Any = None,
    ) -> None:
        """Each scenario's "try it yourself" script and its capture, from the traces already made.

        `kept` (make serve's, between rebuilds) and `store` (a netsim.pages.pagestore.PageStore, on
        disk for the next build) hold what earlier builds made, under the scenario file's bytes and
        `salt` (a digest of the site's code): an unchanged scenario is not simulated again just for
        its downloads.
        """
        (site_dir / "scripts").mkdir(parents=True, exist_ok=True)
        (site_dir / "captures").mkdir(parents=True, exist_ok=True)
        for path in sorted((self.root / "diagrams").glob("*.yaml")):
            key = self._download_key(path, salt)
            made = kept.get(key) if kept is not None else None
            if made is None and store is not None:
                made = store.load_download(key)
            if made is None:
                try:
                    made = self._made(path.stem)
                except ScenarioError:
                    continue  # the page that uses it shows the error in a box; strict builds fail on it
                if store is not None:
                    store.save_download(key, made)
            if kept is not None:
                kept[key] = made
            name, script, capture = made
            (site_dir / "scripts" / f"{name}.sh").write_text(script, encoding="utf-8")
            (site_dir / "captures" / f"{name}.pcap").write_bytes(capture)

    def digest(self, name: str) -> str:
        """The scenario file's content hash: what a page read (macros.py), the try-it script's key."""
        self.get(name)
        return self._digest[name]
