"""Runs: what the simulations are run for, on top of the engine and the policies.

Owns one run from a config (:mod:`.single`: :func:`spreadsim.simulate`), a job of paired seeds
(:mod:`.jobspec`: a job's config checked through the schema; :mod:`.job`: its seeds run, its
folder written, resume; :mod:`.progress`: progress lines), the exact deadline path and its trace
cache (:mod:`.deadline`, :mod:`.tracecache`), several platforms in one run (:mod:`.platforms`,
:mod:`.multiconfig`), SLA calibration (:mod:`.calibration`) and the theory checks
(:mod:`.validation`).

May import the base modules, :mod:`spreadsim.schema`, :mod:`spreadsim.graphs`,
:mod:`spreadsim.engine`, :mod:`spreadsim.policies` and :mod:`spreadsim.outputs`; never
:mod:`spreadsim.app`, nor Hydra, OmegaConf or joblib.
"""
