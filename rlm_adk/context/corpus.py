"""`Corpus`: the state one handle and all its views share.

It owns the sources, the manifest (listed once, lazily), the block cache, and per-document state:
the kind (text, binary, PDF), extracted PDF text (spilled to a temporary file, never held in
memory) and the line index. Views of a handle share one `Corpus`, so a slice is a handle over the
same sources, never a copy.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO

from rlm_adk.context import formats
from rlm_adk.context.base import BinaryContent, ContextError, FileInfo, NotFound, Source
from rlm_adk.context.cache import BlockCache
from rlm_adk.context.lineindex import LineIndex
from rlm_adk.context.scan import (
    LOCAL_WINDOW,
    REMOTE_WINDOW,
    FdReader,
    PrefetchReader,
    WindowReader,
)
from rlm_adk.context.uris import check_relative


@dataclass
class Document:
    """One file's text as the handle serves it (for a PDF, its extracted text)."""

    path: str
    source: Source
    rel: str
    info: FileInfo
    kind: str
    size: int
    """Bytes of text (for a PDF, of the extracted text; else the file size)."""
    key: tuple[str, ...]
    lines: LineIndex = field(default_factory=LineIndex)
    derived_fd: int = -1
    """Descriptor of the extracted text of a PDF (a temporary file)."""


class _RangeFile(io.RawIOBase):
    """A seekable, read-only file object over a document's raw bytes (for pypdf)."""

    def __init__(self, corpus: Corpus, path: str, size: int) -> None:
        self._corpus, self._path, self._size, self._pos = corpus, path, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._corpus.raw(self._path, self._pos, self._pos + len(buffer))
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


