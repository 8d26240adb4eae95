"""Integration: a real RLM run exports over OTLP/HTTP (configured by the standard
`OTEL_EXPORTER_OTLP_*` variables) to a receiver on loopback, and the spans are read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tools.otlp_receiver import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]

RUN = """
import asyncio, json
from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.telemetry import setup_tracing
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, has_tools, text

def sub(request):
    if has_tools(request):
        return code("r = await llm_batch(['a', 'b'])\\nsubmit(context.read(context.files[0].path) + str(r))")
    return text("leaf", tokens=(7, 3))

async def main():
    setup = setup_tracing("otlp")
    root = ScriptedLlm.of(
        code("submit(await spawn_subagents([('one', 'x'), ('two', 'y')]))"), model="scripted-root"
    )
    agent = RLMAgent(name="rlm", model=root, sub_model=ScriptedLlm.of(fallback=sub, model="scripted-sub"),
                     config=RLMConfig(max_depth=2), context=open_text("corpus"))
    result = await run_once(agent, "q")
    await agent.close()
    assert setup.flush(), "the OTLP exporter did not flush"
    print(json.dumps({"text": result.text, "session": result.session_id, "target": str(setup),
                      "nodes": result.usage["nodes"]}))

asyncio.run(main())
"""


def test_spans_reach_a_loopback_otlp_receiver():
    with OtlpReceiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            PYTHONPATH=str(ROOT),
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_SERVICE_NAME="rlm-otlp-test",
        )
        done = subprocess.run(
            [sys.executable, "-c", RUN],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        run = json.loads(done.stdout.strip().splitlines()[-1])
        with urllib.request.urlopen(f"{receiver.endpoint}/spans", timeout=10) as response:
            spans = json.loads(response.read())

    assert run["text"] == "[\"x['leaf', 'leaf']\", \"y['leaf', 'leaf']\"]"
    assert run["target"] == f"otlp:{receiver.endpoint}"
    assert receiver.requests >= 1
    by_id = {s["span_id"]: s for s in spans}
    assert len({s["trace_id"] for s in spans}) == 1
    assert all(s["parent_span_id"] is None or s["parent_span_id"] in by_id for s in spans)
    assert {s["resource"]["service.name"] for s in spans} == {"rlm-otlp-test"}

    rlm = [s for s in spans if s["scope"] == "rlm_adk"]
    names = sorted(s["name"] for s in rlm)
    assert names.count("rlm.agent") == 3
    assert names.count("rlm.spawn") == 2
    assert names.count("rlm.subcall") == 4
    assert names.count("rlm.code") == 3
    assert names.count("rlm.context.read") == 2

    def nearest(span: dict, name: str) -> dict | None:
        parent = by_id.get(span["parent_span_id"] or "")
        while parent is not None and parent["name"] != name:
            parent = by_id.get(parent["parent_span_id"] or "")
        return parent

    nodes = {n["node_id"]: n for n in run["nodes"]}
    for s in rlm:
        if s["name"] in ("rlm.agent", "rlm.subcall"):
            node = nodes[s["attributes"]["rlm.node_id"]]
            above = nearest(s, "rlm.agent")
            assert (above["attributes"]["rlm.node_id"] if above else None) == node["parent_id"]
            assert s["attributes"]["rlm.depth"] == node["depth"]
    for call in (s for s in rlm if s["name"] == "rlm.subcall"):
        assert call["attributes"]["gen_ai.usage.input_tokens"] == 7
        assert call["attributes"]["gen_ai.usage.output_tokens"] == 3
    for agent in (s for s in rlm if s["name"] == "rlm.agent"):
        assert agent["attributes"]["gen_ai.conversation.id"] == run["session"]
