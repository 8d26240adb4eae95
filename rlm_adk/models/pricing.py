"""List prices of Gemini models and the cost of one call, for the tree-wide cost budget.

The figures are Google's published pay-as-you-go *list* prices for the Gemini Developer API
(standard tier, text input; USD per 1M tokens; output includes thinking tokens) as listed on
ai.google.dev/gemini-api/docs/pricing and quoted by several independent price trackers read on
2026-11-24 (this machine has no direct access to Google's page). Vertex AI list prices match for
these models. Batch, cached-input, audio and priority rates are not modelled: a cost budget built
on these figures is an estimate, not an invoice. Users override or extend the table with
`RLMConfig.prices` (`RLM_PRICES='{"my-model": {"input_per_mtok": 1, "output_per_mtok": 2}}'`),
which `cost_usd(..., overrides=...)` consults first.

Models whose price is unknown cost 0.0; `price_for` returns None for them so callers can tell
"free" from "unpriced" (the engine warns once per unpriced model).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rlm_adk.config import ModelPrice

__all__ = [
    "LONG_CONTEXT_THRESHOLD",
    "PRICES",
    "ModelPrice",
    "cost_usd",
    "normalize_model_name",
    "price_for",
]


def _p(input_per_mtok: float, output_per_mtok: float) -> ModelPrice:
    return ModelPrice(input_per_mtok=input_per_mtok, output_per_mtok=output_per_mtok)


# List prices, USD per 1M tokens (see the module docstring for source and date).
PRICES: dict[str, ModelPrice] = {
    # Gemini 3.5 (May 2026).
    "gemini-3.5-flash": _p(1.50, 9.00),
    # Gemini 3.1.
    "gemini-3.1-pro-preview": _p(2.00, 12.00),
    "gemini-3.1-pro": _p(2.00, 12.00),
    "gemini-3.1-flash-lite": _p(0.25, 1.50),
    "gemini-3.1-flash-lite-preview": _p(0.25, 1.50),
    # Gemini 3.
    "gemini-3-pro-preview": _p(2.00, 12.00),
    "gemini-3-flash-preview": _p(0.50, 3.00),
    # Gemini 2.5.
    "gemini-2.5-pro": _p(1.25, 10.00),
    "gemini-2.5-flash": _p(0.30, 2.50),
    "gemini-2.5-flash-lite": _p(0.10, 0.40),
    # Gemini 2.0 (deprecated; kept so old configurations still count spend).
    "gemini-2.0-flash": _p(0.10, 0.40),
    "gemini-2.0-flash-lite": _p(0.075, 0.30),
}

# Pro models charge a higher rate for the whole call once the prompt exceeds this many tokens.
LONG_CONTEXT_THRESHOLD = 200_000
_LONG_CONTEXT_PRICES: dict[str, ModelPrice] = {
    "gemini-3.1-pro-preview": _p(4.00, 18.00),
    "gemini-3.1-pro": _p(4.00, 18.00),
    "gemini-3-pro-preview": _p(4.00, 18.00),
    "gemini-2.5-pro": _p(2.50, 15.00),
}

# Dated or numbered variants priced like their family name: `gemini-2.5-flash-001`,
# `gemini-2.5-flash-preview-09-2025`, `gemini-2.0-flash-exp`.
_VARIANT_SUFFIX = re.compile(r"-(\d{3}|latest|exp|preview-\d{2}-\d{2,4}|exp-\d{2}-\d{2,4})$")

_FREE = _p(0.0, 0.0)


def normalize_model_name(model: str) -> str:
    """Reduces a model name to the key used by the price table.

    Strips resource paths (`models/x`, `projects/.../publishers/google/models/x`), provider
    prefixes (`litellm/gemini/x`, `vertex_ai/x`) and lower-cases the result.
    """
    name = model.strip().lower()
    if name.startswith("local:"):
        return name
    # Keep the last path segment: resource names and provider prefixes both end with the model id.
    name = name.rsplit("/", 1)[-1]
    # Vertex versions such as `gemini-2.5-flash@001`.
    return name.split("@", 1)[0]


def _lookup(name: str, table: Mapping[str, ModelPrice]) -> ModelPrice | None:
    if name in table:
        return table[name]
    stripped = _VARIANT_SUFFIX.sub("", name)
    if stripped != name and stripped in table:
        return table[stripped]
    return None


def _override_for(model: str, overrides: Mapping[str, ModelPrice] | None) -> ModelPrice | None:
    if not overrides:
        return None
    if model in overrides:
        return overrides[model]
    normalized = {normalize_model_name(k): v for k, v in overrides.items()}
    return _lookup(normalize_model_name(model), normalized)


def price_for(model: str, overrides: Mapping[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The price of `model` (USD per 1M tokens), or None when it is not priced.

    `overrides` (e.g. `RLMConfig.prices`) are consulted first, by exact name and then by the
    normalized name. Local models (`local:...`) are free.
    """
    override = _override_for(model, overrides)
    if override is not None:
        return override
    name = normalize_model_name(model)
    if name.startswith("local:"):
        return _FREE
    return _lookup(name, PRICES)


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    overrides: Mapping[str, ModelPrice] | None = None,
) -> float:
    """USD cost of one call; 0.0 for an unpriced model (see `price_for`).

    Pro models' long-context rate applies when `input_tokens` exceeds `LONG_CONTEXT_THRESHOLD`,
    unless the price comes from `overrides` (an override is taken as the whole truth).
    """
    price = _override_for(model, overrides)
    if price is None:
        price = price_for(model)
        if price is None:
            return 0.0
        if input_tokens > LONG_CONTEXT_THRESHOLD:
            price = _lookup(normalize_model_name(model), _LONG_CONTEXT_PRICES) or price
    return (
        max(input_tokens, 0) * price.input_per_mtok + max(output_tokens, 0) * price.output_per_mtok
    ) / 1_000_000
