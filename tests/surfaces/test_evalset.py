"""The evalset for `agents/rlm` (what `adk eval` runs when a model is configured), run by ADK's
AgentEvaluator with the fake Gemini endpoint answering from what the engine's code printed."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from google.adk.evaluation.agent_evaluator import AgentEvaluator

from tests.fakes.gemini_server import FakeGeminiServer, call_response, text_response

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT / "agents" / "rlm" / "eval"


def handler(request: dict[str, Any]) -> dict[str, Any]:
    contents = request.get("contents", [])
    question = next(
        p["text"] for c in contents if c.get("role") == "user" for p in c["parts"] if "text" in p
    )
    outputs = [
        p["functionResponse"]["response"].get("output", "")
        for c in contents
        for p in c.get("parts", [])
        if "functionResponse" in p
    ]
    if "vault" in question:
        if not outputs:
            return call_response("run_code", {"code": "print(context.grep('vault code')[0].text)"})
        code = re.findall(r"\d{5}", outputs[-1])[-1]
        return text_response(f"The vault code is {code}.")
    if not outputs:
        return call_response("run_code", {"code": "print(len(context.grep('gyroscope')))"})
    return text_response(f"{outputs[-1].strip()} log lines mention the gyroscope.")


async def test_rlm_evalset_passes(monkeypatch: pytest.MonkeyPatch):
    with FakeGeminiServer(handler) as fake:
        fake.install_env(monkeypatch)
        monkeypatch.setenv("RLM_MODEL", "gemini-3.5-flash")
        monkeypatch.setenv("RLM_SUB_MODEL", "gemini-3.5-flash-lite")
        monkeypatch.setenv("RLM_CONTEXT", str(EVAL_DIR / "corpus"))
        monkeypatch.syspath_prepend(str(ROOT))
        for name in [m for m in sys.modules if m == "agents" or m.startswith("agents.")]:
            monkeypatch.delitem(sys.modules, name)
        importlib.invalidate_caches()
        await AgentEvaluator.evaluate(
            "agents.rlm",
            str(EVAL_DIR / "basic.test.json"),
            num_runs=1,
            print_detailed_results=False,
        )
        # Both cases ran through the real engine: each made a run_code call and an answer.
        assert sum(1 for r in fake.requests if r.function_names) >= 4
