"""The context interface: records shared by every source and the `Source` protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rlm_adk.context.handle import ContextHandle


class ContextError(Exception):
    """A context operation failed; the message says what and where (never a credential)."""


class AccessDenied(ContextError):
    """A path or URI lies outside the configured roots."""


class NotFound(ContextError):
    """No such file, object or bucket."""


class BinaryContent(ContextError):
    """The file is binary; it is listed but has no text to read."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a context's manifest (metadata only; nothing is read)."""

    __sandbox_attrs__: ClassVar[tuple[str, ...]] = (
        "path",
        "size",
        "modified",
        "content_type",
        "version",
    )

    path: str
    """Namespaced, stable path: what `read`, `lines`, `grep` and `chunks` take and return."""
    size: int
    """Bytes."""
    modified: str | None = None
    """Modification time (ISO 8601) or object generation."""
    content_type: str = "text/plain"
    version: str | None = None
    """What reads are pinned to: the GCS object generation, or mtime and size of a local file."""


@dataclass(frozen=True, slots=True)
class Match:
    """One `grep` hit."""

    __sandbox_attrs__: ClassVar[tuple[str, ...]] = ("path", "line", "offset", "text")

    path: str
    line: int
    """1-based line number."""
    offset: int
    """Byte offset of the match in the file."""
    text: str
    """The whole line holding the match (truncated when very long)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A descriptor of a byte range of one file; `text()` reads it lazily."""

    __sandbox_attrs__: ClassVar[tuple[str, ...]] = ("index", "path", "start", "end")
    __sandbox_methods__: ClassVar[tuple[str, ...]] = ("text",)

    index: int
    path: str
    start: int
    """Byte offset of the first byte (inclusive)."""
    end: int
    """Byte offset past the last byte (exclusive)."""
    handle: ContextHandle | None = field(default=None, repr=False, compare=False)

    def text(self) -> str:
        """The chunk's text, read now (UTF-8 safe: see `ContextHandle.read`)."""
        if self.handle is None:
            raise ContextError("this chunk is not bound to a context")
        return self.handle.read(self.path, self.start, self.end)

    @property
    def size(self) -> int:
        """Bytes covered."""
        return self.end - self.start


@runtime_checkable
class Source(Protocol):
    """A read-only collection of files (a directory, a bucket prefix, in-memory texts).

    Implementations must be thread-safe: sandbox host calls arrive on worker threads.
    """

    name: str
    """Namespace prefix of this source's paths in a handle (e.g. `local`, `gs`, `text`)."""

    def list_files(self) -> list[FileInfo]:
        """The manifest; paths are relative to the source (the handle adds the namespace)."""
        ...

    def read_bytes(self, path: str, start: int, end: int) -> bytes:
        """Bytes `[start, end)` of `path` (clamped to the file's size)."""
        ...

    def close(self) -> None:
        """Releases clients and descriptors; the source is unusable afterwards."""
        ...


# Optional source capabilities, found with getattr (not part of the protocol):
#   local_path(path) -> str      a checked OS path, for fast sequential scans with os.preadv
#   open_fd(path) -> int         a read-only descriptor (the caller closes it)
#   iter_files() -> Iterator[FileInfo]   the manifest as a stream (large buckets, deep trees)
#   describe() -> str            where the source reads, for ContextHandle.describe
