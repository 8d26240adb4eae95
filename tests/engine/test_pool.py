"""SubcallPool: retries with backoff on transient errors, per-item batch errors, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.engine.budget import Budget
from rlm_adk.engine.calls import ModelCallError, plain_request
from rlm_adk.engine.pool import SubcallPool
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, prompt_text, text


class Http429(Exception):
    code = 429


class Http400(Exception):
    code = 400


def no_sleep_pool(config: RLMConfig) -> tuple[SubcallPool, list[float]]:
    delays: list[float] = []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)

    return SubcallPool(Budget(config), sleep=fake_sleep), delays


async def test_transient_errors_are_retried_with_growing_backoff():
    pool, delays = no_sleep_pool(RLMConfig(max_retries=4, retry_initial_delay=1.0))
    llm = ScriptedLlm.of(
        text("fine"), failures=[Http429("slow down"), TimeoutError(), Http429("again")]
    )
    outcome = await pool.call(
        llm,
        plain_request(llm.model, "hi"),
        node_id="n",
        depth=1,
        model_name=llm.model,
        estimated_input_tokens=1,
    )
    assert outcome.retries == 3
    assert len(llm.records) == 4
    # Exponential with jitter in [0.5, 1.0] of 1, 2, 4 seconds.
    assert [0.5 <= d / base <= 1.0 for d, base in zip(delays, [1, 2, 4], strict=True)] == [True] * 3
    assert pool.budget.usage.calls == 1
    assert pool.budget.usage.retries == 3


async def test_permanent_errors_are_not_retried():
    pool, delays = no_sleep_pool(RLMConfig())
    llm = ScriptedLlm.of(text("never"), failures=[Http400("bad request")])
    with pytest.raises(ModelCallError, match="bad request"):
        await pool.call(
            llm,
            plain_request(llm.model, "hi"),
            node_id="n",
            depth=1,
            model_name=llm.model,
            estimated_input_tokens=1,
        )
    assert delays == []
    assert pool.budget.usage.failed_calls == 1


async def test_retries_give_up_after_max_retries():
    pool, delays = no_sleep_pool(RLMConfig(max_retries=2))
    llm = ScriptedLlm.of(failures=[Http429("a"), Http429("b"), Http429("c")])
    with pytest.raises(ModelCallError, match=r"after 2 retries"):
        await pool.call(
            llm,
            plain_request(llm.model, "hi"),
            node_id="n",
            depth=1,
            model_name=llm.model,
            estimated_input_tokens=1,
        )
    assert len(delays) == 2


async def test_batch_item_failures_are_strings_not_exceptions():
    def sub(request):
        body = prompt_text(request)
        if "bad" in body:
            raise Http400("refused this prompt")
        return text(body.upper())

    root = ScriptedLlm.of(
        code("r = await llm_batch(['a', 'bad', 'c'])\nprint(r)"), lambda req: text("done")
    )
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=ScriptedLlm.of(fallback=sub, model="scripted-sub"),
        context=open_text("x"),
    )
    await run_once(agent, "q")
    output = prompt_text(root.requests[1])
    assert "'A', 'ERROR: refused this prompt', 'C'" in output
    await agent.close()


async def test_llm_query_failure_raises_inside_the_sandbox():
    def sub(request):
        raise Http400("nope")

    root = ScriptedLlm.of(
        code("try:\n    await llm_query('x')\nexcept RuntimeError as e:\n    print('caught', e)"),
        lambda req: text("done"),
    )
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=ScriptedLlm.of(fallback=sub, model="scripted-sub"),
        context=open_text("x"),
    )
    await run_once(agent, "q")
    assert "caught llm_query failed: nope" in prompt_text(root.requests[1])
    await agent.close()


async def test_cancelling_the_request_cancels_the_whole_fan_out():
    started = asyncio.Event()

    async def slow(request):
        started.set()
        await asyncio.sleep(30)
        return text("late")

    sub = ScriptedLlm.of(fallback=slow, model="scripted-sub")
    root = ScriptedLlm.of(code("r = await llm_batch(['q'] * 20)"), lambda req: text("never"))
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=sub,
        config=RLMConfig(max_concurrency=8),
        context=open_text("x"),
    )
    before = {t for t in asyncio.all_tasks()}
    task = asyncio.create_task(run_once(agent, "q"))
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    leftover = {t for t in asyncio.all_tasks() if t not in before and not t.done()}
    leftover.discard(asyncio.current_task())
    assert leftover == set()
    # Every started sub-call ended (cancelled), none is still running.
    assert all(r.end for r in sub.records)
    assert len(sub.records) == 8
    await agent.close()
