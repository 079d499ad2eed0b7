"""The tie rule: when an exposure due at about the removal time of its post or copy happens.

Exposure times are float sums of feed delays along a path of shares (``((t0 + d1) + d2) + d3``),
removal times float sums of a time and a latency (``t0 + L``): two times that are equal in exact
arithmetic may differ in their last bits, one way or the other depending on the values and the
order of the sums. The rule is therefore stated with a relative tolerance:

    an exposure due at ``t`` happens only if ``t < removal_cut(R)`` = ``R * (1 - TIE_REL)`` for the
    removal time ``R`` of its post and of the copy it came through (``TIE_REL`` = 1e-9),

i.e. an exposure due at or after the removal time, or less than ``TIE_REL`` of it before, never
happens. Float sums of up to millions of delays stay far inside 1e-9 of their exact value, so an
exposure that is due at the removal time in exact arithmetic falls on the removed side whatever
the order of the sums; 1e-9 of a time is 3.6 ms at 1000 h, far below any delay the model means.
The cut is monotone in ``R`` (``R`` <= ``R'`` gives a cut <= the other) and ``inf`` stays ``inf``.
"""

from __future__ import annotations

from spreadsim.jit import njit

#: the relative tolerance of the tie rule (see the module docstring)
TIE_REL = 1e-9
_CUT = 1.0 - TIE_REL


@njit(cache=True, inline="always")
def removal_cut(removal: float) -> float:  # pragma: no cover - compiled
    """The time from which an exposure counts as at or after ``removal``: ``removal * (1 -
    TIE_REL)`` (``inf`` for ``inf``)."""
    return removal * _CUT
