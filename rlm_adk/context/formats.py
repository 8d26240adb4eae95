"""File formats: content types by extension, binary sniffing and PDF text extraction.

Plain text, Markdown, JSON/JSONL, CSV and other text formats are served as their UTF-8 bytes.
PDF text needs the optional `pdf` extra (pypdf), imported only when a PDF is first read.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Iterator
from typing import IO, Any

from rlm_adk.context.base import ContextError

TEXT, BINARY, PDF = "text", "binary", "pdf"
"""Document kinds: served as bytes, refused (`BinaryContent`), or extracted to text."""

SNIFF_BYTES = 8192

_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".log": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".rst": "text/x-rst",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".py": "text/x-python",
    ".pdf": "application/pdf",
}
_TEXT_APPLICATION = ("json", "ndjson", "xml", "yaml", "toml", "javascript", "x-sh", "sql")
_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/")
_BINARY_TYPES = {
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/x-bzip2",
    "application/x-xz",
    "application/x-7z-compressed",
    "application/vnd.apache.parquet",
    "application/x-executable",
    "application/x-sharedlib",
    "application/msword",
    "application/vnd.ms-excel",
}
_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"\x7fELF",
    b"BZh",
    b"\xfd7zXZ",
    b"PAR1",
)


def content_type_for(path: str, reported: str | None = None) -> str:
    """The content type of `path`: by extension first, then `reported` (e.g. GCS metadata)."""
    ext = posixpath.splitext(path)[1].lower()
    if ext in _TYPES:
        return _TYPES[ext]
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed:
        return guessed
    if reported and reported.split(";")[0].strip() not in ("", "application/octet-stream"):
        return reported.split(";")[0].strip()
    # No extension and nothing reported (README, Makefile): sniffing the bytes decides.
    return "text/plain" if not ext else "application/octet-stream"


def kind_of_type(content_type: str) -> str | None:
    """The kind a content type implies, or None when only the bytes can tell."""
    base = content_type.split(";")[0].strip().lower()
    if base == "application/pdf":
        return PDF
    if base.startswith(_BINARY_PREFIXES) or base in _BINARY_TYPES:
        return BINARY
    if base.startswith("text/") or base.endswith(_TEXT_APPLICATION):
        return None  # probably text, but a NUL byte still makes it binary
    return None


def sniff(head: bytes) -> str:
    """The kind of a document from its first bytes."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(_MAGIC) or b"\x00" in head[:SNIFF_BYTES]:
        return BINARY
    return TEXT


def _pypdf() -> Any:
    try:
        import pypdf
    except ImportError as exc:
        raise ContextError(
            "reading PDF text needs the optional extra 'pdf' (pypdf): pip install 'rlm-adk[pdf]'"
        ) from exc
    return pypdf


def pdf_pages(stream: IO[bytes], path: str) -> Iterator[str]:
    """The text of each page of the PDF in `stream` (a seekable file object), in order."""
    pypdf = _pypdf()
    try:
        reader = pypdf.PdfReader(stream)
        for page in reader.pages:
            yield page.extract_text() or ""
    except ContextError:
        raise
    except Exception as exc:
        raise ContextError(f"could not extract text from PDF {path}: {type(exc).__name__}") from exc
