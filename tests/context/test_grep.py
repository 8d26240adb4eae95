"""grep: literal and regex paths, hostile patterns, long lines, limits and line numbers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rlm_adk.context import ContextError, ContextHandle, LocalSource, TextSource, open_text
from rlm_adk.context.grep import MAX_LINE_CHARS
from rlm_adk.context.patterns import LiteralMatcher, compile_pattern, required_literal


def test_plain_words_take_the_literal_path_and_rare_byte() -> None:
    matcher = compile_pattern("the Quote")
    assert isinstance(matcher, LiteralMatcher)
    assert matcher.rare == b"Q"  # an upper-case Q is rarer than spaces and vowels
    assert not isinstance(compile_pattern("a.c"), LiteralMatcher)
    assert isinstance(compile_pattern("a.c", literal=True), LiteralMatcher)


def test_literal_treats_metacharacters_as_text() -> None:
    h = open_text("price is $5.00 (approx)\nprice is 5500\n")
    assert [m.line for m in h.grep("$5.00 (approx)", literal=True)] == [1]
    assert [m.line for m in h.grep("5.0")] == [1, 2]  # regex: '.' matches any char


def test_ignore_case_handles_non_ascii() -> None:
    h = open_text("CAFÉ au lait\nnothing\nCafé\n")
    assert [m.line for m in h.grep("café", ignore_case=True)] == [1, 3]
    assert [m.line for m in h.grep("caf.", ignore_case=True, literal=False)] == [1, 3]
    assert [m.line for m in h.grep("CAFÉ", literal=True, ignore_case=True)] == [1, 3]


def test_common_rare_byte_falls_back_to_plain_search() -> None:
    # Every byte of the needle is frequent, so the memchr probe mostly misses.
    text = ("e" * 1000 + "\n") * 200 + "eeex\n"
    h = open_text(text)
    assert [m.line for m in h.grep("eeex")] == [201]


def test_catastrophic_regex_returns_quickly() -> None:
    h = open_text("a" * 50_000 + "!\n")
    started = time.perf_counter()
    assert h.grep(r"(a+)+$") == []  # backtracking engines take exponential time here
    assert h.grep(r"(a|aa)*b") == []
    assert time.perf_counter() - started < 2.0


def test_unsupported_and_invalid_patterns_are_explained() -> None:
    h = open_text("abab\n")
    with pytest.raises(ContextError, match="backreferences and lookaround"):
        h.grep(r"(ab)\1")
    with pytest.raises(ContextError, match="backreferences and lookaround"):
        h.grep(r"a(?=b)")
    with pytest.raises(ContextError, match="invalid regex"):
        h.grep("(unclosed")
    with pytest.raises(ContextError, match="non-empty"):
        h.grep("")
    with pytest.raises(ContextError, match="too long"):
        h.grep("a" * 20_000)
    assert [m.line for m in h.grep(r"(ab)\1", literal=True)] == []


def test_max_matches_spans_files_and_stops_early() -> None:
    docs = {f"f{i}.txt": "hit\n" * 10 for i in range(5)}
    h = ContextHandle([TextSource(docs, name="t")])
    got = h.grep("hit", max_matches=23)
    assert len(got) == 23
    assert got[-1].path == "t/f2.txt" and got[-1].line == 3
    assert h.grep("hit", max_matches=0) == []
    assert [m.path for m in h.grep("hit", paths="t/f4.txt", max_matches=2)] == ["t/f4.txt"] * 2


def test_one_match_per_line_with_the_first_offset() -> None:
    h = open_text("x hit hit hit\nhit\n")
    got = h.grep("hit")
    assert [(m.line, m.offset) for m in got] == [(1, 2), (2, 14)]


def test_long_lines_are_truncated_in_matches_but_found(tmp_path: Path) -> None:
    line = "x" * 100_000 + "needle" + "y" * 100_000
    (tmp_path / "long.txt").write_text("short\n" + line + "\nafter needle\n")
    h = ContextHandle([LocalSource(tmp_path, name="d")], scan_window=4096)
    got = h.grep("needle")
    assert [(m.line, m.offset) for m in got] == [(2, 6 + 100_000), (3, 6 + len(line) + 1 + 6)]
    assert got[0].text == "x" * MAX_LINE_CHARS
    assert got[1].text == "after needle"
    regex = h.grep("x+needley")
    assert [m.line for m in regex] == [2]


def test_match_straddling_scan_windows_in_a_long_line(tmp_path: Path) -> None:
    data = b"a" * 10 + b"needle" + b"b" * 50
    (tmp_path / "f.txt").write_bytes(data)
    for window in (8, 12, 13, 14, 15, 16, 24):
        h = ContextHandle([LocalSource(tmp_path, name="d")], scan_window=window)
        assert [m.offset for m in h.grep("needle")] == [10], window
        assert [m.offset for m in h.grep("ne+dle")] == [10], window
        assert [m.offset for m in h.grep("^a")] == [0], window  # '^' only at the real start


def test_line_numbers_are_remembered_between_greps(tmp_path: Path) -> None:
    lines = [f"line {i}" for i in range(5000)]
    lines[4321] = "the needle"
    (tmp_path / "f.txt").write_text("\n".join(lines) + "\n")
    h = ContextHandle([LocalSource(tmp_path, name="d")], scan_window=1024)
    first = h.grep("needle")
    doc = h.corpus.document("d/f.txt")
    checkpoints = len(doc.lines)
    assert checkpoints > 1
    assert h.grep("needle") == first
    assert [m.line for m in h.grep("the needle")] == [m.line for m in first]
    assert first[0].line == 4322
    assert h.lines("d/f.txt", 4321, 1) == ["the needle"]
    assert h.lines("d/f.txt", 4999, 5) == ["line 4999"]
    assert h.lines("d/f.txt", 5000, 5) == []


def test_crlf_lines_drop_the_carriage_return() -> None:
    h = open_text("one\r\ntwo needle\r\n")
    assert [(m.line, m.text) for m in h.grep("needle")] == [(2, "two needle")]
    assert h.lines("text/context.txt") == ["one", "two needle"]


def test_grep_is_thread_safe(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = "".join(f"row {i} {'needle' if i % 97 == 0 else 'hay'}\n" for i in range(20_000))
    (tmp_path / "f.txt").write_text(body)
    h = ContextHandle([LocalSource(tmp_path, name="d")], scan_window=4096, block_size=512)
    expected = h.grep("needle")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: h.grep("needle"), range(16)))
    assert all(r == expected for r in results)
    assert len(expected) == len(range(0, 20_000, 97))


def test_required_literals_are_conservative() -> None:
    assert required_literal(r"error: \d+") == b"error: "
    assert required_literal("colou?r") == b"colo"
    assert required_literal(r"\p{Greek}abc") == b"abc"
    assert required_literal(r"\.txt$") == b".txt"
    for pattern in ("foo|bar", "(?i)abc", r"\Qa.b\E", "ab*", r"\d{3}-\d{4}", "a.b"):
        assert required_literal(pattern) is None, pattern
    assert compile_pattern("error: [0-9]+").prefilter is not None  # type: ignore[attr-defined]
    assert compile_pattern("error: [0-9]+", ignore_case=True).prefilter is None  # type: ignore[attr-defined]


def test_regex_cuts_lines_longer_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rlm_adk.context import grep

    data = b"a" * 10 + b"needle" + b"b" * 50 + b"\nneedle\n"
    (tmp_path / "f.txt").write_bytes(data)
    for window in (16, 24, 32):
        monkeypatch.setattr(grep, "REGEX_MAX_LINE", window)
        h = ContextHandle([LocalSource(tmp_path, name="d")], scan_window=window)
        assert [m.offset for m in h.grep("ne+dle")] == [10, 67], window
        assert [m.offset for m in h.grep("^a")] == [0], window  # never at a cut
        assert [m.offset for m in h.grep("^needle")] == [67], window
