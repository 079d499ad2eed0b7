"""Compilation switch: numba when it is there, the same code as plain Python when it is not.

The spread kernel, the random-number helpers and the edge-list parser are written in the subset
of Python that numba compiles. With numba installed (a core dependency) they are compiled and
cached on disk; without it, or with ``SPREADSIM_PURE_PYTHON=1`` in the environment, the very same
functions run as plain Python: far slower, same results for the same seed (tested).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

PURE_PYTHON = os.environ.get("SPREADSIM_PURE_PYTHON", "") not in ("", "0")

if not PURE_PYTHON:
    try:
        from numba import njit as _numba_njit
    except ImportError:  # pragma: no cover - exercised on machines without numba
        PURE_PYTHON = True

HAVE_NUMBA = not PURE_PYTHON
# numba's ``_nrt`` option (compile without reference counting), if this numba has it
_HAS_NRT_OPTION = False
if HAVE_NUMBA:  # pragma: no branch
    from numba.core.cpu import CPUTargetOptions as _CPUTargetOptions

    _HAS_NRT_OPTION = hasattr(_CPUTargetOptions, "_nrt")


def njit(*args: Any, **kwargs: Any) -> Any:
    """``numba.njit`` when compiling, else a decorator that returns the function unchanged.

    ``_nrt=False`` compiles without numba's reference counting: for functions that allocate no
    arrays (the spread kernel), whose every array argument would otherwise be incref'd and
    decref'd with atomic instructions on each call, inlined calls included (perf measured these
    at about 10% of a run). Dropped if the installed numba lacks the option.
    """
    if HAVE_NUMBA:
        if not _HAS_NRT_OPTION:  # pragma: no cover - numba >= 0.68 has it
            kwargs.pop("_nrt", None)
        return _numba_njit(*args, **kwargs)
    if args and callable(args[0]):
        return args[0]

    def keep(f: Callable[..., Any]) -> Callable[..., Any]:
        return f

    return keep


def _prefetch_noop(arr: Any, i: int) -> None:
    """Plain Python: prefetching is a no-op."""


prefetch: Any = _prefetch_noop

if HAVE_NUMBA:  # pragma: no branch
    from llvmlite import ir as _ir
    from numba import types as _types
    from numba.core import cgutils as _cgutils
    from numba.extending import intrinsic as _intrinsic

    @_intrinsic
    def _prefetch(typingctx: Any, arr: Any, i: Any) -> Any:  # pragma: no cover - compiled
        """Hint the CPU to fetch ``arr[i]`` (1-d array) into the caches: LLVM's prefetch (read,
        high locality). Reads and changes nothing: the address is only computed (no bounds check
        or wraparound), and a prefetch never faults, even one element past the end."""
        sig = _types.void(arr, i)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = _cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
            i8p = _ir.IntType(8).as_pointer()
            i32 = _ir.IntType(32)
            fnty = _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32])
            fn = _cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return sig, codegen

    prefetch = _prefetch
