"""Outputs: results on disk and what is read off them, without running anything.

Owns the layout of job and sweep folders (:mod:`.layout`), tables in memory and on disk
(:mod:`.columns`, :mod:`.io`: Parquet + CSV, written atomically), the joining of finished job
folders into a results table (:mod:`.aggregate`), the statistics (:mod:`.stats`: the one
confidence interval), the summary and category tables (:mod:`.tables`), the plots
(:mod:`.plots`), the HTML report (:mod:`.report`) and a sweep's outputs written from its job
folders (:mod:`.sweep_outputs`).

May import the base modules (:mod:`spreadsim.errors`, ...) and :mod:`spreadsim.schema`; never the
graphs, engine, policies, runs or app (nor Hydra, OmegaConf or joblib).
"""
