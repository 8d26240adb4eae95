"""`RLMConfig`: every limit and setting of an RLM tree, from code or `RLM_*` variables."""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "RLM_"


class ModelPrice(BaseModel):
    """USD per million tokens for one model."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class ConfigError(ValueError):
    """A configuration value is malformed; the message names the setting."""


class RLMConfig(BaseModel):
    """Limits and settings shared by a whole RLM tree.

    Every field can also come from the environment as `RLM_<FIELD NAME>` (upper case); see
    `RLMConfig.from_env`. Values given in code win over the environment.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Recursion and fan-out.
    max_depth: int = Field(default=2, ge=1, le=8)
    """RLM levels in the tree: the root is depth 0; at depth `max_depth` a sub-call is a plain model call."""
    max_concurrency: int = Field(default=64, ge=1, le=4096)
    """Sub-calls in flight at once across the whole tree."""
    max_concurrency_per_depth: dict[int, int] = Field(default_factory=dict)
    """Optional tighter limits for sub-calls issued at a given depth."""
    max_children_in_flight: int = Field(default=16, ge=1, le=1024)
    """Child RLM agents running at once per depth (each holds a sandbox)."""

    # Tree-wide budget, enforced by the engine.
    max_llm_calls: int = Field(default=500, ge=1)
    """Model calls across the tree (root turns, sub-calls and children's turns)."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Input plus output tokens across the tree."""
    max_cost_usd: float | None = Field(default=None, gt=0)
    """Spend across the tree, priced with `prices`."""
    max_wall_seconds: float | None = Field(default=None, gt=0)
    """Wall-clock deadline for one request."""
    max_iterations: int = Field(default=30, ge=1)
    """Model turns per agent (root or child) before it must answer."""
    estimated_output_tokens: int = Field(default=1024, ge=1)
    """Tokens reserved per call when admitting it under `max_tokens`/`max_cost_usd`."""

    # Sub-calls.
    plain_call_context_chars: int = Field(default=200_000, ge=1_000)
    """At the depth limit a spawn becomes a plain call carrying at most this much of its context."""
    subcall_timeout_seconds: float = Field(default=300.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    retry_initial_delay: float = Field(default=0.5, ge=0)
    retry_max_delay: float = Field(default=20.0, ge=0)

    # Models.
    model: str | None = None
    """Root model name; used when the agent is not given a model object."""
    sub_model: str | None = None
    """Model for sub-calls and child agents (default: the root model)."""
    sub_models_by_depth: dict[int, str] = Field(default_factory=dict)
    """Per-depth override of `sub_model`."""
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    """Extra or overriding entries for the price table (model name -> USD per 1M tokens)."""

    prompt: Literal["auto", "full", "small"] = "auto"
    """Instruction variant: `small` is short with a worked example, for small local models;
    `auto` picks it for `local:` models."""

    # Sandbox.
    sandbox: Literal["monty", "subprocess"] = "monty"
    """`monty` is the secure default; `subprocess` runs full CPython and is for trusted use only."""
    cell_timeout_seconds: float = Field(default=60.0, gt=0)
    sandbox_memory_bytes: int = Field(default=512 * 1024 * 1024, ge=16 * 1024 * 1024)
    max_host_calls_per_sandbox: int = Field(default=1_000_000, ge=1_000)
    max_output_chars: int = Field(default=20_000, ge=200)
    """Printed output returned to the model per cell; the rest is cut and the model is told how much."""
    sandbox_idle_seconds: float = Field(default=1800.0, gt=0)
    """A session's root REPL is released after this long unused."""
    max_live_sandboxes: int = Field(default=256, ge=1)
    """Sandbox workers alive at once in this process; a request waits for one beyond it."""

    # Context binding.
    context: list[str] = Field(default_factory=list)
    """Corpus URIs bound to every request (local paths, `gs://bucket/prefix`)."""
    allowed_roots: list[str] = Field(default_factory=list)
    """Roots the `open_context` tool and session state may open; empty means `context` only."""

    # Telemetry.
    capture_content: bool | None = None
    """Prompts, code and outputs in spans; `None` follows `ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS`."""
    trajectory_dir: str | None = None
    """Write a JSONL trajectory per request here."""

    @field_validator("context", "allowed_roots", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def sub_model_for_depth(self, depth: int) -> str | None:
        """The configured model name for sub-calls made into `depth`, if any."""
        return self.sub_models_by_depth.get(depth, self.sub_model)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> RLMConfig:
        """Builds a config from `RLM_*` variables, then `overrides`.

        Raises `ConfigError` naming the variable when a value is malformed.
        """
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            key = ENV_PREFIX + name.upper()
            if key not in environ:
                continue
            raw = environ[key]
            annotation = str(field.annotation)
            if raw.strip().startswith(("{", "[")) and (
                "dict" in annotation or "list" in annotation
            ):
                try:
                    values[name] = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{key}: not valid JSON ({exc.msg})") from exc
            elif raw == "" and "None" in annotation:
                values[name] = None
            else:
                values[name] = raw
        values.update(overrides)
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid RLM configuration: {problems}") from exc
