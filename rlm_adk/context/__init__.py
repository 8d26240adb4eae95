"""Lazy, read-only corpora for RLM code: `ContextHandle` and its sources."""

from __future__ import annotations

import os
from typing import Any

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
from rlm_adk.context.cache import BlockCache
from rlm_adk.context.gcs import GcsSource
from rlm_adk.context.handle import ContextHandle, open_text
from rlm_adk.context.local import LocalSource
from rlm_adk.context.text import TextSource
from rlm_adk.context.uris import check_roots, is_gcs, parse_gcs, parse_local


def open_context(
    *uris: str,
    roots: list[str] | None = None,
    gcs_client: Any = None,
    **options: Any,
) -> ContextHandle:
    """A lazy handle over local paths (files, directories, globs) and `gs://bucket/prefix` URIs.

    With `roots`, every URI must lie inside one of them (else `AccessDenied`); without, each URI
    is its own root. Nothing is listed or read until asked. Paths in the handle are
    `<source name>/<path in source>`: the directory's name for local paths, the bucket's name
    (and the full object name) for GCS. `options` go to `ContextHandle` (`cache_bytes`,
    `block_size`, `read_ahead`, `scan_window`, `max_read_bytes`); `gcs_client` is an optional
    `google.cloud.storage.Client`.
    """
    sources: list[Source] = []
    taken: set[str] = set()
    for uri in uris:
        if not isinstance(uri, str) or not uri:
            raise ContextError(f"a context URI must be a non-empty string, got {uri!r}")
        if roots is not None:
            check_roots(uri, roots)
        if is_gcs(uri):
            target = parse_gcs(uri)
            name = _unique(target.bucket, taken)
            sources.append(GcsSource.from_target(target, name, client=gcs_client))
        else:
            local = parse_local(uri)
            name = _unique(os.path.basename(str(local.root)) or "root", taken)
            sources.append(LocalSource.from_target(local, name))
    return ContextHandle(sources, **options)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken or candidate == "uploads":
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


__all__ = [
    "AccessDenied",
    "BinaryContent",
    "BlockCache",
    "Chunk",
    "ContextError",
    "ContextHandle",
    "FileInfo",
    "GcsSource",
    "LocalSource",
    "Match",
    "NotFound",
    "Source",
    "TextSource",
    "open_context",
    "open_text",
]
