"""The block cache: bounded by bytes, LRU, one load per block under contention, read-ahead."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rlm_adk.context.cache import BlockCache

DATA = bytes(range(256)) * 64  # 16 KiB


class CountingLoader:
    def __init__(self, data: bytes = DATA, delay: float = 0.0) -> None:
        self.data, self.delay = data, delay
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def __call__(self, start: int, end: int) -> bytes:
        with self.lock:
            self.calls.append((start, end))
        if self.delay:
            time.sleep(self.delay)
        return self.data[start:end]


def test_reads_are_exact_across_blocks() -> None:
    cache = BlockCache(max_bytes=4096, block_size=100, read_ahead=0)
    load = CountingLoader()
    for start, end in [(0, 1), (99, 101), (50, 950), (1000, 1000), (16_000, 17_000), (5, 3)]:
        assert (
            cache.read("k", len(DATA), start, end, load) == DATA[start:end][: max(0, end - start)]
        )


def test_memory_is_bounded_and_lru() -> None:
    cache = BlockCache(max_bytes=1000, block_size=100, read_ahead=0)
    load = CountingLoader()
    for block in range(50):
        cache.read("k", len(DATA), block * 100, block * 100 + 10, load)
        assert cache.used_bytes <= 1000
    assert cache.stats.evicted == 40
    calls = len(load.calls)
    cache.read("k", len(DATA), 4900, 4910, load)  # recent: still cached
    assert len(load.calls) == calls
    cache.read("k", len(DATA), 0, 10, load)  # evicted long ago: loaded again
    assert len(load.calls) == calls + 1


def test_huge_ranges_bypass_the_cache() -> None:
    cache = BlockCache(max_bytes=1000, block_size=100, read_ahead=0)
    load = CountingLoader()
    assert cache.read("k", len(DATA), 0, 5000, load) == DATA[:5000]
    assert load.calls == [(0, 5000)]
    assert cache.used_bytes == 0


def test_concurrent_misses_share_one_load() -> None:
    cache = BlockCache(max_bytes=10_000, block_size=1000, read_ahead=0)
    load = CountingLoader(delay=0.05)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: cache.read("k", len(DATA), 10, 20, load), range(8)))
    assert results == [DATA[10:20]] * 8
    assert load.calls == [(0, 1000)]


def test_sequential_reads_trigger_read_ahead() -> None:
    cache = BlockCache(max_bytes=100_000, block_size=1000, read_ahead=2)
    load = CountingLoader()
    cache.read("k", len(DATA), 0, 1000, load)
    cache.read("k", len(DATA), 1000, 2000, load)  # sequential: prefetch blocks 2 and 3
    deadline = time.monotonic() + 2
    while cache.stats.prefetched < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.stats.prefetched == 2
    misses = cache.stats.misses
    assert cache.read("k", len(DATA), 2000, 4000, load) == DATA[2000:4000]
    assert cache.stats.misses == misses  # served from the read-ahead
    cache.close()


def test_a_failed_load_is_not_cached() -> None:
    cache = BlockCache(max_bytes=10_000, block_size=1000, read_ahead=0)
    failures = [1]

    def flaky(start: int, end: int) -> bytes:
        if failures:
            failures.pop()
            raise OSError("transient")
        return DATA[start:end]

    with pytest.raises(OSError):
        cache.read("k", len(DATA), 0, 10, flaky)
    assert cache.read("k", len(DATA), 0, 10, flaky) == DATA[:10]


def test_versions_keep_blocks_apart() -> None:
    cache = BlockCache(max_bytes=10_000, block_size=1000, read_ahead=0)
    old, new = CountingLoader(b"a" * 2000), CountingLoader(b"b" * 2000)
    assert cache.read(("f", "v1"), 2000, 0, 3, old) == b"aaa"
    assert cache.read(("f", "v2"), 2000, 0, 3, new) == b"bbb"


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        BlockCache(max_bytes=10, block_size=100)