class Corpus:
    """Sources + manifest + cache + per-document state. Thread-safe."""

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        cache: BlockCache | None = None,
        scan_window: int | None = None,
        own_sources: bool = True,
        own_cache: bool = True,
    ) -> None:
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ContextError(f"source names must be unique, got {names}")
        for name in names:
            if not name or "/" in name:
                raise ContextError(f"a source name must be non-empty without '/', got {name!r}")
        self.sources: dict[str, Source] = {s.name: s for s in sources}
        self.cache = cache or BlockCache()
        self.scan_window = scan_window
        # What `close` releases: a fork shares its parent's sources and cache and closes neither.
        self._owned = set(self.sources) if own_sources else set()
        self._own_cache = own_cache or cache is None
        self._lock = threading.RLock()
        self._manifest: dict[str, FileInfo] | None = None
        self._docs: dict[str, Document] = {}
        self._doc_locks: dict[str, threading.Lock] = {}
        self._pool: ThreadPoolExecutor | None = None
        self.closed = False

    # -- manifest -------------------------------------------------------------------------------

    def manifest(self) -> dict[str, FileInfo]:
        """Namespaced path -> metadata, listed once (sources stream their listings)."""
        with self._lock:
            if self._manifest is not None:
                return self._manifest
            self._check_open()
            manifest: dict[str, FileInfo] = {}
            for name, source in list(self.sources.items()):
                lister = getattr(source, "iter_files", None) or source.list_files
                for info in lister():
                    path = f"{name}/{info.path}"
                    manifest[path] = FileInfo(
                        path, info.size, info.modified, info.content_type, info.version
                    )
            self._manifest = manifest
            return manifest

    def add_source(self, source: Source) -> None:
        """Adds a source after opening (uploads); only the new source is listed."""
        with self._lock:
            if source.name in self.sources:
                raise ContextError(f"a source named {source.name!r} already exists")
            self.sources[source.name] = source
            self._owned.add(source.name)
            if self._manifest is not None:
                for info in source.list_files():
                    self.upsert(source.name, info)

    def upsert(self, source_name: str, info: FileInfo) -> str:
        """Adds or replaces one file of a source in the manifest (an upload), without relisting."""
        path = f"{source_name}/{info.path}"
        with self._lock:
            if self._manifest is not None:
                self._manifest[path] = FileInfo(
                    path, info.size, info.modified, info.content_type, info.version
                )
            self._drop_doc(path)
        return path

    def info(self, path: str) -> FileInfo:
        """Metadata of `path`, refusing escapes with `AccessDenied` and unknown paths with `NotFound`."""
        if not isinstance(path, str):
            raise ContextError(f"path must be a string, got {type(path).__name__}")
        check_relative(path, "a context path")
        self._check_open()
        found = self.manifest().get(path)
        if found is None:
            raise NotFound(f"no file {path!r} in this context (see context.files)")
        return found

    def _check_open(self) -> None:
        if self.closed:
            raise ContextError("this context is closed")

    # -- documents ------------------------------------------------------------------------------

    def raw(self, path: str, start: int, end: int) -> bytes:
        """Raw bytes `[start, end)` of the file `path` through the block cache."""
        info = self.info(path)
        name, _, rel = path.partition("/")
        source = self.sources[name]
        key = (name, rel, info.version or "")
        return self.cache.read(
            key, info.size, start, end, lambda a, b: source.read_bytes(rel, a, b)
        )

    def document(self, path: str) -> Document:
        """The document for `path`; its kind is decided (and a PDF extracted) on first use."""
        with self._lock:
            doc = self._docs.get(path)
            if doc is not None:
                return doc
            lock = self._doc_locks.setdefault(path, threading.Lock())
        with lock:  # one extraction per PDF even when many threads ask at once
            with self._lock:
                doc = self._docs.get(path)
                if doc is not None:
                    return doc
            doc = self._make_document(path)
            with self._lock:
                self._check_open()
                self._docs[path] = doc
            return doc

    def _make_document(self, path: str) -> Document:
        info = self.info(path)
        name, _, rel = path.partition("/")
        source = self.sources[name]
        key = (name, rel, info.version or "")
        kind = formats.kind_of_type(info.content_type)
        if kind is None and not info.size:
            kind = formats.TEXT
        elif kind is None:
            # A small file's only block is cached for the reads that follow; a big file is
            # sniffed with one small direct read (its first block may never be wanted).
            if info.size <= self.cache.block_size:
                head = self.raw(path, 0, formats.SNIFF_BYTES)
            else:
                head = source.read_bytes(rel, 0, formats.SNIFF_BYTES)
            kind = formats.sniff(head)
        if kind != formats.PDF:
            return Document(path, source, rel, info, kind, info.size, key)
        fd, size = self._extract_pdf(path, info)
        return Document(path, source, rel, info, kind, size, ("pdf", *key), derived_fd=fd)

    def _extract_pdf(self, path: str, info: FileInfo) -> tuple[int, int]:
        raw: IO[bytes] = io.BufferedReader(_RangeFile(self, path, info.size), 1 << 20)
        # On disk: PDF text never sits in memory whole. The dup'd descriptor outlives `spill`.
        with tempfile.TemporaryFile() as spill:
            size = 0
            for page in formats.pdf_pages(raw, path):
                data = (page.rstrip("\n") + "\n\f\n").encode("utf-8", errors="replace")
                spill.write(data)
                size += len(data)
            spill.flush()
            fd = os.dup(spill.fileno())
        return fd, size

    def is_remote(self, path: str) -> bool:
        """True when `path` is read over the network (no local descriptor to scan)."""
        source = self.sources.get(path.partition("/")[0])
        return source is not None and not hasattr(source, "open_fd")

    def documents(self, paths: Sequence[str], width: int = 16) -> list[Document]:
        """`document(p)` for each path; unresolved remote ones are resolved concurrently."""
        with self._lock:
            todo = [p for p in paths if p not in self._docs and self.is_remote(p)]
        if len(todo) > 1:
            with ThreadPoolExecutor(min(width, len(todo)), thread_name_prefix="ctx-docs") as pool:
                list(pool.map(self.document, todo))
        return [self.document(p) for p in paths]

    def text_document(self, path: str) -> Document:
        """The document for `path`, refusing binaries with `BinaryContent`."""
        doc = self.document(path)
        if doc.kind == formats.BINARY:
            raise BinaryContent(
                f"{path} is binary ({doc.info.content_type}); it is listed but has no text to read"
            )
        return doc

    def read(self, doc: Document, start: int, end: int) -> bytes:
        """Bytes `[start, end)` of a document's text through the block cache."""
        if doc.derived_fd < 0:
            return self.raw(doc.path, start, end)
        fd = doc.derived_fd
        return self.cache.read(doc.key, doc.size, start, end, lambda a, b: os.pread(fd, b - a, a))

    def probe(self, doc: Document, start: int, end: int) -> bytes:
        """A small direct read of `doc` (bypassing the cache: chunk planning touches each cut once)."""
        end = min(end, doc.size)
        if end <= start:
            return b""
        if doc.derived_fd >= 0:
            return os.pread(doc.derived_fd, end - start, start)
        return doc.source.read_bytes(doc.rel, start, end)

    def reader(self, doc: Document, window: int | None = None) -> WindowReader:
        """A sequential reader for scanning `doc` (see `scan.py`)."""
        if doc.derived_fd >= 0:
            return FdReader(doc.derived_fd, doc.size, window or LOCAL_WINDOW, own=False)
        open_fd = getattr(doc.source, "open_fd", None)
        if open_fd is not None:
            return FdReader(open_fd(doc.rel), doc.size, window or LOCAL_WINDOW)
        if doc.size <= self.cache.block_size:
            # A small remote file: its only block is usually cached already (by the sniff).
            return PrefetchReader(lambda a, b: self.read(doc, a, b), doc.size, doc.size, None)
        source, rel = doc.source, doc.rel
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ctx-scan")
            pool = self._pool
        return PrefetchReader(
            lambda a, b: source.read_bytes(rel, a, b),
            doc.size,
            window or REMOTE_WINDOW,
            pool,
        )

    def scan_window_for(self, doc: Document, *, large: bool = False) -> int:
        """The scan window for `doc`.

        Local literal scans use 1 MiB (memchr stays in the CPU cache); regex scans (`large`) use
        8 MiB, since RE2's per-call start-up is paid once per window; remote reads use 8 MiB.
        """
        if self.scan_window:
            return self.scan_window
        local = doc.derived_fd >= 0 or hasattr(doc.source, "open_fd")
        return LOCAL_WINDOW if local and not large else REMOTE_WINDOW

    def _drop_doc(self, path: str) -> None:
        doc = self._docs.pop(path, None)
        if doc is not None and doc.derived_fd >= 0:
            os.close(doc.derived_fd)
            doc.derived_fd = -1

    def close(self) -> None:
        """Closes the sources and cache it owns, the scan threads and extracted PDF text."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for path in list(self._docs):
                self._drop_doc(path)
            pool, self._pool = self._pool, None
            sources = [s for name, s in self.sources.items() if name in self._owned]
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if self._own_cache:
            self.cache.close()
        for source in sources:
            source.close()


def missing(path: str) -> NotFound:
    """The error for a path outside a view."""
    return NotFound(f"no file {path!r} in this context (see context.files)")
