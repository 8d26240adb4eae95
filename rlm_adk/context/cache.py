"""`BlockCache`: a bounded, thread-safe LRU of fixed-size file blocks, with read-ahead.

Random reads (`read`, `lines`, `chunk.text()`) go through it. Blocks are keyed by
`(source, path, version, index)`, so a file that changed (new mtime or GCS generation) never
serves stale blocks. Memory is bounded by `max_bytes` however large the corpus.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass

DEFAULT_BLOCK_SIZE = 1 << 20
DEFAULT_MAX_BYTES = 64 << 20
DEFAULT_READ_AHEAD = 2

Loader = Callable[[int, int], bytes]
"""`loader(start, end)` returns bytes `[start, end)` of one file."""


@dataclass
class CacheStats:
    """Counters for tests and benchmarks."""

    hits: int = 0
    misses: int = 0
    prefetched: int = 0
    evicted: int = 0


class BlockCache:
    """LRU by bytes over fixed-size blocks; a sequential reader triggers background read-ahead.

    Concurrent requests for the same missing block share one load (no thundering herd).
    """

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        block_size: int = DEFAULT_BLOCK_SIZE,
        read_ahead: int = DEFAULT_READ_AHEAD,
    ) -> None:
        if block_size <= 0 or max_bytes < block_size:
            raise ValueError("BlockCache needs block_size > 0 and max_bytes >= block_size")
        self.max_bytes = max_bytes
        self.block_size = block_size
        self.read_ahead = max(0, read_ahead)
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._blocks: OrderedDict[tuple[Hashable, int], bytes] = OrderedDict()
        self._pending: dict[tuple[Hashable, int], Future[bytes]] = {}
        self._bytes = 0
        # Last block read per file: reading block i right after i-1 means a sequential scan.
        self._last: dict[Hashable, int] = {}
        self._pool: ThreadPoolExecutor | None = None

    @property
    def used_bytes(self) -> int:
        """Bytes currently held."""
        with self._lock:
            return self._bytes

    def read(self, key: Hashable, size: int, start: int, end: int, loader: Loader) -> bytes:
        """Bytes `[start, end)` of the file `key` (of `size` bytes), block by block."""
        start, end = max(0, start), min(end, size)
        if start >= end:
            return b""
        bs = self.block_size
        first, last = start // bs, (end - 1) // bs
        if (last - first + 1) * bs > self.max_bytes // 2:
            # A huge range would flush the whole cache for one use: read it directly.
            return loader(start, end)
        parts = [self._block(key, size, i, loader) for i in range(first, last + 1)]
        self._maybe_read_ahead(key, size, first, last, loader)
        base = first * bs
        if len(parts) == 1 and start == base and end - base == len(parts[0]):
            return parts[0]
        # Zero-copy views of the blocks, then one copy into the result (1 MB reads stay 1 MB).
        views = [memoryview(p) for p in parts]
        views[-1] = views[-1][: end - last * bs]
        views[0] = views[0][start - base :]
        return b"".join(views)

    def _block(self, key: Hashable, size: int, index: int, loader: Loader) -> bytes:
        slot = (key, index)
        for attempt in range(2):
            with self._lock:
                data = self._blocks.get(slot)
                if data is not None:
                    self._blocks.move_to_end(slot)
                    self.stats.hits += 1
                    return data
                future = self._pending.get(slot)
                owner = future is None
                if owner:
                    future = Future()
                    self._pending[slot] = future
                    self.stats.misses += 1
            assert future is not None
            if owner:
                return self._load(slot, size, loader, future)
            try:
                return future.result()
            except Exception:
                # Another thread's load (often a prefetch) failed: try once ourselves.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _load(
        self, slot: tuple[Hashable, int], size: int, loader: Loader, future: Future[bytes]
    ) -> bytes:
        bs = self.block_size
        begin = slot[1] * bs
        try:
            data = loader(begin, min(size, begin + bs))
        except BaseException as exc:
            with self._lock:
                self._pending.pop(slot, None)
            with contextlib.suppress(InvalidStateError):
                future.set_exception(exc)
            raise
        with self._lock:
            self._pending.pop(slot, None)
            self._insert(slot, data)
        with contextlib.suppress(InvalidStateError):
            future.set_result(data)
        return data

    def _insert(self, slot: tuple[Hashable, int], data: bytes) -> None:
        # Called with the lock held.
        old = self._blocks.pop(slot, None)
        if old is not None:
            self._bytes -= len(old)
        self._blocks[slot] = data
        self._bytes += len(data)
        while self._bytes > self.max_bytes and self._blocks:
            _, dropped = self._blocks.popitem(last=False)
            self._bytes -= len(dropped)
            self.stats.evicted += 1

    def _maybe_read_ahead(
        self, key: Hashable, size: int, first: int, last: int, loader: Loader
    ) -> None:
        with self._lock:
            previous = self._last.get(key)
            self._last[key] = last
            if len(self._last) > 4096:
                self._last.pop(next(iter(self._last)))
            sequential = previous is not None and previous in (first - 1, first)
            if not (sequential and self.read_ahead):
                return
            wanted = []
            top = (size - 1) // self.block_size
            for index in range(last + 1, min(top, last + self.read_ahead) + 1):
                slot = (key, index)
                if slot in self._blocks or slot in self._pending:
                    continue
                future: Future[bytes] = Future()
                self._pending[slot] = future
                wanted.append((slot, future))
            if not wanted:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ctx-readahead")
            pool = self._pool
        for slot, future in wanted:
            pool.submit(self._prefetch, slot, size, loader, future)

    def _prefetch(
        self, slot: tuple[Hashable, int], size: int, loader: Loader, future: Future[bytes]
    ) -> None:
        try:
            self._load(slot, size, loader, future)
        except BaseException:
            # A failed prefetch is retried by the reader that needs the block.
            return
        with self._lock:
            self.stats.prefetched += 1

    def clear(self) -> None:
        """Drops every block."""
        with self._lock:
            self._blocks.clear()
            self._bytes = 0
            self._last.clear()

    def close(self) -> None:
        """Drops every block and stops the read-ahead threads."""
        self.clear()
        with self._lock:
            pool, self._pool = self._pool, None
            pending = list(self._pending.values())
            self._pending.clear()
        for future in pending:
            # Wakes any reader waiting on a prefetch that will now never run.
            with contextlib.suppress(InvalidStateError):
                future.set_exception(RuntimeError("the context was closed"))
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
