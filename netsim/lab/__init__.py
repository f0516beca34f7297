"""The lab: replay a scenario on the real kernel, in namespaces that vanish with the process.

Everything happens inside one private network and mount namespace made with unshare(2) in a forked
child (netsim.lab.cli.kernel_trace()); the
machine's own interfaces, routes and firewall are never touched, and when the process ends, by
any means, the kernel removes every namespace, bridge and cable the lab made.
"""
