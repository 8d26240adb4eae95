"""Tree-wide budget: each limit stops the tree with a clear reason and exact counts."""

from __future__ import annotations

import asyncio

import pytest
from google.adk.models.llm_response import LlmResponse

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.engine.budget import Budget, LimitReached
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, has_tools, prompt_text, text, usage

FAN_OUT = (
    "r = await llm_batch(['q'] * 50)\nprint(sum(1 for x in r if x.startswith('ERROR')), 'errors')"
)


def sub_answer(request) -> LlmResponse:
    resp = text("ok", tokens=(100, 10))
    return resp


def finalizer(request) -> LlmResponse:
    return text("final from what I have: " + prompt_text(request)[-300:])


async def test_max_llm_calls_stops_subcalls_and_root_answers_with_reserved_call():
    root = ScriptedLlm.of(code(FAN_OUT), finalizer)
    sub = ScriptedLlm.of(fallback=sub_answer, model="scripted-sub")
    config = RLMConfig(max_llm_calls=12)
    agent = RLMAgent(name="rlm", model=root, sub_model=sub, config=config, context=open_text("x"))
    result = await run_once(agent, "q")
    summary = result.usage
    # 1 root turn + 10 sub-calls + the reserved final turn = 12: never more.
    assert summary["usage"]["calls"] == 12
    assert len(sub.records) == 10
    assert summary["limit_reached"] == "max_llm_calls"
    assert "40 errors" in prompt_text(root.requests[1])
    assert "limit has been reached" in prompt_text(root.requests[1])
    assert result.text.startswith("final from what I have")
    # The final turn had no tools.
    assert not has_tools(root.requests[1])
    await agent.close()


def honest_sub(request) -> LlmResponse:
    """Reports usage equal to the engine's admission estimate (prompt chars / 4 + 1, 10 out)."""
    return text("ok", tokens=(len(prompt_text(request)) // 4 + 1, 10))


async def test_max_tokens_refuses_calls_that_would_exceed_and_counts_exactly():
    root = ScriptedLlm.of(code(FAN_OUT, tokens=(1000, 20)), finalizer)
    sub = ScriptedLlm.of(fallback=honest_sub, model="scripted-sub")
    # Admission reserves prompt/4 + estimated_output_tokens per call; with usage matching the
    # estimate, concurrent calls can never overshoot together.
    config = RLMConfig(max_tokens=1500, estimated_output_tokens=10, max_concurrency=4)
    agent = RLMAgent(name="rlm", model=root, sub_model=sub, config=config, context=open_text("x"))
    result = await run_once(agent, "q")
    summary = result.usage
    assert summary["limit_reached"] == "max_tokens"
    n = len(sub.records)
    assert 0 < n < 50
    assert summary["usage"]["input_tokens"] == 1000 + 1 * n
    assert summary["usage"]["output_tokens"] == 20 + 10 * n
    assert summary["usage"]["tokens"] <= 1500
    # After a token/cost stop the root makes no further call: its answer is synthesized.
    assert len(root.records) == 1
    assert result.text.startswith("[stopped: max_tokens]")
    await agent.close()


async def test_max_cost_uses_price_table():
    root = ScriptedLlm.of(code(FAN_OUT), finalizer, model="scripted-root")
    sub = ScriptedLlm.of(fallback=honest_sub, model="scripted-sub")
    config = RLMConfig(
        max_cost_usd=0.01,
        max_concurrency=1,
        estimated_output_tokens=10,
        prices={
            "scripted-sub": {"input_per_mtok": 1_000, "output_per_mtok": 0},
            "scripted-root": {"input_per_mtok": 0, "output_per_mtok": 0},
        },
    )
    agent = RLMAgent(name="rlm", model=root, sub_model=sub, config=config, context=open_text("x"))
    result = await run_once(agent, "q")
    summary = result.usage
    assert summary["limit_reached"] == "max_cost_usd"
    # Each sub-call reports 1 input token at $1,000 per million: $0.001.
    assert len(sub.records) in (9, 10)  # the tenth may be refused by float rounding
    assert summary["usage"]["cost_usd"] == pytest.approx(0.001 * len(sub.records))
    assert summary["usage"]["cost_usd"] <= 0.01
    await agent.close()


async def test_deadline_stops_the_tree():
    root = ScriptedLlm.of(code(FAN_OUT), finalizer)
    # Sub-calls far longer than the deadline, and a deadline long enough for them to have
    # started even on a loaded machine: some are in flight when it strikes.
    sub = ScriptedLlm.of(fallback=sub_answer, model="scripted-sub", latency=30.0)
    config = RLMConfig(max_wall_seconds=1.0, max_concurrency=2)
    agent = RLMAgent(name="rlm", model=root, sub_model=sub, config=config, context=open_text("x"))
    result = await asyncio.wait_for(run_once(agent, "q"), 20)
    assert result.usage["limit_reached"] == "max_wall_seconds"
    assert result.text.startswith("[stopped: max_wall_seconds]")
    # In-flight sub-calls were cancelled at the deadline and counted as failed calls.
    assert result.usage["usage"]["failed_calls"] >= 1
    await agent.close()


async def test_max_iterations_forces_a_final_tool_less_turn():
    loop = ScriptedLlm.of(
        fallback=lambda req: code("print(1)") if has_tools(req) else text("gave up")
    )
    agent = RLMAgent(
        name="rlm", model=loop, config=RLMConfig(max_iterations=3), context=open_text("x")
    )
    result = await run_once(agent, "q")
    assert result.text == "gave up"
    assert len(loop.records) == 4
    assert result.usage["limit_reached"] == "max_iterations"
    await agent.close()


def test_budget_admission_is_exact_under_concurrency():
    budget = Budget(RLMConfig(max_llm_calls=5))
    leases = [budget.admit("n", "m", 10) for _ in range(4)]
    with pytest.raises(LimitReached) as info:
        budget.admit("n", "m", 10)
    assert info.value.reason == "max_llm_calls"
    final = budget.admit("n", "m", 10, final=True)
    with pytest.raises(LimitReached):
        budget.admit("n", "m", 10, final=True)
    for lease in [*leases, final]:
        budget.settle(lease, 3, 2)
        budget.settle(lease, 3, 2)  # settling twice counts once
    assert budget.usage.calls == 5
    assert budget.usage.tokens == 25


def test_child_usage_rolls_up_to_request_and_node():
    from rlm_adk.engine.budget import NodeInfo

    budget = Budget(RLMConfig())
    budget.register(NodeInfo("root", None, 0, "root"))
    budget.register(NodeInfo("c1", "root", 1, "call"))
    lease = budget.admit("c1", "m", 1)
    budget.settle(lease, 7, 3)
    assert budget.node("c1").usage.tokens == 10
    assert budget.usage.tokens == 10
    assert [n.node_id for n in budget.children_of("root")] == ["c1"]


async def test_llm_usage_metadata_drives_accounting():
    root = ScriptedLlm.of(
        code("print(await llm_query('hi'))", tokens=(11, 7)), text("a", tokens=(13, 2))
    )
    sub = ScriptedLlm.of(
        LlmResponse(
            content=text("yo").content,
            usage_metadata=usage(5, 3),
        ),
        model="scripted-sub",
    )
    agent = RLMAgent(name="rlm", model=root, sub_model=sub, context=open_text("x"))
    result = await run_once(agent, "q")
    assert result.usage["usage"]["input_tokens"] == 11 + 13 + 5
    assert result.usage["usage"]["output_tokens"] == 7 + 2 + 3
    assert result.usage["usage"]["calls"] == 3
    await agent.close()
