"""Recovering an agent's model turn (root or child) after the model failed.

Sub-calls are retried by `SubcallPool`; an agent's own turns go through ADK's flow, where an
exception would end the whole request without an answer. A failed turn is retried here with the
same back-off and per-call timeout; when retries cannot save it, the agent stops with its best
answer and the reason (see `RLMAgent._recover`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from rlm_adk.engine.budget import Budget
from rlm_adk.engine.calls import ModelCallError, generate, is_transient, response_text

MAX_REASON_CHARS = 300


def turn_failure(response: LlmResponse) -> ModelCallError | None:
    """Why a model response cannot be used as a turn (an error code, or nothing in it), if so."""
    if response.error_code:
        code = str(response.error_code)
        return ModelCallError(
            f"model error {code}: {response.error_message or 'no message'}",
            transient=code in {"429", "500", "502", "503", "504", "UNAVAILABLE"},
        )
    parts = response.content.parts if response.content and response.content.parts else []
    if not response_text(response) and not any(p.function_call for p in parts):
        reason = response.finish_reason.name if response.finish_reason else "no content"
        return ModelCallError(f"the model returned an empty response ({reason})", transient=True)
    return None


def describe(error: BaseException) -> str:
    """A short reason for a failed call (no traceback)."""
    if isinstance(error, TimeoutError):
        text = "the model call timed out"
    else:
        text = str(error) or type(error).__name__
    return text[:MAX_REASON_CHARS]


async def retry_turn(
    budget: Budget,
    llm: BaseLlm,
    request: LlmRequest,
    error: BaseException,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> tuple[LlmResponse | None, int, str]:
    """Retries a failed turn while its error is transient: `(response, retries, "")` once one
    succeeds, else `(None, retries, reason)`. Retries count once in the budget (the caller
    settles the turn's lease)."""
    cfg = budget.config
    retries = 0
    while is_transient(error) and retries < cfg.max_retries:
        delay = min(cfg.retry_max_delay, cfg.retry_initial_delay * (2**retries))
        retries += 1
        await sleep(delay * random.uniform(0.5, 1.0))
        remaining = budget.remaining_seconds()
        timeout = cfg.subcall_timeout_seconds
        if remaining is not None:
            timeout = min(timeout, remaining)
        if timeout <= 0:
            break
        try:
            async with asyncio.timeout(timeout):
                response = await generate(llm, request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
            continue
        return response, retries, ""
    suffix = f" (after {retries} retries)" if retries else ""
    return None, retries, describe(error) + suffix
