"""Model resolution for every kind of name, defaults, environment and error messages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from google.adk.agents import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.adk.models.gemma_llm import Gemma
from google.adk.models.google_llm import Gemini
from google.adk.models.registry import LLMRegistry
from google.genai import types

from rlm_adk.models import (
    DEFAULT_ROOT_MODEL,
    DEFAULT_SUB_MODEL,
    LocalLlm,
    MissingExtraError,
    default_model_name,
    is_google_model_name,
    model_name,
    resolve_model,
)
from rlm_adk.models import local as local_module
from rlm_adk.models import resolve as resolve_module

HAS_LITELLM = importlib.util.find_spec("litellm") is not None


class EchoLlm(BaseLlm):
    """A model that is not Gemini, to check instances pass through untouched."""

    async def generate_content_async(self, llm_request, stream=False):  # pragma: no cover
        raise NotImplementedError
        yield


@pytest.fixture
def fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file named like a model; constructing a LocalLlm never reads it."""
    monkeypatch.setattr(local_module, "llama_cpp_available", lambda: True)
    path = tmp_path / "models" / "tiny.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF")
    return path


def test_instance_is_returned_as_is() -> None:
    llm = EchoLlm(model="echo")
    assert resolve_model(llm) is llm
    assert resolve_model(llm, role="sub") is llm


def test_defaults_are_current_flash_models_with_retries() -> None:
    root = resolve_model(None)
    sub = resolve_model(None, role="sub")
    assert isinstance(root, Gemini) and isinstance(sub, Gemini)
    assert root.model == DEFAULT_ROOT_MODEL == LlmAgent.DEFAULT_MODEL
    assert sub.model == DEFAULT_SUB_MODEL
    assert "flash-lite" in sub.model
    assert root.retry_options is not None and root.retry_options.attempts > 1


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLM_MODEL", "gemini-2.5-pro")
    monkeypatch.setenv("RLM_SUB_MODEL", "gemini-2.5-flash-lite")
    assert resolve_model(None).model == "gemini-2.5-pro"
    assert resolve_model(None, role="sub").model == "gemini-2.5-flash-lite"


def test_sub_default_follows_a_non_google_root() -> None:
    env = {"RLM_MODEL": "local:/models/m.gguf"}
    assert default_model_name("root", env) == "local:/models/m.gguf"
    assert default_model_name("sub", env) == "local:/models/m.gguf"
    # A Gemini root keeps the cheaper Flash-Lite for sub-calls.
    assert default_model_name("sub", {"RLM_MODEL": "gemini-2.5-pro"}) == DEFAULT_SUB_MODEL
    with pytest.raises(ValueError, match="role"):
        default_model_name("leaf", {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "gemini-3.5-flash",
        "gemini-3.1-flash-lite",
        "gemini-flash-latest",
        "models/gemini-2.5-flash",
        "gemma-4-31b-it",
        "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro",
        "projects/p/locations/us-central1/endpoints/1234567890",
    ],
)
def test_google_names_become_gemini(name: str) -> None:
    assert is_google_model_name(name)
    llm = resolve_model(f"  {name} ")
    assert type(llm) is Gemini
    assert llm.model == name
    assert llm.retry_options is not None


def test_custom_retry_options_are_used() -> None:
    options = types.HttpRetryOptions(attempts=7, initial_delay=0.1)
    llm = resolve_model("gemini-2.5-flash", retry_options=options)
    assert isinstance(llm, Gemini) and llm.retry_options == options


