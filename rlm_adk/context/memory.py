"""Keeping the heap flat under concurrent large reads (glibc only).

Sixteen threads each reading 1 MB chunk texts allocate and free megabyte-sized buffers. glibc
serves the first with `mmap` but then raises its mmap threshold dynamically, so later ones come
from per-thread heaps that fragment and never shrink: peak RSS for the same work grew from about
150 MB to about 300 MB in `tools/bench_context.py`. Pinning the threshold at 256 KiB keeps big
buffers in `mmap`, returned to the system as soon as they are freed.

This is process-wide, so it is done once, on the first handle, and can be turned off with
`RLM_ADK_TUNE_MALLOC=0` (for example when the embedding application tunes malloc itself).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 10

_done = False
_lock = threading.Lock()


def tune_malloc() -> bool:
    """Pins glibc's mmap threshold once per process; True if it is (now or already) pinned."""
    global _done
    with _lock:
        if _done:
            return True
        if os.environ.get("RLM_ADK_TUNE_MALLOC", "1") == "0" or not sys.platform.startswith(
            "linux"
        ):
            return False
        try:
            libc = ctypes.CDLL(None)
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            return False  # not glibc (musl has mallopt as a no-op; others lack it)
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        return _done
