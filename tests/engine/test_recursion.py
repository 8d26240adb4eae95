"""Recursion: children are ADK agents with their own REPLs; at max_depth a spawn is a plain call."""

from __future__ import annotations

from google.adk.models.llm_response import LlmResponse

from rlm_adk import RLMAgent, RLMConfig, open_text
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, has_tools, max_overlap, prompt_text, text

CORPUS = {"a.txt": "alpha " * 100, "b.txt": "beta " * 200, "c.txt": "gamma " * 300}


def child_or_plain(request) -> LlmResponse:
    """Sub-model: as a child agent, report its context's size from code; as a plain call, echo."""
    body = prompt_text(request)
    if has_tools(request):
        if "output" in body and "answer submitted" not in body:
            return text("unexpected")
        return code("submit(f'size={context.size} files={len(context.files)}')")
    return text(f"plain:{len(body)}")


async def test_children_run_in_parallel_with_their_own_slices(spans):
    root = ScriptedLlm.of(
        code(
            "paths = [f.path for f in context.files]\n"
            "answers = await spawn_subagents([('measure', [p]) for p in paths])\n"
            "submit(answers)"
        )
    )
    sub = ScriptedLlm.of(fallback=child_or_plain, model="scripted-sub", latency=0.05)
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=sub,
        config=RLMConfig(max_depth=2),
        context=open_text(CORPUS),
    )
    result = await run_once(agent, "sizes?")
    assert result.text == ('["size=600 files=1", "size=1000 files=1", "size=1800 files=1"]')
    # Each child made one agent turn; the three turns overlapped.
    assert len(sub.records) == 3
    assert max_overlap(sub.records) == 3
    nodes = result.usage["nodes"]
    assert sorted(n["depth"] for n in nodes) == [0, 1, 1, 1]
    children = [n for n in nodes if n["depth"] == 1]
    root_id = next(n["node_id"] for n in nodes if n["depth"] == 0)
    assert all(n["kind"] == "agent" and n["parent_id"] == root_id for n in children)
    # Child agents ran as ADK agents: ADK's own spans exist for them.
    names = [s.name for s in spans.get_finished_spans()]
    assert sum(1 for n in names if n == "rlm.agent") == 4
    assert any(n.startswith("invoke_agent rlm__d1") for n in names)
    await agent.close()


async def test_spawn_at_depth_limit_is_a_plain_call():
    root = ScriptedLlm.of(
        code("r = await spawn_subagent('summarize', context='short text')\nsubmit(r)")
    )
    sub = ScriptedLlm.of(fallback=child_or_plain, model="scripted-sub")
    agent = RLMAgent(name="rlm", model=root, sub_model=sub, config=RLMConfig(max_depth=1))
    result = await run_once(agent, "q")
    assert result.text.startswith("plain:")
    assert not has_tools(sub.requests[0])
    assert "short text" in prompt_text(sub.requests[0])
    nodes = result.usage["nodes"]
    assert [n["kind"] for n in nodes if n["depth"] == 1] == ["call"]
    await agent.close()


async def test_grandchildren_become_plain_calls_at_max_depth():
    """max_depth=2: root (0) -> child agents (1) -> their spawns are plain calls (2)."""

    def sub_handler(request) -> LlmResponse:
        if has_tools(request):
            return code(
                "r = await spawn_subagent('inner', context='xyz')\nsubmit('child got ' + r)"
            )
        return text("leaf")

    root = ScriptedLlm.of(code("submit(await spawn_subagent('outer'))"))
    sub = ScriptedLlm.of(fallback=sub_handler, model="scripted-sub")
    agent = RLMAgent(
        name="rlm", model=root, sub_model=sub, config=RLMConfig(max_depth=2), context=open_text("c")
    )
    result = await run_once(agent, "q")
    assert result.text == "child got leaf"
    kinds = sorted((n["depth"], n["kind"]) for n in result.usage["nodes"])
    assert kinds == [(0, "root"), (1, "agent"), (2, "call")]
    await agent.close()


async def test_spawn_subagent_tool_runs_tasks_in_parallel():
    root = ScriptedLlm.of(
        lambda req: __import__("tests.scripted_model", fromlist=["call"]).call(
            "spawn_subagent",
            {"tasks": [{"task": "one", "paths": ["text/a.txt"]}, {"task": "two"}]},
        ),
        lambda req: text("done: " + prompt_text(req).split("answers")[-1][:200]),
    )
    sub = ScriptedLlm.of(fallback=child_or_plain, model="scripted-sub", latency=0.05)
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=sub,
        config=RLMConfig(max_depth=2),
        context=open_text(CORPUS),
    )
    result = await run_once(agent, "q")
    assert "size=600 files=1" in result.text
    assert "size=3400 files=3" in result.text
    assert max_overlap(sub.records) == 2
    await agent.close()
