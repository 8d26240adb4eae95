"""Scripted models in ADK's own test pattern: `BaseLlm` subclasses that replay canned responses
(text, function calls, usage metadata) or compute them from the request, and record every call."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import PrivateAttr

# The same readings of a request as the benchmarks' simulated models.
from rlm_adk.bench.sim import last_output as last_tool_output  # noqa: F401 - for the tests
from rlm_adk.bench.sim import request_text as prompt_text

Handler = Callable[[LlmRequest], "LlmResponse | Awaitable[LlmResponse]"]
_call_ids = itertools.count(1)


def usage(input_tokens: int, output_tokens: int) -> types.GenerateContentResponseUsageMetadata:
    return types.GenerateContentResponseUsageMetadata(
        prompt_token_count=input_tokens,
        candidates_token_count=output_tokens,
        total_token_count=input_tokens + output_tokens,
    )


def text(answer: str, tokens: tuple[int, int] = (10, 5)) -> LlmResponse:
    """A final text reply."""
    return LlmResponse(
        content=types.Content(role="model", parts=[types.Part.from_text(text=answer)]),
        usage_metadata=usage(*tokens),
    )


def call(
    name: str, args: dict[str, Any], *, say: str | None = None, tokens: tuple[int, int] = (10, 5)
) -> LlmResponse:
    """A function call (optionally with text in the same turn)."""
    parts = [types.Part.from_text(text=say)] if say else []
    parts.append(
        types.Part(
            function_call=types.FunctionCall(id=f"call-{next(_call_ids)}", name=name, args=args)
        )
    )
    return LlmResponse(
        content=types.Content(role="model", parts=parts), usage_metadata=usage(*tokens)
    )


def code(source: str, *, say: str | None = None, tokens: tuple[int, int] = (10, 5)) -> LlmResponse:
    """A `run_code` call."""
    return call("run_code", {"code": source}, say=say, tokens=tokens)


def has_tools(request: LlmRequest) -> bool:
    return bool(request.tools_dict)


@dataclass
class CallRecord:
    request: LlmRequest
    start: float
    end: float = 0.0


class ScriptedLlm(BaseLlm):
    """Replays `script` in order (items are responses or handlers), then `fallback` if set.

    Every request is recorded with start and end times (`records`), so tests can show overlap
    from recorded events rather than from wall-clock asserts.
    """

    model: str = "scripted-model"
    latency: float = 0.0
    _script: list[LlmResponse | Handler] = PrivateAttr(default_factory=list)
    _fallback: Handler | None = PrivateAttr(default=None)
    _records: list[CallRecord] = PrivateAttr(default_factory=list)
    _failures: list[BaseException] = PrivateAttr(default_factory=list)

    @classmethod
    def of(
        cls,
        *script: LlmResponse | Handler,
        fallback: Handler | None = None,
        model: str = "scripted-model",
        latency: float = 0.0,
        failures: list[BaseException] | None = None,
    ) -> ScriptedLlm:
        llm = cls(model=model, latency=latency)
        llm._script = list(script)
        llm._fallback = fallback
        llm._failures = list(failures or [])
        return llm

    @classmethod
    def supported_models(cls) -> list[str]:
        return [r"scripted-.*"]

    @property
    def records(self) -> list[CallRecord]:
        return self._records

    @property
    def requests(self) -> list[LlmRequest]:
        return [r.request for r in self._records]

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        snapshot = llm_request.model_copy(
            update={"contents": [c.model_copy(deep=True) for c in llm_request.contents]}
        )
        record = CallRecord(snapshot, time.monotonic())
        self._records.append(record)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self._failures:
                raise self._failures.pop(0)
            if self._script:
                item = self._script.pop(0)
            elif self._fallback is not None:
                item = self._fallback
            else:
                raise AssertionError(
                    f"{self.model}: script exhausted; request was {prompt_text(llm_request)[:300]!r}"
                )
            response = item(llm_request) if callable(item) else item
            if asyncio.iscoroutine(response):
                response = await response
        finally:
            record.end = time.monotonic()
        yield response


def max_overlap(records: list[CallRecord]) -> int:
    """The largest number of calls in flight at one instant, from recorded start/end events."""
    events = sorted(
        [(r.start, 1) for r in records] + [(r.end, -1) for r in records], key=lambda e: (e[0], e[1])
    )
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak
