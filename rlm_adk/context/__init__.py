"""Lazy, read-only corpora for RLM code: `ContextHandle` and its sources."""

from __future__ import annotations

from rlm_adk.context.base import (
    AccessDenied,
    BinaryContent,
    Chunk,
    ContextError,
    FileInfo,
    Match,
    NotFound,
    Source,
)
from rlm_adk.context.handle import ContextHandle, open_text
from rlm_adk.context.text import TextSource


def open_context(*uris: str, roots: list[str] | None = None) -> ContextHandle:
    """Opens a lazy handle over local paths, `gs://bucket/prefix` URIs or, with no URI, nothing.

    Until the local and GCS sources land this accepts no URI; see `open_text` for in-memory text.
    """
    if uris:
        raise ContextError("local and GCS sources are not available yet; use open_text")
    return ContextHandle([])


__all__ = [
    "AccessDenied",
    "BinaryContent",
    "Chunk",
    "ContextError",
    "ContextHandle",
    "FileInfo",
    "Match",
    "NotFound",
    "Source",
    "TextSource",
    "open_context",
    "open_text",
]
