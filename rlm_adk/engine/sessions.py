"""Root REPLs by ADK session: kept between a session's turns, released when idle."""

from __future__ import annotations

import asyncio
import contextlib
import time

from rlm_adk.config import RLMConfig
from rlm_adk.engine.repl import Repl

SessionKey = tuple[str, str, str]
"""(app name, user id, session id)."""


class SessionRepls:
    """The root REPL of each ADK session. Never shared between sessions."""

    def __init__(self) -> None:
        self._repls: dict[SessionKey, Repl] = {}
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._repls)

    async def get(self, key: SessionKey, config: RLMConfig) -> Repl:
        """The session's REPL, created on first use; idle REPLs of other sessions are released."""
        async with self._lock:
            await self._evict_idle(config.sandbox_idle_seconds, keep=key)
            repl = self._repls.get(key)
            if repl is None or repl.sandbox.closed:
                repl = self._repls[key] = Repl(config)
            repl.last_used = time.monotonic()
            return repl

    async def _evict_idle(self, idle_seconds: float, keep: SessionKey) -> None:
        now = time.monotonic()
        stale = [
            k
            for k, r in self._repls.items()
            if k != keep and not r.busy and now - r.last_used > idle_seconds
        ]
        for k in stale:
            repl = self._repls.pop(k)
            with contextlib.suppress(Exception):
                await repl.close()

    async def release(self, key: SessionKey) -> bool:
        """Releases one session's REPL (e.g. when the session is deleted)."""
        async with self._lock:
            repl = self._repls.pop(key, None)
        if repl is None:
            return False
        await repl.close()
        return True

    async def close_all(self) -> None:
        async with self._lock:
            repls, self._repls = list(self._repls.values()), {}
        for repl in repls:
            with contextlib.suppress(Exception):
                await repl.close()
