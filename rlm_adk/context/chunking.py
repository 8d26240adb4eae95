"""Chunk planning: descriptors covering documents in pieces of at most `max_chars` bytes.

Only a small probe near each cut is read (never the chunk itself): the cut moves back to just
after the last newline in the probe, so chunks end on line boundaries where possible; otherwise it
moves forward to the next UTF-8 character start, so chunk texts never split a character.
"""

from __future__ import annotations

from collections.abc import Callable

from rlm_adk.context.base import ContextError
from rlm_adk.context.utf8 import skip_continuations

MAX_PROBE = 64 << 10

Probe = Callable[[int, int], bytes]
"""`probe(start, end)` returns bytes `[start, end)` of the document."""


def plan(
    size: int,
    max_chars: int,
    overlap: int,
    probe: Probe,
) -> list[tuple[int, int]]:
    """`(start, end)` byte ranges covering `[0, size)`.

    With `overlap == 0` the ranges partition the document exactly.
    """
    if max_chars <= 0 or overlap < 0 or overlap >= max_chars:
        raise ContextError("chunks needs max_chars > 0 and 0 <= overlap < max_chars")
    out: list[tuple[int, int]] = []
    pos = 0
    if size == 0:
        return [(0, 0)]
    while pos < size:
        end = min(size, pos + max_chars)
        if end < size:
            end = _cut(probe, pos, end, max_chars, size)
        out.append((pos, end))
        if end >= size:
            break
        nxt = max(end - overlap, pos + 1)
        if overlap and nxt < end:
            nxt = _align(probe, nxt, end)
        pos = nxt
    return out


def _cut(read: Probe, pos: int, end: int, max_chars: int, size: int) -> int:
    lo = max(pos + max_chars // 2, end - MAX_PROBE)
    data = read(lo, min(size, end + 3))
    nl = data.rfind(b"\n", 0, end - lo)
    cut = nl + 1 if nl >= 0 else end - lo
    # The boundary rule still applies after a newline (invalid UTF-8 may follow it).
    return lo + skip_continuations(data, cut, len(data))


def _align(read: Probe, pos: int, limit: int) -> int:
    data = read(pos, min(limit, pos + 3))
    return pos + skip_continuations(data, 0, len(data))
