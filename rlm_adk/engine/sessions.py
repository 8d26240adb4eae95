"""Root REPLs by ADK session: kept between a session's turns, released when idle.

Idle REPLs are released by a timer on the serving loop (and whenever another session starts a
request), so a server whose sessions all went quiet does not hold their sandboxes.
"""

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
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._sweeps: set[asyncio.Task[None]] = set()

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
            self._schedule(config.sandbox_idle_seconds)
            return repl

    def _schedule(self, idle_seconds: float) -> None:
        """Arms the sweep timer on the running loop, unless one is already pending there."""
        loop = asyncio.get_running_loop()
        if self._timer is not None and self._timer_loop is loop and not self._timer.cancelled():
            return
        self._timer_loop = loop
        self._timer = loop.call_later(idle_seconds, self._on_timer, idle_seconds)

    def _on_timer(self, idle_seconds: float) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self._sweep(idle_seconds))
        self._sweeps.add(task)
        task.add_done_callback(self._sweeps.discard)

    async def _sweep(self, idle_seconds: float) -> None:
        async with self._lock:
            await self._evict_idle(idle_seconds, keep=None)
            if not self._repls:
                return
            # Again when the next REPL could turn idle (busy ones are looked at again then).
            now = time.monotonic()
            due = min(max(0.0, r.last_used + idle_seconds - now) for r in self._repls.values())
            loop = asyncio.get_running_loop()
            self._timer_loop = loop
            self._timer = loop.call_later(max(due, idle_seconds / 10), self._on_timer, idle_seconds)

    async def _evict_idle(self, idle_seconds: float, keep: SessionKey | None) -> None:
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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            repls, self._repls = list(self._repls.values()), {}
        for repl in repls:
            with contextlib.suppress(Exception):
                await repl.close()
