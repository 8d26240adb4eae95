"""Sandboxes for model-written code: the `Sandbox` protocol and its backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlm_adk.sandbox.base import CellResult, Sandbox, SandboxError, SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge

if TYPE_CHECKING:
    from rlm_adk.config import RLMConfig


def limits_from(config: RLMConfig) -> SandboxLimits:
    return SandboxLimits(
        cell_timeout_seconds=config.cell_timeout_seconds,
        memory_bytes=config.sandbox_memory_bytes,
        max_output_chars=config.max_output_chars,
        max_host_calls=config.max_host_calls_per_sandbox,
    )


def make_sandbox(config: RLMConfig) -> Sandbox:
    """The configured backend: `monty` (default, secure) or `subprocess` (trusted use only)."""
    limits = limits_from(config)
    if config.sandbox == "subprocess":
        from rlm_adk.sandbox.subprocess import SubprocessSandbox

        return SubprocessSandbox(limits)
    from rlm_adk.sandbox.monty import POOLS, MontySandbox

    POOLS.max_processes = max(POOLS.max_processes, config.max_live_sandboxes)
    return MontySandbox(limits)


__all__ = [
    "CellResult",
    "HostBridge",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "limits_from",
    "make_sandbox",
]
