"""`TextSource`: in-memory texts (strings, uploaded files) as a context source."""

from __future__ import annotations

import threading

from rlm_adk.context.base import FileInfo, NotFound


class TextSource:
    """Named in-memory documents. Text is stored UTF-8 encoded, so offsets are byte offsets."""

    def __init__(self, documents: dict[str, str | bytes], *, name: str = "text") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._docs: dict[str, bytes] = {}
        self._types: dict[str, str] = {}
        for path, data in documents.items():
            self.add(path, data)

    def add(self, path: str, data: str | bytes, content_type: str | None = None) -> None:
        """Adds or replaces a document (used for files uploaded during a session)."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        with self._lock:
            self._docs[path] = raw
            self._types[path] = content_type or "text/plain"

    def list_files(self) -> list[FileInfo]:
        with self._lock:
            return [
                FileInfo(path=p, size=len(d), content_type=self._types[p])
                for p, d in sorted(self._docs.items())
            ]

    def read_bytes(self, path: str, start: int, end: int) -> bytes:
        with self._lock:
            data = self._docs.get(path)
        if data is None:
            raise NotFound(f"no document named {path!r} in text source {self.name!r}")
        return data[max(0, start) : max(0, end)]

    def close(self) -> None:
        pass
