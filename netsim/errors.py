"""Every error netsim reports: three small families, each naming where and what."""

from __future__ import annotations

from dataclasses import dataclass


class NetsimError(Exception):
    """Base class of every error netsim reports to a person."""


# --- A scenario file that cannot be used -------------------------------------------------


@dataclass
class ScenarioError(NetsimError):
    """A scenario file is malformed: names the file, line, field, what was found and expected."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


# --- A sentence in a post that the simulation contradicts --------------------------------


@dataclass
class ClaimError(NetsimError):
    """A claim in a page disagrees with the trace (or cannot be checked at all)."""

    file: str
    line: int
    claim: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: claim {self.claim}: {self.message}"


@dataclass
class FigureError(NetsimError):
    """A figure (diagram, caption or tables) depicts what the step's trace did not do."""

    file: str
    line: int
    figure: str  # the diagram's file in the built site, figures/NAME.svg
    step: str  # "step N (id)"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: figure {self.figure} of {self.step}: {self.message}"


# --- A lab that could not run on the real kernel -----------------------------------------


class LabUnavailable(NetsimError):
    """The machine cannot run the lab (no root, no network namespaces, missing tools)."""


class LabError(NetsimError):
    """The lab started but a kernel command failed; the message names the command."""
