"""`ContextHandle`: the lazy, read-only view of a corpus that model-written code sees as `context`."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlm_adk.context import chunking, formats
from rlm_adk.context.base import (
    Chunk,
    ContextError,
    FileInfo,
    Match,
    NotFound,
    Source,
)
from rlm_adk.context.cache import DEFAULT_BLOCK_SIZE, DEFAULT_MAX_BYTES, BlockCache
from rlm_adk.context.corpus import Corpus, Document
from rlm_adk.context.grep import PARALLEL_MAX, GrepJob, grep_document, scan_in_order
from rlm_adk.context.lines import LineCounter, read_lines
from rlm_adk.context.memory import tune_malloc
from rlm_adk.context.patterns import compile_path_filter, compile_pattern
from rlm_adk.context.text import TextSource
from rlm_adk.context.uris import check_relative
from rlm_adk.context.utf8 import decode, skip_continuations

DEFAULT_MAX_READ = 64 << 20
UPLOADS = "uploads"

Window = tuple[int, int] | None


class ContextHandle:
    """A lazy handle over one or more sources.

    Paths are namespaced as `<source name>/<path in source>`. Nothing is read until a method asks
    for it; random reads go through a bounded block cache, scans stream. Offsets are byte offsets
    into a document's text (for a PDF, its extracted text) and agree between `read`, `lines`,
    `grep` and `chunks`. All methods are thread-safe and take and return plain data or records,
    so the sandbox bridge can expose them directly.
    """

    __sandbox_methods__ = (
        "read",
        "read_bytes",
        "lines",
        "grep",
        "chunks",
        "describe",
        "list_files",
        "view",
    )
    __sandbox_lazy_attrs__ = ("files", "size")

    def __init__(
        self,
        sources: Sequence[Source] = (),
        *,
        allowed: Mapping[str, Window] | None = None,
        cache_bytes: int = DEFAULT_MAX_BYTES,
        block_size: int = DEFAULT_BLOCK_SIZE,
        read_ahead: int = 2,
        scan_window: int | None = None,
        max_read_bytes: int = DEFAULT_MAX_READ,
        corpus: Corpus | None = None,
    ) -> None:
        if corpus is None:
            tune_malloc()  # flat RSS under concurrent large reads (see memory.py)
            cache = BlockCache(cache_bytes, block_size, read_ahead)
            corpus = Corpus(sources, cache=cache, scan_window=scan_window)
            self._owner = True
        else:
            self._owner = False
        self._corpus = corpus
        # A view (for a sub-agent) restricts paths and, per path, an optional byte window.
        self._allowed = dict(allowed) if allowed is not None else None
        self.max_read_bytes = max_read_bytes
        self._lock = threading.Lock()

    @property
    def corpus(self) -> Corpus:
        """The shared state (sources, cache, manifest) behind this handle and its views."""
        return self._corpus

    # -- manifest -------------------------------------------------------------------------------

    @property
    def files(self) -> list[FileInfo]:
        """Every file's metadata (listed once, then cached; nothing is read)."""
        manifest = self._corpus.manifest()
        if self._allowed is None:
            return list(manifest.values())
        out = []
        for path, window in self._allowed.items():
            info = manifest.get(path)
            if info is None:
                continue
            if window is not None:
                info = FileInfo(
                    path, window[1] - window[0], info.modified, info.content_type, info.version
                )
            out.append(info)
        return out

    @property
    def size(self) -> int:
        """Total bytes of all files."""
        return sum(f.size for f in self.files)

    def list_files(self, pattern: str | None = None, limit: int = 1000) -> list[FileInfo]:
        """Files whose path matches the regex `pattern` (all when None), at most `limit`."""
        matches = compile_path_filter(pattern) if pattern else None
        out = []
        for f in self.files:
            if matches is None or matches(f.path):
                out.append(f)
                if len(out) >= limit:
                    break
        return out

    def describe(self) -> str:
        """A short summary for prompts: counts, total size, sources and the first paths."""
        files = self.files
        total = sum(f.size for f in files)
        head = ", ".join(f"{f.path} ({f.size:,} B)" for f in files[:10])
        more = f", ... and {len(files) - 10} more" if len(files) > 10 else ""
        names = sorted({f.path.partition("/")[0] for f in files})
        kinds = "view of " if self._allowed is not None else ""
        return (
            f"{kinds}{len(files)} file(s), {total:,} bytes in all, under {', '.join(names) or '-'}: "
            f"{head}{more}"
        )

    # -- resolution -----------------------------------------------------------------------------

    def _locate(self, path: str) -> tuple[Document, int, int]:
        """(text document, window start, window size) for `path` in this handle."""
        self._check_allowed(path)
        doc = self._corpus.text_document(path)
        return (doc, *self._window(path, doc.size))

    def _check_allowed(self, path: str) -> None:
        if not isinstance(path, str):
            raise ContextError(f"path must be a string, got {type(path).__name__}")
        check_relative(path, "a context path")
        if self._allowed is not None and path not in self._allowed:
            raise NotFound(f"no file {path!r} in this context (see context.files)")

    def _window(self, path: str, size: int) -> tuple[int, int]:
        window = self._allowed.get(path) if self._allowed else None
        if window is None:
            return 0, size
        start = min(window[0], size)
        return start, max(0, min(window[1], size) - start)

    @staticmethod
    def _clamp(start: Any, end: Any, size: int) -> tuple[int, int]:
        end = size if end is None else max(0, min(int(end), size))
        start = max(0, min(int(start), end))
        return start, end

    # -- reads ----------------------------------------------------------------------------------

    def read(self, path: str, start: int = 0, end: int | None = None, *, once: bool = False) -> str:
        """Text of bytes `[start, end)` of `path` (the whole file by default).

        A start inside a multi-byte character moves forward to the next character, and so does an
        end, so consecutive ranges partition the text exactly: no character is duplicated, lost
        or garbled. Invalid UTF-8 becomes U+FFFD. Binary files raise `BinaryContent`.

        `once=True` says the range will not be read again soon (a chunk sent to a sub-call): a
        local file is then read with one `pread`, past the block cache, which would only copy it
        more and evict what is worth keeping. Remote files still go through the cache (its
        read-ahead serves the next chunk).
        """
        doc, base, size = self._locate(path)
        start, end = self._clamp(start, end, size)
        self._check_size(path, end - start)
        a, b = base + start, base + end
        stop = min(doc.size, b + 3)
        if once and not self._corpus.is_remote(doc.path):
            data = self._corpus.probe(doc, a, stop)
        else:
            data = self._corpus.read(doc, a, stop)
        cut = skip_continuations(data, b - a, len(data))
        lead = skip_continuations(data, 0, cut) if a > 0 else 0
        return decode(memoryview(data)[lead:cut])

    def read_bytes(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """Raw bytes `[start, end)` of `path` (of a PDF: of its extracted text)."""
        self._check_allowed(path)
        doc = self._corpus.document(path)
        if doc.kind == formats.BINARY:
            base, size = self._window(path, doc.info.size)
            start, end = self._clamp(start, end, size)
            self._check_size(path, end - start)
            return self._corpus.raw(path, base + start, base + end)
        base, size = self._window(path, doc.size)
        start, end = self._clamp(start, end, size)
        self._check_size(path, end - start)
        return self._corpus.read(doc, base + start, base + end)

    def _check_size(self, path: str, size: int) -> None:
        if size > self.max_read_bytes:
            raise ContextError(
                f"reading {size:,} bytes of {path} at once exceeds the limit of "
                f"{self.max_read_bytes:,}; read smaller ranges, or use lines(), grep() or chunks()"
            )

    def lines(self, path: str, start: int = 0, count: int = 100) -> list[str]:
        """`count` lines of `path` from 0-based line `start` (lines split on `\\n`)."""
        start, count = int(start), int(count)
        if start < 0 or count < 0:
            raise ContextError("lines needs start >= 0 and count >= 0")
        doc, base, size = self._locate(path)
        if count == 0 or size == 0:
            return []
        counter = LineCounter(self._corpus, doc)
        try:
            line_base = counter.before(base) if base else 0
            offset = counter.start_of(line_base + start, (base, line_base)) if start else base
        finally:
            counter.close()
        if offset is None or offset >= base + size:
            return []
        return read_lines(self._corpus, doc, offset, base + size, count, self.max_read_bytes)

    # -- scans ----------------------------------------------------------------------------------

    def _targets(self, paths: Iterable[str] | str | None) -> list[tuple[str, Document, int, int]]:
        """Text documents to scan: named ones (binaries refused) or every text file."""
        if isinstance(paths, str):
            paths = [paths]
        if paths is not None:
            return [(path, *self._locate(path)) for path in paths]
        names = [info.path for info in self.files]
        out = []
        for path, doc in zip(names, self._corpus.documents(names), strict=True):
            if doc.kind != formats.BINARY:
                out.append((path, doc, *self._window(path, doc.size)))
        return out

    def grep(
        self,
        pattern: str,
        paths: Iterable[str] | str | None = None,
        max_matches: int = 1000,
        ignore_case: bool = False,
        literal: bool = False,
    ) -> list[Match]:
        """Lines matching `pattern` (a regex, or a plain string with `literal=True`).

        Returns at most `max_matches` `Match(path, line, offset, text)`: 1-based line, byte offset
        of the match, the line's text, in file order. Binary files are skipped. Regexes use RE2
        (linear time); backreferences and lookaround are refused with an explanation.
        """
        matcher = compile_pattern(pattern, literal=bool(literal), ignore_case=bool(ignore_case))
        max_matches = int(max_matches)
        if max_matches <= 0:
            return []
        explicit = paths is not None
        if isinstance(paths, str):
            paths = [paths]
        if paths is None:
            todo = [(f.path, f.size) for f in self.files]
        else:
            todo = []
            for path in paths:
                self._check_allowed(path)
                todo.append((path, self._corpus.info(path).size))

        def scan(path: str) -> list[Match]:
            found: list[Match] = []
            if explicit:
                doc, base, size = self._locate(path)
            else:
                doc = self._corpus.document(path)
                if doc.kind == formats.BINARY:
                    return found
                base, size = self._window(path, doc.size)
            grep_document(
                self._corpus, GrepJob(path, doc, base, base + size), matcher, found, max_matches
            )
            return found

        return scan_in_order(
            todo,
            scan,
            max_matches,
            lambda path, size: self._corpus.is_remote(path) and size <= PARALLEL_MAX,
        )

    def chunks(
        self,
        max_chars: int = 100_000,
        overlap: int = 0,
        paths: Iterable[str] | str | None = None,
    ) -> list[Chunk]:
        """Descriptors covering the text files in pieces of at most about `max_chars` bytes.

        Nothing but a small probe per cut is read; `chunk.text()` reads lazily. Chunks end just
        after a newline where one lies in the last half of the piece, else on a character
        boundary. With `overlap == 0` the chunks of a file partition its text exactly.
        """
        max_chars, overlap = int(max_chars), int(overlap)
        if max_chars > self.max_read_bytes:
            raise ContextError(
                f"max_chars {max_chars:,} exceeds the read limit of {self.max_read_bytes:,}"
            )
        targets = self._targets(paths)

        def plan(target: tuple[str, Document, int, int]) -> list[tuple[int, int]]:
            _, doc, base, size = target

            def probe(a: int, b: int) -> bytes:
                return self._corpus.probe(doc, base + a, base + b)

            return chunking.plan(size, max_chars, overlap, probe)

        if len(targets) > 1:
            # Files are independent: plan them concurrently (remote probes are latency-bound).
            with ThreadPoolExecutor(min(8, len(targets)), thread_name_prefix="ctx-chunks") as pool:
                plans = list(pool.map(plan, targets))
        else:
            plans = [plan(t) for t in targets]
        out: list[Chunk] = []
        for (path, *_), ranges in zip(targets, plans, strict=True):
            for start, end in ranges:
                out.append(Chunk(len(out), path, start, end, self))
        return out

    # -- slicing and uploads --------------------------------------------------------------------

    def view(
        self,
        paths: Iterable[str] | str | None = None,
        ranges: Mapping[str, Sequence[int]] | None = None,
    ) -> ContextHandle:
        """A handle restricted to `paths` and, per path in `ranges`, a `(start, end)` byte range.

        Ranges are relative to this handle's own ranges. The view shares sources and cache (it
        is a handle, not a copy); closing it releases nothing.
        """
        if isinstance(paths, str):
            paths = [paths]
        allowed: dict[str, Window] = {}
        for path in paths or []:
            self._check_allowed(path)
            self._corpus.info(path)
            allowed[path] = self._allowed.get(path) if self._allowed else None
        for path, window in (ranges or {}).items():
            self._check_allowed(path)
            info = self._corpus.info(path)
            try:
                start, end = (int(v) for v in window)
            except (TypeError, ValueError):
                raise ContextError(f"range for {path!r} must be (start, end)") from None
            own = self._allowed.get(path) if self._allowed else None
            own_start, own_end = own if own else (0, None)
            limit = own_end if own_end is not None else _text_size(self._corpus, info)
            start, end = self._clamp(start, end, limit - own_start)
            allowed[path] = (own_start + start, own_start + end)
        return ContextHandle(
            corpus=self._corpus, allowed=allowed, max_read_bytes=self.max_read_bytes
        )

    def fork(self) -> ContextHandle:
        """A new handle over the same sources and block cache, for one session.

        It has its own manifest and its own uploads (`add_text` on it is seen by no other
        handle), keeps this handle's view restrictions, and closing it closes only what it added.
        """
        shared = [s for name, s in self._corpus.sources.items() if name != UPLOADS]
        corpus = Corpus(
            shared,
            cache=self._corpus.cache,
            scan_window=self._corpus.scan_window,
            own_sources=False,
            own_cache=False,
        )
        fork = ContextHandle(
            corpus=corpus, allowed=self._allowed, max_read_bytes=self.max_read_bytes
        )
        fork._owner = True
        return fork

    def add_text(self, path: str, text: str | bytes, content_type: str | None = None) -> str:
        """Adds an uploaded file as a text document; returns its path, `uploads/<path>`."""
        if self._allowed is not None and not self._owner:
            raise ContextError("add_text is not available on a view; add to the parent handle")
        if not isinstance(path, str) or not path:
            raise ContextError("add_text needs a non-empty file name")
        check_relative(path, "an uploaded file name")
        with self._lock:
            source = self._corpus.sources.get(UPLOADS)
            if source is None:
                source = TextSource({}, name=UPLOADS)
                self._corpus.add_source(source)
            if not isinstance(source, TextSource):
                raise ContextError(f"a source named {UPLOADS!r} exists and is not for uploads")
            source.add(path, text, content_type or formats.content_type_for(path))
            added = self._corpus.upsert(UPLOADS, source.info(path))
            if self._allowed is not None:
                self._allowed[added] = None  # a fork of a view sees its own uploads
            return added

    def close(self) -> None:
        """Releases sources, cache and temporary files (views release nothing)."""
        if self._owner:
            self._corpus.close()

    def __enter__(self) -> ContextHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "view" if self._allowed is not None else "handle"
        return f"<ContextHandle {kind} over {', '.join(self._corpus.sources) or 'nothing'}>"


def _text_size(corpus: Corpus, info: FileInfo) -> int:
    """Size of the text offsets of `info` (the extracted text for a PDF)."""
    if formats.kind_of_type(info.content_type) == formats.PDF:
        return corpus.document(info.path).size
    return info.size


def open_text(text: str | dict[str, str], *, name: str = "text", **options: Any) -> ContextHandle:
    """A handle over in-memory text (one document named `context.txt`, or several)."""
    docs: dict[str, str | bytes] = {"context.txt": text} if isinstance(text, str) else dict(text)
    return ContextHandle([TextSource(docs, name=name)], **options)
