"""Every error netsim reports: three small families, each naming where and what."""

from __future__ import annotations

from dataclasses import dataclass


class NetsimError(Exception):
    """Base class of every error netsim reports to a person."""

    kind = "Error"  # what a person reads first, in the log and on the page's red box


# --- A scenario file that cannot be used -------------------------------------------------


@dataclass
class ScenarioError(NetsimError):
    """A scenario file is malformed: names the file, line, field, what was found and expected."""

    kind = "Scenario error"
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

    kind = "Claim is false"
    file: str
    line: int
    claim: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: claim {self.claim}: {self.message}"


@dataclass
class FigureError(NetsimError):
    """A figure (diagram, caption or tables) depicts what the step's trace did not do."""

    kind = "Figure is false"
    file: str
    line: int
    figure: str  # the diagram's file in the built site, figures/NAME.svg
    step: str  # "step N (id)"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: figure {self.figure} of {self.step}: {self.message}"


@dataclass
class UnclaimedStep(NetsimError):
    """A page shows a step (figure or stepper) but no claim checks what happened in it."""

    kind = "Claim is missing"
    file: str
    line: int
    step: str  # scenario/step

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.step}: this step is shown but no claim checks its outcome"


# --- A macro call a page got wrong -------------------------------------------------------


@dataclass
class UnknownName(NetsimError):
    """A macro was given a host, step, interface or scenario the scenario does not have."""

    kind = "Unknown name"
    file: str
    line: int
    what: str  # e.g. "mac('bob'): no host 'bob'"
    known: list[str]

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}; expected one of: {', '.join(self.known)}"


@dataclass
class MacroError(NetsimError):
    """A macro call that cannot run as written: wrong arguments, or a template that does not parse."""

    kind = "Macro error"
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


# --- A lab that could not run on the real kernel -----------------------------------------


class LabUnavailable(NetsimError):
    """The machine cannot run the lab (no root, no network namespaces, missing tools)."""


class LabError(NetsimError):
    """The lab started but a kernel command failed; the message names the command."""
