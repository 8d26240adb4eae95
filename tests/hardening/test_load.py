"""Load (slow): `adk api_server` with 20 concurrent sessions, each over its own corpus holding a
unique canary, each fanning out parallel sub-calls to the fake Gemini endpoint (which answers
from the prompt). Every answer is right; no canary shows up in another session's answers, model
requests or spans (exported by the server over OTLP to a loopback receiver); memory stays bounded;
and once the sessions are idle their sandboxes are released.

A probe app in the same server process reports what the RLM app holds (session REPLs, open
sandboxes), so release is observed from inside, not guessed from worker processes (Monty keeps
returned workers warm in its pool).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.fakes import gemini_server
from tests.fakes.gemini_server import FakeGeminiServer, call_response, model_env, text_response
from tests.hardening.conftest import Ledger
from tests.surfaces.conftest import ApiServer, api_server_factory  # noqa: F401 - fixture
from tools.otlp_receiver import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = 20
CANARY = re.compile(r"CANARY-[0-9a-f]{16}")
FAN_OUT = """
import json
chunks = context.chunks(max_chars=300)
replies = await llm_batch([('Which canary is in this text? Say none if none.', c) for c in chunks])
print(json.dumps(sorted(set(r for r in replies if r != 'none'))))
"""

PROBE = '''
"""Reports what the `rlm` app in this process holds (session REPLs, open sandboxes)."""
import gc
import json
import sys

from google.adk.agents.base_agent import BaseAgent
from google.adk.events.event import Event
from google.genai import types

from rlm_adk.sandbox.monty import MontySandbox


class Probe(BaseAgent):
    async def _run_async_impl(self, ctx):
        rlm = sys.modules["rlm.agent"].root_agent
        open_sandboxes = [o for o in gc.get_objects() if isinstance(o, MontySandbox) and not o.closed]
        report = {"repls": len(rlm._repls), "open_sandboxes": len(open_sandboxes)}
        yield Event(
            author=self.name,
            invocation_id=ctx.invocation_id,
            content=types.Content(role="model", parts=[types.Part.from_text(text=json.dumps(report))]),
        )


root_agent = Probe(name="probe")
'''


class Gemini:
    """Agent turns run the fan-out then answer; sub-calls name the canary in their chunk."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mixed: list[list[str]] = []

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = "\n".join(
            p.get("text", "") or json.dumps(p.get("functionResponse", ""))
            for c in body.get("contents", [])
            for p in c.get("parts", [])
        )
        seen = sorted(set(CANARY.findall(texts)))
        if len(seen) > 1:  # one request must never see two sessions' data
            with self.lock:
                self.mixed.append(seen)
        if body.get("tools"):
            responses = [
                p["functionResponse"]["response"]
                for c in body["contents"]
                for p in c.get("parts", [])
                if "functionResponse" in p
            ]
            if not responses:
                return call_response("run_code", {"code": FAN_OUT})
            output = str(responses[-1].get("output", responses[-1]))
            return text_response("answer: " + output.strip())
        return text_response(seen[0] if seen else "none")


def corpora(base: Path) -> dict[str, tuple[Path, str]]:
    """Session name -> (its corpus directory, its canary)."""
    out = {}
    for i in range(SESSIONS):
        canary = f"CANARY-{secrets.token_hex(8)}"
        path = base / f"tenant{i:02d}"
        path.mkdir(parents=True)
        for j in range(4):
            body = "".join(f"tenant {i} file {j} line {k}: ordinary text\n" for k in range(30))
            if j == 2:
                body += f"the secret of tenant {i} is {canary}\n"
            (path / f"f{j}.txt").write_text(body)
        out[f"s{i:02d}"] = (path, canary)
    return out


def tree_rss(pid: int) -> int:
    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


async def run(client: httpx.AsyncClient, app: str, user: str, session: str) -> list[dict]:
    response = await client.post(
        "/run",
        json={
            "app_name": app,
            "user_id": user,
            "session_id": session,
            "new_message": {"role": "user", "parts": [{"text": "Which canary is in my corpus?"}]},
        },
    )
    response.raise_for_status()
    return response.json()


def final_text(events: list[dict]) -> str:
    texts = [
        "".join(p.get("text", "") for p in e["content"]["parts"])
        for e in events
        if e.get("content") and any("text" in p for p in e["content"].get("parts", []))
    ]
    return texts[-1] if texts else ""


async def probe(client: httpx.AsyncClient) -> dict[str, int]:
    session = (await client.post("/apps/probe/users/p/sessions", json={})).json()
    return json.loads(final_text(await run(client, "probe", "p", session["id"])))


async def new_session(client: httpx.AsyncClient, user: str, corpus: Path) -> str:
    response = await client.post(
        f"/apps/rlm/users/{user}/sessions", json={"state": {"rlm:context": str(corpus)}}
    )
    response.raise_for_status()
    return str(response.json()["id"])


class _Backlogged(ThreadingHTTPServer):
    # The fake's default listen backlog (5) overflows under this load: the kernel drops the
    # connections and clients retry them for seconds to minutes, which measures the fake.
    request_queue_size = 1024


@pytest.mark.slow
async def test_twenty_concurrent_sessions(
    ledger: Ledger,
    tmp_path: Path,
    api_server_factory: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gemini_server, "ThreadingHTTPServer", _Backlogged)
    base = tmp_path / "corpora"
    tenants = corpora(base)
    agents = tmp_path / "agents"
    (agents / "probe").mkdir(parents=True)
    (agents / "probe" / "__init__.py").write_text("from . import agent\n")
    (agents / "probe" / "agent.py").write_text(PROBE)
    (agents / "rlm").symlink_to(ROOT / "agents" / "rlm")
    gemini = Gemini()
    with FakeGeminiServer(gemini) as fake, OtlpReceiver() as receiver:
        env = model_env(
            fake.base_url,
            RLM_ALLOWED_ROOTS=str(base),
            RLM_SANDBOX_IDLE_SECONDS="1",
            RLM_MAX_CONCURRENCY="8",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.endpoint}/v1/traces",
            OTEL_BSP_SCHEDULE_DELAY="200",
        )
        server: ApiServer = api_server_factory(env, agents_dir=agents)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=300) as client:
            ids = {
                name: await new_session(client, name, path) for name, (path, _) in tenants.items()
            }
            rss_before = tree_rss(server.process.pid)
            results = await asyncio.gather(*(run(client, "rlm", n, ids[n]) for n in tenants))
            rss_peak = tree_rss(server.process.pid)
            held = await probe(client)
            released, late = await _wait_for_release(client, tenants)
            intruder = await new_session(client, "intruder", Path("/etc"))
            refused = await client.post(
                "/run",
                json={
                    "app_name": "rlm",
                    "user_id": "intruder",
                    "session_id": intruder,
                    "new_message": {"role": "user", "parts": [{"text": "read /etc"}]},
                },
            )
        spans = _spans_of(receiver, set(ids.values()))

    answers = {name: final_text(events) for name, events in zip(tenants, results, strict=True)}
    wrong = {n: a for n, a in answers.items() if a != f'answer: ["{tenants[n][1]}"]'}
    leaks = {
        n: sorted(set(CANARY.findall(json.dumps(events))) - {tenants[n][1]})
        for n, events in zip(tenants, results, strict=True)
    }
    leaks = {n: found for n, found in leaks.items() if found}
    canary_of = {ids[n]: c for n, (_, c) in tenants.items()}
    canary_of.update(dict.fromkeys(late, next(iter(tenants.values()))[1]))
    span_leaks = _span_leaks(spans, canary_of)
    for name in tenants:
        contained = name not in wrong and name not in leaks
        ledger.attempt("isolation (load)", f"session {name}", "api_server", contained)
    ledger.attempt("isolation (load)", "model requests", "api_server", not gemini.mixed)
    # A session asking for a corpus outside RLM_ALLOWED_ROOTS is refused with the reason as the
    # answer and the event's error, and nothing of /etc.
    refusal = refused.json()[-1] if refused.status_code == 200 else {}
    outside = (
        refusal.get("errorCode", refusal.get("error_code")) == "context_error"
        and "outside the allowed roots" in refusal.get("errorMessage", "")
        and "root:x:" not in refused.text
    )
    ledger.attempt("bad input (server)", "session corpus outside the roots", "api_server", outside)
    assert outside, refused.text[:300]
    ledger.attempt("isolation (load)", "spans", "api_server", not span_leaks)
    sub_calls = sum(1 for r in fake.requests if not r.function_names)
    ledger.fault("load: 20 sessions, parallel sub-calls", 0, SESSIONS + sub_calls, len(wrong))

    assert not wrong, wrong
    assert not leaks, leaks
    assert not gemini.mixed, gemini.mixed
    assert not span_leaks, span_leaks
    assert sub_calls >= SESSIONS * 10
    assert held["repls"] <= SESSIONS
    assert released == {"repls": 1, "open_sandboxes": 1}, released
    # 20 sandbox workers and the server: bounded, far from anything a leak of corpora would show.
    assert rss_peak - rss_before < 1 << 30, (rss_before, rss_peak)


async def _wait_for_release(
    client: httpx.AsyncClient, tenants: dict[str, tuple[Path, str]]
) -> tuple[dict[str, int], list[str]]:
    """Idle REPLs are released when another session starts a request after
    `RLM_SANDBOX_IDLE_SECONDS`: keep starting one in a fresh session (over the first tenant's
    corpus) until they are. Returns the last report and the sessions started."""
    path = next(iter(tenants.values()))[0]
    deadline = time.monotonic() + 60
    report: dict[str, int] = {}
    late: list[str] = []
    while time.monotonic() < deadline:
        await asyncio.sleep(1.2)  # past the idle time, so that the next request evicts
        late.append(await new_session(client, "late", path))
        await run(client, "rlm", "late", late[-1])
        report = await probe(client)
        if report == {"repls": 1, "open_sandboxes": 1}:
            break
    return report, late


def _spans_of(receiver: OtlpReceiver, sessions: set[str]) -> list[dict[str, Any]]:
    """The server's spans, once the batch exporter has sent those of every session."""
    deadline = time.monotonic() + 30
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        spans = receiver.spans()
        seen = {s["attributes"].get("gen_ai.conversation.id") for s in spans}
        if sessions <= seen:
            break
        time.sleep(0.2)
    return spans


def _span_leaks(spans: list[dict[str, Any]], canary_of: dict[str, str]) -> list[str]:
    """Traces holding a canary other than their session's."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_trace.setdefault(s["trace_id"], []).append(s)
    leaks = []
    assert by_trace, "the server exported no spans"
    sessions_seen = 0
    for trace_id, members in by_trace.items():
        conversations = {m["attributes"].get("gen_ai.conversation.id") for m in members} - {None}
        canaries = set(CANARY.findall(json.dumps(members)))
        if len(conversations) > 1:
            leaks.append(f"{trace_id}: several sessions {conversations}")
        if not conversations:
            continue
        (conversation,) = conversations
        own = canary_of.get(conversation)
        if own is not None:
            sessions_seen += 1
        if canaries - {own}:
            leaks.append(f"{trace_id}: {sorted(canaries - {own})} in session {conversation}")
    assert sessions_seen >= len(canary_of), "every session's trace was exported"
    return leaks
