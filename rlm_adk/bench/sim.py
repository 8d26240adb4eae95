"""Simulated ADK models for the benchmarks: a scripted root program and a computing sub-model.

`ProgramRoot` replays a fixed list of `run_code` cells, then answers with a value computed from
the last tool output (so a benchmark run is checked end to end). `CountingSubLlm` sleeps a fixed
latency and answers with the number of times a word occurs in its prompt, so every sub-call's
answer is known. Both report token usage (characters / 4), like a real model would.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator, Callable

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import PrivateAttr

from rlm_adk.bench.drivers.common import count_reply

_ids = itertools.count(1)


def _usage(input_chars: int, output_chars: int) -> types.GenerateContentResponseUsageMetadata:
    i, o = input_chars // 4 + 1, output_chars // 4 + 1
    return types.GenerateContentResponseUsageMetadata(
        prompt_token_count=i, candidates_token_count=o, total_token_count=i + o
    )


def request_texts(request: LlmRequest) -> list[str]:
    """The user-visible texts of a request (user parts and function responses), part by part."""
    out: list[str] = []
    for content in request.contents:
        for part in content.parts or []:
            if part.text:
                out.append(part.text)
            elif part.function_response is not None:
                out.append(str(part.function_response.response))
    return out


def request_text(request: LlmRequest) -> str:
    """The user-visible text of a request, joined."""
    return "\n".join(request_texts(request))


def last_output(request: LlmRequest) -> str:
    """The `output` of the latest function response in the request."""
    for content in reversed(request.contents):
        for part in content.parts or []:
            if part.function_response is not None:
                response = part.function_response.response or {}
                return str(response.get("output", response))
    return ""


def _tool_turns(request: LlmRequest) -> int:
    return sum(
        1
        for content in request.contents
        for part in content.parts or []
        if part.function_response is not None
    )


class ProgramRoot(BaseLlm):
    """Root model: turn i (0-based) calls `run_code(cells[i])`; after the last cell it answers
    `final(last tool output)` as text. The turn is read from the request's history, so the
    same instance serves any number of sequential runs."""

    model: str = "sim-root"
    _cells: list[str] = PrivateAttr(default_factory=list)
    # A list, not a bare callable: pydantic would bind a callable default as a method.
    _final: list[Callable[[str], str]] = PrivateAttr(default_factory=list)
    _stamps: list[float] = PrivateAttr(default_factory=list)

    @property
    def stamps(self) -> list[float]:
        """`time.perf_counter()` at each call (per-turn overhead is measured from these)."""
        return self._stamps

    @classmethod
    def of(cls, cells: list[str], final: Callable[[str], str]) -> ProgramRoot:
        root = cls()
        root._cells = list(cells)
        root._final = [final]
        return root

    @classmethod
    def supported_models(cls) -> list[str]:
        return [r"sim-.*"]

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        self._stamps.append(time.perf_counter())
        turn = _tool_turns(llm_request)
        tools_allowed = bool(llm_request.tools_dict)
        if turn < len(self._cells) and tools_allowed:
            part = types.Part(
                function_call=types.FunctionCall(
                    id=f"sim-{next(_ids)}", name="run_code", args={"code": self._cells[turn]}
                )
            )
            out_chars = len(self._cells[turn])
        else:
            answer = self._final[0](last_output(llm_request))
            part = types.Part.from_text(text=answer)
            out_chars = len(answer)
        yield LlmResponse(
            content=types.Content(role="model", parts=[part]),
            usage_metadata=_usage(_request_chars(llm_request), out_chars),
        )


class CountingSubLlm(BaseLlm):
    """Sub-model: sleeps `latency` seconds, then replies with the count of the benchmark word in
    its prompt (minus the instruction's own mention)."""

    model: str = "sim-sub"
    latency: float = 0.0

    @classmethod
    def supported_models(cls) -> list[str]:
        return [r"sim-.*"]

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        # Part by part: the same per-byte work as for a system that sends one joined string.
        texts = request_texts(llm_request)
        reply = count_reply(texts)
        yield LlmResponse(
            content=types.Content(role="model", parts=[types.Part.from_text(text=reply)]),
            usage_metadata=_usage(sum(map(len, texts)), len(reply)),
        )


def _request_chars(request: LlmRequest) -> int:
    total = len(request_text(request))
    config = request.config
    if config is not None and isinstance(config.system_instruction, str):
        total += len(config.system_instruction)
    return total
