"""Scenarios and their traces, loaded once per build from diagrams/."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsim.errors import ScenarioError
from netsim.pages.cache import FigureCache

if TYPE_CHECKING:
    from netsim.scenario import Scenario
    from netsim.trace import Trace


class Book:
    """Every scenario a build needs, simulated at most once per build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[str, tuple[Scenario, Trace]] = {}
        self._digest: dict[str, str] = {}
        self.figures = FigureCache(root)
        self.logged: set[str] = set()  # error messages already in this build's log: each cause once
        self.used_figures: set[str] = set()  # diagram files the pages of this build refer to
        self.previews: dict[str, bytes] = {}  # "previews/posts/x.png" -> each post's share image
        self.diagrams: dict[tuple[str, str, str], tuple[str, str]] = {}  # (scenario, step, view) -> (svg, alt)

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
            scenario = load_scenario(path)
            self._loaded[name] = (scenario, run(scenario))
            self._digest[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._loaded[name]

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
            key = hashlib.sha256(f"{salt}\0{path.name}\0".encode() + path.read_bytes()).hexdigest()
            made = kept.get(key) if kept is not None else None
            if made is None and store is not None:
                made = store.load_download(key)
            if made is None:
                from netsim.render.labscript import render
                from netsim.wire import pcap

                try:
                    scenario, trace = self.get(path.stem)
                except ScenarioError:
                    continue  # the page that uses it shows the error in a box; strict builds fail on it
                made = (scenario.name, render(scenario), pcap([hop for step in trace.steps for hop in step.frames]))
                if store is not None:
                    store.save_download(key, made)
            if kept is not None:
                kept[key] = made
            name, script, capture = made
            (site_dir / "scripts" / f"{name}.sh").write_text(script, encoding="utf-8")
            (site_dir / "captures" / f"{name}.pcap").write_bytes(capture)

    def digest(self, name: str) -> str:
        """The scenario file's content hash: part of every cached figure's key."""
        self.get(name)
        return self._digest[name]
