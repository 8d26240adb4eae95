"""The `Sandbox` protocol: a persistent REPL that runs untrusted model-written code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rlm_adk.sandbox.bridge import HostBridge


class SandboxError(Exception):
    """The sandbox itself failed (could not start, worker lost); not an error in user code."""


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Limits enforced by the sandbox engine on every cell."""

    cell_timeout_seconds: float = 60.0
    """Execution time per cell (time spent waiting on host calls such as sub-calls excluded)."""
    memory_bytes: int = 512 * 1024 * 1024
    max_output_chars: int = 20_000
    max_host_calls: int = 1_000_000
    """Host calls (context reads, sub-calls, ...) over the sandbox's life."""


@dataclass(slots=True)
class CellResult:
    """What one cell produced."""

    output: str
    """Printed output (stdout and stderr interleaved), truncated to the limit."""
    output_chars: int
    """Characters printed in all, before truncation."""
    truncated_chars: int = 0
    """Characters of printed output cut from the middle."""
    error: str | None = None
    """A readable traceback when the cell failed."""
    error_type: str | None = None
    """The exception's type name (`SyntaxError`, `TimeoutError`, ...)."""
    duration_seconds: float = 0.0
    restarted: bool = False
    """The REPL had to be restarted after this cell (time limit, crash): its variables are gone."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def render(self) -> str:
        """The text the model sees."""
        parts: list[str] = []
        if self.output:
            parts.append(self.output.rstrip("\n"))
        if self.error:
            parts.append(self.error.rstrip("\n"))
        if self.restarted:
            parts.append(
                "[the REPL was restarted after this error: variables defined earlier are gone]"
            )
        if not parts:
            parts.append("[no output; use print() to see values]")
        return "\n".join(parts)


@runtime_checkable
class Sandbox(Protocol):
    """A persistent REPL. State survives between `run` calls until `close`."""

    kind: str

    async def start(self, bridge: HostBridge) -> None:
        """Starts the REPL with the names the bridge exposes."""
        ...

    async def run(self, code: str) -> CellResult:
        """Runs one cell. Errors in the code come back in the result, never as exceptions."""
        ...

    async def close(self) -> None:
        """Releases the worker. Idempotent."""
        ...

    @property
    def closed(self) -> bool: ...
