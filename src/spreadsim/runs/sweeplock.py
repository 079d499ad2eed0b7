"""The sweep lock: one live sweep per sweep folder, and one config per sweep folder.

A sweep holds an exclusive ``flock`` on ``<sweep dir>/.sweep.lock`` while it runs and writes its
pid, host and start time into the file; it empties the file when it ends. The kernel releases
the lock when the holder dies, however it dies, so a lock is never left held by a process that
is gone: a later sweep takes it over, and says so in a log line when the file still names the
dead holder. A second sweep while the first one lives fails at once with one line naming the
holder. ``flock`` works across machines on NFS v4 and most cluster filesystems (a Slurm sweep's
folder is on one); where it does not, the lock still protects the folder on one machine. On a
filesystem without file locks at all (``flock`` fails with ENOSYS, EOPNOTSUPP or ENOLCK) the
sweep runs without the lock, with one warning line: concurrent sweeps into that folder are not
detected.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from spreadsim.outputs.layout import LOCK_FILE
from spreadsim.runs.jobspec import SweepFailed

__all__ = ["NO_LOCKS", "SweepLock", "acquire_sweep_lock"]

log = logging.getLogger("spreadsim.sweep")

#: ``flock``'s errors on a filesystem without file locks: the sweep runs without the lock
NO_LOCKS = frozenset({errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOLCK})


def _read(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        info = json.loads(data) if data.strip() else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _holder(info: dict[str, Any]) -> str:
    start = info.get("start_time")
    when = (datetime.datetime.fromtimestamp(float(start)).isoformat(sep=" ", timespec="seconds")
            if isinstance(start, int | float) else "?")
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, started {when}"


class SweepLock:
    """A held sweep lock (:func:`acquire_sweep_lock`); :meth:`release` ends it."""

    def __init__(self, fd: int, path: Path, held: bool = True) -> None:
        self.fd: int | None = fd
        self.path = path
        #: False on a filesystem without file locks: the sweep runs without the lock
        self.held = held

    def release(self) -> None:
        """Empty the lock file (no holder) and release the lock; a second call does nothing."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # (a read-only or vanished folder: the lock goes with the descriptor anyway)
        finally:
            os.close(fd)


def acquire_sweep_lock(sweep_dir: str | os.PathLike[str], wait_for_info_s: float = 1.0) -> SweepLock:
    """Take the sweep folder's lock, or fail at once if a live sweep holds it.

    Parameters
    ----------
    sweep_dir : path-like
        The sweep folder (it must exist).
    wait_for_info_s : float
        How long to wait for a holder that has just taken the lock to write its pid and host.

    Returns
    -------
    SweepLock

    Raises
    ------
    SweepFailed
        One line naming the holder (pid, host, start time), when a live sweep holds the folder.
    OSError
        When the lock file cannot be created (a read-only folder).
    """
    path = Path(sweep_dir) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        info = _read(fd)
        deadline = time.monotonic() + wait_for_info_s
        while not info and time.monotonic() < deadline:  # the holder is writing its name
            time.sleep(0.02)
            info = _read(fd)
        os.close(fd)
        raise SweepFailed(f"sweep folder {sweep_dir} is in use by another sweep ({_holder(info)}): "
                          "wait for it to end, or give another hydra.sweep.dir") from None
    except OSError as e:
        if e.errno not in NO_LOCKS:
            os.close(fd)
            raise
        log.warning("sweep folder %s: its filesystem has no file locks (%s): running without "
                    "the sweep lock, so concurrent sweeps into this folder are not detected",
                    sweep_dir, e.strerror or e)
        return SweepLock(fd, path, held=False)
    except BaseException:
        os.close(fd)
        raise
    try:
        previous = _read(fd)
        if previous:
            log.warning("sweep folder %s: taking over the lock of a sweep that is gone (%s)",
                        sweep_dir, _holder(previous))
        info = {"pid": os.getpid(), "host": socket.gethostname(), "start_time": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return SweepLock(fd, path)
