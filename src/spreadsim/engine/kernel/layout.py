"""The kernel's tables: the return codes of :func:`~spreadsim.engine.kernel.advance`, the bits of
the events it reports, and the columns of the per-post tables and of the heap's rows."""

from __future__ import annotations

# return codes of advance()
DONE, STOPPED, GROW = 0, 1, 2
# bits of the events reported to Python (meta[3] holds the bits of the reported exposure)
EV_EXPOSURE, EV_SHARE, EV_NOTICE, EV_THRESHOLD = 1, 2, 4, 8
# columns of the per-post float and int tables
# PF_REMOVED: the post's removal time (inf: up); PF_CUT: removal_cut of it, what exposures are
# compared with (the tie rule, see .timing); PF_LIMIT: the cut of a removal scheduled ahead
(PF_T0, PF_P, PF_REMOVED, PF_DECAY_A, PF_DECAY_B, PF_SCALE, PF_NOTICE_P, PF_LIMIT, PF_CUT) = range(9)
NPF = 9
# PI_CLOCKS: 1 + the row of the post's first per-copy removal clock in the clock tables (0: none)
(PI_KEY, PI_UPLOADER, PI_DECAY_KIND, PI_CLOCKS, PI_VIEWS, PI_REACH, PI_SHARES, PI_NOTICE_KEY,
 PI_REACH_TRIGGER, PI_LEGAL, PI_PH_TICKS, PI_DELAY_KEY, PI_SHARE_KEY) = range(13)
NPI = 13  # PI_DELAY_KEY, PI_SHARE_KEY: subkey(PI_KEY, 0) and subkey(PI_KEY, 1), set at upload
# columns of the per-copy removal clocks (one row per clock; a post's clocks are a linked list):
# float (latency parameters a, b; removal probability), int (latency kind, key of the clock's
# draws, row of the post's next clock or -1)
CF_A, CF_B, CF_PROB = 0, 1, 2
CI_KIND, CI_KEY, CI_NEXT = 0, 1, 2
PH_TICKS = 65536.0  # exposure person-hours are summed in exact integer units of 1/65536 h
# heap columns
HF_TIME, HF_DEADLINE = 0, 1
HI_SEQ, HI_POST, HI_USER, HI_SRC = 0, 1, 2, 3
