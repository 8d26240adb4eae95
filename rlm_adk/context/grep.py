"""Streaming, line-oriented grep: literal fast path, linear-time regexes, lazy line numbers.

A document is scanned window by window. Each window ends at its last newline, and the next window
starts right there, so a line (and any match in it) is never split between two windows; only a
line longer than a whole window is split, with an overlap so literal matches across the cut are
still found. Literals are found by `memchr` on their rarest byte (about 10 GB/s) and checked in
place; regexes run on RE2 (linear time, bounded memory), so untrusted code cannot send a
catastrophic pattern. Line numbers are counted only up to matches (see `LineIndex`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlm_adk.context.base import ContextError, Match
from rlm_adk.context.corpus import Corpus, Document
from rlm_adk.context.lines import LineCounter
from rlm_adk.context.scan import Buffer, FdReader
from rlm_adk.context.utf8 import decode

MAX_LINE_CHARS = 2_000
MAX_PATTERN_CHARS = 10_000
REGEX_MAX_MEM = 64 << 20
_REGEX_OVERLAP = 4096
_META = set(".^$*+?{}[]\\|()")

# Rough byte frequencies in text (higher = more common); the literal scan looks for its rarest.
_COMMON = b" etaoinshrdlcumwfgypbvkjxqz\nETAOINSHRDLCUMWFGYPBVKJXQZ0123456789,.-'\"():;/_"


def _rarity(byte: int) -> int:
    i = _COMMON.find(bytes([byte]))
    if i >= 0:
        return len(_COMMON) - i
    return 0 if byte < 0x80 else 4  # other punctuation and controls: rare; UTF-8 bytes: less so


class Matcher:
    """Finds the leftmost match starting in `[pos, endpos)` of a buffer."""

    verify_line = False

    def subject(self, buf: Buffer, n: int) -> Buffer | memoryview:
        """What `search` scans: the window itself (bytes past `n` may be stale)."""
        return buf

    def search(self, buf: Buffer | memoryview, pos: int, endpos: int) -> tuple[int, int] | None:
        raise NotImplementedError


class LiteralMatcher(Matcher):
    """Case-sensitive literal: `memchr` on the rarest byte, then a check in place."""

    def __init__(self, needle: bytes) -> None:
        self.needle = needle
        self.k = max(range(len(needle)), key=lambda i: (-_rarity(needle[i]), i))
        self.rare = needle[self.k : self.k + 1]
        self._plain = False

    def search(self, buf: Buffer, pos: int, endpos: int) -> tuple[int, int] | None:
        needle, k, size = self.needle, self.k, len(self.needle)
        if self._plain:
            i = buf.find(needle, pos, endpos)
            return None if i < 0 else (i, i + size)
        j = buf.find(self.rare, pos + k, endpos)
        misses = 0
        while j >= 0:
            i = j - k
            if i + size <= endpos and buf.startswith(needle, i):
                return i, i + size
            misses += 1
            if misses > 64 and (j - pos) < misses * 512:
                # The "rare" byte is common here (over 1 per 512 bytes): use the two-way search.
                self._plain = True
                return self.search(buf, i + 1, endpos)
            j = buf.find(self.rare, j + 1, endpos)
        return None


class RegexMatcher(Matcher):
    """An RE2 regex in multi-line mode (`^`/`$` match at line boundaries)."""

    verify_line = True

    def __init__(self, compiled: Any) -> None:
        self.rx = compiled

    def subject(self, buf: Buffer, n: int) -> Buffer | memoryview:
        """The window cut at `n` (zero-copy): RE2 looks past `endpos` for `$` and `\\b`."""
        return memoryview(buf)[:n]

    def search(self, buf: Buffer | memoryview, pos: int, endpos: int) -> tuple[int, int] | None:
        m = self.rx.search(buf, pos, endpos)
        return None if m is None else m.span()


def compile_pattern(pattern: str, *, literal: bool = False, ignore_case: bool = False) -> Matcher:
    """A matcher for `pattern`; plain words take the literal fast path even without `literal`."""
    if not isinstance(pattern, str):
        raise ContextError(f"grep pattern must be a string, got {type(pattern).__name__}")
    if not pattern:
        raise ContextError("grep needs a non-empty pattern")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ContextError(f"grep pattern is too long ({len(pattern)} > {MAX_PATTERN_CHARS} chars)")
    is_plain = literal or not (_META & set(pattern))
    if is_plain and not ignore_case:
        return LiteralMatcher(pattern.encode("utf-8"))
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    options.case_sensitive = not ignore_case
    options.literal = is_plain
    # Multi-line mode only when anchors need it: it costs RE2 about a third of its speed.
    source = "(?m)" + pattern if not is_plain and ("^" in pattern or "$" in pattern) else pattern
    try:
        return RegexMatcher(re2.compile(source.encode("utf-8"), options))
    except re2.error as exc:
        raise _explain(pattern, exc) from None


def compile_path_filter(pattern: str) -> Callable[[str], bool]:
    """A predicate "the regex `pattern` occurs in this path", on RE2 (paths are untrusted too)."""
    matcher = compile_pattern(pattern)

    def matches(path: str) -> bool:
        data = path.encode("utf-8")
        return matcher.search(data, 0, len(data)) is not None

    return matches


def _explain(pattern: str, exc: Exception) -> ContextError:
    detail = exc.args[0] if exc.args else str(exc)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", errors="replace")
    try:
        re.compile(pattern)
    except re.error as py_exc:
        return ContextError(f"invalid regex {pattern!r}: {py_exc}")
    return ContextError(
        f"regex {pattern!r} uses syntax the linear-time engine (RE2) does not support ({detail}); "
        "backreferences and lookaround are refused because they can take exponential time. "
        "Rewrite the pattern, grep for a simpler one and filter the matches in code, "
        "or pass literal=True"
    )


@dataclass
class GrepJob:
    """One document (or a view's window of it) to scan."""

    path: str
    """The path reported in matches."""
    doc: Document
    start: int
    end: int


def grep_document(
    corpus: Corpus, job: GrepJob, matcher: Matcher, out: list[Match], max_matches: int
) -> None:
    """Appends matches of `job` to `out` until `max_matches`."""
    doc = job.doc
    window = corpus.scan_window_for(doc, large=not isinstance(matcher, LiteralMatcher))
    if isinstance(matcher, LiteralMatcher):
        # A literal cut by a window split is found again thanks to len(needle) - 1 of overlap.
        overlap = len(matcher.needle) - 1
        window = max(window, 4 * (overlap + 1))
    else:
        overlap = min(_REGEX_OVERLAP, window // 2)
    reader = corpus.reader(doc, window)
    lines = LineCounter(corpus, doc, window)
    eager = not isinstance(reader, FdReader)  # remote: count as we go rather than re-download
    try:
        line_base = lines.before(job.start) if job.start else 0
        pos = job.start
        line_start = pos  # where the line the window begins in starts (before pos after a cut)
        last_line = -1
        context = 0  # bytes before the window's first searchable byte (after a regex cut)
        while pos < job.end and len(out) < max_matches:
            buf, n = reader.read(pos, min(window, job.end - pos))
            n = min(n, job.end - pos)
            if n <= 0:
                break
            cut = False
            if pos + n >= job.end:
                limit = scan_end = n
            else:
                nl = buf.rfind(b"\n", 0, n)
                if nl >= 0:
                    limit = scan_end = nl + 1
                else:  # a line longer than the window: cut it, overlapping the next window
                    limit, scan_end, cut = max(context + 2, n - overlap), n, True
            subject = matcher.subject(buf, n)
            i = context
            while len(out) < max_matches:
                hit = matcher.search(subject, i, scan_end)
                if hit is None or hit[0] >= limit:
                    break
                s = hit[0]
                ls = buf.rfind(b"\n", 0, s) + 1
                le = buf.find(b"\n", s, n)
                le = n if le < 0 else le
                if matcher.verify_line and hit[1] > le and matcher.search(subject, s, le) is None:
                    i = le + 1  # the match ran past the line's end: grep is line by line
                    continue
                number = lines.before(pos + s, buf, pos) + 1 - line_base
                if number != last_line:
                    if (ls == 0 and line_start < pos) or (le == n and pos + n < job.end):
                        # The line runs outside this window: read its head through the cache.
                        head = line_start if ls == 0 else pos + ls
                        raw = corpus.read(doc, head, min(job.end, head + 4 * MAX_LINE_CHARS))
                        cut = raw.find(b"\n")
                        text = _line_text(raw, 0, len(raw) if cut < 0 else cut)
                    else:
                        text = _line_text(buf, ls, le)
                    out.append(Match(job.path, number, pos + s - job.start, text))
                    last_line = number
                i = le + 1
            if eager and len(out) < max_matches:
                lines.before(pos + limit, buf, pos)
            if buf[limit - 1 : limit] == b"\n":
                line_start = pos + limit
            # After a cut, a regex sees one byte before the window, so `^` and `\b` stay right.
            context = 1 if cut and matcher.verify_line else 0
            pos += limit - context
    finally:
        lines.close()
        reader.close()


def _line_text(buf: Buffer, ls: int, le: int) -> str:
    text = decode(buf[ls : min(le, ls + 4 * MAX_LINE_CHARS)])
    if text.endswith("\r"):
        text = text[:-1]
    return text[:MAX_LINE_CHARS]
