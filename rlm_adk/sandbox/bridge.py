"""The host-function bridge: one definition of what sandbox code can reach, for every backend.

A backend exposes `functions` (sync or async callables) and `objects` (host objects) under their
names. Host objects and records declare what crosses the boundary with class attributes:

- `__sandbox_attrs__`: attributes copied into the sandbox with the object (records such as `Chunk`);
- `__sandbox_lazy_attrs__`: attributes fetched on demand (`context.files`);
- `__sandbox_methods__`: methods sandbox code may call; nothing else is reachable.

Exceptions raised by host code are turned into plain built-in exceptions with a message only, so
no host traceback, path or credential leaks into the sandbox.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rlm_adk.context.base import AccessDenied, BinaryContent, ContextError, NotFound

HostFunction = Callable[..., Any] | Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Exposure:
    """What of a host object crosses into the sandbox."""

    attrs: tuple[str, ...] = ()
    lazy_attrs: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()

    @property
    def is_record(self) -> bool:
        return bool(self.attrs) and not self.lazy_attrs


def exposure_of(value: Any) -> Exposure | None:
    """The exposure a host object declares, or None for plain data."""
    cls = type(value)
    attrs = getattr(cls, "__sandbox_attrs__", None)
    lazy = getattr(cls, "__sandbox_lazy_attrs__", None)
    methods = getattr(cls, "__sandbox_methods__", None)
    if attrs is None and lazy is None and methods is None:
        return None
    return Exposure(tuple(attrs or ()), tuple(lazy or ()), tuple(methods or ()))


def to_sandbox_exception(exc: BaseException) -> BaseException:
    """A built-in exception carrying only a message, for raising inside the sandbox."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, NotFound):
        return FileNotFoundError(message)
    if isinstance(exc, AccessDenied):
        return PermissionError(message)
    if isinstance(exc, (BinaryContent, ContextError)):
        return ValueError(message)
    for builtin in (
        TimeoutError,
        FileNotFoundError,
        PermissionError,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        AttributeError,
        NameError,
        RuntimeError,
    ):
        if isinstance(exc, builtin):
            return builtin(message)
    return RuntimeError(f"{type(exc).__name__}: {message}")  # pragma: no cover - last resort


def is_async_callable(fn: Any) -> bool:
    """True for coroutine functions, including objects whose `__call__` is one."""
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or not callable(fn):
        return False
    return inspect.iscoroutinefunction(type(fn).__call__)


class HostBridge:
    """The names sandbox code sees and the host code behind them."""

    def __init__(
        self,
        functions: dict[str, HostFunction] | None = None,
        objects: dict[str, Any] | None = None,
    ) -> None:
        self.functions: dict[str, HostFunction] = dict(functions or {})
        self.objects: dict[str, Any] = dict(objects or {})
        self._lock = threading.Lock()
        self.host_calls = 0
        self._inflight: set[asyncio.Task[Any]] = set()

    @property
    def names(self) -> list[str]:
        return sorted([*self.functions, *self.objects])

    def _count(self) -> None:
        with self._lock:
            self.host_calls += 1

    def is_async(self, name: str) -> bool:
        return is_async_callable(self.functions[name])

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Calls host function `name`; returns its value or a coroutine for async functions.

        Raises only sandbox-safe exceptions (see `to_sandbox_exception`).
        """
        self._count()
        fn = self.functions.get(name)
        if fn is None:
            raise NameError(f"name {name!r} is not defined")
        if is_async_callable(fn):
            return self._call_async(fn, args, kwargs)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise to_sandbox_exception(exc) from None

    async def _call_async(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            return await fn(*args, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise to_sandbox_exception(exc) from None
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def cancel_inflight(self) -> int:
        """Cancels async host calls still running (e.g. after the cell was cancelled) and waits
        for them to end, so no sub-call outlives its request. Returns how many were cancelled."""
        tasks = [t for t in self._inflight if not t.done() and t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    def call_method(
        self, obj: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Calls an exposed method of a host object; anything not exposed is refused."""
        self._count()
        exposure = exposure_of(obj)
        if exposure is None or method not in exposure.methods:
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute {method!r}")
        try:
            return getattr(obj, method)(*args, **kwargs)
        except Exception as exc:
            raise to_sandbox_exception(exc) from None

    def get_attr(self, obj: Any, name: str) -> Any:
        """Reads an exposed attribute of a host object."""
        exposure = exposure_of(obj)
        if exposure is None or name not in (*exposure.attrs, *exposure.lazy_attrs):
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}")
        self._count()
        try:
            return getattr(obj, name)
        except Exception as exc:
            raise to_sandbox_exception(exc) from None
