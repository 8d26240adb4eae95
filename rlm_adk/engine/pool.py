"""`SubcallPool`: bounded, retried, cancellable fan-out of model calls for one request."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from rlm_adk.engine.budget import Budget, LimitReached
from rlm_adk.engine.calls import ModelCallError, generate, is_transient, usage_of


@dataclass(slots=True)
class CallOutcome:
    """A finished call: its response and what it cost."""

    response: LlmResponse
    input_tokens: int
    output_tokens: int
    cost_usd: float
    retries: int


class SubcallPool:
    """Runs model calls for one request under a tree-wide concurrency limit.

    Calls wait for a slot (global, and per depth when configured), are admitted by the `Budget`,
    retried with exponential backoff and jitter on transient errors, and bounded by the per-call
    timeout and the request's deadline. Cancelling the caller cancels the call; nothing is left
    running.
    """

    def __init__(self, budget: Budget, *, sleep: Callable[[float], object] = asyncio.sleep) -> None:
        self.budget = budget
        cfg = budget.config
        self._slots = asyncio.Semaphore(cfg.max_concurrency)
        self._depth_slots = {
            depth: asyncio.Semaphore(limit)
            for depth, limit in cfg.max_concurrency_per_depth.items()
        }
        self._child_slots: dict[int, asyncio.Semaphore] = {}
        self._sleep = sleep
        self.in_flight = 0
        self.done = 0
        self.peak_in_flight = 0

    @contextlib.asynccontextmanager
    async def slot(self, depth: int) -> AsyncIterator[None]:
        """One place among the calls in flight (tree-wide, and at `depth` when limited)."""
        depth_slot = self._depth_slots.get(depth)
        async with contextlib.AsyncExitStack() as stack:
            if depth_slot is not None:
                await stack.enter_async_context(depth_slot)
            await stack.enter_async_context(self._slots)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1
                self.done += 1

    @contextlib.asynccontextmanager
    async def child_slot(self, depth: int) -> AsyncIterator[None]:
        """Bounds child agents running at once at `depth`.

        Slots are per depth, so a parent waiting on its children never holds a slot its children
        need (no deadlock however deep the tree).
        """
        sem = self._child_slots.get(depth)
        if sem is None:
            sem = self._child_slots[depth] = asyncio.Semaphore(
                self.budget.config.max_children_in_flight
            )
        async with sem:
            yield

    def _timeout(self) -> float:
        timeout = self.budget.config.subcall_timeout_seconds
        remaining = self.budget.remaining_seconds()
        return timeout if remaining is None else max(0.0, min(timeout, remaining))

    async def call(
        self,
        llm: BaseLlm,
        request: LlmRequest,
        *,
        node_id: str,
        depth: int,
        model_name: str,
        estimated_input_tokens: int,
        slot_held: bool = False,
    ) -> CallOutcome:
        """Admits, runs and settles one call; raises `LimitReached` or `ModelCallError`.

        `slot_held`: the caller already holds a `slot` (it prepared the prompt inside it).
        """
        cfg = self.budget.config
        async with contextlib.AsyncExitStack() as stack:
            if not slot_held:
                await stack.enter_async_context(self.slot(depth))
            lease = self.budget.admit(node_id, model_name, estimated_input_tokens)
            retries = 0
            try:
                while True:
                    try:
                        timeout = self._timeout()
                        if timeout <= 0:
                            self.budget.check_deadline()
                        async with asyncio.timeout(timeout):
                            response = await generate(llm, request)
                        break
                    except (asyncio.CancelledError, LimitReached):
                        raise
                    except Exception as exc:
                        if isinstance(exc, TimeoutError):
                            # The deadline, not the model, may have expired.
                            self.budget.check_deadline()
                        if retries >= cfg.max_retries or not is_transient(exc):
                            raise _as_call_error(exc, retries) from exc
                        delay = min(cfg.retry_max_delay, cfg.retry_initial_delay * (2**retries))
                        retries += 1
                        await self._sleep(delay * random.uniform(0.5, 1.0))
            except BaseException:
                self.budget.settle(lease, failed=True, retries=retries)
                raise
            input_tokens, output_tokens = usage_of(response)
            cost = self.budget.settle(lease, input_tokens, output_tokens, retries=retries)
            return CallOutcome(response, input_tokens, output_tokens, cost, retries)


def _as_call_error(exc: BaseException, retries: int) -> ModelCallError:
    if isinstance(exc, ModelCallError) and not retries:
        return exc
    if isinstance(exc, TimeoutError):
        message = "the model call timed out"
    else:
        message = str(exc) or type(exc).__name__
    suffix = f" (after {retries} retries)" if retries else ""
    return ModelCallError(f"{message}{suffix}", transient=is_transient(exc))
