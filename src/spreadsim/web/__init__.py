"""The what-if page (``spreadsim app``): a local web server whose controls come from the schema,
and a self-contained static export.

May import every layer below it; imports no Hydra.
"""
