"""OpenTelemetry for the recursion tree: the `rlm_adk` tracer and span helpers.

Spans nest under ADK's own (`invoke_agent`, `execute_tool`, ...) through the current context, which
asyncio tasks, `asyncio.to_thread` and Monty's host callbacks all carry. Telemetry is never
required for the engine to run: with no provider configured the API's no-op tracer is used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

TRACER_NAME = "rlm_adk"
MAX_CONTENT_CHARS = 4_000


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def capture_content(setting: bool | None = None) -> bool:
    """Whether prompts, code and outputs go into spans (follows ADK's switch by default)."""
    if setting is not None:
        return setting
    raw = os.environ.get("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", "true").strip().lower()
    return raw not in {"0", "false", "no", "off"}


def clip(text: str, limit: int = MAX_CONTENT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Span]:
    """A span named `name` under the current one; exceptions mark it as an error."""
    attrs = {k: v for k, v in attributes.items() if v is not None}
    with tracer().start_as_current_span(
        name, attributes=attrs, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            current.set_attribute("error.type", type(exc).__name__)
            raise
