"""RLMPlugin: app-level limits (stricter wins), usage records, trajectories; nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from google.adk.agents.llm_agent import LlmAgent
from google.adk.apps.app import App

from rlm_adk import RLMAgent, RLMConfig, RLMPlugin, open_text
from rlm_adk.plugin import UsageRecord
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, call, code, prompt_text, text

FAN_OUT = (
    "r = await llm_batch(['q'] * 20)\nprint(sum(1 for x in r if x.startswith('ERROR')), 'errors')"
)


def finalizer(request: Any):
    return text("final: " + prompt_text(request)[-80:])


def make_agent(config: RLMConfig | None = None) -> tuple[RLMAgent, ScriptedLlm, ScriptedLlm]:
    root = ScriptedLlm.of(code(FAN_OUT), finalizer, model="scripted-root")
    sub = ScriptedLlm.of(fallback=lambda req: text("ok", tokens=(4, 2)), model="scripted-sub")
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=sub,
        config=config or RLMConfig(),
        context=open_text("x"),
    )
    return agent, root, sub


async def test_plugin_limits_cap_the_agents_own():
    agent, root, sub = make_agent(RLMConfig(max_llm_calls=500))
    records: list[UsageRecord] = []
    plugin = RLMPlugin(max_llm_calls=8, on_usage=records.append)
    result = await run_once(app=App(name="app", root_agent=agent, plugins=[plugin]))
    await agent.close()
    # 1 root turn + 6 sub-calls + the reserved final turn = 8.
    assert result.usage["limit_reached"] == "max_llm_calls"
    assert result.usage["usage"]["calls"] == 8
    assert len(sub.records) == 6
    assert "14 errors" in prompt_text(root.requests[1])
    (record,) = records
    assert plugin.last_usage is record and list(plugin.usage_log) == [record]
    assert record.request_id == result.usage["request_id"]
    assert record.session_id == result.session_id and record.app_name == "app"
    assert record.agent_name == "rlm"
    assert record.usage == result.usage["usage"]
    assert record.summary["limit_reached"] == "max_llm_calls"


async def test_plugin_never_loosens_an_agents_limit():
    agent, _, sub = make_agent(RLMConfig(max_llm_calls=5))
    plugin = RLMPlugin(max_llm_calls=1000, max_cost_usd=50.0)
    result = await run_once(app=App(name="app", root_agent=agent, plugins=[plugin]))
    await agent.close()
    assert result.usage["usage"]["calls"] == 5
    assert len(sub.records) == 3


async def test_plugin_without_limits_changes_nothing_the_models_see(tmp_path):
    plain_agent, plain_root, plain_sub = make_agent()
    await run_once(plain_agent, "question")
    await plain_agent.close()

    agent, root, sub = make_agent()
    plugin = RLMPlugin(trajectory_dir=str(tmp_path))
    result = await run_once(
        app=App(name="app", root_agent=agent, plugins=[plugin]), message="question"
    )
    await agent.close()

    def seen(llm: ScriptedLlm) -> list[str]:
        return [prompt_text(r) + repr(sorted(r.tools_dict)) for r in llm.requests]

    assert seen(root) == seen(plain_root)
    assert seen(sub) == seen(plain_sub)
    assert result.usage["limit_reached"] is None
    (path,) = tmp_path.glob("*.jsonl")
    assert plugin.last_usage is not None and plugin.last_usage.trajectory_path == str(path)


async def test_rlm_agent_nested_in_an_app_finds_the_plugin():
    """An RLM agent as a sub-agent of a plain LlmAgent still gets the app's plugin."""
    agent, _, _ = make_agent()
    router = LlmAgent(
        name="router",
        model=ScriptedLlm.of(call("transfer_to_agent", {"agent_name": "rlm"}), model="scripted-r"),
        sub_agents=[agent],
    )
    plugin = RLMPlugin(max_llm_calls=4)
    result = await run_once(app=App(name="app", root_agent=router, plugins=[plugin]))
    await agent.close()
    assert result.usage["limit_reached"] == "max_llm_calls"
    assert plugin.last_usage is not None and plugin.last_usage.usage["calls"] == 4


def test_plugin_settings_are_checked_up_front():
    with pytest.raises(ValueError, match="caps only"):
        RLMPlugin(model="gemini-x")
    with pytest.raises(ValueError):
        RLMPlugin(max_llm_calls=0)
    plugin = RLMPlugin(
        max_tokens=1000,
        max_wall_seconds=30,
        capture_content=False,
        prices={"m": {"input_per_mtok": 1, "output_per_mtok": 2}},
    )
    capped = plugin.effective_config(RLMConfig(max_tokens=None, max_wall_seconds=10))
    assert capped.max_tokens == 1000 and capped.max_wall_seconds == 10
    assert capped.capture_content is False
    assert capped.prices["m"].output_per_mtok == 2


async def test_a_failing_usage_callback_does_not_break_the_run():
    def boom(record: UsageRecord) -> None:
        raise RuntimeError("reporting is down")

    agent, _, _ = make_agent()
    plugin = RLMPlugin(on_usage=boom)
    result = await run_once(app=App(name="app", root_agent=agent, plugins=[plugin]))
    await agent.close()
    assert result.text.startswith("final")
    assert plugin.last_usage is not None
