"""Model faults at a configurable rate (429, 500, timeouts, error codes, malformed and empty
responses), on root turns, children and sub-calls, in-process and through the fake Gemini HTTP
endpoint: every request completes, every unit of work comes back with its answer or a clear
error (nothing lost), and partial answers say why."""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from typing import Any

import pytest
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.models import gemini_model
from tests.fakes.gemini_server import FakeError, FakeGeminiServer, call_response, text_response
from tests.hardening.conftest import Ledger, SandboxTracker
from tests.hardening.faults import FAULT_KINDS, FaultyLlm
from tests.run_helpers import RunResult, run_once
from tests.scripted_model import ScriptedLlm, code, last_tool_output, prompt_text, text, usage

GUARD_SECONDS = 120.0
WORD = "NEEDLE"
FAST_RETRIES = {
    "max_retries": 8,
    "retry_initial_delay": 0.001,
    "retry_max_delay": 0.01,
    "subcall_timeout_seconds": 2.0,
}

FAN_OUT = f"""
import json
chunks = context.chunks(max_chars=600)
replies = await llm_batch([("Count {WORD}. Reply with a number only.", c) for c in chunks])
submit(json.dumps({{"replies": replies, "spans": [[c.start, c.end] for c in chunks]}}))
"""


def corpus(lines: int = 1500, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(
        f"row {i}: {WORD} here\n" if rng.random() < 0.1 else f"row {i}: filler\n"
        for i in range(lines)
    )


def counter(request: LlmRequest) -> LlmResponse:
    """Counts the word in the prompt (the instruction names it once)."""
    body = prompt_text(request)
    n = len(re.findall(rf"\b{WORD}\b", body)) - 1
    return LlmResponse(
        content=types.Content(role="model", parts=[types.Part.from_text(text=str(n))]),
        usage_metadata=usage(len(body) // 4, 1),
    )


def account(result: RunResult, doc: str) -> tuple[int, int, str | None]:
    """(items with a right answer or a clear error, items lost, the stop reason if partial)."""
    if result.text.startswith("[stopped:"):
        return 0, 0, result.text.split("]")[0]
    data = json.loads(result.text)
    raw = doc.encode()
    completed = lost = 0
    for reply, (start, end) in zip(data["replies"], data["spans"], strict=True):
        expected = raw[start:end].decode().count(WORD)
        if reply == str(expected) or reply.startswith("ERROR: "):
            completed += 1
        else:
            lost += 1
    return completed, lost, None


@pytest.mark.parametrize("seed", range(4))
async def test_faults_on_root_turns_and_sub_calls(
    ledger: Ledger, sandboxes: SandboxTracker, seed: int
) -> None:
    doc = corpus(seed=seed)
    root = FaultyLlm.wrap(ScriptedLlm.of(code(FAN_OUT), model="scripted-root"), 0.3, seed=seed)
    sub = FaultyLlm.wrap(
        ScriptedLlm.of(fallback=counter, model="scripted-sub"),
        0.3,
        seed=100 + seed,
        kinds=(*FAULT_KINDS, "hang"),
    )
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=sub,
        config=RLMConfig(max_llm_calls=10_000, max_concurrency=16, **FAST_RETRIES),
        context=open_text(doc),
    )
    try:
        result = await asyncio.wait_for(run_once(agent, "count"), GUARD_SECONDS)
    finally:
        await agent.close()
    completed, lost, stopped = account(result, doc)
    injected = sum(root.injected.values()) + sum(sub.injected.values())
    ledger.fault("model: root turns and sub-calls", injected, completed + bool(stopped), lost)
    assert injected > 10
    assert lost == 0
    if stopped:  # the root's model failed past its retries: a partial answer saying so
        assert stopped.startswith("[stopped: model_error")
    else:
        assert completed == len(json.loads(result.text)["replies"]) > 30
        assert result.usage["usage"]["retries"] > 0
    assert not sandboxes.open


CHILD = """
n = await llm_query([("Count NEEDLE. Reply with a number only.", c) for c in context.chunks()][0])
submit(n)
"""


async def test_faults_in_children(ledger: Ledger, sandboxes: SandboxTracker) -> None:
    docs = [corpus(lines=40, seed=s) for s in range(8)]
    spawn = "r = await spawn_subagents([('count', d) for d in DOCS])\nsubmit(json.dumps(r))"
    root = ScriptedLlm.of(
        code(f"import json\nDOCS = {docs!r}\n{spawn}"),
        model="scripted-root",
    )

    def child_or_call(request: LlmRequest) -> LlmResponse:
        return code(CHILD) if request.tools_dict else counter(request)

    sub = FaultyLlm.wrap(ScriptedLlm.of(fallback=child_or_call, model="scripted-sub"), 0.35)
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=sub,
        config=RLMConfig(max_llm_calls=1000, max_retries=2, retry_initial_delay=0.001),
        context=open_text("unused"),
    )
    try:
        result = await asyncio.wait_for(run_once(agent, "count"), GUARD_SECONDS)
    finally:
        await agent.close()
    answers = json.loads(result.text)
    completed = lost = 0
    for answer, doc in zip(answers, docs, strict=True):
        clear_error = answer.startswith(("ERROR: ", "[stopped: model_error"))
        if answer == str(doc.count(WORD)) or clear_error:
            completed += 1
        else:
            lost += 1
    ledger.fault("model: children", sum(sub.injected.values()), completed, lost)
    assert lost == 0 and completed == len(docs)
    assert sum(sub.injected.values()) > 3
    assert not sandboxes.open


