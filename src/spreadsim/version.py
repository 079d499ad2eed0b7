"""The version of spreadsim, written into every result table and report (and read by pyproject.toml)."""

__version__ = "0.2.0"
