"""The request-to-prompt conversion and output parsing of local models (no model needed)."""

from __future__ import annotations

import json

import pytest
from google.adk.tools import FunctionTool
from google.genai import types
from pydantic import BaseModel

from rlm_adk.models import llama_cpp_available
from rlm_adk.models.local_protocol import build_plan, parse_output, to_json_schema


async def run_code(code: str) -> dict:
    """Runs Python code in the REPL and returns what it printed.

    Args:
      code: the Python source to run.
    """
    return {}


async def spawn_subagent(task: str, context: list[str] | None = None) -> str:
    """Starts a child agent on a task."""
    return ""


def _decl(fn: object) -> types.FunctionDeclaration:
    return FunctionTool(fn)._get_declaration()


def _config(*fns: object, **kwargs: object) -> types.GenerateContentConfig:
    tools = [types.Tool(function_declarations=[_decl(fn) for fn in fns])] if fns else None
    return types.GenerateContentConfig(tools=tools, **kwargs)


def _user(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


def test_plain_request_is_free_text() -> None:
    plan = build_plan([_user("hi")], _config(system_instruction="Be brief."))
    assert plan.kind == "text" and plan.schema is None
    assert plan.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]


def test_tool_turn_schema_is_a_union_of_calls() -> None:
    plan = build_plan([_user("go")], _config(run_code, spawn_subagent))
    assert plan.kind == "tools" and plan.answer_tool == "final_answer"
    branches = plan.schema["oneOf"]
    names = [b["properties"]["name"]["const"] for b in branches]
    assert names == ["run_code", "spawn_subagent", "final_answer"]
    for branch in branches:
        # `name` comes first, so the model picks the tool before writing its arguments.
        assert list(branch["properties"]) == ["name", "arguments"]
        assert branch["required"] == ["name", "arguments"]
        assert branch["properties"]["arguments"]["additionalProperties"] is False
    run = branches[0]["properties"]["arguments"]
    assert run["required"] == ["code"] and run["properties"]["code"]["type"] == "string"
    spawn = branches[1]["properties"]["arguments"]
    assert spawn["required"] == ["task"]  # The optional `context` stays optional.
    answer = branches[2]["properties"]["arguments"]
    assert answer["required"] == ["text"]


def test_system_message_holds_instruction_then_protocol() -> None:
    plan = build_plan([_user("go")], _config(run_code, system_instruction="You are an RLM."))
    system = plan.messages[0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are an RLM.")
    assert '{"name": <tool name>, "arguments": {<arguments>}}' in system["content"]
    assert "- run_code(code: string): Runs Python code" in system["content"]
    assert "- final_answer(text: string)" in system["content"]
    # Same declarations, same system text: the prompt prefix is stable across turns.
    again = build_plan([_user("other")], _config(run_code, system_instruction="You are an RLM."))
    assert again.messages[0] == system


def test_history_is_replayed_in_order_in_the_call_format() -> None:
    contents = [
        _user("How big is the context?"),
        types.Content(
            role="model",
            parts=[
                types.Part(text="thinking...", thought=True),
                types.Part(
                    function_call=types.FunctionCall(
                        name="run_code", args={"code": "print(context.size)"}
                    )
                ),
            ],
        ),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        name="run_code", response={"result": "1024\n"}
                    )
                )
            ],
        ),
        _user("Continue."),
    ]
    plan = build_plan(contents, _config(run_code, system_instruction="sys"))
    roles = [m["role"] for m in plan.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert json.loads(plan.messages[2]["content"]) == {
        "name": "run_code",
        "arguments": {"code": "print(context.size)"},
    }
    assert "thinking" not in plan.messages[2]["content"]  # Thoughts are not replayed.
    # Tool result and the next user text merge into one user turn (templates need alternation).
    assert plan.messages[3]["content"] == "[result of run_code]\n1024\n\n\nContinue."


def test_chunk_before_question_order_is_kept() -> None:
    content = types.Content(
        role="user", parts=[types.Part(text="<chunk text>"), types.Part(text="Which year?")]
    )
    plan = build_plan([content], _config())
    assert plan.messages == [{"role": "user", "content": "<chunk text>\n\nWhich year?"}]


def test_structured_tool_results_are_json() -> None:
    content = types.Content(
        role="user",
        parts=[
            types.Part(
                function_response=types.FunctionResponse(
                    name="spawn_subagent", response={"answer": 42, "calls": ["a"]}
                )
            )
        ],
    )
    plan = build_plan([content], _config(spawn_subagent))
    body = plan.messages[-1]["content"].split("\n", 1)[1]
    assert json.loads(body) == {"answer": 42, "calls": ["a"]}


def test_tool_config_any_forbids_text_answers() -> None:
    config = _config(
        run_code,
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode="ANY")
        ),
    )
    plan = build_plan([_user("go")], config)
    assert plan.answer_tool is None
    assert plan.schema["properties"]["name"]["const"] == "run_code"  # A single branch.
    assert "final_answer" not in plan.messages[0]["content"]


def test_tool_config_none_and_allowed_names() -> None:
    none = _config(
        run_code,
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode="NONE")
        ),
    )
    assert build_plan([_user("go")], none).kind == "text"
    allowed = _config(
        run_code,
        spawn_subagent,
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(
                mode="AUTO", allowed_function_names=["spawn_subagent"]
            )
        ),
    )
    assert [t.name for t in build_plan([_user("go")], allowed).tools] == ["spawn_subagent"]


