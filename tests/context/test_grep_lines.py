"""grep's line numbering: the newline counter, counting while matches keep coming, limits.

Windows, follow distances and numpy's step are made tiny, so a few hundred bytes cross every
boundary: matches in the first or last byte of a window, lines cut between windows, counting that
starts, stops and restarts, CRLF and documents without a final newline.
"""

from __future__ import annotations

import random
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_adk.context import ContextHandle, LocalSource, TextSource, grep, scan
from rlm_adk.context.corpus import Corpus
from tests.context.test_properties import PIECES, SETTINGS, Opened, ref_grep

WINDOW = 64


def _checkpoints_are_exact(handle: ContextHandle, data: bytes) -> None:
    doc = handle.corpus.document("d/doc.txt")
    for offset, count in doc.lines.checkpoints():
        assert count == data[:offset].count(b"\n"), (offset, count)


@pytest.mark.parametrize("vector", [False, True])
def test_newlines_counts_like_bytes_count(vector: bool) -> None:
    if vector and scan.numpy is None:
        pytest.skip("numpy is not installed")
    rng = random.Random(5)
    data = bytes(rng.choice(b"ab\n\r\xc3") for _ in range(3000))
    with (
        mock.patch.object(scan, "numpy", scan.numpy if vector else None),
        mock.patch.object(scan, "VECTOR_MIN", 1),
        mock.patch.object(scan, "VECTOR_STEP", 7),
    ):
        for buf in (data, bytearray(data)):
            for _ in range(300):
                a, b = sorted(rng.randrange(len(data) + 20) for _ in range(2))
                assert scan.newlines(buf, a, b) == data.count(b"\n", a, b), (a, b)
            assert scan.newlines(buf, 0, len(data)) == data.count(b"\n")
            assert scan.newlines(buf, 10, 5) == 0


@SETTINGS
@given(
    st.lists(st.sampled_from([*PIECES, b"z" * 40]), max_size=120).map(b"".join),
    st.sampled_from(["needle", "ne+dle", "dle$"]),
    st.sampled_from([1, 2, 5, 1000]),
    st.fixed_dictionaries(
        {
            "block_size": st.sampled_from([3, 16]),
            "scan_window": st.sampled_from([4, 9, 32]),
            "local": st.booleans(),
        }
    ),
    st.sampled_from([0, 1, 3]),
    st.booleans(),
)
def test_line_numbers_match_reference(
    data: bytes, pattern: str, cap: int, opts: dict, follow: int, vector: bool
) -> None:
    with (
        mock.patch.object(grep, "FOLLOW_WINDOWS", follow),
        mock.patch.object(scan, "VECTOR_MIN", 1 if vector else scan.VECTOR_MIN),
        mock.patch.object(scan, "VECTOR_STEP", 3 if vector else scan.VECTOR_STEP),
        Opened(data, **opts) as h,
    ):
        want = ref_grep(data, pattern.encode(), regex=pattern != "needle")[:cap]
        got = [(m.line, m.offset, m.text) for m in h.grep(pattern, max_matches=cap)]
        assert got == want
        _checkpoints_are_exact(h, data)
        again = [(m.line, m.offset, m.text) for m in h.grep(pattern, max_matches=cap)]
        assert again == want  # from the checkpoints the first grep left
        for line, _, text in want:
            assert h.lines("d/doc.txt", line - 1, 1) == [text]


def _write(tmp_path: Path, data: bytes) -> ContextHandle:
    (tmp_path / "doc.txt").write_bytes(data)
    return ContextHandle([LocalSource(tmp_path, name="d")], scan_window=WINDOW)


def _readers_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened: list[int] = []
    original = Corpus.reader

    def reader(self: Corpus, doc: object, window: int | None = None) -> object:
        opened.append(window or 0)
        return original(self, doc, window)  # type: ignore[arg-type]

    monkeypatch.setattr(Corpus, "reader", reader)
    return opened


def test_a_literal_that_never_matches_counts_no_newlines(tmp_path: Path) -> None:
    h = _write(tmp_path, b"hay and more hay\n" * 500)
    assert h.grep("needle") == []
    assert h.corpus.document("d/doc.txt").lines.checkpoints() == [(0, 0)]


def test_counting_stops_some_windows_after_the_last_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grep, "FOLLOW_WINDOWS", 2)
    data = b"hay\n" * 5 + b"a needle\n" + b"hay\n" * 2000
    h = _write(tmp_path, data)
    (match,) = h.grep("needle")
    assert (match.line, match.text) == (6, "a needle")
    furthest = max(offset for offset, _ in h.corpus.document("d/doc.txt").lines.checkpoints())
    assert match.offset < furthest <= match.offset + 3 * WINDOW
    _checkpoints_are_exact(h, data)


@pytest.mark.parametrize(("spacing", "readers"), [(30, 1), (400, 2)])
def test_matches_closer_than_the_follow_distance_are_numbered_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spacing: int, readers: int
) -> None:
    # Matches every `spacing` lines (4 bytes each): within 2 windows of each other the scan
    # counts as it goes; further apart, a second reader counts the gap before the next match.
    monkeypatch.setattr(grep, "FOLLOW_WINDOWS", 2)
    lines = [b"needle" if i % spacing == 0 else b"hay" for i in range(2000)]
    data = b"\n".join(lines)  # no final newline
    h = _write(tmp_path, data)
    opened = _readers_opened(monkeypatch)
    got = [(m.line, m.offset, m.text) for m in h.grep("needle", max_matches=10_000)]
    assert got == ref_grep(data, b"needle", regex=False)
    assert len(opened) == readers
    _checkpoints_are_exact(h, data)


def test_the_match_limit_stops_counting_too(tmp_path: Path) -> None:
    h = _write(tmp_path, b"needle\n" * 1000)
    got = h.grep("needle", max_matches=3)
    assert [(m.line, m.offset) for m in got] == [(1, 0), (2, 7), (3, 14)]
    furthest = max(offset for offset, _ in h.corpus.document("d/doc.txt").lines.checkpoints())
    assert furthest == 14  # nothing counted past the last match returned


@pytest.mark.parametrize("window", [4, 5, 7, 8, 16])
def test_crlf_and_a_last_line_without_newline_across_windows(window: int) -> None:
    data = b"a\r\n" * 50 + b"needle\r\n" + b"b\r\n" * 7 + b"last needle"
    h = ContextHandle([TextSource({"doc.txt": data}, name="d")], scan_window=window)
    got = [(m.line, m.offset, m.text) for m in h.grep("needle")]
    assert got == [(51, 150, "needle"), (59, 150 + 8 + 21 + 5, "last needle")]
    assert h.lines("d/doc.txt", 58, 5) == ["last needle"]
    assert [m.line for m in h.grep("needle$")] == [59]  # `$` is before `\n` only, not `\r`
