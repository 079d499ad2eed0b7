"""The version of spreadsim, written into every result table and report."""

__version__ = "0.1.0"
