"""One plain model call: request building, response reading and transient-error detection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from rlm_adk.models import is_transient_error, usage_of

_TRANSIENT_CODES = {"429", "500", "502", "503", "504", "RESOURCE_EXHAUSTED", "UNAVAILABLE"}

__all__ = [
    "ModelCallError",
    "generate",
    "is_transient",
    "plain_request",
    "response_text",
    "usage_of",
]


class ModelCallError(Exception):
    """A model call failed; `transient` says whether retrying may help."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def is_transient(exc: BaseException) -> bool:
    """Whether a failed call is worth retrying (rate limits, server errors, timeouts)."""
    if isinstance(exc, ModelCallError):
        return exc.transient
    return is_transient_error(exc)


def plain_request(
    model_name: str, prompt: str | Sequence[str], system: str | None = None
) -> LlmRequest:
    """A tool-less, single-turn request; a prompt in pieces becomes one `Part` per piece."""
    pieces = [prompt] if isinstance(prompt, str) else prompt
    config = types.GenerateContentConfig()
    if system:
        config.system_instruction = system
    return LlmRequest(
        model=model_name,
        contents=[types.Content(role="user", parts=[types.Part.from_text(text=p) for p in pieces])],
        config=config,
    )


def response_text(response: LlmResponse) -> str:
    """The visible text of a response (thoughts excluded)."""
    if response.content is None or not response.content.parts:
        return ""
    return "".join(p.text or "" for p in response.content.parts if p.text and not p.thought)


async def generate(llm: BaseLlm, request: LlmRequest) -> LlmResponse:
    """Runs one non-streaming call and returns its final response, or raises `ModelCallError`."""
    final: LlmResponse | None = None
    async for response in llm.generate_content_async(request, stream=False):
        if not response.partial:
            final = response
    if final is None:
        raise ModelCallError("the model returned no response", transient=True)
    if final.error_code:
        code = str(final.error_code)
        raise ModelCallError(
            f"model error {code}: {final.error_message or 'no message'}",
            transient=code in _TRANSIENT_CODES,
        )
    if not response_text(final) and not _has_calls(final):
        reason = final.finish_reason.name if final.finish_reason else "no content"
        raise ModelCallError(f"the model returned an empty response ({reason})", transient=True)
    return final


def _has_calls(response: LlmResponse) -> bool:
    parts: list[Any] = response.content.parts if response.content and response.content.parts else []
    return any(p.function_call for p in parts)


def estimate_tokens(text_chars: int) -> int:
    """A cheap upper-ish estimate of tokens for admission (about 4 characters per token)."""
    return text_chars // 4 + 1
