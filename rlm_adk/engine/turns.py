"""Recovering an agent's model turn (root or child) after the model failed.

Sub-calls are retried by `SubcallPool`; an agent's own turns go through ADK's flow, where an
exception would end the whole request without an answer. A failed turn is retried here with the
same back-off and per-call timeout; when retries cannot save it, the agent stops with its best
answer and the reason (see `RLMAgent._recover`).

ADK's flow makes a turn's first attempt with the model client's own time-outs only; `TurnTimer`
bounds it with `subcall_timeout_seconds` too, so a model that accepts a request and never answers
cannot hold the request (see `RLMAgent._run_flow`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from rlm_adk.engine.budget import Budget
from rlm_adk.engine.calls import ModelCallError, generate, is_transient, response_text

MAX_REASON_CHARS = 300
_T = TypeVar("_T")


class TurnTimedOut(Exception):
    """The model was given a turn and did not answer within its time limit."""


class TurnTimer:
    """A deadline on the model turn in flight, enforced where ADK's flow is awaited.

    Armed when a turn is admitted and disarmed when its response (or error) arrives; while armed,
    waiting on the flow past the deadline cancels the model call inside it.
    """

    def __init__(self) -> None:
        self._deadline: float | None = None
        self._timeout: asyncio.Timeout | None = None
        self.seconds = 0.0
        """The limit of the turn armed last."""

    def arm(self, seconds: float) -> None:
        self.seconds = seconds
        self._deadline = asyncio.get_running_loop().time() + seconds
        if self._timeout is not None:
            self._timeout.reschedule(self._deadline)

    def disarm(self) -> None:
        self._deadline = None
        if self._timeout is not None:
            self._timeout.reschedule(None)

    async def next(self, flow: AsyncIterator[_T]) -> _T:
        """The flow's next item; `TurnTimedOut` when an armed turn outlives its deadline."""
        timeout = asyncio.timeout_at(self._deadline)
        self._timeout = timeout
        try:
            async with timeout:
                return await anext(flow)
        except TimeoutError:
            if not timeout.expired():
                raise
            self._deadline = None
            raise TurnTimedOut(f"the model did not answer within {self.seconds:g} s") from None
        finally:
            self._timeout = None


def turn_seconds(budget: Budget) -> float:
    """How long one model turn may take: the per-call timeout, within the request's deadline."""
    timeout = budget.config.subcall_timeout_seconds
    remaining = budget.remaining_seconds()
    return timeout if remaining is None else max(0.0, min(timeout, remaining))


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
        timeout = turn_seconds(budget)
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
