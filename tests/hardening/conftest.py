"""Fixtures for the hardening suite: a ledger of attempts and faults (the figures in
docs/SECURITY.md), host-health probes, sandbox and process accounting.

Every test that tries an attack or injects a fault records it in `LEDGER` before asserting, so a
run prints how many attempts were tried and contained and how many faults were injected and
absorbed. `RLM_HARDENING_FIGURES=<path>` also writes them as JSON (see tools/security_report.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from rlm_adk.sandbox.monty import MontySandbox
from rlm_adk.sandbox.subprocess import SubprocessSandbox
from tests.sandbox.conftest import BACKENDS, live_children

FIGURES_ENV = "RLM_HARDENING_FIGURES"


@dataclass
class Attempt:
    """One attack tried against the system."""

    category: str
    name: str
    target: str
    contained: bool
    detail: str = ""


@dataclass
class Fault:
    """Faults injected in one scenario and what became of the work they hit."""

    kind: str
    injected: int
    completed: int
    """Units of work (sub-calls, requests, cells) that finished with a result or a clear error."""
    lost: int
    """Units of work that vanished: no result and no error."""


@dataclass
class Ledger:
    """What the suite tried; printed at the end of the run."""

    attempts: list[Attempt] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(
        self, category: str, name: str, target: str, contained: bool, detail: str = ""
    ) -> bool:
        with self._lock:
            self.attempts.append(Attempt(category, name, target, contained, detail[:300]))
        return contained

    def fault(self, kind: str, injected: int, completed: int, lost: int) -> None:
        with self._lock:
            self.faults.append(Fault(kind, injected, completed, lost))

    def summary(self) -> dict[str, Any]:
        by_category: dict[str, dict[str, int]] = {}
        for a in self.attempts:
            row = by_category.setdefault(a.category, {"tried": 0, "contained": 0})
            row["tried"] += 1
            row["contained"] += int(a.contained)
        by_fault: dict[str, dict[str, int]] = {}
        for f in self.faults:
            row = by_fault.setdefault(f.kind, {"injected": 0, "completed": 0, "lost": 0})
            row["injected"] += f.injected
            row["completed"] += f.completed
            row["lost"] += f.lost
        return {
            "attempts": by_category,
            "attempts_total": {
                "tried": len(self.attempts),
                "contained": sum(a.contained for a in self.attempts),
            },
            "faults": by_fault,
            "faults_total": {
                "injected": sum(f.injected for f in self.faults),
                "completed": sum(f.completed for f in self.faults),
                "lost": sum(f.lost for f in self.faults),
            },
            "escaped": [asdict(a) for a in self.attempts if not a.contained],
        }


LEDGER = Ledger()


@pytest.fixture
def ledger() -> Ledger:
    return LEDGER


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not LEDGER.attempts and not LEDGER.faults:
        return
    data = LEDGER.summary()
    write = terminalreporter.write_line
    terminalreporter.section("hardening figures")
    total = data["attempts_total"]
    write(f"attempts: {total['tried']} tried, {total['contained']} contained")
    for category, row in sorted(data["attempts"].items()):
        write(f"  {category:<22} {row['tried']:>5} tried {row['contained']:>5} contained")
    faults = data["faults_total"]
    write(
        f"faults: {faults['injected']} injected, {faults['completed']} units of work completed, "
        f"{faults['lost']} lost"
    )
    for kind, row in sorted(data["faults"].items()):
        write(
            f"  {kind:<30} {row['injected']:>5} injected {row['completed']:>6} completed "
            f"{row['lost']:>3} lost"
        )
    for escaped in data["escaped"]:
        write(f"  NOT CONTAINED: {escaped}")
    target = os.environ.get(FIGURES_ENV)
    if target:
        Path(target).write_text(json.dumps(data, indent=2) + "\n")


# -- host health --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostSnapshot:
    """The host process's footprint at one moment."""

    rss: int
    threads: int
    fds: int
    tasks: int

    @classmethod
    def take(cls) -> HostSnapshot:
        me = psutil.Process()
        try:
            tasks = len([t for t in asyncio.all_tasks() if not t.done()])
        except RuntimeError:  # no running loop
            tasks = 0
        return cls(me.memory_info().rss, me.num_threads(), me.num_fds(), tasks)


def assert_host_healthy(before: HostSnapshot, *, rss_slack: int = 256 << 20) -> HostSnapshot:
    """The host came through: memory, threads, descriptors and tasks stayed bounded."""
    after = HostSnapshot.take()
    assert after.rss - before.rss < rss_slack, (before, after)
    # Worker pools add a few threads and pipes per live worker; a leak adds one per attempt.
    assert after.threads - before.threads < 16, (before, after)
    assert after.fds - before.fds < 32, (before, after)
    assert after.tasks <= before.tasks + 2, (before, after)
    return after


class LoopTicker:
    """Counts event-loop ticks while something runs: a blocked loop makes no ticks."""

    def __init__(self, every: float = 0.01) -> None:
        self.every = every
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.ticks += 1

    async def __aenter__(self) -> LoopTicker:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# -- sandboxes and processes ----------------------------------------------------------------------


class SandboxTracker:
    """Counts sandboxes started and not closed (both backends), to find leaks."""

    def __init__(self) -> None:
        self.open: set[int] = set()
        self.started = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for cls in (MontySandbox, SubprocessSandbox):
            start, close = cls.start, cls.close

            async def tracked_start(sandbox: Any, bridge: Any, _start: Any = start) -> None:
                self.open.add(id(sandbox))
                self.started += 1
                await _start(sandbox, bridge)

            async def tracked_close(sandbox: Any, _close: Any = close) -> None:
                self.open.discard(id(sandbox))
                await _close(sandbox)

            monkeypatch.setattr(cls, "start", tracked_start)
            monkeypatch.setattr(cls, "close", tracked_close)


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> SandboxTracker:
    """Sandboxes opened during the test; `sandboxes.open` must be empty when it ends."""
    tracker = SandboxTracker()
    tracker.install(monkeypatch)
    return tracker


def monty_workers() -> set[int]:
    return BACKENDS["monty"].workers()


def python_workers() -> set[int]:
    return BACKENDS["subprocess"].workers()


def descendants() -> set[int]:
    """Live descendants of this process."""
    return live_children(lambda _p: True)


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """A fake-gcs-server of this suite's own (`STORAGE_EMULATOR_HOST` is left alone)."""
    from tools.gcs_emulator import running_emulator

    with running_emulator(set_env=False) as url:
        yield url


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fake credential in the host's environment that no sandbox may ever see."""
    value = "sk-canary-" + os.urandom(8).hex()
    monkeypatch.setenv("RLM_HARDENING_SECRET_TOKEN", value)
    monkeypatch.setenv("GOOGLE_API_KEY", value)
    yield value
