"""Moderation policies: notice-and-takedown, trusted flaggers, authority referrals, circuit breaker."""

from __future__ import annotations
