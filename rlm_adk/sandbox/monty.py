"""`MontySandbox`: the secure default backend, a Monty interpreter in a worker subprocess.

Monty is a Python subset written in Rust: no file system, network, environment or subprocesses
exist inside it, and the engine enforces time, memory and host-call limits. Each sandbox holds one
worker of a process-wide pool for its whole life; state persists across cells.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import re
import threading
import time
from typing import Any

from rlm_adk.sandbox.base import CellResult, SandboxError, SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge, exposure_of
from rlm_adk.sandbox.display import with_display
from rlm_adk.sandbox.output import OutputBuffer

_ERROR_TYPE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)):?", re.MULTILINE)


def _monty() -> Any:
    import pydantic_monty

    return pydantic_monty


class _PoolRegistry:
    """One `AsyncMonty` worker pool per event loop, closed at interpreter exit."""

    def __init__(self) -> None:
        self._pools: dict[int, tuple[asyncio.AbstractEventLoop, Any]] = {}
        self._lock = threading.Lock()
        self.max_processes = 256
        atexit.register(self.close_all)

    async def get(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._pools.get(id(loop))
            if entry is not None and entry[0] is loop:
                return entry[1]
            # Pools of loops that have closed since (one loop per `asyncio.run`, ADK's sync
            # runner) would keep their idle workers alive until exit.
            stale = [key for key, (old, _) in self._pools.items() if old.is_closed()]
            stale_pools = [self._pools.pop(key)[1] for key in stale]
        for old_pool in stale_pools:
            with contextlib.suppress(Exception):
                await old_pool.__aexit__(None, None, None)
        pool = _monty().AsyncMonty(
            min_processes=0, max_processes=self.max_processes, checkout_timeout=120.0
        )
        await pool.__aenter__()
        with self._lock:
            self._pools[id(loop)] = (loop, pool)
        return pool

    def close_all(self) -> None:
        with self._lock:
            pools = [pool for _, pool in self._pools.values()]
            self._pools.clear()
        if not pools:
            return

        async def _close() -> None:
            for pool in pools:
                with contextlib.suppress(Exception):
                    await pool.__aexit__(None, None, None)
            # Lets worker threads finish their callbacks before the loop goes away.
            await asyncio.sleep(0.05)

        with contextlib.suppress(Exception):
            asyncio.run(_close())


POOLS = _PoolRegistry()


def _exposed(bridge: HostBridge, value: Any) -> Any:
    """Host value -> what Monty can carry: plain data as is, declared objects as ClassInstances."""
    if value is None or isinstance(value, (str, int, float, bool, bytes)):
        return value
    if isinstance(value, list | tuple):
        items = [_exposed(bridge, v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _exposed(bridge, v) for k, v in value.items()}
    exposure = exposure_of(value)
    if exposure is None:
        return value
    return _instance_class()(
        value,
        bridge=bridge,
        eager_attrs=exposure.attrs or None,
        lazy_attrs=exposure.lazy_attrs or None,
        allowed_methods=exposure.methods or None,
    )


_INSTANCE_CLASS: Any = None


def _instance_class() -> Any:
    """A `ClassInstance` that routes every access through the bridge (counting, error mapping)."""
    global _INSTANCE_CLASS
    if _INSTANCE_CLASS is None:
        base = _monty().ClassInstance

        class BridgedInstance(base):  # type: ignore[misc, valid-type]
            def __init__(self, value: Any, *, bridge: HostBridge, **policy: Any) -> None:
                super().__init__(value, **policy)
                self._bridge = bridge

            def convert_value(self, /, name: str, value: Any) -> Any:
                return _exposed(self._bridge, value)

            def call_method(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                result = self._bridge.call_method(self.value, name, args, kwargs)
                return _exposed(self._bridge, result)

            def lookup_lazy_attrs(self, name: str) -> Any:
                return _exposed(self._bridge, self._bridge.get_attr(self.value, name))

        _INSTANCE_CLASS = BridgedInstance
    return _INSTANCE_CLASS


def _lookup_table(bridge: HostBridge) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for name in bridge.functions:
        if bridge.is_async(name):

            async def call_async(*args: Any, _name: str = name, **kwargs: Any) -> Any:
                return _exposed(bridge, await bridge.call(_name, args, kwargs))

            table[name] = call_async
        else:

            def call_sync(*args: Any, _name: str = name, **kwargs: Any) -> Any:
                return _exposed(bridge, bridge.call(_name, args, kwargs))

            table[name] = call_sync
    for name, obj in bridge.objects.items():
        table[name] = _exposed(bridge, obj)
    return table


class MontySandbox:
    """A persistent Monty REPL in a pooled worker process."""

    kind = "monty"

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self._bridge: HostBridge | None = None
        self._session: Any = None
        # Host objects as the session last saw them: Monty keeps a name it looked up once, so an
        # object the host rebinds (the next request's `context`) is passed again as an input.
        self._bound: dict[str, Any] = {}
        self._closed = False
        self._lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self, bridge: HostBridge) -> None:
        self._bridge = bridge
        await self._checkout()

    async def _checkout(self) -> None:
        pool = await POOLS.get()
        session = pool.checkout(
            script_name="cell.py",
            limits={
                "max_feed_duration_secs": self.limits.cell_timeout_seconds,
                "max_memory": self.limits.memory_bytes,
                "max_suspensions": self.limits.max_host_calls,
                # Monty leaves sleeps out of the feed time, so `while True: time.sleep(1)` would
                # never end: sleeping is bounded on its own, per worker session.
                "max_total_sleep_secs": self.limits.cell_timeout_seconds,
            },
            os_policy={"sleep_system_max": self.limits.cell_timeout_seconds},
        )
        try:
            await session.__aenter__()
        except Exception as exc:
            raise SandboxError(f"could not start a Monty worker: {exc}") from exc
        self._session = session
        self._bound = {}

    async def _release_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.__aexit__(None, None, None)

    async def run(self, code: str) -> CellResult:
        if self._closed or self._bridge is None:
            raise SandboxError("this sandbox is closed")
        async with self._lock:
            if self._session is None:
                await self._checkout()
            pm = _monty()
            buffer = OutputBuffer(self.limits.max_output_chars)
            started = time.perf_counter()
            error: str | None = None
            error_type: str | None = None
            restart = False
            objects = self._bridge.objects
            rebound = {
                name: _exposed(self._bridge, obj)
                for name, obj in objects.items()
                if name in self._bound and self._bound[name] is not obj
            }
            self._bound = dict(objects)
            try:
                # Rebuilt per cell: the bridge's objects (e.g. `context`) may be rebound between cells.
                await self._session.feed_run(
                    with_display(code),
                    inputs=rebound or None,
                    external_lookup=_lookup_table(self._bridge),
                    print_callback=lambda _stream, text: buffer.write(text),
                )
            except asyncio.CancelledError:
                # The worker may be mid-cell; never hand it back to another user in that state.
                await asyncio.shield(self._release_session())
                raise
            except pm.MontySyntaxError as exc:
                error, error_type = exc.display(), "SyntaxError"
            except pm.MontyRuntimeError as exc:
                error = exc.display()
                error_type = _error_type(error)
                if error_type == "TimeoutError":
                    limit = f"{self.limits.cell_timeout_seconds:g} s"
                    error += (
                        f"\n[sleeping is limited to {limit} in all per REPL]"
                        if "sleep limit" in error
                        else f"\n[the cell exceeded its time limit of {limit}]"
                    )
                    restart = True
            except pm.MontyCrashedError as exc:
                error, error_type, restart = f"SandboxCrash: {exc}", "SandboxCrash", True
            except pm.MontyError as exc:
                error, error_type, restart = (
                    f"{type(exc).__name__}: {exc}",
                    type(exc).__name__,
                    True,
                )
            except RuntimeError as exc:
                # The pool's own limits (e.g. host calls) surface as an uncatchable RuntimeError.
                error, error_type, restart = f"RuntimeError: {exc}", "RuntimeError", True
            if restart:
                await self._release_session()
            return CellResult(
                output=buffer.getvalue(),
                output_chars=buffer.total,
                truncated_chars=buffer.cut,
                error=error,
                error_type=error_type,
                duration_seconds=time.perf_counter() - started,
                restarted=restart,
            )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._release_session()


def _error_type(display: str) -> str:
    found = _ERROR_TYPE.findall(display)
    return found[-1].split(".")[-1] if found else "Error"
