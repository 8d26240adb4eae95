"""rlm.* spans show in `adk web`'s trace view: ADK's dev server (in-process) serves a session's
spans at `GET /dev/apps/{app}/debug/trace/session/{session_id}`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

AGENT_MODULE = '''
"""A test agent folder: an RLMAgent driven by scripted models."""

from rlm_adk import RLMAgent, RLMConfig, open_text
from tests.scripted_model import ScriptedLlm, code, has_tools, prompt_text, text


def root_turn(request):
    if "output" in prompt_text(request):
        return text("done")
    return code(
        "r = await llm_batch(['a', 'b'])\\n"
        "kids = await spawn_subagents(['look'])\\n"
        "print(r, kids, context.grep('needle'))"
    )


def sub_turn(request):
    if has_tools(request):
        return code("submit(context.read(context.files[0].path, 0, 6))")
    return text("leaf", tokens=(7, 3))


root_agent = RLMAgent(
    name="rlm_web",
    model=ScriptedLlm.of(fallback=root_turn, model="scripted-root"),
    sub_model=ScriptedLlm.of(fallback=sub_turn, model="scripted-sub"),
    config=RLMConfig(max_depth=2),
    context=open_text("a needle in a haystack"),
)
'''


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    app = tmp_path / "agents" / "rlm_web"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("from . import agent\n")
    (app / "agent.py").write_text(textwrap.dedent(AGENT_MODULE))
    return tmp_path / "agents"


def test_rlm_spans_are_in_the_session_trace(agents_dir, monkeypatch):
    from google.adk.cli.fast_api import get_fast_api_app

    monkeypatch.setenv("ADK_DISABLE_LOAD_DOTENV", "1")
    for key in [k for k in __import__("os").environ if k.startswith("OTEL_EXPORTER_OTLP")]:
        monkeypatch.delenv(key)
    # The trace endpoints are dev endpoints: served by the DevServer, i.e. with web=True.
    app = get_fast_api_app(
        agents_dir=str(agents_dir),
        web=True,
        session_service_uri="memory://",
        artifact_service_uri="memory://",
        memory_service_uri="memory://",
        use_local_storage=False,
    )
    with TestClient(app) as client:
        session = client.post("/apps/rlm_web/users/u1/sessions", json={}).json()
        events = client.post(
            "/run",
            json={
                "app_name": "rlm_web",
                "user_id": "u1",
                "session_id": session["id"],
                "new_message": {"role": "user", "parts": [{"text": "find the needle"}]},
            },
        )
        assert events.status_code == 200, events.text
        final = events.json()[-1]
        assert final["content"]["parts"][0]["text"] == "done"
        assert final["customMetadata"]["rlm"]["usage"]["calls"] == 2 + 2 + 1
        response = client.get(f"/dev/apps/rlm_web/debug/trace/session/{session['id']}")
        assert response.status_code == 200
        spans = response.json()

    by_id = {s["span_id"]: s for s in spans}
    names = [s["name"] for s in spans]
    for name in ("rlm.agent", "rlm.code", "rlm.batch", "rlm.subcall", "rlm.spawn"):
        assert name in names, names
    assert "rlm.context.grep" in names and "rlm.context.read" in names
    assert names.count("rlm.agent") == 2
    assert len({s["trace_id"] for s in spans}) == 1
    # Parent links as the UI draws them: every rlm.* span hangs under an exported span.
    for s in spans:
        if s["name"].startswith("rlm."):
            assert s["parent_span_id"] in by_id, s["name"]
    root = next(s for s in spans if s["name"] == "rlm.agent" and s["attributes"]["rlm.depth"] == 0)
    assert root["attributes"]["gen_ai.conversation.id"] == session["id"]
    assert by_id[root["parent_span_id"]]["name"] == "invoke_agent rlm_web"
    child = next(s for s in spans if s["name"] == "rlm.agent" and s["attributes"]["rlm.depth"] == 1)
    ancestor = by_id.get(child["parent_span_id"])
    chain = []
    while ancestor is not None:
        chain.append(ancestor["name"])
        ancestor = by_id.get(ancestor["parent_span_id"])
    assert chain.index("rlm.spawn") < chain.index("rlm.code") < chain.index("execute_tool run_code")
