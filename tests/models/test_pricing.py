"""The price table and the cost of a call."""

from __future__ import annotations

import pytest

from rlm_adk.config import ModelPrice, RLMConfig
from rlm_adk.models import DEFAULT_ROOT_MODEL, DEFAULT_SUB_MODEL, PRICES, cost_usd, price_for
from rlm_adk.models.pricing import LONG_CONTEXT_THRESHOLD, normalize_model_name


def test_defaults_are_priced_and_sub_is_cheaper() -> None:
    root, sub = price_for(DEFAULT_ROOT_MODEL), price_for(DEFAULT_SUB_MODEL)
    assert root is not None and sub is not None
    assert sub.input_per_mtok < root.input_per_mtok
    assert sub.output_per_mtok < root.output_per_mtok


def test_cost_of_a_call() -> None:
    price = PRICES["gemini-2.5-flash"]
    expected = (1_000 * price.input_per_mtok + 500 * price.output_per_mtok) / 1e6
    assert cost_usd("gemini-2.5-flash", 1_000, 500) == pytest.approx(expected)
    assert cost_usd("gemini-2.5-flash", 0, 0) == 0.0


def test_prices_are_per_million_tokens() -> None:
    for name, price in PRICES.items():
        assert cost_usd(name, 100_000, 0) == pytest.approx(price.input_per_mtok / 10)
        assert cost_usd(name, 0, 1_000_000) == pytest.approx(price.output_per_mtok)


def test_unknown_models_cost_nothing_and_say_so() -> None:
    assert price_for("acme-9000") is None
    assert cost_usd("acme-9000", 10_000, 10_000) == 0.0


def test_local_models_are_free_and_priced() -> None:
    assert price_for("local:/models/qwen.gguf") == ModelPrice(input_per_mtok=0, output_per_mtok=0)
    assert cost_usd("local:qwen.gguf", 10_000, 10_000) == 0.0


@pytest.mark.parametrize(
    "name",
    [
        "models/gemini-2.5-flash",
        "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash",
        "gemini/gemini-2.5-flash",
        "litellm/gemini/gemini-2.5-flash",
        "gemini-2.5-flash-001",
        "gemini-2.5-flash@001",
        "gemini-2.5-flash-preview-09-2025",
        "Gemini-2.5-Flash",
    ],
)
def test_name_variants_find_their_family_price(name: str) -> None:
    assert price_for(name) == PRICES["gemini-2.5-flash"]


def test_lite_is_not_priced_as_its_bigger_sibling() -> None:
    assert normalize_model_name("models/gemini-2.5-flash-lite") == "gemini-2.5-flash-lite"
    assert price_for("gemini-2.5-flash-lite") == PRICES["gemini-2.5-flash-lite"]
    assert price_for("gemini-2.5-flash-lite") != PRICES["gemini-2.5-flash"]


def test_pro_long_context_rate() -> None:
    short = cost_usd("gemini-2.5-pro", LONG_CONTEXT_THRESHOLD, 1_000)
    long = cost_usd("gemini-2.5-pro", LONG_CONTEXT_THRESHOLD + 1, 1_000)
    assert long > short * 1.5


def test_overrides_win_and_add_models() -> None:
    overrides = {
        "gemini-2.5-flash": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0),
        "my-ollama-model": ModelPrice(input_per_mtok=0.5, output_per_mtok=0.5),
    }
    assert cost_usd("gemini-2.5-flash", 1_000_000, 1_000_000, overrides) == pytest.approx(3.0)
    assert cost_usd("models/gemini-2.5-flash", 1_000_000, 0, overrides) == pytest.approx(1.0)
    assert cost_usd("my-ollama-model", 2_000_000, 0, overrides) == pytest.approx(1.0)
    assert price_for("my-ollama-model", overrides) == overrides["my-ollama-model"]
    # An override is the whole truth: no long-context surcharge on top of it.
    pro = {"gemini-2.5-pro": ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0)}
    assert cost_usd("gemini-2.5-pro", 1_000_000, 0, pro) == pytest.approx(1.0)


def test_overrides_come_from_the_config_environment() -> None:
    config = RLMConfig.from_env(
        {"RLM_PRICES": '{"acme-9000": {"input_per_mtok": 4, "output_per_mtok": 8}}'}
    )
    assert cost_usd("acme-9000", 1_000_000, 1_000_000, config.prices) == pytest.approx(12.0)
