"""The app layer, the only layer that imports Hydra, OmegaConf and joblib: the command and its Hydra parts.

It may import every other layer of spreadsim (base, schema, graphs, engine, policies, outputs,
runs); nothing imports it. Modules:

* :mod:`spreadsim.app.cli`: the command line (one-line errors, exit status 2 on bad input);
* :mod:`spreadsim.app.task`: the task function's body, a composed config to plain containers;
* :mod:`spreadsim.app.callback`: the Hydra callback (checks before any job, aggregation at the end);
* :mod:`spreadsim.app.sweepcheck`: every job of a sweep composed and checked before any starts;
* :mod:`spreadsim.app.launchers`: the launcher's and sweeper's own settings;
* :mod:`spreadsim.app.messages`: one-line messages for Hydra's and OmegaConf's errors;
* :mod:`spreadsim.app.console`: the line at start, the first run's compile note, spreadsim's log
  format in a sweep's main process, the line that resumes an interrupted sweep.

Only public interfaces of Hydra, OmegaConf and joblib are used. The jobs run under Hydra's own
launchers, launched by spreadsim's small sweeper (``hydra_plugins.spreadsim_sweeper``: the basic
sweeper's jobs without its composing each one first) or by Hydra's basic sweeper.
"""
