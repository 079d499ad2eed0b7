"""The what-if page (``spreadsim app``): a local web server whose controls come from the schema,
and a self-contained static export.

Owns :mod:`.controls` (the page's controls generated from the schema; the page's settings as a job
config), :mod:`.compute` (every figure of a setting, from the CLI's job runner and summary and
the traced unmoderated runs), :mod:`.text` (the setting in words, the experiment file and command
that reproduce the page), :mod:`.worker` (one worker thread, superseded requests dropped),
:mod:`.server` (the Starlette app and the ``spreadsim app`` command) and :mod:`.export` (the static
export); the page itself is ``static/`` (one HTML page, two scripts: ``figures.js`` draws,
``app.js`` runs the controls and requests; one style sheet).

May import every layer below it; imports no Hydra (nor OmegaConf, nor joblib).
"""
