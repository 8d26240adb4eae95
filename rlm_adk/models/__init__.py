"""Models for the RLM: resolution of names to ADK models, token usage, prices, retry rules.

The engine calls:

- `resolve_model(spec, role="root" | "sub")` -> `BaseLlm` (Gemini, `litellm/...`, `local:<gguf>`);
- `model_name(llm)` -> the name for spans and prices;
- `usage_of(llm_response)` -> (input tokens, output tokens incl. thoughts);
- `cost_usd(model, input_tokens, output_tokens, overrides)` / `price_for(model)`;
- `is_transient_error(exc)` -> whether to retry with back-off.

Importing this package never imports an optional dependency (llama-cpp-python, litellm). It
registers `LocalLlm` with ADK's `LLMRegistry`, so `LlmAgent(model="local:/path/model.gguf")`
also works.
"""

from __future__ import annotations

from google.adk.models.registry import LLMRegistry

from rlm_adk.models.local import LocalLlm, llama_cpp_available, unload_local_models
from rlm_adk.models.pricing import PRICES, ModelPrice, cost_usd, normalize_model_name, price_for
from rlm_adk.models.resolve import (
    DEFAULT_ROOT_MODEL,
    DEFAULT_SUB_MODEL,
    default_model_name,
    default_retry_options,
    gemini_model,
    is_google_model_name,
    model_name,
    resolve_model,
)
from rlm_adk.models.usage import (
    TRANSIENT_STATUS_CODES,
    MissingExtraError,
    is_transient_error,
    usage_of,
)

LLMRegistry.register(LocalLlm)

__all__ = [
    "DEFAULT_ROOT_MODEL",
    "DEFAULT_SUB_MODEL",
    "PRICES",
    "TRANSIENT_STATUS_CODES",
    "LocalLlm",
    "MissingExtraError",
    "ModelPrice",
    "cost_usd",
    "default_model_name",
    "default_retry_options",
    "gemini_model",
    "is_google_model_name",
    "is_transient_error",
    "llama_cpp_available",
    "model_name",
    "normalize_model_name",
    "price_for",
    "resolve_model",
    "unload_local_models",
    "usage_of",
]
