"""The llama.cpp side of `LocalLlm`: one loaded model per GGUF file, its worker and lock.

Kept apart from `local.py` (the ADK model) so the threading, loading and cancellation rules can
be read on their own. Nothing here imports llama-cpp-python until a model is first used.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm_adk.models.local_protocol import ChatPlan

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_N_CTX",
    "ENV_EXTRA_BUFTS",
    "ENV_N_CTX",
    "ENV_THREADS",
    "ContextWindowExceededError",
    "llama_cpp_available",
    "unload_local_models",
]

ENV_THREADS = "RLM_LOCAL_THREADS"
ENV_N_CTX = "RLM_LOCAL_N_CTX"
ENV_EXTRA_BUFTS = "RLM_LOCAL_EXTRA_BUFTS"
DEFAULT_N_CTX = 8192
_MAX_CACHED_GRAMMARS = 64

# Set at interpreter shutdown so a generation in progress stops at its next token.
_SHUTDOWN = threading.Event()


class ContextWindowExceededError(ValueError):
    """The prompt does not fit the local model's context window."""


def llama_cpp_available() -> bool:
    """Whether the optional `llama-cpp-python` package (extra `local`) is importable."""
    return importlib.util.find_spec("llama_cpp") is not None


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}") from exc
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}")
    return value


