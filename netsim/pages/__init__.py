"""The bridge between netsim and the site: macros that pages call, and the claim checker."""
