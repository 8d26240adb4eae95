"""Property tests: every operation agrees with a plain reference at block and UTF-8 boundaries.

Block sizes, cache sizes and scan windows are tiny, so a few dozen bytes of text cross many
block and window boundaries; sources are both in-memory text and real files on disk.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlm_adk.context import ContextHandle, LocalSource, TextSource
from rlm_adk.context.grep import MAX_LINE_CHARS
from rlm_adk.context.utf8 import is_continuation

PIECES = [
    b"a",
    b"b",
    b"ab",
    b" ",
    b"\n",
    b"\n",
    b"\r\n",
    "é".encode(),
    "日".encode(),
    "🙂".encode(),
    b"needle",
]
BAD = [b"\xff", b"\x80", b"\xc3", b"\xe6\x97"]

SETTINGS = settings(
    max_examples=int(os.environ.get("CTX_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def corpora(invalid: bool = False) -> st.SearchStrategy[bytes]:
    pieces = PIECES + BAD if invalid else PIECES
    return st.lists(st.sampled_from(pieces), max_size=80).map(b"".join)


options = st.fixed_dictionaries(
    {
        "block_size": st.sampled_from([1, 3, 7, 16]),
        "scan_window": st.sampled_from([4, 5, 9, 32]),
        "local": st.booleans(),
    }
)


class Opened:
    """A handle over one document `d/doc.txt`, in memory or on disk."""

    def __init__(self, data: bytes, block_size: int, scan_window: int, local: bool) -> None:
        self.tmp = tempfile.mkdtemp() if local else None
        if self.tmp:
            Path(self.tmp, "doc.txt").write_bytes(data)
            source = LocalSource(self.tmp, name="d")
        else:
            source = TextSource({"doc.txt": data}, name="d")
        self.handle = ContextHandle(
            [source], block_size=block_size, cache_bytes=4 * block_size, scan_window=scan_window
        )

    def __enter__(self) -> ContextHandle:
        return self.handle

    def __exit__(self, *exc: object) -> None:
        self.handle.close()
        if self.tmp:
            shutil.rmtree(self.tmp)


def boundary(data: bytes, pos: int) -> int:
    """The documented rule: forward past at most 3 continuation bytes (offset 0 stays)."""
    if pos == 0:
        return 0
    steps = 0
    while pos < len(data) and steps < 3 and is_continuation(data[pos]):
        pos += 1
        steps += 1
    return pos


def ref_lines(data: bytes) -> list[str]:
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    out = [p.decode("utf-8", "replace") for p in parts]
    return [t[:-1] if t.endswith("\r") else t for t in out]


def ref_grep(data: bytes, pattern: bytes, regex: bool) -> list[tuple[int, int, str]]:
    out = []
    offset = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if regex:
            m = re.search(pattern, line)
            hit = m.start() if m else -1
        else:
            hit = line.find(pattern)
        if hit >= 0:
            text = line.decode("utf-8", "replace")
            text = text[:-1] if text.endswith("\r") else text
            out.append((number, offset + hit, text[:MAX_LINE_CHARS]))
        offset += len(line) + 1
    return out


@SETTINGS
@given(corpora(invalid=True), st.lists(st.integers(0, 400), max_size=6), options)
def test_read_ranges_partition_the_text(data: bytes, cuts: list[int], opts: dict) -> None:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    with Opened(data, **opts) as h:
        pieces = [h.read("d/doc.txt", a, b) for a, b in itertools.pairwise(points)]
        for (a, b), piece in zip(itertools.pairwise(points), pieces, strict=True):
            assert piece == data[boundary(data, a) : boundary(data, b)].decode("utf-8", "replace")
            assert h.read_bytes("d/doc.txt", a, b) == data[a:b]
        try:
            whole = data.decode("utf-8")
        except UnicodeDecodeError:
            return
        assert "".join(pieces) == whole


@SETTINGS
@given(corpora(invalid=True), st.integers(0, 30), st.integers(0, 30), options)
def test_lines_match_reference(data: bytes, start: int, count: int, opts: dict) -> None:
    with Opened(data, **opts) as h:
        assert h.lines("d/doc.txt", start, count) == ref_lines(data)[start : start + count]
        # Asking again uses the line index built by the first call.
        assert h.lines("d/doc.txt", start, count) == ref_lines(data)[start : start + count]


@SETTINGS
@given(
    corpora(invalid=True),
    st.sampled_from(["needle", "ab", "é", "日", "a", "🙂 "]),
    st.integers(1, 50),
    options,
)
def test_literal_grep_matches_reference(data: bytes, word: str, cap: int, opts: dict) -> None:
    with Opened(data, **opts) as h:
        got = h.grep(word, max_matches=cap, literal=True)
        want = ref_grep(data, word.encode(), regex=False)[:cap]
        assert [(m.line, m.offset, m.text) for m in got] == want
        for m in got:
            assert (
                h.read_bytes("d/doc.txt", m.offset, m.offset + len(word.encode())) == word.encode()
            )
            assert h.lines("d/doc.txt", m.line - 1, 1) == [m.text]


@SETTINGS
@given(
    corpora(),
    st.sampled_from(
        [
            "a.b",
            "^b",
            "a$",
            "[ab]+",
            r"b\s",
            "é|日",
            "(ne)+dle",
            r"\d",
            # These have a required literal, so they run through the literal prefilter.
            "ne+dle",
            r"needle\s",
            "^needle",
            "needle$",
            r"[ab]needle",
            r"ab\s*é",
            r"🙂 \S",
        ]
    ),
    options,
)
def test_regex_grep_matches_reference(data: bytes, pattern: str, opts: dict) -> None:
    with Opened(data, **opts) as h:
        got = h.grep(pattern)
        want = ref_grep(data, pattern.encode(), regex=True)
        assert [(m.line, m.offset, m.text) for m in got] == want


@SETTINGS
@given(corpora(invalid=True), st.integers(1, 40), st.integers(0, 39), options)
def test_chunks_cover_the_text(data: bytes, max_chars: int, overlap: int, opts: dict) -> None:
    overlap = overlap % max_chars
    try:
        whole, valid = data.decode("utf-8"), True
    except UnicodeDecodeError:
        whole, valid = "", False
    with Opened(data, **opts) as h:
        chunks = h.chunks(max_chars=max_chars, overlap=overlap)
        assert chunks[0].start == 0
        assert chunks[-1].end == len(data)
        for c in chunks:
            assert c.end - c.start <= max_chars + 3
            if c.end < len(data) and valid:
                assert boundary(data, c.end) == c.end  # never inside a character
                half = data[c.start + max_chars // 2 : c.start + max_chars]
                if b"\n" in half:
                    assert data[c.end - 1 : c.end] == b"\n"  # on a line boundary
        for a, b in itertools.pairwise(chunks):
            assert a.start < b.start <= a.end
            if overlap == 0:
                assert b.start == a.end
        texts = [c.text() for c in chunks]  # never raises, even on invalid UTF-8
        if overlap == 0:
            assert b"".join(h.read_bytes(c.path, c.start, c.end) for c in chunks) == data
            if valid:
                assert "".join(texts) == whole


@SETTINGS
@given(corpora(), st.integers(0, 400), st.integers(0, 400), options)
def test_views_are_windows_of_the_same_text(data: bytes, a: int, b: int, opts: dict) -> None:
    a, b = sorted((a % (len(data) + 1), b % (len(data) + 1)))
    with Opened(data, **opts) as h:
        v = h.view(ranges={"d/doc.txt": (a, b)})
        assert v.files[0].size == b - a
        assert v.read_bytes("d/doc.txt") == data[a:b]
        assert v.read("d/doc.txt") == data[boundary(data, a) : boundary(data, b)].decode()
        window = data[a:b]
        assert v.lines("d/doc.txt", 0, 100) == ref_lines(window)
        got = [(m.line, m.offset, m.text) for m in v.grep("a")]
        assert got == ref_grep(window, b"a", regex=False)
        # A view of a view narrows further, in the outer view's coordinates.
        inner = v.view(ranges={"d/doc.txt": (1, 5)})
        assert inner.read_bytes("d/doc.txt") == window[1:5]
