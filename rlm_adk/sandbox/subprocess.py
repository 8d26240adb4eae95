"""`SubprocessSandbox`: full CPython in a child process. FOR TRUSTED CODE ONLY.

This backend is NOT a security boundary. Cell code is ordinary CPython running as the host's user:
it can `import os`, read and write any file that user can reach, open network connections, start
processes (and detach them with `setsid`, out of reach of the process-group kill), inspect its own
interpreter, and use as much CPU as it likes between host calls. Use it for code you trust (your own
experiments, notebooks, benchmarks that need numpy and friends); code written by a model that reads
untrusted documents belongs in `MontySandbox`, the default.

What it does hold:

- Host objects are reached only through the shared `HostBridge`: the child gets proxies exposing
  the declared attributes and methods, never the objects; records passed back (a `Chunk` inside an
  `llm_batch` prompt) become the host's original objects again. The host never unpickles child
  data: frames are length-prefixed JSON over a socketpair (`_subprocess_wire`, `_subprocess_worker`).
- Host exceptions reach the cell as plain built-in exceptions with a message only.
- The child gets an environment of its own (`PATH`, `HOME`, `TMPDIR`, `LANG`; no variable of the
  host's environment is passed on, so no credential in it leaks), `python -I` (no `PYTHON*`
  variables, user site or script directory), a fresh temporary working directory that is removed
  with the child, no core dumps, an address-space limit (`RLIMIT_AS` = `memory_bytes`, set by the
  child before it reads anything from the host; a cell that exceeds it gets `MemoryError`
  and the REPL restarts, as the memory it took is still bound), its own
  session and process group (killed as a whole on timeout, crash, cancellation and `close`), and on
  Linux `PR_SET_PDEATHSIG`, so it dies with the host thread that started it.
- Time limit: the host kills the child when a cell has run for `cell_timeout_seconds` of wall time
  during which no host call was in flight; time spent waiting on `llm_query`, `context.read` and
  the like is not charged (wall time, not CPU time: a cell sleeping in `time.sleep` is charged).
  The timed-out result says `restarted=True`; the next cell starts in a fresh child.
- Printed output (stdout, stderr and that of child processes, in one pipe) is captured per cell
  with the output limit; a trailing expression is displayed as in Monty.
"""

from __future__ import annotations

import asyncio
import sys

from rlm_adk.sandbox._subprocess_host import WorkerProcess
from rlm_adk.sandbox.base import CellResult, SandboxError, SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge


class SubprocessSandbox:
    """A persistent CPython REPL in a child process. FOR TRUSTED CODE ONLY (see the module docs).

    Cell code may `await` async host functions (`await asyncio.gather(llm_query(a), ...)` runs them
    concurrently on the host); sync host functions block the child until they return. Host
    functions may only be called from the cell's main thread. Cells run on the child's event loop,
    so they use top-level `await` rather than `asyncio.run`; tasks a cell leaves running carry on
    between cells. Past `max_host_calls`, host calls raise `RuntimeError` in the cell. A cancelled
    `run` kills the child; the next cell starts in a fresh one.
    """

    kind = "subprocess"

    def __init__(self, limits: SandboxLimits | None = None, *, python: str | None = None) -> None:
        """`python` is the interpreter for the child (default: the host's, with its packages)."""
        self.limits = limits or SandboxLimits()
        self.python = python or sys.executable
        self._bridge: HostBridge | None = None
        self._worker: WorkerProcess | None = None
        self._closed = False
        self._lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pid(self) -> int | None:
        """The current child's process id (also its process group id), if one is running."""
        worker = self._worker
        return worker.proc.pid if worker is not None and worker.proc is not None else None

    @property
    def workdir(self) -> str | None:
        """The current child's working directory (removed when the child goes)."""
        return self._worker.tmpdir if self._worker is not None else None

    async def start(self, bridge: HostBridge) -> None:
        if self._closed:
            raise SandboxError("this sandbox is closed")
        self._bridge = bridge
        async with self._lock:
            if self._worker is None:
                self._worker = await self._spawn()

    async def _spawn(self) -> WorkerProcess:
        assert self._bridge is not None
        worker = WorkerProcess(self._bridge, self.limits, self.python)
        await worker.start()
        return worker

    async def run(self, code: str) -> CellResult:
        if self._closed or self._bridge is None:
            raise SandboxError("this sandbox is closed")
        async with self._lock:
            if self._worker is None:
                self._worker = await self._spawn()
            worker = self._worker
            try:
                result = await worker.run_cell(code)
            except asyncio.CancelledError:
                # The child may be mid-cell: kill it (and its process group) before giving up.
                self._worker = None
                await asyncio.shield(worker.kill())
                raise
            if result.restarted:
                self._worker = None  # already killed; the next cell starts a fresh child
            return result

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.shield(worker.kill())
