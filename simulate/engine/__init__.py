"""One simulated year on a SimPy clock: the world and its streams, the team, the funnel, the
key accounts, the shocks and actions that move the levers, the playbook, and the year that
assembles them. `simulate_year(plan, seed, replication)` is its one entry point.
"""
