"""Trajectory logs: one JSONL file per request in the reference RLM logger's schema (PyPI `rlms`
0.1.3: `rlm/logger/rlm_logger.py`, `rlm/core/types.py`), nested child trajectories included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.trajectory import TOOL_BLOCK_CODE
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, call, code, has_tools, prompt_text, text

# Keys written by rlms' RLMLogger and the to_dict() methods of rlm.core.types.
METADATA_KEYS = {
    "type",
    "timestamp",
    "root_model",
    "max_depth",
    "max_iterations",
    "backend",
    "backend_kwargs",
    "environment_type",
    "environment_kwargs",
    "other_backends",
}
ITERATION_KEYS = {
    "type",
    "iteration",
    "timestamp",
    "prompt",
    "response",
    "code_blocks",
    "final_answer",
    "iteration_time",
}
RESULT_KEYS = {"stdout", "stderr", "locals", "execution_time", "rlm_calls", "final_answer"}
CALL_KEYS = {"root_model", "prompt", "response", "usage_summary", "execution_time"}
MODEL_USAGE_KEYS = {"total_calls", "total_input_tokens", "total_output_tokens", "total_cost"}


def check_iteration(entry: dict[str, Any], number: int) -> None:
    """An iteration entry as the reference visualizer parses it."""
    assert set(entry) == ITERATION_KEYS
    assert entry["type"] == "iteration" and entry["iteration"] == number
    assert isinstance(entry["prompt"], list)
    assert all(set(m) == {"role", "content"} for m in entry["prompt"])
    assert isinstance(entry["response"], str)
    assert isinstance(entry["iteration_time"], float)
    for block in entry["code_blocks"]:
        assert set(block) == {"code", "result"}
        assert set(block["result"]) == RESULT_KEYS
        for rlm_call in block["result"]["rlm_calls"]:
            check_call(rlm_call)


def check_call(entry: dict[str, Any]) -> None:
    assert CALL_KEYS <= set(entry) <= CALL_KEYS | {"metadata", "error"}
    usage = entry["usage_summary"]
    assert set(usage) == {"model_usage_summaries", "total_cost"}
    assert all(set(m) == MODEL_USAGE_KEYS for m in usage["model_usage_summaries"].values())
    if "metadata" in entry:
        nested = entry["metadata"]
        assert set(nested) == {"run_metadata", "iterations"}
        assert set(nested["run_metadata"]) == METADATA_KEYS - {"type", "timestamp"}
        for i, it in enumerate(nested["iterations"], start=1):
            check_iteration(it, i)


def read_log(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def only_file(directory: Path) -> Path:
    files = sorted(directory.glob("*.jsonl"))
    assert len(files) == 1, files
    return files[0]


def child(request: Any):
    if has_tools(request):
        return code(
            "r = await llm_batch(['x', 'y'])\nsubmit(context.files[0].path + '=' + '+'.join(r))"
        )
    return text("leaf", tokens=(7, 3))


async def test_depth2_run_writes_one_file_with_nested_children(tmp_path):
    root = ScriptedLlm.of(
        code(
            "paths = [f.path for f in context.files]\n"
            "answers = await spawn_subagents([('read ' + p, [p]) for p in paths])\n"
            "submit(answers)",
            tokens=(100, 10),
        ),
        model="scripted-root",
    )
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=ScriptedLlm.of(fallback=child, model="scripted-sub"),
        config=RLMConfig(max_depth=2, trajectory_dir=str(tmp_path)),
        context=open_text({"a.txt": "A", "b.txt": "B"}),
    )
    result = await run_once(agent, "read both")
    await agent.close()
    path = only_file(tmp_path)
    request_id = result.usage["request_id"]
    assert path.name.startswith("rlm_") and path.name.endswith(f"_{request_id}.jsonl")

    meta, *iterations = read_log(path)
    assert set(meta) == METADATA_KEYS and meta["type"] == "metadata"
    assert meta["root_model"] == "scripted-root"
    assert meta["other_backends"] == ["scripted-sub"]
    assert meta["max_depth"] == 2 and meta["environment_type"] == "monty"
    assert len(iterations) == 1
    it = iterations[0]
    check_iteration(it, 1)
    assert [m["role"] for m in it["prompt"]] == ["system", "user"]
    assert it["prompt"][1]["content"] == "read both"
    assert it["response"].startswith("```repl\npaths = ")
    (block,) = it["code_blocks"]
    answer = '["text/a.txt=leaf+leaf", "text/b.txt=leaf+leaf"]'
    assert block["result"]["final_answer"] == answer and it["final_answer"] == answer

    kids = block["result"]["rlm_calls"]
    assert sorted(k["prompt"] for k in kids) == ["read text/a.txt", "read text/b.txt"]
    for kid in kids:
        assert kid["root_model"] == "scripted-sub"
        summary = kid["usage_summary"]["model_usage_summaries"]["scripted-sub"]
        # One agent turn (10 in, 5 out by default) and two leaf calls (7 in, 3 out each).
        assert summary["total_calls"] == 3
        assert summary["total_input_tokens"] == 10 + 2 * 7
        assert summary["total_output_tokens"] == 5 + 2 * 3
        (child_it,) = kid["metadata"]["iterations"]
        (child_block,) = child_it["code_blocks"]
        leaves = child_block["result"]["rlm_calls"]
        assert [leaf["prompt"] for leaf in sorted(leaves, key=lambda c: c["prompt"])] == ["x", "y"]
        assert all(leaf["response"] == "leaf" and "metadata" not in leaf for leaf in leaves)
        assert child_it["final_answer"] == kid["response"]


async def test_turns_become_iterations_with_the_growing_message_history(tmp_path):
    root = ScriptedLlm.of(
        code("print(len(context.read(context.files[0].path)))"),
        lambda req: text("It has 11 bytes."),
        model="scripted-root",
    )
    agent = RLMAgent(
        name="rlm",
        model=root,
        config=RLMConfig(trajectory_dir=str(tmp_path)),
        context=open_text("hello world"),
    )
    await run_once(agent, "how long?")
    await agent.close()
    _, first, second = read_log(only_file(tmp_path))
    check_iteration(first, 1)
    check_iteration(second, 2)
    assert first["code_blocks"][0]["result"]["stdout"] == "11\n"
    assert first["final_answer"] is None
    roles = [m["role"] for m in second["prompt"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "run_code output:\n11" in second["prompt"][3]["content"]
    assert second["response"] == "It has 11 bytes."
    assert second["final_answer"] == "It has 11 bytes."
    assert second["code_blocks"] == []


async def test_errors_go_to_stderr_and_tool_spawns_get_their_own_block(tmp_path):
    root = ScriptedLlm.of(
        code("1 / 0"),
        call("spawn_subagent", {"tasks": [{"task": "inner"}]}),
        lambda req: text("done: " + prompt_text(req)[-40:]),
        model="scripted-root",
    )
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=ScriptedLlm.of(fallback=child, model="scripted-sub"),
        config=RLMConfig(max_depth=2, trajectory_dir=str(tmp_path)),
        context=open_text("c"),
    )
    await run_once(agent, "q")
    await agent.close()
    _, first, second, third = read_log(only_file(tmp_path))
    for n, it in enumerate((first, second, third), start=1):
        check_iteration(it, n)
    failing = first["code_blocks"][0]["result"]
    assert "ZeroDivisionError" in failing["stderr"] and failing["stdout"] == ""
    (tool_block,) = second["code_blocks"]
    assert tool_block["code"] == TOOL_BLOCK_CODE
    (kid,) = tool_block["result"]["rlm_calls"]
    assert kid["prompt"] == "inner" and kid["response"] == "text/context.txt=leaf+leaf"
    assert second["response"].startswith('spawn_subagent({"tasks"')


async def test_one_file_per_request_and_none_without_a_directory(tmp_path):
    def answer(req: Any):
        return text("ok")

    agent = RLMAgent(
        name="rlm",
        model=ScriptedLlm.of(fallback=answer, model="scripted-root"),
        config=RLMConfig(trajectory_dir=str(tmp_path / "logs")),
    )
    first = await run_once(agent, "one")
    from google.adk.runners import InMemoryRunner

    runner = InMemoryRunner(agent=agent)
    second = await run_once(runner=runner, message="two")
    third = await run_once(runner=runner, message="three", session_id=second.session_id)
    await agent.close()
    files = sorted((tmp_path / "logs").glob("*.jsonl"))
    ids = {r.usage["request_id"] for r in (first, second, third)}
    assert len(files) == 3 and len(ids) == 3
    assert {f.stem.rsplit("_", 1)[1] for f in files} == ids

    plain = RLMAgent(name="rlm", model=ScriptedLlm.of(fallback=answer, model="scripted-root"))
    await run_once(plain, "q")
    await plain.close()
    assert len(list(tmp_path.rglob("*.jsonl"))) == 3
