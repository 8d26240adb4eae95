"""A model that re-runs the same cell with the same output (small models do, turn after turn)
is told so, and on the second repeat gets one tool-less turn to answer."""

from __future__ import annotations

from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.prompts import REPEAT_EMPTY_NOTE, REPEAT_NOTE
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, has_tools, text

GREP = "hits = context.grep('code'); print([m.text for m in hits])"


def tool_responses(request: LlmRequest) -> list[dict]:
    return [
        part.function_response.response or {}
        for content in request.contents
        for part in content.parts or []
        if part.function_response is not None
    ]


async def test_a_cell_repeated_twice_ends_in_an_answer_turn() -> None:
    def model(request: LlmRequest) -> LlmResponse:
        return code(GREP) if has_tools(request) else text("29772")

    root = ScriptedLlm.of(fallback=model)
    agent = RLMAgent(
        name="rlm",
        model=root,
        config=RLMConfig(max_iterations=30),
        context=open_text("the code is 29772\n"),
    )
    result = await run_once(agent, "q")
    await agent.close()
    assert result.text == "29772"
    assert result.usage["limit_reached"] is None  # an answer, not a limit
    assert len(root.records) == 4  # three cells, then the tool-less answer turn
    last = root.records[-1].request
    assert not has_tools(last)
    responses = tool_responses(last)
    assert [r.get("note") for r in responses] == [None, REPEAT_NOTE, REPEAT_NOTE]
    assert "same cell 3 times" in last.contents[-1].parts[0].text


async def test_a_cell_whose_output_changes_is_not_a_repeat() -> None:
    step = "seen.append(1)\nprint(len(seen))"

    def model(request: LlmRequest) -> LlmResponse:
        responses = tool_responses(request)
        if len(responses) < 5:
            return code(step if responses else "seen = []")
        return text(f"done after {len(responses)}")

    root = ScriptedLlm.of(fallback=model)
    agent = RLMAgent(name="rlm", model=root, context=open_text("x"))
    result = await run_once(agent, "q")
    await agent.close()
    assert result.text == "done after 5"
    assert all("note" not in r for r in tool_responses(root.records[-1].request))


async def test_a_model_that_calls_tools_in_its_answer_turn_stops_with_its_best_answer() -> None:
    root = ScriptedLlm.of(fallback=lambda r: code("print('found 29772')"))
    agent = RLMAgent(name="rlm", model=root, context=open_text("x"))
    result = await run_once(agent, "q")
    await agent.close()
    assert result.usage["limit_reached"] == "repeated_cell"
    assert result.text.startswith("[stopped: repeated_cell]")
    assert "found 29772" in result.text
    assert len(root.records) == 4


async def test_a_repeated_cell_that_found_nothing_asks_for_something_else() -> None:
    # Forcing an answer from a search that found nothing would only get a guess.
    root = ScriptedLlm.of(
        fallback=lambda r: (
            code("for m in context.grep('absent'): print(m.text)")
            if has_tools(r)
            else text("gave up")
        )
    )
    agent = RLMAgent(
        name="rlm", model=root, config=RLMConfig(max_iterations=5), context=open_text("x\n")
    )
    result = await run_once(agent, "q")
    await agent.close()
    assert result.usage["limit_reached"] == "max_iterations"  # no answer turn was forced
    notes = [r.get("note") for r in tool_responses(root.records[-1].request)]
    assert notes == [None, *[REPEAT_EMPTY_NOTE] * 4]
