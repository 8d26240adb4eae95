"""Hints for the mistakes models make most with this REPL: `context` used as a string, a chunk
used as text, a module Monty does not have. Each failed cell's error gains a line saying what to
do instead; errors that show none of these are left as they are."""

from __future__ import annotations

import pytest

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.engine.hints import CHUNK_HINT, HANDLE_HINT, cell_hint
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, last_tool_output, text

CASES = [
    ("len(context)", HANDLE_HINT),
    ("context[:100]", HANDLE_HINT),
    ("[line for line in context]", HANDLE_HINT),
    ("context.split('\\n')", HANDLE_HINT),
    ("len(context.chunks(max_chars=4)[0])", CHUNK_HINT),
    ("context.chunks(max_chars=4)[0].lower()", CHUNK_HINT),
]


@pytest.mark.parametrize("sandbox", ["monty", "subprocess"])
async def test_a_failed_cell_says_what_to_do_instead(sandbox: str) -> None:
    seen: list[str] = []

    def after(cell_code: str):
        def reply(request):
            seen.append(last_tool_output(request))
            return code(cell_code)

        return reply

    cells = [c for c, _ in CASES]
    script = [code(cells[0]), *(after(c) for c in cells[1:])]
    script.append(lambda r: (seen.append(last_tool_output(r)), text("done"))[1])
    agent = RLMAgent(
        name="rlm",
        model=ScriptedLlm.of(*script),
        config=RLMConfig(sandbox=sandbox),
        context=open_text("alpha\nbeta\n" * 5),
    )
    result = await run_once(agent, "q")
    await agent.close()
    assert result.text == "done"
    for (cell, hint), output in zip(CASES, seen, strict=True):
        assert "Error" in output, (cell, output)
        assert output.rstrip().endswith(hint), (cell, output)


async def test_a_missing_module_names_the_ones_monty_has() -> None:
    root = ScriptedLlm.of(
        code("from pprint import pprint"),
        lambda r: text(last_tool_output(r)),
    )
    agent = RLMAgent(name="rlm", model=root, context=open_text("x"))
    result = await run_once(agent, "q")
    await agent.close()
    assert "No module named 'pprint'" in result.text
    assert (
        "Hint: this sandbox (Monty) has no module 'pprint'; it can import re, json" in result.text
    )


def test_errors_without_a_known_mistake_get_no_hint() -> None:
    assert cell_hint("ZeroDivisionError: division by zero", "monty") is None
    # A real method of the handle that failed for its own reasons is not a misuse.
    assert (
        cell_hint("AttributeError: 'ContextHandle' object has no attribute 'grep'", "monty") is None
    )
    # CPython's own missing modules are genuine there.
    assert cell_hint("ModuleNotFoundError: No module named 'pandas'", "subprocess") is None
