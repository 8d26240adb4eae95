"""Session REPLs: idle ones are released by a timer (and when another session starts a request),
but never one whose request is still running (between its cells, while its model thinks)."""

from __future__ import annotations

import asyncio

from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from rlm_adk import RLMAgent, RLMConfig, open_text
from tests.hardening.adversary import tool_outputs
from tests.hardening.conftest import Ledger, SandboxTracker
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, prompt_text, text

IDLE = 0.05


async def test_a_running_request_keeps_its_repl(ledger: Ledger, sandboxes: SandboxTracker) -> None:
    first_cell_done = asyncio.Event()
    other_session_done = asyncio.Event()

    async def model(request: LlmRequest) -> LlmResponse:
        if "another session" in prompt_text(request):
            return text("other session")
        outputs = tool_outputs(request)
        if not outputs:
            return code("kept = 41")
        if len(outputs) == 1:
            # The model thinks past the idle time while another session starts a request.
            first_cell_done.set()
            await other_session_done.wait()
            return code("print(kept + 1)")
        return text("final: " + outputs[-1].strip())

    root = ScriptedLlm.of(fallback=model, model="scripted-root")
    agent = RLMAgent(
        name="rlm",
        model=root,
        config=RLMConfig(sandbox_idle_seconds=IDLE),
        context=open_text("x"),
    )
    try:
        running = asyncio.create_task(run_once(agent, "long request"))
        await asyncio.wait_for(first_cell_done.wait(), 30)
        await asyncio.sleep(IDLE * 4)  # the running request's REPL is now idle by its clock
        await run_once(agent, "another session")  # releases idle REPLs of other sessions
        other_session_done.set()
        result = await asyncio.wait_for(running, 30)
    finally:
        await agent.close()
    kept = result.text == "final: 42"
    ledger.attempt("sessions", "REPL kept while its request runs", "engine", kept, result.text)
    assert kept, result.text
    assert not sandboxes.open


async def test_a_quiet_sessions_repl_is_released_without_another_request(
    ledger: Ledger, sandboxes: SandboxTracker
) -> None:
    root = ScriptedLlm.of(code("kept = 1"), text("done"), model="scripted-root")
    agent = RLMAgent(
        name="rlm",
        model=root,
        config=RLMConfig(sandbox_idle_seconds=IDLE),
        context=open_text("x"),
    )
    try:
        result = await run_once(agent, "q")
        held_after_request = len(agent._repls)
        for _ in range(100):  # the sweep runs on the loop: nothing else happens meanwhile
            if not len(agent._repls):
                break
            await asyncio.sleep(IDLE)
        released = not len(agent._repls) and not sandboxes.open
    finally:
        await agent.close()
    ledger.attempt("sessions", "idle REPL released by the timer", "engine", released)
    assert result.text == "done"
    assert held_after_request == 1
    assert released