def _use_extra_buffer_types() -> bool:
    """Whether llama.cpp may use its extra weight buffer types (AMX, CPU repacking).

    `RLM_LOCAL_EXTRA_BUFTS=1`/`0` decides. By default they are off when the CPU advertises AMX
    and llama.cpp was built with AMX kernels (a `-march=native` build on such a CPU): its AMX
    matmul (`ggml_backend_amx_mul_mat`) dies with a general protection fault on `ldtilecfg` in
    virtual machines that do not give guests AMX tile state (seen on this project's 2-core
    Firecracker VMs with Xeon AMX CPUs). Single-token decoding works there, so the crash only
    shows on the first multi-token prompt. Turning the types off costs speed (no repacked
    weights), so on such machines build llama-cpp-python without AMX instead (see README).
    """
    raw = os.environ.get(ENV_EXTRA_BUFTS, "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            cpu_has_amx = " amx_tile" in cpuinfo.read()
    except OSError:
        cpu_has_amx = False
    if not cpu_has_amx:
        return True
    import llama_cpp

    # A build without AMX kernels (e.g. `CMAKE_ARGS="-DGGML_NATIVE=OFF ..."`) keeps the faster
    # repacked weights; only builds that compiled AMX in need the extra types off.
    return b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info()


# Serialises model loads: `_load_llama` briefly swaps a llama_cpp module function.
_LOAD_LOCK = threading.Lock()


def _load_llama(path: Path, n_ctx: int, n_threads: int) -> Any:
    """`llama_cpp.Llama` for `path`, with extra buffer types only where they are safe."""
    import llama_cpp.llama_cpp as low_level
    from llama_cpp import Llama

    kwargs: dict[str, Any] = {
        "model_path": str(path),
        "n_ctx": n_ctx,
        "n_threads": n_threads,
        "n_threads_batch": n_threads,
        "verbose": False,
    }
    if _use_extra_buffer_types():
        return Llama(**kwargs)
    # `Llama` exposes no `use_extra_bufts`; it reads the defaults from this function when it
    # builds its model parameters, so hand it defaults with the option off while it loads.
    original = low_level.llama_model_default_params

    def defaults_without_extra_bufts() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        low_level.llama_model_default_params = defaults_without_extra_bufts
        try:
            return Llama(**kwargs)
        finally:
            low_level.llama_model_default_params = original


def _default_threads() -> int:
    """Every core the process may use (`RLM_LOCAL_THREADS` overrides).

    On a busy or shared machine prefer `RLM_LOCAL_THREADS=1`, or start the process with
    `OMP_WAIT_POLICY=PASSIVE`: llama.cpp's OpenMP threads spin while they wait for each other,
    so when another process holds a core they stall. Qwen2.5-Coder-1.5B on 2 cores shared with
    other work decoded 0.9 tok/s with 2 threads, 4.4 with 1, and 4.1 with 2 passive threads.
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # Not on Linux.
        return os.cpu_count() or 1


@dataclass
class _Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool


@dataclass
class _Sampling:
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    stop: list[str]
    seed: int | None


# JSON's backspace and form-feed escapes decode to control characters no tool argument wants.
# Small models write them when code needs a regex word boundary (Qwen2.5-Coder-1.5B put a bare
# backslash-b in a JSON string, which decoded to a backspace), so the grammar leaves them out
# and the model has to escape the backslash itself.
_JSON_ESCAPES = r'["\\/bfnrt]'
_JSON_ESCAPES_WITHOUT_CONTROL = r'["\\/nrt]'


def _json_grammar(schema_json: str) -> str:
    """GBNF for a JSON schema, without the backspace and form-feed string escapes."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(schema_json)
    if _JSON_ESCAPES not in grammar:
        logger.warning("unexpected JSON string rule in llama.cpp's grammar; left unchanged")
    return grammar.replace(_JSON_ESCAPES, _JSON_ESCAPES_WITHOUT_CONTROL)


class _LocalEngine:
    """One loaded GGUF model: its llama.cpp handle, worker thread, lock and grammar cache."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.lock = threading.Lock()
        self._closing = threading.Event()
        # One worker: generations run one at a time in arrival order; waiting calls hold no thread.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rlm-local-llm")
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self.intervals: deque[tuple[float, float]] = deque(maxlen=256)
        """(start, end) `time.monotonic()` of recent generations, for diagnostics and tests."""
        self._llama: Any = None
        self._formatter: Any = None
        self._grammars: dict[str, Any] = {}

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import llama_chat_format

            started = time.monotonic()
            llama = _load_llama(self.path, self.n_ctx, self.n_threads)
            template = llama.metadata.get("tokenizer.chat_template")
            if template:
                # The same formatter llama-cpp-python builds from the GGUF template; built here
                # so generation can go through create_completion, which supports cancellation.
                eos_id, bos_id = llama.token_eos(), llama.token_bos()
                self._formatter = llama_chat_format.Jinja2ChatFormatter(
                    template=template,
                    eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
                    bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
                    stop_token_ids=[eos_id],
                )
            self._llama = llama
            logger.info("loaded %s in %.2f s", self.path.name, time.monotonic() - started)
        return self._llama

    def _grammar(self, schema: dict[str, Any]) -> Any:
        from llama_cpp import LlamaGrammar

        # Not sort_keys: property order is the order the grammar enforces ("name" first).
        key = json.dumps(schema)
        grammar = self._grammars.get(key)
        if grammar is None:
            if len(self._grammars) >= _MAX_CACHED_GRAMMARS:
                self._grammars.pop(next(iter(self._grammars)))
            grammar = LlamaGrammar.from_string(_json_grammar(key), verbose=False)
            self._grammars[key] = grammar
        return grammar

    def generate(
        self, plan: ChatPlan, sampling: _Sampling, cancelled: threading.Event
    ) -> _Completion:
        """Runs one completion (on the worker thread)."""
        if cancelled.is_set() or _SHUTDOWN.is_set() or self._closing.is_set():
            # Cancelled while queued (or exiting): skip even the prompt evaluation.
            raise concurrent.futures.CancelledError()
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            started = time.monotonic()
            try:
                return self._generate_locked(plan, sampling, cancelled)
            finally:
                self.active -= 1
                self.calls += 1
                self.intervals.append((started, time.monotonic()))

    def _generate_locked(
        self, plan: ChatPlan, sampling: _Sampling, cancelled: threading.Event
    ) -> _Completion:
        from llama_cpp import StoppingCriteriaList

        llama = self._load()
        grammar = self._grammar(plan.schema) if plan.schema is not None else None

        def stop_when_cancelled(_tokens: Any, _logits: Any) -> bool:
            return cancelled.is_set() or _SHUTDOWN.is_set() or self._closing.is_set()

        common: dict[str, Any] = {
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k,
            "seed": sampling.seed,
            "grammar": grammar,
        }
        try:
            if self._formatter is not None:
                formatted = self._formatter(messages=plan.messages)
                prompt = llama.tokenize(
                    formatted.prompt.encode("utf-8"),
                    add_bos=not formatted.added_special,
                    special=True,
                )
                criteria = [stop_when_cancelled]
                if formatted.stopping_criteria is not None:
                    criteria.extend(formatted.stopping_criteria)
                stops = [s for s in [*sampling.stop, *_as_list(formatted.stop)] if s]
                result = llama.create_completion(
                    prompt=prompt,
                    stop=stops,
                    stopping_criteria=StoppingCriteriaList(criteria),
                    **common,
                )
                choice = result["choices"][0]
                text = choice["text"]
            else:
                # No template in the GGUF: the library's own chat format (no mid-call cancel).
                result = llama.create_chat_completion(
                    messages=plan.messages, stop=sampling.stop, **common
                )
                choice = result["choices"][0]
                text = choice["message"]["content"] or ""
        except ValueError as exc:
            if "exceed context window" in str(exc):
                raise ContextWindowExceededError(
                    f"{exc} of {self.path.name}: shorten the prompt or raise {ENV_N_CTX} "
                    f"(now {self.n_ctx})"
                ) from exc
            raise
        usage = result.get("usage") or {}
        return _Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            truncated=choice.get("finish_reason") == "length",
        )

    def close(self) -> None:
        """Stops any generation, drops queued ones and frees the model."""
        self._closing.set()
        self.executor.shutdown(wait=True, cancel_futures=True)
        with self.lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


_ENGINES: dict[Path, _LocalEngine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_for(path: Path, n_ctx: int | None, n_threads: int | None) -> _LocalEngine:
    """The shared engine of `path`, created on first use (settings of the first user win)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(path)
        if engine is None:
            engine = _LocalEngine(
                path,
                n_ctx=n_ctx or _env_int(ENV_N_CTX, DEFAULT_N_CTX),
                n_threads=n_threads or _env_int(ENV_THREADS, _default_threads()),
            )
            _ENGINES[path] = engine
        elif (n_ctx and n_ctx != engine.n_ctx) or (n_threads and n_threads != engine.n_threads):
            logger.warning(
                "%s is already loaded with n_ctx=%d, n_threads=%d; ignoring other settings",
                path.name,
                engine.n_ctx,
                engine.n_threads,
            )
        return engine


def unload_local_models() -> None:
    """Frees every loaded local model (they are reloaded on next use)."""
    with _ENGINES_LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for engine in engines:
        engine.close()


def _on_shutdown() -> None:
    _SHUTDOWN.set()


# Runs before the executors' own exit hook joins the worker threads, so a generation in
# progress stops at once instead of delaying interpreter exit. (The same hook
# concurrent.futures uses; `atexit` would run too late.)
_register_atexit = getattr(threading, "_register_atexit", None)
if _register_atexit is not None:
    _register_atexit(_on_shutdown)
