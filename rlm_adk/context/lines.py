"""Line numbers and line access: counting newlines only where asked, remembering the counts.

Lines are separated by `\\n` (a trailing `\\r` is dropped), the same rule for `grep` and `lines`,
so `lines(path, m.line - 1, 1)` returns the line of a match `m`. A document with N newlines has N
lines, plus one when the last byte is not a newline.
"""

from __future__ import annotations

from rlm_adk.context.corpus import Corpus, Document
from rlm_adk.context.scan import Buffer, WindowReader, count_newlines, newlines
from rlm_adk.context.utf8 import decode

READ_STEP = 64 << 10


class LineCounter:
    """Newline counts before offsets of one document, from its `LineIndex` plus counting gaps."""

    def __init__(self, corpus: Corpus, doc: Document, window: int | None = None) -> None:
        self.corpus, self.doc = corpus, doc
        self.window = window or corpus.scan_window_for(doc)
        self._reader: WindowReader | None = None
        self._state = (0, 0)

    def _gap(self, start: int, end: int) -> int:
        if self._reader is None:
            self._reader = self.corpus.reader(self.doc, self.window)
        return count_newlines(self._reader, start, end, self.window)

    def before(self, offset: int, buf: Buffer | None = None, buf_pos: int = 0) -> int:
        """Newlines in `[0, offset)`; `buf` (holding bytes from `buf_pos`) saves a re-read."""
        o0, c0 = self.doc.lines.at_or_before(offset)
        if o0 <= self._state[0] <= offset:
            o0, c0 = self._state
        if buf is None or o0 < buf_pos:
            stop = offset if buf is None else buf_pos
            c0 += self._gap(o0, stop)
            o0 = stop
            self.doc.lines.add(o0, c0)
        if buf is not None and o0 < offset:
            c0 += newlines(buf, o0 - buf_pos, offset - buf_pos)
            self.doc.lines.add(offset, c0)
        self._state = (offset, c0)
        return c0

    def start_of(self, line: int, floor: tuple[int, int]) -> int | None:
        """The offset just after the `line`-th newline (the start of 0-based line `line`).

        `floor` is a known `(offset, newlines before it)` to start from when no checkpoint is
        closer. None when the document has fewer newlines.
        """
        o0, c0 = self.doc.lines.before_line(line)
        if floor[0] > o0 and floor[1] < line:
            o0, c0 = floor
        if self._reader is None:
            self._reader = self.corpus.reader(self.doc, self.window)
        pos = o0
        while pos < self.doc.size:
            buf, n = self._reader.read(pos, min(self.window, self.doc.size - pos))
            if n <= 0:
                break
            found = newlines(buf, 0, n)
            if c0 + found < line:
                c0 += found
                pos += n
                self.doc.lines.add(pos, c0)
                continue
            i = -1
            for _ in range(line - c0):
                i = buf.find(b"\n", i + 1, n)
            self.doc.lines.add(pos + i + 1, line)
            return pos + i + 1
        return None

    def close(self) -> None:
        """Releases the gap reader."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def read_lines(
    corpus: Corpus, doc: Document, start: int, end: int, count: int, max_bytes: int
) -> list[str]:
    """Up to `count` lines beginning at offset `start` (a line start), stopping at `end`.

    Stops early, with the lines so far, once `max_bytes` have been read.
    """
    out: list[str] = []
    pending: list[bytes] = []  # the current line's pieces (a list: long lines stay linear)
    pos = start
    read = 0
    while pos < end and len(out) < count and read < max_bytes:
        data = corpus.read(doc, pos, min(end, pos + READ_STEP))
        if not data:
            break
        pos += len(data)
        read += len(data)
        if b"\n" not in data:
            pending.append(data)
            continue
        parts = data.split(b"\n")
        parts[0] = b"".join([*pending, parts[0]])
        pending = [parts.pop()]
        out.extend(_text(p) for p in parts[: count - len(out)])
    tail = b"".join(pending)
    if tail and len(out) < count:
        out.append(_text(tail))
    return out


def _text(raw: bytes) -> str:
    text = decode(raw)
    return text[:-1] if text.endswith("\r") else text
