"""`Repl`: a sandbox plus the host functions bound to whichever node is using it.

The root's REPL belongs to the ADK session and outlives a request; each request binds its own
node (budget, context) before running a cell. Children get a fresh `Repl` each.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from rlm_adk.config import RLMConfig
from rlm_adk.engine.hints import cell_hint
from rlm_adk.engine.host import HostAPI
from rlm_adk.sandbox import make_sandbox
from rlm_adk.sandbox.base import CellResult, Sandbox

if TYPE_CHECKING:
    from rlm_adk.engine.node import RLMNode


class Repl:
    """One persistent REPL: a sandbox started lazily on the first cell."""

    def __init__(self, config: RLMConfig) -> None:
        self.config = config
        self.host = HostAPI()
        self.sandbox: Sandbox = make_sandbox(config)
        self._started = False
        self._lock = asyncio.Lock()
        self.last_used = time.monotonic()
        self.requests = 0
        """Requests running with this REPL: it is in use between their cells too."""

    async def run(self, node: RLMNode, code: str) -> CellResult:
        async with self._lock:
            self.host.bind(node)
            if not self._started:
                await self.sandbox.start(self.host.bridge)
                self._started = True
            self.last_used = time.monotonic()
            started = time.perf_counter()
            # The cell runs as its own task so that the host can stop it (see `HostAPI.start_cell`).
            cell = asyncio.ensure_future(self.sandbox.run(code))
            stopped: list[str] = []

            def stop(reason: str) -> None:
                if not stopped:
                    stopped.append(reason)
                    cell.cancel()

            self.host.start_cell(stop)
            # Waiting on the host is not charged to a cell's time limit, so the request's
            # deadline is enforced here: a cell looping over host calls cannot outlive it.
            remaining = node.request.budget.remaining_seconds()
            timer = (
                asyncio.get_running_loop().call_later(
                    max(0.0, remaining), stop, "max_wall_seconds: the request's deadline passed"
                )
                if remaining is not None
                else None
            )
            try:
                result = await cell
            except asyncio.CancelledError:
                # Host calls the cell started (sub-calls, children) must not outlive it.
                await asyncio.shield(self.host.bridge.cancel_inflight())
                current = asyncio.current_task()
                if stopped and not (current is not None and current.cancelling()):
                    return _stopped(stopped[0], time.perf_counter() - started)
                raise
            finally:
                if timer is not None:
                    timer.cancel()
                self.host.stop_cell = None
                self.last_used = time.monotonic()
            hint = cell_hint(result.error, self.config.sandbox) if result.error else None
            if hint is not None:
                result.error = f"{result.error.rstrip()}\n{hint}"
            return result

    @property
    def busy(self) -> bool:
        return self._lock.locked() or self.requests > 0

    async def close(self) -> None:
        await self.sandbox.close()


def _stopped(reason: str, seconds: float) -> CellResult:
    """The result of a cell the host stopped because its request cannot go on."""
    return CellResult(
        output="",
        output_chars=0,
        error=f"LimitReached: {reason}; the cell was stopped (no new work starts)",
        error_type="LimitReached",
        duration_seconds=seconds,
        restarted=True,
    )
