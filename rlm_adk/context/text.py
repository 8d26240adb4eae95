"""`TextSource`: in-memory texts (strings, uploaded files) as a context source."""

from __future__ import annotations

import itertools
import threading

from rlm_adk.context.base import FileInfo, NotFound
from rlm_adk.context.uris import check_relative

_VERSIONS = itertools.count(1)


class TextSource:
    """Named in-memory documents. Text is stored UTF-8 encoded, so offsets are byte offsets.

    Replacing a document gives it a new version, so cached blocks of the old text are never served.
    """

    def __init__(self, documents: dict[str, str | bytes], *, name: str = "text") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._docs: dict[str, tuple[bytes, str, int]] = {}
        for path, data in documents.items():
            self.add(path, data)

    def add(self, path: str, data: str | bytes, content_type: str | None = None) -> None:
        """Adds or replaces a document (used for files uploaded during a session)."""
        check_relative(path, f"text source {self.name!r}")
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        with self._lock:
            self._docs[path] = (raw, content_type or "text/plain", next(_VERSIONS))

    def describe(self) -> str:
        """Where this source reads."""
        return f"in-memory text ({len(self._docs)} document(s))"

    def list_files(self) -> list[FileInfo]:
        """Every document, sorted by name."""
        with self._lock:
            return [
                FileInfo(path=p, size=len(d), content_type=t, version=str(v))
                for p, (d, t, v) in sorted(self._docs.items())
            ]

    def info(self, path: str) -> FileInfo:
        """Metadata of one document."""
        with self._lock:
            entry = self._docs.get(path)
        if entry is None:
            raise NotFound(f"no document named {path!r} in text source {self.name!r}")
        data, content_type, version = entry
        return FileInfo(path=path, size=len(data), content_type=content_type, version=str(version))

    def read_bytes(self, path: str, start: int, end: int) -> bytes:
        """Bytes `[start, end)` of document `path`."""
        with self._lock:
            entry = self._docs.get(path)
        if entry is None:
            raise NotFound(f"no document named {path!r} in text source {self.name!r}")
        return entry[0][max(0, start) : max(0, end)]

    def close(self) -> None:
        """Nothing to release (the texts go with the source)."""
