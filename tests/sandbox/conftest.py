"""Fixtures for the sandbox suite: both backends, a sandbox opener, process counting, host probes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest

from rlm_adk.sandbox._subprocess_host import WORKER_SCRIPT
from rlm_adk.sandbox.base import Sandbox, SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge
from rlm_adk.sandbox.monty import MontySandbox
from rlm_adk.sandbox.subprocess import SubprocessSandbox

# Generous defaults so that nothing in the suite can hang; tests that need a limit set it.
DEFAULT_LIMITS = {
    "cell_timeout_seconds": 20.0,
    "memory_bytes": 256 * 1024 * 1024,
    "max_output_chars": 2_000,
}


def live_children(match: Callable[[psutil.Process], bool]) -> set[int]:
    """Pids of this process's live (not zombie) descendants that `match`."""
    pids: set[int] = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and match(proc):
                pids.add(proc.pid)
        except psutil.Error:
            continue
    return pids


def _is_monty_worker(proc: psutil.Process) -> bool:
    return proc.name() == "monty"


def _is_subprocess_worker(proc: psutil.Process) -> bool:
    return str(WORKER_SCRIPT) in proc.cmdline()


@dataclass(frozen=True)
class Backend:
    """A sandbox backend under test and how to find its worker processes."""

    name: str
    factory: Callable[[SandboxLimits], Sandbox]
    is_worker: Callable[[psutil.Process], bool]
    pooled: bool
    """Closed sandboxes hand their worker back to a pool (kept warm) instead of ending it."""

    def workers(self) -> set[int]:
        return live_children(self.is_worker)


BACKENDS = {
    "monty": Backend("monty", MontySandbox, _is_monty_worker, pooled=True),
    "subprocess": Backend("subprocess", SubprocessSandbox, _is_subprocess_worker, pooled=False),
}

Opener = Callable[..., Awaitable[Sandbox]]


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
async def open_sandbox(backend: Backend) -> AsyncIterator[Opener]:
    """`await open_sandbox(functions=..., objects=..., **limits)`: a started sandbox, closed after."""
    opened: list[Sandbox] = []

    async def _open(
        functions: dict[str, Any] | None = None,
        objects: dict[str, Any] | None = None,
        bridge: HostBridge | None = None,
        **limits: Any,
    ) -> Sandbox:
        sandbox = backend.factory(SandboxLimits(**{**DEFAULT_LIMITS, **limits}))
        opened.append(sandbox)
        await sandbox.start(bridge or HostBridge(functions, objects))
        return sandbox

    yield _open
    for sandbox in opened:
        await sandbox.close()


@dataclass
class Rendezvous:
    """An async host function whose calls all wait until `expected` of them have started.

    Calls that the sandbox ran one after another would never meet and time out, so a passing
    cell proves concurrency without measuring wall time; `spans` records each call's start and end.
    """

    expected: int
    spans: list[tuple[float, float]] = field(default_factory=list)
    _started: int = 0
    _all_in: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, value: Any) -> Any:
        start = time.monotonic()
        self._started += 1
        if self._started >= self.expected:
            self._all_in.set()
        await asyncio.wait_for(self._all_in.wait(), timeout=10.0)
        self.spans.append((start, time.monotonic()))
        return value


@pytest.fixture
def rendezvous() -> Callable[[int], Rendezvous]:
    return Rendezvous
