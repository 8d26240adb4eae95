"""The Agent Engine app, run locally: Vertex AI's `AdkApp` machinery (`set_up`, sessions,
`async_stream_query`, `stream_query`) around a real `RLMAgent` on scripted models, with the
network refused; and where its settings come from once it has been pickled and unpickled."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("vertexai.agent_engines", reason="needs the `deploy` extra (Vertex AI SDK)")

import cloudpickle
from vertexai.agent_engines import AdkApp

from deploy.adk_app import RLMAdkApp, build_rlm_app
from deploy.agent_engine import register_by_value
from tests.deploy.apps import scripted_app
from tests.deploy.conftest import REPO, reset_env

# Variables AdkApp.set_up writes into os.environ; restored after each test.
SET_UP_WRITES = [
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_CLOUD_AGENT_ENGINE_LOCATION",
    "ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS",
    "GOOGLE_API_KEY",
]


@pytest.fixture
def vertex_local(clean_env: pytest.MonkeyPatch, no_network: list[str]) -> pytest.MonkeyPatch:
    """AdkApp's local mode: a fake project (never contacted), the network refused."""
    import vertexai

    reset_env(clean_env, SET_UP_WRITES)
    clean_env.setenv("GOOGLE_CLOUD_PROJECT", "test-project")
    # AdkApp records the project at construction; without vertexai.init it would ask
    # google.auth for one (a metadata-server lookup).
    vertexai.init(project="test-project", location="us-central1")
    return clean_env


def _final(events: list[dict[str, Any]]) -> dict[str, Any]:
    finals = [e for e in events if e.get("content", {}).get("parts", [{}])[0].get("text")]
    assert finals, events
    return finals[-1]


def _tool_outputs(events: list[dict[str, Any]]) -> list[str]:
    return [
        str(part["function_response"]["response"].get("output"))
        for event in events
        for part in event.get("content", {}).get("parts", [])
        if part.get("function_response")
    ]


async def test_adk_app_runs_queries_end_to_end(vertex_local: pytest.MonkeyPatch) -> None:
    vertex_local.setenv("RLM_MAX_LLM_CALLS", "50")
    app = RLMAdkApp(app_factory=scripted_app)
    session = await app.async_create_session(user_id="u1")
    assert session["app_name"] == "rlm" and session["user_id"] == "u1"

    first = [
        event
        async for event in app.async_stream_query(
            message="count the needles", user_id="u1", session_id=session["id"]
        )
    ]
    final = _final(first)
    assert final["content"]["parts"][0]["text"] == "found 2 needles"
    # The cell ran in Monty and called back into the host: two sub-calls through llm_batch.
    assert _tool_outputs(first) == ["MATCHES 2 ['ok', 'ok']"]
    usage = final["custom_metadata"]["rlm"]["usage"]
    assert usage["calls"] == 2 + 2
    assert app.app.root_agent.config.max_llm_calls == 50  # read from the env at set_up()

    # Same session, next turn: the REPL's variables are still there.
    second = [
        event
        async for event in app.async_stream_query(
            message="reuse what you found", user_id="u1", session_id=session["id"]
        )
    ]
    assert _final(second)["content"]["parts"][0]["text"] == "still 2 needles"
    assert _tool_outputs(second) == ["REUSED 2"]

    # The conversation is in the session service (in memory locally, Agent Engine sessions
    # when deployed); the REPL itself lives in the serving process.
    stored = await app.async_get_session(user_id="u1", session_id=session["id"])
    texts = [
        part.text for event in stored.events for part in event.content.parts or [] if part.text
    ]
    assert texts == [
        "count the needles",
        "found 2 needles",
        "reuse what you found",
        "still 2 needles",
    ]
    listed = await app.async_list_sessions(user_id="u1")
    assert [s.id for s in listed.sessions] == [session["id"]]
    await app.app.root_agent.close()


def test_sync_stream_query(vertex_local: pytest.MonkeyPatch) -> None:
    app = RLMAdkApp(app_factory=scripted_app)
    try:
        with pytest.warns(DeprecationWarning):
            events = list(app.stream_query(message="count the needles", user_id="u2"))
    finally:
        # The sync path runs each query on a loop of its own; the session's REPL outlives it
        # until released (a deployed app keeps it for the session's next turn).
        asyncio.run(app.app.root_agent.close())
    assert _final(events)["content"]["parts"][0]["text"] == "found 2 needles"
    assert _tool_outputs(events) == ["MATCHES 2 ['ok', 'ok']"]


def test_settings_come_from_the_environment_that_unpickles(
    vertex_local: pytest.MonkeyPatch,
) -> None:
    vertex_local.setenv("RLM_MAX_DEPTH", "3")
    vertex_local.setenv("RLM_MODEL", "gemini-3.5-flash")
    app = RLMAdkApp()  # the deployed factory: build_rlm_app
    assert app.app.root_agent.config.max_depth == 3
    register_by_value()
    blob = cloudpickle.dumps(app.clone())  # what the SDK uploads

    # The container's environment (the deployment's env_vars), not the deployer's.
    vertex_local.setenv("RLM_MAX_DEPTH", "5")
    vertex_local.setenv("RLM_MODEL", "gemini-3.5-pro")
    vertex_local.setenv("RLM_CONTEXT", "gs://corpus-bucket/2026/")
    restored = pickle.loads(blob)
    restored.set_up()  # also runs one cell in a Monty worker
    agent = restored.app.root_agent
    assert agent.config.max_depth == 5
    assert agent.config.context == ["gs://corpus-bucket/2026/"]
    assert agent.model.model == "gemini-3.5-pro"
    assert [type(p).__name__ for p in restored.app.plugins] == ["RLMPlugin"]
    assert restored._tmpl_attrs["runner"].app is restored.app
    # AdkApp.set_up switches google-genai to Vertex AI for the platform.
    assert os.environ["GOOGLE_GENAI_USE_ENTERPRISE"] == "1"


def test_the_deployers_api_key_is_never_pickled(vertex_local: pytest.MonkeyPatch) -> None:
    secret = "AIzaSy-test-only-not-a-real-key-0123456789"
    vertex_local.setenv("GOOGLE_API_KEY", secret)
    register_by_value()
    # Plain AdkApp stores it for Express Mode, so it would travel inside the pickle...
    assert secret.encode() in cloudpickle.dumps(AdkApp(app=build_rlm_app()))
    # ...RLMAdkApp does not, also in the clone the SDK pickles.
    app = RLMAdkApp()
    assert secret.encode() not in cloudpickle.dumps(app)
    assert secret.encode() not in cloudpickle.dumps(app.clone())


CHILD = """
import importlib.util, json, pickle, sys
assert importlib.util.find_spec("deploy") is None, "deploy/ must not be needed in the container"
with open(sys.argv[1], "rb") as f:
    app = pickle.load(f)
app.set_up()
agent = app.app.root_agent
print(json.dumps({
    "class": type(app).__name__,
    "max_depth": agent.config.max_depth,
    "max_llm_calls": agent.config.max_llm_calls,
    "model": agent.model.model,
    "session_service": type(app._tmpl_attrs["session_service"]).__name__,
}))
"""


def test_unpickles_in_a_process_without_the_deploy_folder(
    vertex_local: pytest.MonkeyPatch, tmp_path: Path, child_guard: tuple[dict[str, str], Path]
) -> None:
    vertex_local.setenv("RLM_MAX_DEPTH", "2")
    register_by_value()
    blob = tmp_path / "agent_engine.pkl"
    blob.write_bytes(cloudpickle.dumps(RLMAdkApp().clone()))
    guard_env, guard_log = child_guard
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RLM_MAX_DEPTH")}
    env.update(guard_env)
    # What Agent Engine sets, plus the deployment's env_vars.
    env.update(
        GOOGLE_CLOUD_AGENT_ENGINE_ID="1234567890",
        RLM_MAX_DEPTH="4",
        RLM_MAX_LLM_CALLS="77",
        RLM_MODEL="gemini-3.5-pro",
    )
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(blob)],
        cwd=tmp_path,  # not the repository: `deploy` is not importable there
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "class": "RLMAdkApp",
        "max_depth": 4,
        "max_llm_calls": 77,
        "model": "gemini-3.5-pro",
        "session_service": "VertexAiSessionService",
    }
    assert not guard_log.exists() or not guard_log.read_text(), guard_log.read_text()
    assert str(REPO) not in env.get("PYTHONPATH", "")


def test_a_bare_rlm_agent_rereads_its_settings_when_unpickled(
    clean_env: pytest.MonkeyPatch,
) -> None:
    from rlm_adk import RLMAgent

    clean_env.setenv("RLM_MAX_DEPTH", "3")
    agent = RLMAgent(name="rlm", model="gemini-3.5-flash")
    assert agent.config.max_depth == 3
    blob = cloudpickle.dumps(agent)
    clean_env.setenv("RLM_MAX_DEPTH", "5")
    assert pickle.loads(blob).config.max_depth == 5
