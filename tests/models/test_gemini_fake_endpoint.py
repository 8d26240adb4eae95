"""ADK's `Gemini` model against the fake Gemini endpoint, driven by ADK's real runner."""

from __future__ import annotations

from typing import Any

import pytest
from google.adk.agents import LlmAgent
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.events import Event
from google.adk.models.google_llm import Gemini
from google.adk.models.llm_request import LlmRequest
from google.adk.runners import InMemoryRunner
from google.genai import errors, types

from rlm_adk.models import cost_usd, gemini_model, is_transient_error, resolve_model, usage_of
from tests.fakes.gemini_server import (
    FakeError,
    FakeGeminiServer,
    call_response,
    fake_gemini,
    text_response,
)

# Retries fast enough for tests (google-genai's defaults start at 1 s).
FAST_RETRY = types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.05, jitter=0.0)
NO_RETRY = types.HttpRetryOptions(attempts=1)

WEATHER_CALLS: list[str] = []


def get_weather(city: str) -> dict[str, Any]:
    """Returns the current weather of a city.

    Args:
      city: the city's name.
    """
    WEATHER_CALLS.append(city)
    return {"city": city, "forecast": "sunny", "celsius": 21}


async def _run(agent: LlmAgent, text: str, run_config: RunConfig | None = None) -> list[Event]:
    runner = InMemoryRunner(agent=agent, app_name="fake_gemini_test")
    session = await runner.session_service.create_session(app_name="fake_gemini_test", user_id="u")
    events = []
    async for event in runner.run_async(
        user_id="u",
        session_id=session.id,
        new_message=types.Content(role="user", parts=[types.Part(text=text)]),
        run_config=run_config or RunConfig(),
    ):
        events.append(event)
    await runner.close()
    return events


def _final_text(events: list[Event]) -> str:
    final = [e for e in events if e.is_final_response() and e.content and e.content.parts]
    assert final, "no final response"
    return "".join(p.text or "" for p in final[-1].content.parts)


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "fake-key")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)


async def test_function_call_and_usage_through_the_runner(api_key: None) -> None:
    WEATHER_CALLS.clear()
    with fake_gemini(
        call_response("get_weather", {"city": "Paris"}, prompt_tokens=120, output_tokens=15),
        text_response(
            "It is sunny in Paris.", prompt_tokens=180, output_tokens=8, thoughts_tokens=30
        ),
    ) as server:
        agent = LlmAgent(
            name="weather",
            model=gemini_model("gemini-3.5-flash", base_url=server.base_url),
            instruction="Answer weather questions with the tool.",
            tools=[get_weather],
        )
        events = await _run(agent, "Weather in Paris?")

    assert WEATHER_CALLS == ["Paris"]
    assert _final_text(events) == "It is sunny in Paris."
    # The model saw the tool declared, then the tool's result in the second request.
    first, second = server.requests
    assert first.model == second.model == "gemini-3.5-flash"
    assert first.method == "generateContent"
    assert first.headers["x-goog-api-key"] == "fake-key"
    assert first.function_names == ["get_weather"]
    assert "weather questions" in first.system_instruction
    assert first.texts() == ["Weather in Paris?"]
    responses = [
        part["functionResponse"]
        for content in second.body["contents"]
        for part in content["parts"]
        if "functionResponse" in part
    ]
    assert responses and responses[0]["name"] == "get_weather"
    assert responses[0]["response"]["forecast"] == "sunny"
    # Usage is read back from every model event; thoughts count as output.
    model_usage = [usage_of(e) for e in events if e.usage_metadata is not None]
    assert model_usage == [(120, 15), (180, 38)]
    assert cost_usd("gemini-3.5-flash", 300, 53) > 0


async def test_rate_limit_then_success_is_retried(api_key: None) -> None:
    with fake_gemini(FakeError.rate_limited(), text_response("recovered")) as server:
        agent = LlmAgent(
            name="retrying",
            model=gemini_model(
                "gemini-3.5-flash", base_url=server.base_url, retry_options=FAST_RETRY
            ),
        )
        events = await _run(agent, "hello")
    assert _final_text(events) == "recovered"
    assert [r.status for r in server.requests] == [429, 200]


async def test_rate_limit_without_retries_is_a_transient_error(api_key: None) -> None:
    with fake_gemini(FakeError.rate_limited()) as server:
        llm = gemini_model("gemini-3.5-flash", base_url=server.base_url, retry_options=NO_RETRY)
        request = LlmRequest(
            model=llm.model,
            contents=[types.Content(role="user", parts=[types.Part(text="hi")])],
        )
        with pytest.raises(errors.APIError) as info:
            async for _ in llm.generate_content_async(request):
                pass
    assert info.value.code == 429
    assert is_transient_error(info.value)  # The engine retries it with back-off.


async def test_client_errors_are_not_retried(api_key: None) -> None:
    with fake_gemini(FakeError(400, "bad request"), text_response("never")) as server:
        llm = gemini_model("gemini-3.5-flash", base_url=server.base_url, retry_options=FAST_RETRY)
        request = LlmRequest(
            model=llm.model,
            contents=[types.Content(role="user", parts=[types.Part(text="hi")])],
        )
        with pytest.raises(errors.ClientError) as info:
            async for _ in llm.generate_content_async(request):
                pass
        assert server.pending == 1
    assert not is_transient_error(info.value)


async def test_environment_points_resolved_models_at_the_server(
    fake_gemini_server: FakeGeminiServer,
) -> None:
    """The fixture's environment reaches models built from names (as the engine builds them)."""
    fake_gemini_server.push(text_response("from the fake", prompt_tokens=3, output_tokens=2))
    llm = resolve_model(None, role="sub")
    assert isinstance(llm, Gemini) and llm.base_url is None
    events = await _run(LlmAgent(name="sub", model=llm), "ping")
    assert _final_text(events) == "from the fake"
    (request,) = fake_gemini_server.requests
    assert request.model == llm.model
    assert request.headers["x-goog-api-key"] == "fake-key"


async def test_answers_computed_from_the_prompt(fake_gemini_server: FakeGeminiServer) -> None:
    def shout(request: dict[str, Any]) -> dict[str, Any]:
        last = request["contents"][-1]["parts"][0]["text"]
        return text_response(last.upper(), prompt_tokens=len(last), output_tokens=len(last))

    fake_gemini_server.handler = shout
    agent = LlmAgent(name="shouter", model="gemini-3.5-flash")
    assert _final_text(await _run(agent, "quiet please")) == "QUIET PLEASE"
    assert _final_text(await _run(agent, "again")) == "AGAIN"
    assert len(fake_gemini_server.requests) == 2


async def test_streaming_mode_uses_server_sent_events(
    fake_gemini_server: FakeGeminiServer,
) -> None:
    fake_gemini_server.push(text_response("streamed", prompt_tokens=4, output_tokens=1))
    agent = LlmAgent(name="streamer", model="gemini-3.5-flash")
    events = await _run(agent, "hi", RunConfig(streaming_mode=StreamingMode.SSE))
    assert _final_text(events) == "streamed"
    (request,) = fake_gemini_server.requests
    assert request.method == "streamGenerateContent"
    assert "alt=sse" in request.path
    assert [usage_of(e) for e in events if not e.partial and e.usage_metadata] == [(4, 1)]


async def test_running_out_of_script_fails_fast(fake_gemini_server: FakeGeminiServer) -> None:
    llm = resolve_model("gemini-3.5-flash")
    request = LlmRequest(
        model=llm.model, contents=[types.Content(role="user", parts=[types.Part(text="hi")])]
    )
    with pytest.raises(errors.ClientError, match="no scripted response left"):
        async for _ in llm.generate_content_async(request):
            pass
    assert [r.status for r in fake_gemini_server.requests] == [400]
