"""netsim: a small, deterministic model of the Linux bridge, ARP and TCP listeners.

Data flows one way: a scenario file (diagrams/*.yaml) is parsed by `netsim.scenario`,
run by `netsim.simulation` into a `netsim.trace.Trace`, and drawn by the renderers.
"""
