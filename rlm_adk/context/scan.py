"""Sequential windowed reads for scans (grep, newline counting), and the newline counter.

Scans bypass the block cache on purpose: a pass over a 1 GiB corpus would otherwise evict every
block that random reads are using. Local files (and extracted PDF text) are read with
`os.preadv` into one reusable buffer, so a scan allocates nothing per window; remote objects are
read a window ahead on a background thread, so the next range request overlaps the current scan.

Counting newlines bounds a first grep (a match's line number needs every newline before it).
`bytes.count` runs a byte-at-a-time loop (about 2.5 GB/s here); with numpy installed,
`newlines` compares and counts with SIMD instead (about 14 GB/s), for the same result.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import ModuleType

LOCAL_WINDOW = 1 << 20
REMOTE_WINDOW = 8 << 20

Buffer = bytes | bytearray

numpy: ModuleType | None
try:
    import numpy
except Exception:  # optional (absent, or a broken install): `bytes.count` gives the same counts
    numpy = None

VECTOR_MIN = 16 << 10
"""Ranges shorter than this are counted by `bytes.count` (numpy's per-call cost is about 1.5 µs)."""
VECTOR_STEP = 256 << 10
"""numpy compares this many bytes at a time, so its boolean scratch stays small and in cache."""
_scratch = threading.local()


def newlines(buf: Buffer, start: int, end: int) -> int:
    """Newlines in `buf[start:end]`, like `buf.count(b"\\n", start, end)` (bounds clamped)."""
    start, end = max(0, start), min(end, len(buf))
    if numpy is None or end - start < VECTOR_MIN:
        return buf.count(b"\n", start, end)
    data = numpy.frombuffer(buf, numpy.uint8, end - start, start)
    # One scratch array per thread: allocating it per call costs more than the count itself
    # (at glibc's pinned mmap threshold, a fresh mapping and its page faults every time).
    scratch = getattr(_scratch, "hits", None)
    if scratch is None or len(scratch) != VECTOR_STEP:
        scratch = _scratch.hits = numpy.empty(VECTOR_STEP, numpy.bool_)
    total = 0
    for i in range(0, end - start, VECTOR_STEP):
        part = data[i : i + VECTOR_STEP]
        hits = scratch[: len(part)]
        numpy.equal(part, 10, out=hits)
        total += int(numpy.count_nonzero(hits))
    return total


class WindowReader:
    """`read(pos, want)` returns `(buffer, n)`: bytes `[pos, pos + n)` are `buffer[:n]`.

    The buffer may be reused by the next call; `n` may exceed `want` for remote reads.
    """

    def read(self, pos: int, want: int) -> tuple[Buffer, int]:
        """Bytes from `pos`: about `want` of them (fewer at the end of the document)."""
        raise NotImplementedError

    def reserve(self, size: int) -> None:
        """Makes later reads of up to `size` bytes possible (and frees a bigger buffer)."""

    def close(self) -> None:
        """Releases the descriptor or pending prefetch."""


class FdReader(WindowReader):
    """`os.preadv` into one reusable buffer; the caller owns (and closes) nothing."""

    def __init__(self, fd: int, size: int, window: int, *, own: bool = True) -> None:
        self._fd = fd
        self._size = size
        self._own = own
        self._buf = bytearray(max(1, min(window, size)))
        self._view = memoryview(self._buf)

    def reserve(self, size: int) -> None:
        size = max(1, min(size, self._size))
        if size != len(self._buf):
            self._view.release()
            self._buf = bytearray(size)
            self._view = memoryview(self._buf)

    def read(self, pos: int, want: int) -> tuple[Buffer, int]:
        want = max(0, min(want, len(self._buf), self._size - pos))
        got = 0
        while got < want:
            n = os.preadv(self._fd, [self._view[got:want]], pos + got)
            if n <= 0:
                break
            got += n
        return self._buf, got

    def close(self) -> None:
        self._view.release()
        if self._own and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class PrefetchReader(WindowReader):
    """Reads through `load(start, end)`, keeping the next `depth` windows in flight on `pool`."""

    def __init__(
        self,
        load: Callable[[int, int], bytes],
        size: int,
        window: int,
        pool: ThreadPoolExecutor | None,
        depth: int = 2,
    ) -> None:
        self._load = load
        self._size = size
        self._window = max(1, window)
        self._pool = pool
        self._depth = depth if pool is not None else 0
        self._data = b""
        self._d0 = 0
        self._ahead: deque[tuple[int, Future[bytes]]] = deque()

    def read(self, pos: int, want: int) -> tuple[Buffer, int]:
        end = min(self._size, pos + max(0, want))
        if not (self._d0 <= pos <= self._d0 + len(self._data)):
            self._data, self._d0 = b"", pos
        parts = [self._data[pos - self._d0 :]]
        cur = self._d0 + len(self._data)
        while cur < end:
            while self._ahead and self._ahead[0][0] != cur:
                self._ahead.popleft()[1].cancel()  # a jump: prefetched windows are useless
            if self._ahead:
                chunk = self._ahead.popleft()[1].result()
            else:
                chunk = self._load(cur, min(self._size, cur + self._window))
            if not chunk:
                break
            parts.append(chunk)
            cur += len(chunk)
        self._data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._d0 = pos
        self._schedule(cur)
        return self._data, len(self._data)

    def _schedule(self, cur: int) -> None:
        nxt = self._ahead[-1][0] + self._window if self._ahead else cur
        while self._pool is not None and len(self._ahead) < self._depth and nxt < self._size:
            future = self._pool.submit(self._load, nxt, min(self._size, nxt + self._window))
            self._ahead.append((nxt, future))
            nxt += self._window

    def close(self) -> None:
        while self._ahead:
            self._ahead.popleft()[1].cancel()
        self._data = b""


def count_newlines(reader: WindowReader, start: int, end: int, window: int) -> int:
    """Newlines in bytes `[start, end)`."""
    total = 0
    pos = start
    while pos < end:
        buf, n = reader.read(pos, min(window, end - pos))
        if n <= 0:
            break
        n = min(n, end - pos)
        total += newlines(buf, 0, n)
        pos += n
    return total
