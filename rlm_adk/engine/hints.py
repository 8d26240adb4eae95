"""Hints appended to a failed cell's error for the mistakes models make most with this REPL.

Models trained on the reference RLM expect `context` to be a string (`len(context)`,
`context[:1000]`, `for line in context`, `context.split(...)`), and reach for modules Monty does
not have. The sandbox's own message says what failed; the hint says what to do instead, so the
next turn can recover rather than repeat the mistake.
"""

from __future__ import annotations

import re

HANDLE_METHODS = ("files", "size", "read", "lines", "grep", "chunks")
MONTY_MODULES = (
    "re, json, math, itertools, functools, collections, datetime, time, random, bisect, copy, "
    "hashlib, base64, decimal, dataclasses, typing, asyncio"
)
"""What `import` finds in Monty (pydantic-monty 1.4.0, checked module by module)."""

_HANDLE_MISUSE = re.compile(
    r"'ContextHandle' object (?:is not (?:iterable|subscriptable)|has no attribute '(\w+)')"
    r"|type 'ContextHandle' has no len\(\)"
)
_CHUNK_MISUSE = re.compile(
    r"'Chunk' object (?:is not (?:iterable|subscriptable)|has no attribute '(\w+)')"
    r"|type 'Chunk' has no len\(\)"
)
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")

HANDLE_HINT = (
    "Hint: `context` is a lazy handle over the corpus files, not a string. Use "
    "`context.files` (paths and sizes), `context.size`, `context.read(path, start, end)`, "
    "`context.lines(path, start, count)`, `context.grep(pattern)` and "
    "`context.chunks(max_chars=...)`; read only what you need."
)
CHUNK_HINT = (
    "Hint: a Chunk is a reference to a byte range (index, path, start, end), not text: pass it "
    "to `llm_query`/`llm_batch` as it is, or call `chunk.text()` to read it."
)


def cell_hint(error: str, sandbox: str) -> str | None:
    """The hint for a cell's error text, if it shows a known mistake."""
    handle = _HANDLE_MISUSE.search(error)
    if handle is not None and handle.group(1) not in HANDLE_METHODS:
        return HANDLE_HINT
    chunk = _CHUNK_MISUSE.search(error)
    if chunk is not None:
        return CHUNK_HINT
    module = _MISSING_MODULE.search(error)
    if module is not None and sandbox == "monty":
        return (
            f"Hint: this sandbox (Monty) has no module {module.group(1)!r}; it can import "
            f"{MONTY_MODULES}. Write the missing piece yourself (e.g. print instead of pprint)."
        )
    return None
