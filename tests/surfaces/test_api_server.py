"""`adk api_server agents` over HTTP: the RLM app answers, keeps its REPL between turns, and a
session chooses its corpus through state; the embedded example app works too."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.gemini_server import FakeGeminiServer, call_response, model_env, text_response


def final_text(events: list[dict[str, Any]]) -> str:
    texts = [
        "".join(p.get("text", "") for p in e["content"]["parts"])
        for e in events
        if e.get("content") and any("text" in p for p in e["content"].get("parts", []))
    ]
    return texts[-1]


def function_outputs(request: dict[str, Any]) -> list[str]:
    return [
        str(_response_value(p["functionResponse"]["response"]))
        for c in request.get("contents", [])
        for p in c.get("parts", [])
        if "functionResponse" in p
    ]


def _response_value(response: dict[str, Any]) -> Any:
    return response.get("output", response.get("result", response))


def user_texts(request: dict[str, Any]) -> list[str]:
    return [
        p["text"]
        for c in request.get("contents", [])
        if c.get("role") == "user"
        for p in c.get("parts", [])
        if "text" in p
    ]


def turn_handler(request: dict[str, Any]) -> dict[str, Any]:
    """Turn 1 sets a variable; turn 2 reads it back; 'files?' lists the session's corpus."""
    last_user = user_texts(request)[-1]
    outputs = function_outputs(request)
    answered = len(outputs) >= len(user_texts(request))
    if last_user == "remember":
        return (
            text_response("stored")
            if answered
            else call_response("run_code", {"code": "counter = 41"})
        )
    if last_user == "recall":
        if answered:
            return text_response("counter is " + outputs[-1].strip())
        return call_response("run_code", {"code": "counter += 1\nprint(counter)"})
    if last_user == "files?":
        if answered:
            return text_response(outputs[-1].strip())
        return call_response("run_code", {"code": "print(sorted(f.path for f in context.files))"})
    return text_response("unexpected")


def test_multi_turn_repl_state_and_corpus_from_session_state(api_server_factory, tmp_path):
    corpus = tmp_path / "corpora" / "acme"
    corpus.mkdir(parents=True)
    (corpus / "report.txt").write_text("quarterly report")
    with FakeGeminiServer(turn_handler) as fake:
        server = api_server_factory(
            model_env(fake.base_url, RLM_ALLOWED_ROOTS=str(tmp_path / "corpora"))
        )
        with server.client() as client:
            assert "rlm" in client.get("/list-apps").json()
            session = client.post(
                "/apps/rlm/users/u1/sessions", json={"state": {"rlm:context": str(corpus)}}
            ).json()
        sid = session["id"]
        assert final_text(server.run("rlm", "u1", sid, "remember")) == "stored"
        assert final_text(server.run("rlm", "u1", sid, "recall")) == "counter is 42"
        assert final_text(server.run("rlm", "u1", sid, "files?")) == "['acme/report.txt']"
        # The final event carries the request's usage.
        events = server.run("rlm", "u1", sid, "recall")
        finals = [e for e in events if (e.get("customMetadata") or {}).get("rlm")]
        assert finals and finals[-1]["customMetadata"]["rlm"]["usage"]["calls"] == 2
        assert json.dumps(finals[-1]).count("quarterly report") == 0


def research_handler(request: dict[str, Any]) -> dict[str, Any]:
    tools = [d["name"] for t in request.get("tools", []) for d in t.get("functionDeclarations", [])]
    outputs = function_outputs(request)
    if "corpus_analyst" in tools:  # the concierge
        if outputs:
            return text_response("concierge: " + outputs[-1])
        return call_response("corpus_analyst", {"request": "how long is the corpus?"})
    if "run_code" in tools:  # the embedded RLM
        if outputs:
            return text_response("size " + outputs[-1].strip())
        return call_response("run_code", {"code": "print(context.size)"})
    return text_response("unexpected")


def test_embedded_example_app(api_server_factory, tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("x" * 123)
    with FakeGeminiServer(research_handler) as fake:
        server = api_server_factory(model_env(fake.base_url, RLM_CONTEXT=str(corpus)))
        with server.client() as client:
            session = client.post("/apps/research_desk/users/u/sessions", json={}).json()
        events = server.run("research_desk", "u", session["id"], "go")
        assert final_text(events) == "concierge: size 123"
