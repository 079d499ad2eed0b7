"""The simulation engine: one run of one configuration with one seed.

Owns the SimPy environment driving the compiled spread kernel (:mod:`.simulation`, with the
kernel's work arrays in :mod:`.workspace` and :mod:`.pool`, the queries and actions that
policies call in :mod:`.policy_api`, and the public read methods of what a run recorded in
:mod:`.runlog`), the kernel itself (:mod:`.kernel`), the records of a run (:mod:`.records`) and
the per-run metrics (:mod:`.metrics`, which read a run through :mod:`.runlog`); its counter-based random numbers
come from :mod:`spreadsim.rng`. May import the base modules (:mod:`spreadsim.errors`,
:mod:`spreadsim.version`, :mod:`spreadsim.jit`, :mod:`spreadsim.dists`, :mod:`spreadsim.rng`),
:mod:`spreadsim.schema` and :mod:`spreadsim.graphs`; never :mod:`spreadsim.policies`,
:mod:`spreadsim.runs`, :mod:`spreadsim.outputs` or :mod:`spreadsim.app`: the engine takes policy
objects and calls them through their hooks.
"""
