"""`ContextHandle`: the lazy, read-only view of a corpus that model-written code sees as `context`."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence

from rlm_adk.context.base import (
    BinaryContent,
    Chunk,
    ContextError,
    FileInfo,
    Match,
    NotFound,
    Source,
)
from rlm_adk.context.text import TextSource

_MAX_LINE_CHARS = 2_000


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


class ContextHandle:
    """A lazy handle over one or more sources.

    Paths are namespaced as `<source name>/<path in source>`. Nothing is read until a method asks
    for it. All methods are thread-safe and take and return plain data, so the sandbox bridge can
    expose them directly.
    """

    __sandbox_methods__ = ("read", "lines", "grep", "chunks", "describe", "list_files")
    __sandbox_lazy_attrs__ = ("files", "size")

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        allowed: dict[str, tuple[int, int] | None] | None = None,
    ) -> None:
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ContextError(f"source names must be unique, got {names}")
        self._sources: dict[str, Source] = {s.name: s for s in sources}
        # A view (for a sub-agent) restricts paths and, per path, an optional byte range.
        self._allowed = allowed
        self._lock = threading.Lock()
        self._manifest: list[FileInfo] | None = None

    # -- manifest -----------------------------------------------------------------------------

    @property
    def files(self) -> list[FileInfo]:
        """Every file's metadata (listed once, then cached)."""
        with self._lock:
            if self._manifest is None:
                manifest = []
                for name, source in self._sources.items():
                    for info in source.list_files():
                        path = f"{name}/{info.path}"
                        if self._allowed is not None and path not in self._allowed:
                            continue
                        window = self._allowed.get(path) if self._allowed else None
                        size = (window[1] - window[0]) if window else info.size
                        manifest.append(
                            FileInfo(path, size, info.modified, info.content_type)
                        )
                self._manifest = manifest
            return list(self._manifest)

    @property
    def size(self) -> int:
        """Total bytes of all files."""
        return sum(f.size for f in self.files)

    def list_files(self, pattern: str | None = None, limit: int = 1000) -> list[FileInfo]:
        """Files whose path matches the regex `pattern` (all when None), at most `limit`."""
        rx = re.compile(pattern) if pattern else None
        out = [f for f in self.files if rx is None or rx.search(f.path)]
        return out[:limit]

    def describe(self) -> str:
        """A short summary for prompts: counts, total size and the first paths."""
        files = self.files
        head = ", ".join(f"{f.path} ({f.size:,} B)" for f in files[:10])
        more = f", ... and {len(files) - 10} more" if len(files) > 10 else ""
        return f"{len(files)} file(s), {self.size:,} bytes in all: {head}{more}"

    # -- reads ----------------------------------------------------------------------------------

    def _resolve(self, path: str) -> tuple[Source, str, int, int]:
        if not isinstance(path, str):
            raise ContextError(f"path must be a string, got {type(path).__name__}")
        name, _, rel = path.partition("/")
        source = self._sources.get(name)
        info = next((f for f in self.files if f.path == path), None)
        if source is None or info is None:
            raise NotFound(f"no file {path!r} in this context (see context.files)")
        window = self._allowed.get(path) if self._allowed else None
        base = window[0] if window else 0
        return source, rel, base, info.size

    def read_bytes(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        source, rel, base, size = self._resolve(path)
        start = max(0, min(int(start), size))
        end = size if end is None else max(start, min(int(end), size))
        return source.read_bytes(rel, base + start, base + end)

    def read(self, path: str, start: int = 0, end: int | None = None) -> str:
        """Text of bytes `[start, end)` of `path`.

        A range that cuts a multi-byte character is widened to whole characters at its end and
        narrowed at its start, so consecutive ranges never duplicate or lose a character.
        """
        _, _, _, size = self._resolve(path)
        end = size if end is None else max(0, min(int(end), size))
        start = max(0, min(int(start), end))
        data = self.read_bytes(path, start, min(size, end + 3))
        cut = end - start
        while cut < len(data) and _is_continuation(data[cut]):
            cut += 1
        lead = 0
        while lead < cut and _is_continuation(data[lead]):
            lead += 1
        chunk = data[lead:cut]
        if b"\x00" in chunk[:8192]:
            raise BinaryContent(f"{path} is binary; it has no text to read")
        return chunk.decode("utf-8", errors="replace")

    def lines(self, path: str, start: int = 0, count: int = 100) -> list[str]:
        """`count` lines of `path` from 0-based line `start`."""
        text = self.read(path)
        return text.splitlines()[int(start) : int(start) + int(count)]

    def grep(
        self,
        pattern: str,
        paths: Iterable[str] | None = None,
        max_matches: int = 1000,
        ignore_case: bool = False,
    ) -> list[Match]:
        """Lines matching the regex `pattern`, with path, 1-based line and byte offset."""
        flags = re.IGNORECASE if ignore_case else 0
        rx = re.compile(pattern, flags)
        targets = list(paths) if paths is not None else [f.path for f in self.files]
        out: list[Match] = []
        for path in targets:
            data = self.read_bytes(path)
            if b"\x00" in data[:8192]:
                continue
            offset = 0
            for number, raw in enumerate(data.split(b"\n"), start=1):
                line = raw.decode("utf-8", errors="replace")
                hit = rx.search(line)
                if hit:
                    prefix = len(line[: hit.start()].encode("utf-8"))
                    out.append(Match(path, number, offset + prefix, line[:_MAX_LINE_CHARS]))
                    if len(out) >= max_matches:
                        return out
                offset += len(raw) + 1
        return out

    def chunks(
        self, max_chars: int = 100_000, overlap: int = 0, paths: Iterable[str] | None = None
    ) -> list[Chunk]:
        """Descriptors covering the files in pieces of at most about `max_chars` bytes.

        Chunks end on line boundaries where a line break lies in the last half of the piece.
        """
        if max_chars <= 0 or overlap < 0 or overlap >= max_chars:
            raise ContextError("chunks needs max_chars > 0 and 0 <= overlap < max_chars")
        targets = list(paths) if paths is not None else [f.path for f in self.files]
        sizes = {f.path: f.size for f in self.files}
        out: list[Chunk] = []
        for path in targets:
            if path not in sizes:
                raise NotFound(f"no file {path!r} in this context")
            size = sizes[path]
            pos = 0
            while pos < size or (size == 0 and pos == 0):
                end = min(size, pos + max_chars)
                if end < size:
                    window = self.read_bytes(path, pos + max_chars // 2, end)
                    cut = window.rfind(b"\n")
                    if cut >= 0:
                        end = pos + max_chars // 2 + cut + 1
                out.append(Chunk(len(out), path, pos, end, self))
                if end >= size:
                    break
                pos = max(end - overlap, pos + 1)
        return out

    # -- slicing for sub-agents -----------------------------------------------------------------

    def view(self, paths: Iterable[str] | None = None, ranges: dict | None = None) -> ContextHandle:
        """A handle restricted to `paths` and, per path, an optional `(start, end)` byte range."""
        allowed: dict[str, tuple[int, int] | None] = {}
        known = {f.path: f.size for f in self.files}
        for path in paths or []:
            if path not in known:
                raise NotFound(f"no file {path!r} in this context")
            allowed[path] = None
        for path, (start, end) in (ranges or {}).items():
            if path not in known:
                raise NotFound(f"no file {path!r} in this context")
            base = self._allowed.get(path) if self._allowed else None
            offset = base[0] if base else 0
            allowed[path] = (offset + int(start), offset + min(int(end), known[path]))
        return ContextHandle(list(self._sources.values()), allowed=allowed)

    def close(self) -> None:
        for source in self._sources.values():
            source.close()


def open_text(text: str | dict[str, str], *, name: str = "text") -> ContextHandle:
    """A handle over in-memory text (one document named `context.txt`, or several)."""
    docs = {"context.txt": text} if isinstance(text, str) else dict(text)
    return ContextHandle([TextSource(docs, name=name)])
