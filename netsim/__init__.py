"""netsim: a small, deterministic model of the Linux bridge, ARP and TCP listeners.

Data flows one way: a scenario file (diagrams/*.yaml) is parsed by `netsim.scenario`,
run by `netsim.simulation` into a `netsim.trace.Trace`, and drawn by the renderers.
"""

from __future__ import annotations

__all__ = ["load", "simulate"]


def load(path):  # noqa: ANN001, ANN201 - thin re-export, typed in netsim.scenario
    from netsim.scenario import load_scenario

    return load_scenario(path)


def simulate(scenario):  # noqa: ANN001, ANN201 - thin re-export, typed in netsim.simulation
    from netsim.simulation import run

    return run(scenario)
