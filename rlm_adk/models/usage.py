"""Token usage of a model response and classification of retryable model errors."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["TRANSIENT_STATUS_CODES", "MissingExtraError", "is_transient_error", "usage_of"]

# HTTP statuses worth retrying: request timeout, rate limit, and the server-side 5xx family
# that Google, LiteLLM back ends and proxies return while overloaded or restarting.
TRANSIENT_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})

# LiteLLM (and OpenAI SDK) exception class names that mean "try again later". Matched by name so
# this module never imports litellm.
_TRANSIENT_CLASS_NAMES = frozenset(
    {
        "RateLimitError",
        "Timeout",
        "APITimeoutError",
        "APIConnectionError",
        "ServiceUnavailableError",
        "InternalServerError",
        "BadGatewayError",
    }
)
_TRANSIENT_LIBRARIES = ("litellm", "openai", "httpx", "httpcore", "aiohttp")

# How deep to follow `raise ... from ...` chains; wrappers rarely nest more than twice.
_MAX_CAUSE_DEPTH = 5


class MissingExtraError(ImportError):
    """An optional dependency of rlm-adk is not installed; the message names the extra."""

    def __init__(self, feature: str, extra: str, package: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {package!r}, which is not installed. "
            f"Install it with: pip install 'rlm-adk[{extra}]'"
        )
        self.extra = extra
        self.package = package


def usage_of(response: Any) -> tuple[int, int]:
    """(input tokens, output tokens) of an `LlmResponse` (or a genai `GenerateContentResponse`).

    Input counts the prompt plus tool-use prompt tokens; output counts candidate tokens plus
    thinking tokens (billed as output). Missing metadata counts as 0. When a provider reports
    only a total, the part not attributed to the prompt counts as output.
    """
    meta = getattr(response, "usage_metadata", None)
    if meta is None:
        return 0, 0
    prompt = _int(getattr(meta, "prompt_token_count", None))
    tool_prompt = _int(getattr(meta, "tool_use_prompt_token_count", None))
    candidates = getattr(meta, "candidates_token_count", None)
    thoughts = _int(getattr(meta, "thoughts_token_count", None))
    input_tokens = prompt + tool_prompt
    if candidates is None and not thoughts:
        total = _int(getattr(meta, "total_token_count", None))
        return input_tokens, max(total - input_tokens, 0)
    return input_tokens, _int(candidates) + thoughts


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def is_transient_error(exc: BaseException) -> bool:
    """Whether a model call that raised `exc` may succeed if retried after a pause.

    True for HTTP 408/429/500/502/503/504 from google-genai (`APIError.code`), google-api-core,
    httpx (`HTTPStatusError`), LiteLLM and OpenAI-style errors (`status_code`); for timeouts
    (builtin/asyncio `TimeoutError`, httpx timeouts, LiteLLM `Timeout`) and dropped connections
    (`ConnectionError`, httpx network and protocol errors). Follows `raise ... from` chains; an
    exception group is transient when all its members are. Cancellation and everything else is
    not transient.
    """
    return _is_transient(exc, 0)


def _is_transient(exc: BaseException, depth: int) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return bool(exc.exceptions) and all(_is_transient(e, depth) for e in exc.exceptions)
    if not isinstance(exc, Exception):
        return False  # CancelledError, KeyboardInterrupt, SystemExit.
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    if _status_code(exc) in TRANSIENT_STATUS_CODES:
        return True
    if _is_transient_library_error(exc):
        return True
    cause = exc.__cause__
    if cause is not None and depth < _MAX_CAUSE_DEPTH:
        return _is_transient(cause, depth + 1)
    return False


def _status_code(exc: Exception) -> int | None:
    """The HTTP status an exception carries, under any of the usual attribute names."""
    for attr in ("code", "status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _is_transient_library_error(exc: Exception) -> bool:
    """httpx/aiohttp transport failures and LiteLLM/OpenAI retryable classes, without imports."""
    httpx = sys.modules.get("httpx")
    if httpx is not None:
        transient = (
            httpx.TimeoutException,
            httpx.NetworkError,
            httpx.RemoteProtocolError,
        )
        if isinstance(exc, transient):
            return True
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None and isinstance(
        exc, aiohttp.ClientConnectionError | aiohttp.ServerTimeoutError
    ):
        return True
    for cls in type(exc).__mro__:
        if cls.__name__ in _TRANSIENT_CLASS_NAMES and cls.__module__.split(".", 1)[0] in (
            _TRANSIENT_LIBRARIES
        ):
            return True
    return False
