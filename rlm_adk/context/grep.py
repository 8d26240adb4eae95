"""Streaming, line-oriented grep over one document.

A document is scanned window by window. Each window ends at its last newline and the next one
starts right there, so a line (and any match in it) is never split between two windows. A line
longer than the window is cut with an overlap (literals), or the window grows until the line fits
(regexes, up to `REGEX_MAX_LINE`). Line numbers are counted only up to matches, and remembered
(see `LineIndex`).

A match's line number needs every newline before it. Counting them later means reading those
bytes again, so once a match has been numbered the scan counts each window while it holds it,
until `FOLLOW_WINDOWS` windows pass without a match: matches spread through a document cost one
pass, and a literal that never matches costs no counting at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from rlm_adk.context.base import Match
from rlm_adk.context.corpus import Corpus, Document
from rlm_adk.context.lines import LineCounter
from rlm_adk.context.patterns import LiteralMatcher, Matcher, RegexMatcher
from rlm_adk.context.scan import Buffer, FdReader
from rlm_adk.context.utf8 import decode

MAX_LINE_CHARS = 2_000
REGEX_MAX_LINE = 16 << 20
"""Regexes see lines up to this long whole; longer ones are cut with `_REGEX_OVERLAP` of overlap."""
_REGEX_OVERLAP = 4096
FOLLOW_WINDOWS = 16
"""After a numbered match, windows are counted as they are scanned for this many windows."""


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
    regex = isinstance(matcher, RegexMatcher)
    base = corpus.scan_window_for(doc, large=regex)
    if isinstance(matcher, LiteralMatcher):
        # A literal cut by a window split is found again thanks to len(needle) - 1 of overlap.
        overlap = len(matcher.needle) - 1
        base = max(base, 4 * (overlap + 1))
        max_line = base
    else:
        overlap = min(_REGEX_OVERLAP, base // 2)
        max_line = max(base, REGEX_MAX_LINE)
    prefilter = matcher.prefilter if isinstance(matcher, RegexMatcher) else None
    window = base
    reader = corpus.reader(doc, base)
    lines = LineCounter(corpus, doc, base)
    follow = FOLLOW_WINDOWS * base
    # Remote: always count as we go rather than download again; local: from a match on.
    follow_to = job.end if not isinstance(reader, FdReader) else job.start
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
                elif window < max_line:
                    # A regex sees whole lines: widen the window until this one fits.
                    window = min(max_line, window * 2)
                    reader.reserve(window)
                    continue
                else:  # a line longer than any window: cut it, overlapping the next window
                    limit, scan_end, cut = max(context + 2, n - overlap), n, True
            subject = matcher.subject(buf, n)
            i = context
            while len(out) < max_matches:
                if prefilter is not None:
                    # Only lines holding the regex's required literal can match: find those.
                    found = prefilter.search(buf, i, scan_end)
                    if found is None:
                        break
                    ls = max(i, buf.rfind(b"\n", 0, found[0]) + 1)
                    le = buf.find(b"\n", found[0], n)
                    le = n if le < 0 else le
                    hit = matcher.search(subject, ls, le)
                    if hit is None:
                        i = le + 1
                        continue
                else:
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
                follow_to = max(follow_to, pos + s + follow)
                if number != last_line:
                    text = _match_text(corpus, doc, buf, pos, n, ls, le, line_start, job.end)
                    out.append(Match(job.path, number, pos + s - job.start, text))
                    last_line = number
                i = le + 1
            if pos < follow_to and len(out) < max_matches:
                lines.before(pos + limit, buf, pos)
            if buf[limit - 1 : limit] == b"\n":
                line_start = pos + limit
            if window > base and not cut:
                window = base  # past the long line: give the big buffer back
                reader.reserve(window)
            # After a cut, a regex sees one byte before the window, so `^` and `\b` stay right.
            context = 1 if cut and regex else 0
            pos += limit - context
    finally:
        lines.close()
        reader.close()


def _match_text(
    corpus: Corpus,
    doc: Document,
    buf: Buffer,
    pos: int,
    n: int,
    ls: int,
    le: int,
    line_start: int,
    end: int,
) -> str:
    """The text of the line `[ls, le)` of the window (read whole when it runs outside it)."""
    if (ls == 0 and line_start < pos) or (le == n and pos + n < end):
        head = line_start if ls == 0 else pos + ls
        raw = corpus.read(doc, head, min(end, head + 4 * MAX_LINE_CHARS))
        stop = raw.find(b"\n")
        return _line_text(raw, 0, len(raw) if stop < 0 else stop)
    return _line_text(buf, ls, le)


def _line_text(buf: Buffer, ls: int, le: int) -> str:
    text = decode(buf[ls : min(le, ls + 4 * MAX_LINE_CHARS)])
    if text.endswith("\r"):
        text = text[:-1]
    return text[:MAX_LINE_CHARS]


PARALLEL_MAX = 8 << 20
"""Remote files up to this size are grepped concurrently (latency-bound, little memory each)."""
PARALLEL_WIDTH = 8


def scan_in_order(
    todo: list[tuple[str, int]],
    scan: Callable[[str], list[Match]],
    max_matches: int,
    concurrent: Callable[[str, int], bool],
) -> list[Match]:
    """`scan` over `todo` in order, until `max_matches`; small remote files run 8 at a time.

    A bucket of many small objects is bound by request latency, not bandwidth, so their scans
    overlap; big files are scanned one at a time (each already reads ahead) to bound memory.
    """
    out: list[Match] = []
    pending: deque[Future[list[Match]]] = deque()
    pool: ThreadPoolExecutor | None = None

    def drain(keep: int) -> None:
        while len(pending) > keep and len(out) < max_matches:
            out.extend(pending.popleft().result())

    try:
        for path, size in todo:
            if len(out) >= max_matches:
                break
            if concurrent(path, size):
                if pool is None:
                    pool = ThreadPoolExecutor(PARALLEL_WIDTH, thread_name_prefix="ctx-grep")
                pending.append(pool.submit(scan, path))
                drain(2 * PARALLEL_WIDTH)
            else:
                drain(0)
                if len(out) < max_matches:
                    out.extend(scan(path))
        drain(0)
    finally:
        for future in pending:
            future.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return out[:max_matches]
