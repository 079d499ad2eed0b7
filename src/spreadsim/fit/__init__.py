"""Fitting the model to data: observed cascades to spread parameters, removal decisions to removal
delays.

Owns reading event tables (CSV or Parquet, streamed), the likelihoods and their intervals, and
writing the configs a sweep runs. May import every layer up to :mod:`spreadsim.runs`; imports no
Hydra.
"""
