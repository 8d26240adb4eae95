"""What the model sees from the REPL: errors, truncation, submit, the same-turn rule, state."""

from __future__ import annotations

from rlm_adk import RLMAgent, RLMConfig, open_text
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, last_tool_output, prompt_text, text


def echo_last_output(request):
    return text("saw: " + last_tool_output(request))


async def run_cell(source: str, config: RLMConfig | None = None) -> str:
    root = ScriptedLlm.of(code(source), echo_last_output)
    agent = RLMAgent(name="rlm", model=root, config=config or RLMConfig(), context=open_text("x"))
    result = await run_once(agent, "q")
    await agent.close()
    return result.text


async def test_syntax_error_returns_to_the_model():
    out = await run_cell("def f(:\n    pass")
    assert "SyntaxError" in out


async def test_runtime_error_returns_a_readable_traceback():
    out = await run_cell("x = {}\nx['missing']")
    assert "KeyError" in out and "missing" in out and "Traceback" in out


async def test_cell_time_limit_is_enforced_and_reported():
    out = await run_cell("while True:\n    pass", RLMConfig(cell_timeout_seconds=0.5))
    assert "TimeoutError" in out
    assert "restarted" in out


async def test_memory_limit_is_enforced():
    out = await run_cell(
        "x = 'a' * (400 * 1024 * 1024)", RLMConfig(sandbox_memory_bytes=64 * 1024 * 1024)
    )
    assert "MemoryError" in out


async def test_output_is_truncated_and_the_model_is_told_how_much():
    out = await run_cell(
        "for i in range(5000):\n    print('line', i)", RLMConfig(max_output_chars=1000)
    )
    assert "characters of output cut" in out
    assert "line 0" in out and "line 4999" in out
    assert len(out) < 1300


async def test_submit_of_a_large_value_ends_the_run_with_it():
    root = ScriptedLlm.of(code("big = ','.join(str(i) for i in range(200000))\nsubmit(big)"))
    agent = RLMAgent(
        name="rlm", model=root, config=RLMConfig(max_output_chars=500), context=open_text("x")
    )
    result = await run_once(agent, "q")
    expected = ",".join(str(i) for i in range(200000))
    assert result.text == expected
    assert len(root.records) == 1  # no model turn after submit
    assert result.usage["submitted"] is True
    await agent.close()


async def test_answer_in_the_same_turn_as_unrun_code_is_not_accepted():
    root = ScriptedLlm.of(
        code("result = 2 + 2\nprint(result)", say="The answer is 5."),
        lambda req: text("The answer is " + last_tool_output(req)),
    )
    agent = RLMAgent(name="rlm", model=root, context=open_text("x"))
    result = await run_once(agent, "q")
    assert result.text == "The answer is 4"
    assert len(root.records) == 2
    await agent.close()


async def test_repl_state_persists_across_turns_of_one_session_only():
    root = ScriptedLlm.of(
        code("counter = 41"),
        lambda req: text("set"),
        code("counter += 1\nprint(counter)"),
        echo_last_output,
        code("print('counter' in dir())"),
        echo_last_output,
    )
    from google.adk.runners import InMemoryRunner

    agent = RLMAgent(name="rlm", model=root, context=open_text("x"))
    runner = InMemoryRunner(agent=agent)
    first = await run_once(runner=runner, message="turn 1")
    second = await run_once(runner=runner, message="turn 2", session_id=first.session_id)
    assert second.text == "saw: 42"
    # A different session has its own REPL, where `counter` does not exist.
    other = await run_once(runner=runner, message="other")
    assert "NameError" in other.text or "False" in other.text
    assert len(agent._repls) == 2
    await agent.close()
    assert len(agent._repls) == 0


async def test_context_is_read_through_the_handle():
    root = ScriptedLlm.of(
        code("print(context.read(context.files[0].path, 0, 5), context.size)"), echo_last_output
    )
    agent = RLMAgent(name="rlm", model=root, context=open_text("hello world"))
    result = await run_once(agent, "q")
    assert result.text == "saw: hello 11"
    # The corpus text never entered the root's conversation except what code printed.
    assert "world" not in prompt_text(root.requests[0])
    await agent.close()
