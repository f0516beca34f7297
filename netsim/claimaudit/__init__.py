"""The claim audit: every claim on every page must be able to fail.

Each claim is checked again against traces made by deliberately faulted variants of netsim
(faults.py, one or two per mechanism) and by perturbed copies of its scenario (perturbations.py:
an address, a bind, a flag changed). A claim that nothing falsifies only restates its input:
the audit lists it, and `make claims` fails unless the page marks it with given() instead.
"""
