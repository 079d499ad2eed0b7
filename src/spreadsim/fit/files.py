"""A command's output files, written all or none.

:func:`publish` has the files written into a temporary folder inside the output folder (the same
file system, so that moving a file in is a rename), then moves them to their places. If writing
or moving one fails, the files already moved in are taken out again, the files they replaced are
put back, the temporary folder and the folders made for the output are removed, and one
:class:`~spreadsim.errors.OutputError` names the output folder and the cause: no half set of files
is left behind (``spreadsim fit``, ``spreadsim dsa-delays``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from spreadsim.errors import OutputError

__all__ = ["error_status", "publish"]


def error_status(message: str, code: int) -> int:
    """Flush what was printed, write ``spreadsim: error: <message>`` to stderr (one line) and
    return ``code`` (:data:`spreadsim.errors.EXIT_BAD_INPUT` or ``EXIT_FAILED``): the ending of
    ``spreadsim fit`` and ``spreadsim dsa-delays``."""
    sys.stdout.flush()
    sys.stderr.write(f"spreadsim: error: {message}\n")
    sys.stderr.flush()
    return code

_PREFIX = ".spreadsim-tmp-"


def _missing_dirs(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, the deepest first."""
    out = []
    while not path.exists() and path != path.parent:
        out.append(path)
        path = path.parent
    return out


def _remove_dirs(made: list[Path]) -> None:
    for d in sorted(made, key=lambda p: len(p.parts), reverse=True):
        try:
            d.rmdir()
        except OSError:
            pass  # not empty (another writer's files) or gone: left as it is


def publish(out: str | os.PathLike[str], write: Callable[[Path], Sequence[str]]) -> list[Path]:
    """Write a set of files into ``out``, all or none.

    Parameters
    ----------
    out : path-like
        The output folder (made if missing).
    write : callable
        ``write(folder)`` writes the files into ``folder`` (a temporary folder) and returns their
        paths relative to it, in the order they are to be moved in.

    Returns
    -------
    list of Path
        The files' paths in ``out``.

    Raises
    ------
    OutputError
        A file could not be written or moved (nothing of the set is left in ``out``; a file it
        replaced is back).
    """
    out = Path(out)
    made = _missing_dirs(out.absolute())
    tmp: Path | None = None
    moved: list[tuple[Path, Path | None]] = []  # (target, where the file it replaced is kept)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=out))
        rels = list(write(tmp))
        kept = tmp / (_PREFIX + "replaced")
        for i, rel in enumerate(rels):
            target = out / rel
            made += [d for d in _missing_dirs(target.parent.absolute()) if d not in made]
            target.parent.mkdir(parents=True, exist_ok=True)
            backup = None
            if target.exists() and not target.is_dir():
                backup = kept / str(i)
                backup.parent.mkdir(exist_ok=True)
                os.replace(target, backup)
            moved.append((target, backup))
            os.replace(tmp / rel, target)
    except BaseException as e:
        for target, backup in reversed(moved):
            try:
                if backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink(missing_ok=True)
            except OSError:
                pass
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        _remove_dirs(made)
        if isinstance(e, OSError):
            raise OutputError(f"cannot write {out}: {e.strerror or e}"
                              + (f" ({e.filename})" if e.filename else "")) from e
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return [out / rel for rel in rels]
