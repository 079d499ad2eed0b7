"""Automated detection policies."""

from __future__ import annotations
