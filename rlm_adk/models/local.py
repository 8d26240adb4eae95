"""`LocalLlm`: a GGUF model run in process by llama.cpp (`llama-cpp-python`, extra `local`).

`LocalLlm(model="local:/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")` is an ADK `BaseLlm`:
it works as `LlmAgent(model=...)`, as the RLM's root or sub model, and resolves from the
`local:<path>` name through `resolve_model` or ADK's `LLMRegistry` (registered by
`rlm_adk.models`).

- Prompt: the model's own chat template (from the GGUF); messages are built by
  `local_protocol.build_plan`, which documents their order (stable system prefix first, so
  llama.cpp's prompt-prefix cache is reused turn after turn).
- Tool calls: on a turn with tools the output is constrained by a grammar compiled from a JSON
  schema (one action object: a declared tool with its arguments, or the final answer), so every
  turn is a valid `FunctionCall` or a text answer; see `local_protocol`.
- One loaded model per file, shared by every `LocalLlm` naming it, run on its own single worker
  thread behind a lock: calls queue up in order without blocking the event loop or tying up
  the default thread pool. A cancelled call stops generating at the next token.
- Settings: `RLM_LOCAL_THREADS` (default: all cores), `RLM_LOCAL_N_CTX` (default 8192), read
  when a model file is first loaded, or the `n_threads` / `n_ctx` fields;
  `RLM_LOCAL_EXTRA_BUFTS` (see `local_engine._use_extra_buffer_types`: off by default on AMX
  CPUs with an AMX build).
- Every response carries `usage_metadata` (prompt and completion tokens).

Quick start (offline after the two installs)::

    pip install 'rlm-adk[local]'     # compiles llama.cpp: about 5 minutes on 2 cores
    export RLM_MODEL="local:$(python tools/fetch_model.py)"   # Qwen2.5-Coder-1.5B, 1.1 GB

The prefix cache holds the most recent prompt only, so interleaved conversations (a root turn,
then its sub-calls, then the next root turn) re-evaluate the root's prompt. llama-cpp-python's
state cache would avoid that but copies `n_batch x n_vocab` logits per save (about 300 MB for
Qwen's 152K vocabulary), which costs more than it saves here.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from google.adk.models import LlmCapabilities
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import Field, field_validator

from rlm_adk.models.local_engine import (
    ENV_N_CTX,
    ENV_THREADS,
    ContextWindowExceededError,
    _engine_for,
    _LocalEngine,
    _Sampling,
    llama_cpp_available,
    unload_local_models,
)
from rlm_adk.models.local_protocol import build_plan, parse_output
from rlm_adk.models.usage import MissingExtraError

__all__ = [
    "ENV_N_CTX",
    "ENV_THREADS",
    "LOCAL_PREFIX",
    "ContextWindowExceededError",
    "LocalLlm",
    "llama_cpp_available",
    "unload_local_models",
]

LOCAL_PREFIX = "local:"


class LocalLlm(BaseLlm):
    """A GGUF model run in process by llama.cpp; `model` is `local:<path-to.gguf>`."""

    model: str
    n_ctx: int | None = Field(default=None, ge=256)
    """Context window in tokens (default: `RLM_LOCAL_N_CTX`, else 8192)."""
    n_threads: int | None = Field(default=None, ge=1)
    """CPU threads (default: `RLM_LOCAL_THREADS`, else every core)."""
    max_output_tokens: int = Field(default=2048, ge=1)
    """Output limit when the request sets none."""
    temperature: float = Field(default=0.2, ge=0)
    """Sampling temperature when the request sets none (low: reliable tool calls)."""

    @field_validator("model", mode="before")
    @classmethod
    def _normalize_model(cls, value: Any) -> Any:
        # LLMRegistry strips the `local:` prefix before calling the class; accept both forms.
        if not isinstance(value, str):
            return value
        raw = value[len(LOCAL_PREFIX) :] if value.startswith(LOCAL_PREFIX) else value
        if not raw.strip():
            raise ValueError("a local model is named 'local:<path-to.gguf>'")
        return LOCAL_PREFIX + str(Path(raw.strip()).expanduser().resolve())

    def model_post_init(self, context: Any, /) -> None:
        """Fails early, with the fix in the message, when the extra or the file is missing."""
        super().model_post_init(context)
        if not llama_cpp_available():
            raise MissingExtraError(
                "Local models ('local:<path>.gguf')", "local", "llama-cpp-python"
            )
        if not self.path.is_file():
            raise FileNotFoundError(
                f"local model file not found: {self.path} "
                "(tools/fetch_model.py downloads the recommended model)"
            )

    @classmethod
    def from_spec(cls, spec: str) -> LocalLlm:
        """`LocalLlm` for a `local:<path>` name."""
        return cls(model=spec)

    @classmethod
    def supported_models(cls) -> list[str]:
        """Patterns for ADK's `LLMRegistry`."""
        return [r"local:.+"]

    @property
    def path(self) -> Path:
        """The GGUF file."""
        return Path(self.model[len(LOCAL_PREFIX) :])

    @property
    def capabilities(self) -> LlmCapabilities:
        """Output schemas and tools are not combined in one turn (one grammar per turn)."""
        return LlmCapabilities(output_schema_and_tools=False)

    def _engine(self) -> _LocalEngine:
        return _engine_for(self.path, self.n_ctx, self.n_threads)

    def _sampling(self, config: types.GenerateContentConfig | None) -> _Sampling:
        config = config or types.GenerateContentConfig()
        return _Sampling(
            max_tokens=config.max_output_tokens or self.max_output_tokens,
            temperature=self.temperature if config.temperature is None else config.temperature,
            top_p=0.95 if config.top_p is None else config.top_p,
            top_k=40 if config.top_k is None else int(config.top_k),
            stop=list(config.stop_sequences or []),
            seed=config.seed,
        )

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        """Generates one model turn; with `stream=True` the single final response is yielded."""
        self._maybe_append_user_content(llm_request)
        plan = build_plan(llm_request.contents, llm_request.config)
        sampling = self._sampling(llm_request.config)
        engine = self._engine()
        cancelled = threading.Event()
        loop = asyncio.get_running_loop()
        # A copied context keeps OpenTelemetry spans and other context variables in the worker.
        call = contextvars.copy_context().run
        future = loop.run_in_executor(
            engine.executor, call, engine.generate, plan, sampling, cancelled
        )
        try:
            completion = await future
        except asyncio.CancelledError:
            cancelled.set()  # Stops a generation already running; a queued one never starts.
            raise
        parts = parse_output(plan, completion.text)
        yield LlmResponse(
            content=types.Content(role="model", parts=parts),
            finish_reason=(
                types.FinishReason.MAX_TOKENS if completion.truncated else types.FinishReason.STOP
            ),
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=completion.prompt_tokens,
                candidates_token_count=completion.completion_tokens,
                total_token_count=completion.prompt_tokens + completion.completion_tokens,
            ),
            model_version=LOCAL_PREFIX + self.path.name,
        )
