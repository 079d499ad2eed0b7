"""One worker thread that runs the page's computations, newest request of each tab first.

Every computation runs in the same thread (the engine's work arrays, the pinned graph and the
trace cache are used from one thread only), one at a time. Each request names its tab and a
sequence number that grows with every change the tab makes; a request still waiting when a newer
one of its tab arrives is dropped without running (its caller gets :data:`SUPERSEDED`), and the
page ignores any answer older than its latest request. A computation that has started runs to
its end (the engine cannot be interrupted), so a tab waits at most for one stale computation.

A tab's latest number is remembered only while one of its requests is waiting or running: once
the tab has nothing in flight it is forgotten, so one request with a huge number (``seq=10**30``)
supersedes what is queued behind it and nothing after (a late older request then simply runs;
the page ignores its answer).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["SUPERSEDED", "Worker"]

#: what a dropped request returns
SUPERSEDED = object()
#: tabs remembered at most (the oldest are forgotten: a forgotten tab's next request just runs)
MAX_TABS = 1000


class Worker:
    """Runs functions in one thread, dropping a tab's requests that a newer one superseded."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spreadsim-app")
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._pending: dict[str, int] = {}  # requests of a tab waiting or running
        self._lock = threading.Lock()

    def _is_latest(self, tab: str | None, seq: int) -> bool:
        with self._lock:
            return tab is None or self._latest.get(tab, seq) <= seq

    def submit(self, tab: str | None, seq: int, fn: Callable[..., Any], *args: Any,
               **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` in the worker thread, unless a request of ``tab`` with a
        higher ``seq`` comes before it starts (the future then holds :data:`SUPERSEDED`).
        ``tab=None``: never superseded."""
        with self._lock:
            if tab is not None:
                if self._latest.get(tab, seq) > seq:  # older than a request still in flight
                    done: Future[Any] = Future()
                    done.set_result(SUPERSEDED)
                    return done
                self._latest[tab] = seq
                self._latest.move_to_end(tab)
                self._pending[tab] = self._pending.get(tab, 0) + 1
                while len(self._latest) > MAX_TABS:
                    old, _ = self._latest.popitem(last=False)
                    self._pending.pop(old, None)

        def run() -> Any:
            try:
                if not self._is_latest(tab, seq):
                    return SUPERSEDED
                return fn(*args, **kwargs)
            finally:
                self._done(tab)

        return self._pool.submit(run)

    def _done(self, tab: str | None) -> None:
        """One request of ``tab`` has finished: forget the tab when none is left in flight."""
        if tab is None:
            return
        with self._lock:
            left = self._pending.get(tab, 0) - 1
            if left > 0:
                self._pending[tab] = left
            else:
                self._pending.pop(tab, None)
                self._latest.pop(tab, None)

    def close(self) -> None:
        """Stop taking work: queued work is dropped, and the running computation (if any) is
        waited for, so that nothing runs after this returns (its folders may go)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
