"""Reading finished spans as a tree: parents, ancestors, and the recursion tree they encode."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


class SpanTree:
    """Finished spans indexed by id, with parent and ancestor lookups."""

    def __init__(self, spans: Iterable[ReadableSpan]) -> None:
        self.spans: list[ReadableSpan] = sorted(spans, key=lambda s: s.start_time or 0)
        self.by_id: dict[int, ReadableSpan] = {s.context.span_id: s for s in self.spans}

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def rlm(self) -> list[ReadableSpan]:
        """Spans of the `rlm_adk` tracer."""
        return [s for s in self.spans if s.instrumentation_scope.name == "rlm_adk"]

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        return self.by_id.get(span.parent.span_id) if span.parent else None

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        """Nearest first; stops at a parent that was not exported (there should be none)."""
        out: list[ReadableSpan] = []
        current = self.parent(span)
        while current is not None:
            out.append(current)
            current = self.parent(current)
        return out

    def nearest(self, span: ReadableSpan, name: str) -> ReadableSpan | None:
        return next((a for a in self.ancestors(span) if a.name == name), None)

    def chain(self, span: ReadableSpan) -> list[str]:
        """Names of the span's ancestors, nearest first."""
        return [a.name for a in self.ancestors(span)]

    def trace_ids(self) -> set[int]:
        return {s.context.trace_id for s in self.spans}

    def orphans(self) -> list[ReadableSpan]:
        """Spans whose parent id names a span that is not in the set."""
        return [s for s in self.spans if s.parent and s.parent.span_id not in self.by_id]


def attr(span: ReadableSpan, key: str) -> Any:
    return (span.attributes or {}).get(key)


def in_order(chain: Sequence[str], expected: Sequence[str]) -> bool:
    """Whether `expected` appears in `chain` as a subsequence (gaps allowed, order kept)."""
    it = iter(chain)
    return all(any(name == want for name in it) for want in expected)
