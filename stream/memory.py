"""Keeping the worker's resident size flat: glibc's allocator, told to give memory back.

Measured with ``python -m bench.soak`` (README, "Benchmarks"): under the demo park's steady load
the worker's Python heap stays flat (tracemalloc) while its resident size grows, because glibc
keeps what a thread freed in that thread's arena and returns the top of a heap only. The window
flush and the deviation rules run in pool threads (``asyncio.to_thread``), each with an arena of
its own, and numpy's temporary arrays come and go in them. Two remedies, both glibc's own
(``mallopt(3)``, ``malloc_trim(3)``): at most two arenas, and every ``trim_s`` seconds the free
pages of every arena handed back to the kernel. Elsewhere (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None  # not glibc
    return libc


def limit_arenas(arenas: int) -> bool:
    """At most ``arenas`` malloc arenas from now on (before the pool threads start)."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1)


def trim() -> bool:
    """Hand the free pages of every arena back to the kernel; whether any were."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0) == 1)
