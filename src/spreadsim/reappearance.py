"""Reappearance: adversarial re-uploads, hash matching, account strikes."""

from __future__ import annotations
