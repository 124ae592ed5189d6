"""Handing memory that periodic work has freed back to the operating system.

The monitoring runner wakes every interval, reads the new row groups of the log into arrays of a few
hundred kilobytes to a few megabytes, counts them into sketches and frees them. glibc's malloc unmaps a
freed block above its mmap threshold, but then raises that threshold to the block's size (up to 32 MiB),
so the next blocks of that size come from the thread's arena instead, and an arena returns memory only
from its top. Freed, reusable, but never returned: a companion under steady load grew by 2 to 3 MiB a
minute this way (``bench/serving.py --parts soak``) while nothing in it held more. ``release_free_memory``
asks glibc to give back every wholly free page of every arena (``malloc_trim``), after each tick; where
the C library is not glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


def release_free_memory() -> bool:
    """Return the C heap's free pages to the operating system; whether any were returned."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None for another C library."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim
