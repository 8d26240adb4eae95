"""Token usage read from responses and the transient-error rule used for retries."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from google.adk.models.google_llm import _ResourceExhaustedError
from google.adk.models.llm_response import LlmResponse
from google.genai import errors, types

from rlm_adk.models import is_transient_error, usage_of


def _response(**usage: int) -> LlmResponse:
    return LlmResponse(
        content=types.Content(role="model", parts=[types.Part(text="x")]),
        usage_metadata=types.GenerateContentResponseUsageMetadata(**usage),
    )


def test_usage_counts_prompt_and_output_with_thoughts() -> None:
    response = _response(
        prompt_token_count=1_000,
        candidates_token_count=200,
        thoughts_token_count=300,
        total_token_count=1_500,
    )
    assert usage_of(response) == (1_000, 500)


def test_usage_counts_tool_use_prompt_as_input() -> None:
    response = _response(
        prompt_token_count=100, tool_use_prompt_token_count=40, candidates_token_count=10
    )
    assert usage_of(response) == (140, 10)


def test_missing_usage_is_zero() -> None:
    assert usage_of(LlmResponse(content=types.Content(role="model", parts=[]))) == (0, 0)
    assert usage_of(_response()) == (0, 0)
    assert usage_of(object()) == (0, 0)


def test_total_only_counts_the_rest_as_output() -> None:
    assert usage_of(_response(prompt_token_count=70, total_token_count=100)) == (70, 30)


def test_usage_of_a_genai_response() -> None:
    raw = types.GenerateContentResponse(
        usage_metadata=types.GenerateContentResponseUsageMetadata(
            prompt_token_count=3, candidates_token_count=4
        )
    )
    assert usage_of(raw) == (3, 4)
    assert usage_of(LlmResponse.create(raw)) == (3, 4)


def _api_error(code: int) -> errors.APIError:
    cls = errors.ClientError if code < 500 else errors.ServerError
    return cls(code, {"error": {"code": code, "message": "m", "status": "S"}})


def _httpx_status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/x")
    return httpx.HTTPStatusError(
        "e", request=request, response=httpx.Response(code, request=request)
    )


class RateLimitError(Exception):
    """Stands for litellm.exceptions.RateLimitError (matched by module and name)."""


RateLimitError.__module__ = "litellm.exceptions"


class BadRequestError(Exception):
    status_code = 400


BadRequestError.__module__ = "litellm.exceptions"


class ServiceUnavailable(Exception):
    """Stands for a google-api-core error (an int `code`)."""

    code = 503


@pytest.mark.parametrize(
    "exc",
    [
        _api_error(429),
        _api_error(500),
        _api_error(502),
        _api_error(503),
        _api_error(504),
        _api_error(408),
        _ResourceExhaustedError(errors.ClientError(429, {"error": {"code": 429}})),
        TimeoutError(),
        ConnectionResetError(),
        ConnectionRefusedError(),
        BrokenPipeError(),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("closed"),
        _httpx_status_error(503),
        RateLimitError("slow down"),
        ServiceUnavailable(),
    ],
    ids=repr,
)
def test_transient(exc: BaseException) -> None:
    assert is_transient_error(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _api_error(400),
        _api_error(401),
        _api_error(403),
        _api_error(404),
        _httpx_status_error(404),
        BadRequestError(),
        ValueError("bad"),
        KeyError("k"),
        asyncio.CancelledError(),
        KeyboardInterrupt(),
    ],
    ids=repr,
)
def test_not_transient(exc: BaseException) -> None:
    assert not is_transient_error(exc)


def test_wrapped_errors_follow_their_cause() -> None:
    try:
        try:
            raise _api_error(503)
        except errors.APIError as inner:
            raise RuntimeError("sub-call failed") from inner
    except RuntimeError as outer:
        assert is_transient_error(outer)
    assert not is_transient_error(RuntimeError("no cause"))


def test_exception_groups_are_transient_only_if_every_member_is() -> None:
    assert is_transient_error(ExceptionGroup("g", [TimeoutError(), _api_error(429)]))
    assert not is_transient_error(ExceptionGroup("g", [TimeoutError(), ValueError()]))
