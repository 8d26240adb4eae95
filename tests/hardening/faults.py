"""Fault injection for models: a `BaseLlm` wrapper that fails a configurable share of calls the
ways real endpoints do (429, 500, timeouts, error codes, malformed and empty responses)."""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import AsyncGenerator

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import errors, types
from pydantic import PrivateAttr

FAULT_KINDS = ("429", "500", "timeout", "error_code", "malformed", "empty")
"""Faults any call may get; `hang` (never answers) is for sub-calls, which have a timeout."""


def _api_error(code: int, status: str) -> errors.APIError:
    body = {"error": {"code": code, "message": f"injected {status}", "status": status}}
    return errors.ClientError(code, body) if code < 500 else errors.ServerError(code, body)


def faulty_response(kind: str) -> LlmResponse:
    """A response a broken endpoint might send."""
    if kind == "error_code":
        return LlmResponse(error_code="503", error_message="injected: the model is overloaded")
    if kind == "malformed":
        # A part with nothing in it: no text, no call (what a garbled payload decodes to).
        return LlmResponse(content=types.Content(role="model", parts=[types.Part()]))
    # No candidates: no content at all.
    return LlmResponse(content=None, finish_reason=types.FinishReason.OTHER)


class FaultyLlm(BaseLlm):
    """Wraps `inner`; each call fails with probability `rate`, with a kind drawn from `kinds`.

    `injected` counts the faults by kind. Seeded, so a run's fault sequence is reproducible
    (which call gets which fault may vary with scheduling).
    """

    inner: BaseLlm
    rate: float = 0.3
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    _rng: random.Random = PrivateAttr(default_factory=random.Random)
    _injected: collections.Counter[str] = PrivateAttr(default_factory=collections.Counter)

    def model_post_init(self, __context: object) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def wrap(cls, inner: BaseLlm, rate: float, *, seed: int = 0, **kwargs: object) -> FaultyLlm:
        return cls(model=inner.model, inner=inner, rate=rate, seed=seed, **kwargs)

    @property
    def injected(self) -> collections.Counter[str]:
        return self._injected

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        if self._rng.random() < self.rate:
            kind = self._rng.choice(self.kinds)
            self._injected[kind] += 1
            if kind == "429":
                raise _api_error(429, "RESOURCE_EXHAUSTED")
            if kind == "500":
                raise _api_error(500, "INTERNAL")
            if kind == "timeout":
                raise TimeoutError("injected: the request timed out")
            if kind == "hang":
                await asyncio.sleep(3600)  # cancelled by the engine's per-call timeout
            yield faulty_response(kind)
            return
        async for response in self.inner.generate_content_async(llm_request, stream):
            yield response
