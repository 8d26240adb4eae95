"""UTF-8-safe range decoding: one boundary rule shared by `read`, `lines`, `grep` and `chunks`.

The rule: an offset that lands on a UTF-8 continuation byte moves *forward* to the next character
start (at most 3 bytes, so invalid runs of continuation bytes cannot make it wander). Applying the
same rule to both ends of every range means consecutive ranges partition a text exactly: no
character is duplicated, lost or cut into garbage.
"""

from __future__ import annotations

_MAX_SKIP = 3
"""A UTF-8 character has at most 3 continuation bytes."""


def is_continuation(byte: int) -> bool:
    """True for a UTF-8 continuation byte (0b10xxxxxx)."""
    return byte & 0xC0 == 0x80


def skip_continuations(data: bytes | bytearray | memoryview, pos: int, limit: int) -> int:
    """`pos` moved forward past at most 3 continuation bytes of `data`, never beyond `limit`."""
    steps = 0
    while pos < limit and steps < _MAX_SKIP and is_continuation(data[pos]):
        pos += 1
        steps += 1
    return pos


def decode(data: bytes | bytearray | memoryview) -> str:
    """UTF-8 text of `data`; invalid bytes become U+FFFD instead of raising."""
    return str(data, "utf-8", "replace")  # decodes any buffer without copying it first


def trim_range(data: bytes, lead_limit: int, end: int) -> tuple[int, int]:
    """Applies the boundary rule to `data` read from a range's start.

    `data` holds bytes from the range start through a few bytes past the range end (`end`, relative
    to `data`). Returns the `(start, end)` slice of `data` holding whole characters.
    """
    cut = skip_continuations(data, end, len(data))
    lead = skip_continuations(data, 0, min(lead_limit, cut))
    return lead, cut