def test_backend_is_read_from_the_environment_at_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing is baked in when the model is built: the client reads the environment later."""
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    llm = resolve_model("gemini-2.5-flash")
    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    client = llm.api_client
    assert client.vertexai is True
    assert client._api_client.project == "demo-project"
    assert client._api_client.location == "europe-west4"

    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "false")
    monkeypatch.setenv("GOOGLE_API_KEY", "fake-key")
    assert resolve_model("gemini-2.5-flash").api_client.vertexai is False


def test_litellm_names_need_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def without_litellm(name: str, *args: object) -> object:
        return None if name == "litellm" else real_find_spec(name, *args)

    monkeypatch.setattr(resolve_module.importlib.util, "find_spec", without_litellm)
    with pytest.raises(MissingExtraError, match=r"rlm-adk\[litellm\]") as info:
        resolve_model("litellm/ollama_chat/qwen2.5-coder:1.5b")
    assert info.value.extra == "litellm"
    assert isinstance(info.value, ImportError)


@pytest.mark.skipif(not HAS_LITELLM, reason="litellm (extra 'litellm') is not installed")
def test_litellm_names_become_litellm_models() -> None:
    from google.adk.models.lite_llm import LiteLlm

    llm = resolve_model("litellm/ollama_chat/qwen2.5-coder:1.5b")
    assert isinstance(llm, LiteLlm)
    assert llm.model == "ollama_chat/qwen2.5-coder:1.5b"


@pytest.mark.parametrize("name", ["litellm/", "litellm//x"])
def test_litellm_names_must_name_a_model(name: str) -> None:
    with pytest.raises(ValueError, match="litellm/<provider>/<model>"):
        resolve_model(name)


def test_local_names_become_local_models(fake_gguf: Path) -> None:
    llm = resolve_model(f"local:{fake_gguf}")
    assert isinstance(llm, LocalLlm)
    assert llm.path == fake_gguf.resolve()
    assert llm.model == f"local:{fake_gguf.resolve()}"
    assert model_name(llm) == "local:tiny.gguf"  # No directories in span names.


def test_local_relative_paths_are_made_absolute(
    fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fake_gguf.parent.parent)
    llm = resolve_model("local:models/tiny.gguf")
    assert isinstance(llm, LocalLlm) and llm.path == fake_gguf.resolve()


def test_local_names_resolve_through_adk_too(fake_gguf: Path) -> None:
    """rlm_adk.models registers LocalLlm, so plain ADK agents accept `local:` names."""
    assert isinstance(LLMRegistry.new_llm(f"local:{fake_gguf}"), LocalLlm)
    agent = LlmAgent(name="a", model=f"local:{fake_gguf}")
    assert isinstance(agent.canonical_model, LocalLlm)
    assert agent.canonical_model.path == fake_gguf.resolve()


def test_local_missing_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(local_module, "llama_cpp_available", lambda: True)
    with pytest.raises(FileNotFoundError, match=r"no-such\.gguf.*fetch_model"):
        resolve_model(f"local:{tmp_path / 'no-such.gguf'}")


def test_local_without_llama_cpp_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(local_module, "llama_cpp_available", lambda: False)
    with pytest.raises(MissingExtraError, match=r"llama-cpp-python.*rlm-adk\[local\]"):
        resolve_model(f"local:{tmp_path / 'm.gguf'}")


def test_local_name_without_path_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"local:<path-to\.gguf>"):
        resolve_model("local:  ")


def test_other_names_go_through_adks_registry() -> None:
    # Gemma 3 is one of ADK's own classes (a Gemini subclass with function-call workarounds).
    assert type(resolve_model("gemma-3-27b-it")) is Gemma


@pytest.mark.parametrize("name", ["no-such-model", "acme-provider/model-9"])
def test_unknown_names_list_the_accepted_forms(name: str) -> None:
    with pytest.raises(ValueError) as info:
        resolve_model(name)
    message = str(info.value)
    for form in ("gemini-3.5-flash", "litellm/<provider>/<model>", "local:<path-to.gguf>"):
        assert form in message


def test_empty_and_wrong_types_are_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        resolve_model("   ")
    with pytest.raises(TypeError):
        resolve_model(42)  # type: ignore[arg-type]


def test_model_name_is_the_model_id() -> None:
    assert model_name(resolve_model("gemini-2.5-flash")) == "gemini-2.5-flash"
    assert model_name(EchoLlm(model="ollama_chat/qwen")) == "ollama_chat/qwen"
