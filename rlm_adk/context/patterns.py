r"""Patterns for grep and `list_files`: literals, RE2 regexes, and a regex's required literal.

Untrusted code sends these patterns, so regexes run on RE2 (linear time, bounded memory);
syntax RE2 refuses (backreferences, lookaround) is refused with an explanation rather than run on
a backtracking engine. A literal is found with `memchr` on its rarest byte. A regex whose every
match must contain some literal (`error: \d+` needs `error: `) is prefiltered by that literal,
so it scans at literal speed and runs RE2 only on the lines that hold it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rlm_adk.context.base import ContextError
from rlm_adk.context.scan import Buffer

MAX_PATTERN_CHARS = 10_000
REGEX_MAX_MEM = 64 << 20
_META = set(".^$*+?{}[]\\|()")

# Rough byte frequencies in text (higher = more common); the literal scan looks for its rarest.
_COMMON = b" etaoinshrdlcumwfgypbvkjxqz\nETAOINSHRDLCUMWFGYPBVKJXQZ0123456789,.-'\"():;/_"


def _rarity(byte: int) -> int:
    i = _COMMON.find(bytes([byte]))
    if i >= 0:
        return len(_COMMON) - i
    return 0 if byte < 0x80 else 4  # other punctuation and controls: rare; UTF-8 bytes: less so


class Matcher:
    """Finds the leftmost match starting in `[pos, endpos)` of a buffer."""

    verify_line = False

    def subject(self, buf: Buffer, n: int) -> Buffer | memoryview:
        """What `search` scans: the window itself (bytes past `n` may be stale)."""
        return buf

    def search(self, buf: Buffer | memoryview, pos: int, endpos: int) -> tuple[int, int] | None:
        """`(start, end)` of the leftmost match starting in `[pos, endpos)`, or None."""
        raise NotImplementedError


class LiteralMatcher(Matcher):
    """Case-sensitive literal: `memchr` on the rarest byte, then a check in place."""

    def __init__(self, needle: bytes) -> None:
        self.needle = needle
        self.k = max(range(len(needle)), key=lambda i: (-_rarity(needle[i]), i))
        self.rare = needle[self.k : self.k + 1]
        self._plain = False

    def search(self, buf: Buffer, pos: int, endpos: int) -> tuple[int, int] | None:
        needle, k, size = self.needle, self.k, len(self.needle)
        if self._plain:
            i = buf.find(needle, pos, endpos)
            return None if i < 0 else (i, i + size)
        j = buf.find(self.rare, pos + k, endpos)
        misses = 0
        while j >= 0:
            i = j - k
            if i + size <= endpos and buf.startswith(needle, i):
                return i, i + size
            misses += 1
            if misses > 64 and (j - pos) < misses * 512:
                # The "rare" byte is common here (over 1 per 512 bytes): use the two-way search.
                self._plain = True
                return self.search(buf, i + 1, endpos)
            j = buf.find(self.rare, j + 1, endpos)
        return None


class RegexMatcher(Matcher):
    """An RE2 regex (multi-line when it has anchors), with an optional literal prefilter."""

    verify_line = True

    def __init__(self, compiled: Any, prefilter: LiteralMatcher | None = None) -> None:
        self.rx = compiled
        self.prefilter = prefilter

    def subject(self, buf: Buffer, n: int) -> Buffer | memoryview:
        """The window cut at `n` (zero-copy): RE2 looks past `endpos` for `$` and `\\b`."""
        return memoryview(buf)[:n]

    def search(self, buf: Buffer | memoryview, pos: int, endpos: int) -> tuple[int, int] | None:
        m = self.rx.search(buf, pos, endpos)
        return None if m is None else m.span()


def compile_pattern(pattern: str, *, literal: bool = False, ignore_case: bool = False) -> Matcher:
    """A matcher for `pattern`; plain words take the literal fast path even without `literal`."""
    if not isinstance(pattern, str):
        raise ContextError(f"grep pattern must be a string, got {type(pattern).__name__}")
    if not pattern:
        raise ContextError("grep needs a non-empty pattern")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ContextError(f"grep pattern is too long ({len(pattern)} > {MAX_PATTERN_CHARS} chars)")
    is_plain = literal or not (_META & set(pattern))
    if is_plain and not ignore_case:
        return LiteralMatcher(pattern.encode("utf-8"))
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    options.case_sensitive = not ignore_case
    options.literal = is_plain
    # Multi-line mode only when anchors need it: it costs RE2 about a third of its speed.
    source = "(?m)" + pattern if not is_plain and ("^" in pattern or "$" in pattern) else pattern
    try:
        compiled = re2.compile(source.encode("utf-8"), options)
    except re2.error as exc:
        raise _explain(pattern, exc) from None
    needed = None if ignore_case or is_plain else required_literal(pattern)
    return RegexMatcher(compiled, LiteralMatcher(needed) if needed else None)


_ESCAPED_LITERALS = set(".^$*+?{}[]\\|()/-#&~ \"'<>,:;=!%@`")
_QUANTIFIER = re.compile(r"[*?+]|\{\d*(?:,\d*)?\}")


def required_literal(pattern: str) -> bytes | None:
    """The longest literal every match of `pattern` must contain (at least 2 bytes), or None.

    Conservative by design: only literal runs at the top level count (never inside groups,
    classes or alternations), a character made optional by a quantifier is dropped, and any
    inline flag (`(?...`), quoting (`\\Q...\\E`) or top-level `|` gives None. None just means
    "no prefilter".
    """
    if "(?" in pattern or "\\Q" in pattern:
        return None
    runs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    i = 0
    while i < len(pattern):
        c = pattern[i]
        quantifier = _QUANTIFIER.match(pattern, i)
        if quantifier:
            mandatory = quantifier.group().startswith(("+", "{1", "{2", "{3", "{4", "{5"))
            if current and not mandatory:
                current.pop()  # the atom before it may be absent (or repeated): not required
            flush()
            i = quantifier.end()
            if i < len(pattern) and pattern[i] in "?+":
                i += 1  # lazy or possessive marker
            continue
        if c == "|":
            return None
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt and nxt in _ESCAPED_LITERALS:
                current.append(nxt)
                i += 2
                continue
            flush()  # \d, \b, \x41, \pL, \p{Greek}...: not a plain literal; skip all of it
            i += 2
            if nxt in ("p", "P", "x") and pattern[i : i + 1] == "{":
                close = pattern.find("}", i)
                if close < 0:
                    return None
                i = close + 1
            elif nxt in ("p", "P"):
                i += 1
            elif nxt == "x":
                i += 2
            while nxt.isdigit() and i < len(pattern) and pattern[i].isdigit():
                i += 1
            continue
        if c in "([":
            flush()
            end = _skip_group(pattern, i)
            if end < 0:
                return None
            i = end
            continue
        if c in ".^$)]{}":
            flush()
            i += 1
            continue
        current.append(c)
        i += 1
    flush()
    best = max(runs, key=lambda r: len(r.encode("utf-8")), default="")
    data = best.encode("utf-8")
    return data if len(data) >= 2 else None


def _skip_group(pattern: str, i: int) -> int:
    """The index just past the group or class opening at `i`, or -1 if unbalanced."""
    depth = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]" and pattern[i - 1] != "[" and pattern[i - 2 : i] != "[^":
                in_class = False
                if depth == 0:
                    return i + 1
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def compile_path_filter(pattern: str) -> Callable[[str], bool]:
    """A predicate "the regex `pattern` occurs in this path", on RE2 (paths are untrusted too)."""
    matcher = compile_pattern(pattern)

    def matches(path: str) -> bool:
        data = path.encode("utf-8")
        return matcher.search(data, 0, len(data)) is not None

    return matches


def _explain(pattern: str, exc: Exception) -> ContextError:
    detail = exc.args[0] if exc.args else str(exc)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", errors="replace")
    try:
        re.compile(pattern)
    except re.error as py_exc:
        return ContextError(f"invalid regex {pattern!r}: {py_exc}")
    return ContextError(
        f"regex {pattern!r} uses syntax the linear-time engine (RE2) does not support ({detail}); "
        "backreferences and lookaround are refused because they can take exponential time. "
        "Rewrite the pattern, grep for a simpler one and filter the matches in code, "
        "or pass literal=True"
    )
