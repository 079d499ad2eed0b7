"""The simulation engine: one run of one configuration with one seed.

Owns the SimPy environment driving the compiled spread kernel (:mod:`.simulation`, with the
kernel's work arrays in :mod:`.workspace` and :mod:`.pool`, and the queries and actions that
policies call in :mod:`.policy_api`), the kernel itself (:mod:`.kernel`), the records of a run
(:mod:`.records`) and the per-run metrics (:mod:`.metrics`); its counter-based random numbers
come from :mod:`spreadsim.rng`. May import the base modules (:mod:`spreadsim.errors`,
:mod:`spreadsim.version`, :mod:`spreadsim.jit`, :mod:`spreadsim.dists`, :mod:`spreadsim.rng`),
:mod:`spreadsim.schema` and :mod:`spreadsim.graphs`; never :mod:`spreadsim.policies`,
:mod:`spreadsim.runs`, :mod:`spreadsim.outputs` or :mod:`spreadsim.app`: the engine takes policy
objects and calls them through their hooks.
"""