async def test_a_model_that_always_fails_gives_a_clear_reason(ledger: Ledger) -> None:
    root = FaultyLlm.wrap(ScriptedLlm.of(model="scripted-root"), 1.0, kinds=("500",))
    agent = RLMAgent(
        name="rlm",
        model=root,
        config=RLMConfig(max_retries=2, retry_initial_delay=0.001),
        context=open_text("x"),
    )
    try:
        result = await asyncio.wait_for(run_once(agent, "q"), GUARD_SECONDS)
    finally:
        await agent.close()
    reason = result.usage["limit_reached"]
    ledger.fault("model: always failing", sum(root.injected.values()), int(reason is not None), 0)
    assert reason == "model_error"
    assert result.text.startswith("[stopped: model_error: 500 INTERNAL")
    assert "(after 2 retries)" in result.text
    assert result.usage["usage"]["calls"] == 1 and result.usage["usage"]["failed_calls"] == 1


# -- the same through the fake Gemini endpoint (google-genai's real HTTP path) ----------------------

HTTP_FAULTS: list[Any] = [
    FakeError(429, "injected quota"),
    FakeError(500, "injected"),
    FakeError(503, "injected"),
    {"candidates": []},
    {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP"}]},
    {"unexpected": "shape"},
]


class FlakyGemini:
    """Answers from the prompt: agent turns run the fan-out, sub-calls count; a share fail."""

    def __init__(self, rate: float, seed: int = 0) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected = 0

    def __call__(self, body: dict[str, Any]) -> Any:
        with self.lock:
            if self.rng.random() < self.rate:
                self.injected += 1
                return self.rng.choice(HTTP_FAULTS)
        texts = [p.get("text", "") for c in body["contents"] for p in c.get("parts", [])]
        if body.get("tools"):
            responses = [
                p["functionResponse"]
                for c in body["contents"]
                for p in c.get("parts", [])
                if "functionResponse" in p
            ]
            if not responses:
                return call_response("run_code", {"code": FAN_OUT})
            return text_response(str(responses[-1]["response"]))
        n = len(re.findall(rf"\b{WORD}\b", "\n".join(texts))) - 1
        return text_response(str(n))


async def test_faults_from_the_gemini_endpoint(
    ledger: Ledger, sandboxes: SandboxTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "fake-key")
    for name in ("GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)
    doc = corpus()
    flaky = FlakyGemini(rate=0.3)
    with FakeGeminiServer(flaky) as server:
        # One HTTP attempt each: the engine's retries are the ones under test.
        once = types.HttpRetryOptions(attempts=1)
        agent = RLMAgent(
            name="rlm",
            model=gemini_model("gemini-3.5-flash", base_url=server.base_url, retry_options=once),
            sub_model=gemini_model(
                "gemini-3.5-flash-lite", base_url=server.base_url, retry_options=once
            ),
            config=RLMConfig(max_llm_calls=10_000, max_concurrency=8, **FAST_RETRIES),
            context=open_text(doc),
        )
        try:
            result = await asyncio.wait_for(run_once(agent, "count"), GUARD_SECONDS)
        finally:
            await agent.close()
    completed, lost, stopped = account(result, doc)
    ledger.fault("model: Gemini HTTP endpoint", flaky.injected, completed + bool(stopped), lost)
    assert flaky.injected > 5
    assert lost == 0
    assert stopped is None or stopped.startswith("[stopped: model_error")
    assert not sandboxes.open


# -- a model that accepts a turn and never answers -----------------------------------------------


async def hang(_request: LlmRequest) -> LlmResponse:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def run_with_turn_timeout(root: ScriptedLlm, seconds: float) -> RunResult:
    """One request of `root` with model calls bounded by `seconds`, two retries."""
    agent = RLMAgent(
        name="rlm",
        model=root,
        config=RLMConfig(subcall_timeout_seconds=seconds, max_retries=2),
        context=open_text("x"),
    )
    try:
        return await asyncio.wait_for(run_once(agent, "q"), GUARD_SECONDS)
    finally:
        await agent.close()


async def test_a_turn_the_model_never_answers_is_timed_out_and_sent_again(ledger: Ledger) -> None:
    root = ScriptedLlm.of(
        code("x = 6 * 7\nprint(x)"),
        hang,
        lambda r: text(f"answer {last_tool_output(r).strip()}"),
        model="scripted-root",
    )
    result = await run_with_turn_timeout(root, 0.3)
    ledger.fault("model: a turn never answered", 1, int(result.text == "answer 42"), 0)
    assert result.text == "answer 42"
    assert len(root.records) == 3
    # The timed-out attempt is counted as a failed call; the REPL kept its state across it.
    calls = result.usage["usage"]
    assert (calls["calls"], calls["failed_calls"]) == (3, 1)
    assert result.usage["limit_reached"] is None


async def test_a_model_that_never_answers_stops_with_its_best_answer(ledger: Ledger) -> None:
    root = ScriptedLlm.of(code("print('partial work')"), fallback=hang, model="scripted-root")
    before = set(asyncio.all_tasks())
    result = await run_with_turn_timeout(root, 0.2)
    ledger.fault("model: turns never answered", 3, 1, 0)
    assert result.usage["limit_reached"] == "model_error"
    assert result.text.startswith(
        "[stopped: model_error: the model did not answer within 0.2 s (after 2 retries)]"
    )
    assert "partial work" in result.text  # its best answer: the last cell's output
    assert len(root.records) == 4  # the code turn, then the hung turn sent 1 + 2 times
    assert all(r.end > 0 for r in root.records)  # every hung call was cancelled
    await asyncio.sleep(0)
    assert set(asyncio.all_tasks()) - before == set()


async def test_a_final_turn_the_model_never_answers_stops_with_a_model_error() -> None:
    # The answer turn after repeated cells hangs: it is not sent again, the reason is the model's.
    root = ScriptedLlm.of(
        code("print('found 42')"),
        code("print('found 42')"),
        code("print('found 42')"),
        hang,
        model="scripted-root",
    )
    result = await run_with_turn_timeout(root, 0.2)
    assert result.usage["limit_reached"] == "model_error"
    assert result.text.startswith("[stopped: model_error: the model did not answer within 0.2 s]")
    assert "found 42" in result.text
    assert len(root.records) == 4
