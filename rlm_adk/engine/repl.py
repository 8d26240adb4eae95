"""`Repl`: a sandbox plus the host functions bound to whichever node is using it.

The root's REPL belongs to the ADK session and outlives a request; each request binds its own
node (budget, context) before running a cell. Children get a fresh `Repl` each.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from rlm_adk.config import RLMConfig
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

    async def run(self, node: RLMNode, code: str) -> CellResult:
        async with self._lock:
            self.host.bind(node)
            if not self._started:
                await self.sandbox.start(self.host.bridge)
                self._started = True
            self.last_used = time.monotonic()
            try:
                return await self.sandbox.run(code)
            except asyncio.CancelledError:
                # Host calls the cell started (sub-calls, children) must not outlive it.
                await asyncio.shield(self.host.bridge.cancel_inflight())
                raise
            finally:
                self.last_used = time.monotonic()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def close(self) -> None:
        await self.sandbox.close()
