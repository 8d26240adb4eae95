"""Model resolution: a name or a `BaseLlm` in, a ready `BaseLlm` out.

Accepted forms (see `resolve_model`):

- a `BaseLlm` instance: returned as is;
- `None`: the default for the role (`RLM_MODEL` / `RLM_SUB_MODEL`, else the built-in defaults);
- a Google model name (`gemini-3.5-flash`, `models/gemini-...`, `projects/.../models/gemini-...`,
  a Vertex endpoint): ADK's `Gemini` with retry options;
- `litellm/<provider>/<model>`: ADK's `LiteLlm` (extra `litellm`);
- `local:<path-to.gguf>`: `LocalLlm`, llama.cpp in process (extra `local`);
- anything else ADK's `LLMRegistry` resolves (e.g. `claude-...` with the anthropic package).

Gemini's back end is chosen by google-genai when the first request is made, not here: an API key
(`GOOGLE_API_KEY` / `GEMINI_API_KEY`) selects the Gemini Developer API;
`GOOGLE_GENAI_USE_ENTERPRISE=true` with `GOOGLE_CLOUD_PROJECT` and `GOOGLE_CLOUD_LOCATION` (and
Application Default Credentials) selects Vertex AI (`GOOGLE_GENAI_USE_VERTEXAI` is the deprecated
spelling). `GOOGLE_GEMINI_BASE_URL` / `GOOGLE_VERTEX_BASE_URL` redirect the endpoint (used by the
fake Gemini server in tests). Nothing is read at import time, so a pickled agent (Agent Engine)
picks up the environment of the process that runs it.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any, Literal

from google.adk.models.base_llm import BaseLlm
from google.adk.models.google_llm import Gemini
from google.adk.models.registry import LLMRegistry
from google.genai import types

from rlm_adk.models.usage import MissingExtraError

__all__ = [
    "DEFAULT_ROOT_MODEL",
    "DEFAULT_SUB_MODEL",
    "LITELLM_PREFIX",
    "LOCAL_PREFIX",
    "ROOT_MODEL_ENV",
    "SUB_MODEL_ENV",
    "default_model_name",
    "default_retry_options",
    "gemini_model",
    "is_google_model_name",
    "model_name",
    "resolve_model",
]

Role = Literal["root", "sub"]

# The root drives the REPL and writes code: ADK's own default Flash model (LlmAgent.DEFAULT_MODEL).
DEFAULT_ROOT_MODEL = "gemini-3.5-flash"
# Sub-calls read chunks and extract facts: the GA Flash-Lite, about a sixth of the root's price.
DEFAULT_SUB_MODEL = "gemini-3.1-flash-lite"
ROOT_MODEL_ENV = "RLM_MODEL"
SUB_MODEL_ENV = "RLM_SUB_MODEL"

LITELLM_PREFIX = "litellm/"
LOCAL_PREFIX = "local:"

# Names google-genai serves: ADK's Gemini patterns plus the `models/` resource form and the
# `-latest` aliases.
_GOOGLE_NAME = re.compile(
    r"(models/)?(gemini-.+|gemma-4.*|learnlm-.+|model-optimizer-.+)"
    r"|projects/.+/locations/.+/(endpoints/.+|publishers/google/models/.+)"
)

_ACCEPTED_FORMS = (
    "a Gemini name such as 'gemini-3.5-flash' (API key or Vertex AI), "
    "'litellm/<provider>/<model>' (extra 'litellm', e.g. 'litellm/ollama_chat/qwen2.5-coder'), "
    "'local:<path-to.gguf>' (extra 'local'), a name ADK's LLMRegistry knows, or a BaseLlm instance"
)


def default_retry_options() -> types.HttpRetryOptions:
    """Retries google-genai applies to every Gemini request (408, 429 and 5xx, connect errors).

    Three attempts with exponential back-off from 1 s (capped at 30 s): enough to ride out a
    short rate-limit burst on root turns. Sub-calls get a second, budget-aware retry layer in
    the engine (`is_transient_error`), so this layer is kept short.
    """
    return types.HttpRetryOptions(attempts=3, initial_delay=1.0, max_delay=30.0, exp_base=2.0)


def gemini_model(
    name: str,
    *,
    retry_options: types.HttpRetryOptions | None = None,
    base_url: str | None = None,
    **kwargs: Any,
) -> Gemini:
    """ADK `Gemini` for `name` with `default_retry_options()` unless others are given.

    `base_url` points the client at another endpoint (e.g. `tests/fakes/gemini_server.py`);
    other keyword arguments go to `Gemini` (e.g. `client_kwargs`, `api_version`).
    """
    return Gemini(
        model=name,
        retry_options=retry_options or default_retry_options(),
        base_url=base_url,
        **kwargs,
    )


def is_google_model_name(name: str) -> bool:
    """Whether `name` is served by google-genai (Gemini API or Vertex AI)."""
    return _GOOGLE_NAME.fullmatch(name.strip()) is not None


def default_model_name(role: Role = "root", environ: dict[str, str] | None = None) -> str:
    """The model name used when none is given.

    Root: `RLM_MODEL`, else `DEFAULT_ROOT_MODEL`. Sub: `RLM_SUB_MODEL`; else `RLM_MODEL` when
    that is not a Google model (a local or LiteLLM root should not silently send sub-calls to
    Gemini); else `DEFAULT_SUB_MODEL`.
    """
    env = os.environ if environ is None else environ
    root = env.get(ROOT_MODEL_ENV, "").strip()
    if role == "root":
        return root or DEFAULT_ROOT_MODEL
    if role != "sub":
        raise ValueError(f"role must be 'root' or 'sub', not {role!r}")
    sub = env.get(SUB_MODEL_ENV, "").strip()
    if sub:
        return sub
    if root and not is_google_model_name(root):
        return root
    return DEFAULT_SUB_MODEL


def resolve_model(
    spec: str | BaseLlm | None,
    *,
    role: Role = "root",
    retry_options: types.HttpRetryOptions | None = None,
) -> BaseLlm:
    """Turns a model spec into a `BaseLlm` (see the module docstring for the accepted forms).

    Raises `MissingExtraError` (an `ImportError` naming the extra to install) when the form
    needs an optional dependency that is missing, `FileNotFoundError` for a `local:` path that
    does not exist, and `ValueError` for a name no form accepts.
    """
    if isinstance(spec, BaseLlm):
        return spec
    if spec is None:
        spec = default_model_name(role)
    if not isinstance(spec, str):
        raise TypeError(f"model must be a name, a BaseLlm or None, not {type(spec).__name__}")
    name = spec.strip()
    if not name:
        raise ValueError(f"empty model name; accepted forms: {_ACCEPTED_FORMS}")

    if name.startswith(LOCAL_PREFIX):
        from rlm_adk.models.local import LocalLlm

        return LocalLlm.from_spec(name)
    if name.startswith(LITELLM_PREFIX):
        return _litellm_model(name[len(LITELLM_PREFIX) :])
    if is_google_model_name(name):
        return gemini_model(name, retry_options=retry_options)
    try:
        return LLMRegistry.new_llm(name)
    except (ValueError, ImportError) as exc:
        adk_hint = " ".join(str(exc).split())  # ADK names missing packages for known families.
        raise ValueError(
            f"unknown model {name!r}; accepted forms: {_ACCEPTED_FORMS}. ADK said: {adk_hint}"
        ) from exc


def _litellm_model(model: str) -> BaseLlm:
    if not model or model.startswith("/"):
        raise ValueError(
            "a LiteLLM model is named 'litellm/<provider>/<model>', "
            "e.g. 'litellm/ollama_chat/qwen2.5-coder:1.5b'"
        )
    if importlib.util.find_spec("litellm") is None:
        raise MissingExtraError("LiteLLM models ('litellm/...')", "litellm", "litellm")
    from google.adk.models.lite_llm import LiteLlm

    return LiteLlm(model=model)


def model_name(llm: BaseLlm) -> str:
    """A short, stable name for spans, logs and the price table.

    Gemini and LiteLLM models report their model id; local models report `local:<file name>`
    (the directory is left out so spans do not carry file-system paths).
    """
    name = llm.model
    if name.startswith(LOCAL_PREFIX):
        return LOCAL_PREFIX + Path(name[len(LOCAL_PREFIX) :]).name
    return name
