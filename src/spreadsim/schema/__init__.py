"""The configuration schema: every field a user can set, declared once.

Owns each section's defaults, types, ranges, units and one-line descriptions (:mod:`.fields` gives
the building blocks, :mod:`.checks` the one-line validators), the sections themselves (:mod:`.model`:
spread, scenario, run settings, calibration; :mod:`.graphs`: graph kinds; :mod:`.policies`: removal
policies; :mod:`.platforms`: several platforms), :class:`~spreadsim.schema.config.SimConfig`, and
the YAML of ``conf/`` written from them (:mod:`.yaml`, :mod:`.catalog`). May import only the base
modules (:mod:`spreadsim.errors`, :mod:`spreadsim.dists`); everything else imports it.
"""