def test_a_tool_named_like_the_answer_renames_the_answer() -> None:
    def final_answer(text: str) -> str:
        """A user tool that happens to have the pseudo-tool's name."""
        return text

    plan = build_plan([_user("go")], _config(final_answer))
    assert plan.answer_tool == "final_answer_2"
    [call] = parse_output(plan, '{"name": "final_answer", "arguments": {"text": "x"}}')
    assert call.function_call == types.FunctionCall(name="final_answer", args={"text": "x"})
    [text] = parse_output(plan, '{"name": "final_answer_2", "arguments": {"text": "done"}}')
    assert text.text == "done"


def test_response_schema_constrains_plain_turns() -> None:
    class Finding(BaseModel):
        year: int
        source: str

    plan = build_plan([_user("x")], _config(response_schema=Finding))
    assert plan.kind == "json"
    assert plan.schema["required"] == ["year", "source"]
    json_only = build_plan([_user("x")], _config(response_mime_type="application/json"))
    assert json_only.kind == "json" and json_only.schema == {"type": "object"}
    [part] = parse_output(plan, '{"year": 1999, "source": "a"}')
    assert part.text == '{"year": 1999, "source": "a"}'


def test_nested_models_are_inlined() -> None:
    class Inner(BaseModel):
        name: str

    class Outer(BaseModel):
        items: list[Inner]

    schema = to_json_schema(Outer)
    assert "$defs" not in json.dumps(schema) and "$ref" not in json.dumps(schema)
    assert schema["properties"]["items"]["items"]["properties"]["name"]["type"] == "string"


def test_genai_schema_parameters_are_converted() -> None:
    decl = types.FunctionDeclaration(
        name="lookup",
        description="Looks a key up.",
        parameters=types.Schema(
            type="OBJECT",
            properties={"key": types.Schema(type="STRING"), "limit": types.Schema(type="INTEGER")},
            required=["key"],
        ),
    )
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[decl])])
    plan = build_plan([_user("go")], config)
    arguments = plan.schema["oneOf"][0]["properties"]["arguments"]
    assert arguments["properties"]["key"]["type"] == "string"
    assert arguments["properties"]["limit"]["type"] == "integer"
    assert arguments["required"] == ["key"]
    assert "- lookup(key: string, limit?: integer): Looks a key up." in plan.messages[0]["content"]


def test_parse_output() -> None:
    plan = build_plan([_user("go")], _config(run_code))
    [call] = parse_output(plan, '{"name": "run_code", "arguments": {"code": "print(1)"}}')
    assert call.function_call == types.FunctionCall(name="run_code", args={"code": "print(1)"})
    [answer] = parse_output(plan, '{"name": "final_answer", "arguments": {"text": "42"}}')
    assert answer.text == "42" and answer.function_call is None
    # Cut off by the token limit or otherwise unusable: kept as text, never an invented call.
    for raw in (
        '{"name": "run_code", "arguments": {"code": "pri',
        "[1, 2]",
        '{"name": "rm_rf", "arguments": {}}',
        '{"name": "run_code", "arguments": "print(1)"}',
    ):
        [part] = parse_output(plan, raw)
        assert part.text == raw and part.function_call is None


@pytest.mark.skipif(not llama_cpp_available(), reason="llama-cpp-python is not installed")
def test_schemas_compile_to_grammars_that_put_the_name_first() -> None:
    from pathlib import Path

    from rlm_adk.models.local_engine import _LocalEngine

    plan = build_plan([_user("go")], _config(run_code, spawn_subagent))
    engine = _LocalEngine(Path("unused.gguf"), n_ctx=512, n_threads=1)  # Nothing is loaded.
    try:
        grammar = engine._grammar(plan.schema)._grammar
        assert engine._grammar(plan.schema)._grammar is grammar  # Cached.
    finally:
        engine.close()
    assert '\\"run_code\\"' in grammar and '\\"final_answer\\"' in grammar
    object_rules = [
        line for line in grammar.splitlines() if "name-kv" in line and '::= "{"' in line
    ]
    assert len(object_rules) == 3
    for rule in object_rules:
        assert rule.index("name-kv") < rule.index("arguments-kv")
    # Strings may not use the backspace and form-feed escapes (see local_engine._JSON_ESCAPES).
    [char_rule] = [line for line in grammar.splitlines() if line.startswith("char ::=")]
    assert "bfnrt" not in char_rule and "nrt" in char_rule


def test_withdrawn_tools_allow_only_the_answer() -> None:
    """After tool use, a tool-less turn (the agent's last turn at a limit) is constrained to the
    answer pseudo-tool, so a small model cannot answer with a tool call written as text."""
    contents = [
        _user("q"),
        types.Content(
            role="model",
            parts=[
                types.Part(function_call=types.FunctionCall(name="run_code", args={"code": "1"}))
            ],
        ),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        name="run_code", response={"output": "1"}
                    )
                )
            ],
        ),
    ]
    plan = build_plan(contents, types.GenerateContentConfig(system_instruction="sys"))
    assert plan.kind == "tools" and plan.tools == []
    assert plan.schema["properties"]["name"] == {"const": "final_answer"}
    parts = parse_output(plan, json.dumps({"name": "final_answer", "arguments": {"text": "42"}}))
    assert [p.text for p in parts] == ["42"]
    # A conversation that never used tools stays free text.
    assert build_plan([_user("hi")], types.GenerateContentConfig()).kind == "text"
