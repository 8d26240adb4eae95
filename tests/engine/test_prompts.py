"""The instruction documents the REPL exactly; small local models get the short variant."""

from __future__ import annotations

import pytest

from rlm_adk import RLMAgent, RLMConfig, open_text
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, text


def system_text(llm: ScriptedLlm) -> str:
    return str(llm.requests[0].config.system_instruction)


@pytest.mark.parametrize(
    ("model", "variant", "expect", "absent"),
    [
        ("scripted-root", "auto", "Strategy:", "Example. Task:"),
        ("local:tiny.gguf", "auto", "Example. Task:", "Strategy:"),
        ("scripted-root", "small", "Example. Task:", "Strategy:"),
        ("local:tiny.gguf", "full", "Strategy:", "Example. Task:"),
    ],
)
async def test_prompt_variant(model, variant, expect, absent):
    llm = ScriptedLlm.of(text("ok"), model=model)
    agent = RLMAgent(
        name="rlm", model=llm, config=RLMConfig(prompt=variant), context=open_text("abc")
    )
    await run_once(agent, "q")
    instruction = system_text(llm)
    assert expect in instruction and absent not in instruction
    # Both variants name the REPL functions exactly and describe the bound corpus.
    for name in ("context.grep", "llm_query", "submit", "run_code"):
        assert name in instruction
    assert "1 file(s)" in instruction or "1 file" in instruction
    await agent.close()


async def test_full_prompt_states_the_sandbox_python_subset_and_limits():
    llm = ScriptedLlm.of(text("ok"))
    config = RLMConfig(max_iterations=7, max_output_chars=1234)
    agent = RLMAgent(
        name="rlm", model=llm, config=config, context=open_text("abc"), instruction="Be brief."
    )
    await run_once(agent, "q")
    instruction = system_text(llm)
    assert "no inheritance" in instruction and "`yield`" in instruction
    assert "at most 7 turns" in instruction and "1,234 characters" in instruction
    assert "Additional instructions:\nBe brief." in instruction
    await agent.close()
