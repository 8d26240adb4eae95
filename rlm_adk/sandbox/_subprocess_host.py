"""The host side of one `SubprocessSandbox` child: process, pipes, host calls, output, clock.

See `subprocess.py` for what this backend does and does not protect, `_subprocess_worker.py` for
the child and its messages, and `_subprocess_wire.py` for the wire format.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import inspect
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from subprocess import DEVNULL, PIPE, STDOUT
from typing import Any

from rlm_adk.sandbox import _subprocess_wire as wire
from rlm_adk.sandbox._subprocess_output import CellOutput
from rlm_adk.sandbox.base import CellResult, SandboxError, SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge, exposure_of, to_sandbox_exception
from rlm_adk.sandbox.display import with_display
from rlm_adk.sandbox.output import OutputBuffer

WORKER_SCRIPT = Path(__file__).with_name("_subprocess_worker.py").resolve()
_SAFE_TYPES = frozenset(wire.SAFE_EXCEPTIONS.values())
_START_TIMEOUT = 30.0
_LIVE_GROUPS: set[int] = set()
_UNBOUND = object()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)


@atexit.register
def _kill_live_groups() -> None:
    # A host exiting without closing its sandboxes must not leave children running.
    for pgid in list(_LIVE_GROUPS):
        _kill_group(pgid)


def _finalize(pgid: int, tmpdir: str) -> None:
    _kill_group(pgid)
    _LIVE_GROUPS.discard(pgid)
    shutil.rmtree(tmpdir, ignore_errors=True)


def _child_env(home: str) -> dict[str, str]:
    """The child's whole environment: nothing from the host's, so no credential can leak."""
    return {
        "PATH": os.defpath,
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        # glibc reserves 64 MB of address space per malloc arena; under RLIMIT_AS a few threads
        # would otherwise exhaust the limit without using memory.
        "MALLOC_ARENA_MAX": "2",
    }


def _error_payload(exc: BaseException) -> dict[str, str]:
    """The type name and message of a sandbox-safe version of `exc` (no traceback, no chain)."""
    safe = exc if type(exc) in _SAFE_TYPES else to_sandbox_exception(exc)
    return {"type": type(safe).__name__, "message": str(safe.args[0]) if safe.args else ""}


async def _settle(result: Any) -> Any:
    """Awaits what a "sync" host callable returned when it is awaitable (an async method)."""
    if not inspect.isawaitable(result):
        return result
    try:
        return await result
    except Exception as exc:
        raise to_sandbox_exception(exc) from None


class WorkerProcess:
    """One child process: its pipes, its table of host objects and its in-flight host calls."""

    def __init__(self, bridge: HostBridge, limits: SandboxLimits, python: str) -> None:
        self.bridge = bridge
        self.limits = limits
        self.python = python
        self.proc: asyncio.subprocess.Process | None = None
        self.tmpdir = tempfile.mkdtemp(prefix="rlm-sandbox-")
        self._writer: asyncio.StreamWriter | None = None
        self._send_lock = asyncio.Lock()
        self._frames_task: asyncio.Task[None] | None = None
        self._output_task: asyncio.Task[None] | None = None
        self._finalizer: weakref.finalize | None = None
        self._killed = False
        self._gone = False
        self._kill_task: asyncio.Future[None] | None = None
        # What the child has bound under each host name (rebound when the bridge changes).
        self._bound: dict[str, Any] = {}
        # Host objects handed to the child, by id; the child reports ids it no longer holds.
        self._refs: dict[int, Any] = {}
        self._next_ref = 0
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._child_cancelled: set[int] = set()
        self._host_calls = 0
        self._max_reply = max(1 << 20, min(wire.MAX_FRAME_BYTES, limits.memory_bytes // 4))
        self._ready: asyncio.Future[bool] | None = None
        self._done: asyncio.Future[dict[str, Any] | None] | None = None
        self._cells = 0
        # Host calls run in the context of the cell that made them (OpenTelemetry spans, ...).
        self._cell_context: contextvars.Context | None = None
        # Output: bytes from the child's stdout/stderr pipe, split into cells by a marker.
        self.output = CellOutput(limits.max_output_chars)
        # The cell clock stops while any host call is in flight.
        self._inflight = 0
        self._cell_started = 0.0
        self._paused_total = 0.0
        self._paused_since: float | None = None
        self._clock_changed = asyncio.Event()

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawns the child and waits until it is ready; raises `SandboxError` on failure.

        The bridge's names are bound with the first cell (and rebound when they change).
        """
        loop = asyncio.get_running_loop()
        parent_sock, child_sock = socket.socketpair()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.python,
                "-I",  # no PYTHON* variables, user site or script directory on sys.path
                "-X",
                "utf8",
                str(WORKER_SCRIPT),
                str(child_sock.fileno()),
                str(self.limits.memory_bytes),
                str(os.getpid()),
                stdin=DEVNULL,
                stdout=PIPE,
                stderr=STDOUT,
                pass_fds=(child_sock.fileno(),),
                cwd=self.tmpdir,
                env=_child_env(self.tmpdir),
                start_new_session=True,
            )
        except OSError as exc:
            parent_sock.close()
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            raise SandboxError(f"could not start the Python worker: {exc}") from exc
        finally:
            child_sock.close()
        pid = self.proc.pid
        _LIVE_GROUPS.add(pid)
        self._finalizer = weakref.finalize(self, _finalize, pid, self.tmpdir)
        reader, self._writer = await asyncio.open_unix_connection(sock=parent_sock, limit=1 << 20)
        self._ready = loop.create_future()
        self._frames_task = asyncio.create_task(self._read_frames(reader))
        assert self.proc.stdout is not None
        self._output_task = asyncio.create_task(self.output.pump(self.proc.stdout))
        try:
            await self._send(wire.pack({"op": "init"}))
            ready = await asyncio.wait_for(asyncio.shield(self._ready), _START_TIMEOUT)
        except (Exception, asyncio.CancelledError) as exc:
            await asyncio.shield(self.kill())
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise SandboxError(f"could not start the Python worker: {exc!r}") from exc
        if not ready:
            await self.kill()
            detail = self.output.buffer.getvalue().strip()[-2000:]
            raise SandboxError(f"the Python worker exited during start-up: {detail}")

    async def kill(self) -> None:
        """Kills the child's whole process group and releases everything. Idempotent."""
        if self._kill_task is None:
            self._kill_task = asyncio.ensure_future(self._kill())
        await asyncio.shield(self._kill_task)

    async def _kill(self) -> None:
        self._killed = True
        if self.proc is not None:
            _kill_group(self.proc.pid)
            await self.proc.wait()
            _LIVE_GROUPS.discard(self.proc.pid)
        if self._finalizer is not None:
            self._finalizer.detach()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        if self._writer is not None:
            self._writer.close()
        # The pipe ends when every process holding it is dead: collect the last output.
        for task in (self._output_task, self._frames_task):
            if task is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, 2.0)
        self._lost()
        self._refs.clear()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _lost(self) -> None:
        """The child is gone: nothing it owed (or will owe) will arrive."""
        self._gone = True
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(False)
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    # -- cells --------------------------------------------------------------------------------

    async def run_cell(self, code: str) -> CellResult:
        """Runs one cell; on timeout or crash the child is killed and the result says restarted."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        filename = f"<python-input-{self._cells}>"
        self._cells += 1
        marker = f"\x00rlm-cell-end:{secrets.token_hex(16)}\x00"
        self._done = loop.create_future()
        if self._gone:
            self._done.set_result(None)  # it died between cells
        self._cell_context = contextvars.copy_context()
        seen = self.output.expect(marker.encode("ascii"))
        self._start_clock()
        frame = wire.pack(
            {
                "op": "run",
                "code": with_display(code),
                "filename": filename,
                "marker": marker,
                **self._changed_names(),
            }
        )
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send(frame)
        timed_out = await self._watch(self._done)
        message = None if timed_out else self._done.result()
        error: str | None = None
        error_type: str | None = None
        restarted = message is None
        if timed_out:
            await self.kill()
            limit = f"{self.limits.cell_timeout_seconds:g}"
            error = f"TimeoutError: the cell exceeded its time limit of {limit} s"
            error_type = "TimeoutError"
        elif message is None:
            await self.kill()
            assert self.proc is not None
            error = (
                f"SandboxCrash: the Python worker exited unexpectedly (code {self.proc.returncode})"
            )
            error_type = "SandboxCrash"
        else:
            failure = message.get("error")
            if failure:
                error, error_type = str(failure.get("text", "")), str(failure.get("type", "Error"))
            if error_type == "MemoryError":
                # What the cell allocated is still bound and the child is at its address-space
                # limit, where the next cell could not even be read: restart it.
                await self.kill()
                restarted = True
        buffer = await self._cell_output(seen, marked=bool(message and message.get("marked")))
        return CellResult(
            output=buffer.getvalue(),
            output_chars=buffer.total,
            truncated_chars=buffer.cut,
            error=error,
            error_type=error_type,
            duration_seconds=time.perf_counter() - started,
            restarted=restarted,
        )

    def _changed_names(self) -> dict[str, Any]:
        """The host functions and objects whose binding changed since the last cell."""
        functions: dict[str, bool] = {}
        objects: dict[str, Any] = {}
        for name, fn in self.bridge.functions.items():
            if self._bound.get(name, _UNBOUND) is not fn:
                functions[name] = self.bridge.is_async(name)
                self._bound[name] = fn
        for name, obj in self.bridge.objects.items():
            if self._bound.get(name, _UNBOUND) is not obj:
                objects[name] = wire.encode(obj, self._host_object)
                self._bound[name] = obj  # only once encoded: a failure is retried next cell
        return {"functions": functions, "objects": objects}

    async def _cell_output(self, seen: asyncio.Future[OutputBuffer], marked: bool) -> OutputBuffer:
        """The finished cell's output; later output goes to a fresh buffer for the next cell."""
        if marked and self._output_task is not None:
            # The marker was written before `done` was sent, so it is already in the pipe.
            await asyncio.wait(
                {seen, self._output_task}, timeout=10.0, return_when=asyncio.FIRST_COMPLETED
            )
        return seen.result() if seen.done() else self.output.take()

    async def _watch(self, done: asyncio.Future[Any]) -> bool:
        """Waits for `done`; True when the cell used up its time (host waits excluded)."""
        limit = self.limits.cell_timeout_seconds
        while not done.done():
            remaining: float | None = None
            if self._paused_since is None:
                remaining = limit - self._charged()
                if remaining <= 0:
                    return True
            self._clock_changed.clear()
            changed = asyncio.ensure_future(self._clock_changed.wait())
            try:
                await asyncio.wait(
                    {done, changed}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                changed.cancel()
        return False

    def _start_clock(self) -> None:
        now = time.monotonic()
        self._cell_started = now
        self._paused_total = 0.0
        self._paused_since = now if self._inflight else None

    def _charged(self) -> float:
        now = time.monotonic()
        paused = self._paused_total
        if self._paused_since is not None:
            paused += now - self._paused_since
        return now - self._cell_started - paused

    # -- frames and host calls ----------------------------------------------------------------

    async def _send(self, frame: bytes) -> None:
        if self._writer is None or self._killed:
            raise ConnectionError("the worker is gone")
        async with self._send_lock:
            self._writer.write(frame)
            await self._writer.drain()

    async def _read_frames(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (size,) = wire.HEADER.unpack(await reader.readexactly(wire.HEADER.size))
                if size > wire.MAX_FRAME_BYTES:
                    break  # a protocol violation: treat the child as lost
                self._handle(wire.unpack(await reader.readexactly(size)))
        except Exception:
            pass  # end of stream or a protocol violation: either way the child is lost
        finally:
            self._lost()
            if not self._killed and self.proc is not None:
                _kill_group(self.proc.pid)  # never leave a child we can no longer talk to

    def _handle(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op in ("call", "method", "getattr"):
            self._handle_request(message)
        elif op == "cancel":
            task = self._tasks.get(message.get("id", -1))
            if task is not None:
                self._child_cancelled.add(message["id"])
                task.cancel()
        elif op == "done":
            if self._done is not None and not self._done.done():
                self._done.set_result(message)
        elif op == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(True)
        # Only after the message's own references were resolved.
        for ref in message.get("release") or ():
            self._refs.pop(ref, None)

    def _handle_request(self, message: dict[str, Any]) -> None:
        rid = int(message["id"])
        try:
            call = self._prepare(message)
        except Exception as exc:
            failure = exc

            async def call() -> Any:
                raise failure

        self._host_call_started()
        context = self._cell_context.copy() if self._cell_context is not None else None
        self._tasks[rid] = asyncio.create_task(self._serve(rid, call), context=context)

    def _prepare(self, message: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        """Decodes a request now (its references must resolve before any release is applied)."""
        self._host_calls += 1
        if self._host_calls > self.limits.max_host_calls:
            raise RuntimeError(
                f"the sandbox's limit of {self.limits.max_host_calls} host calls was reached"
            )
        op = message["op"]
        args = tuple(wire.decode(message.get("args") or [], self._resolve_ref))
        kwargs = wire.decode(message.get("kwargs") or {}, self._resolve_ref)
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise TypeError("keyword argument names must be strings")
        if op == "call":
            return lambda: self._call_function(str(message["fn"]), args, kwargs)
        target = self._resolve_ref({"id": message.get("ref")})
        name = str(message["name"])
        if op == "method":
            return lambda: self._call_method(target, name, args, kwargs)
        return lambda: asyncio.to_thread(self.bridge.get_attr, target, name)

    async def _call_function(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name in self.bridge.functions and self.bridge.is_async(name):
            return await self.bridge.call(name, args, kwargs)
        # Sync host functions (context reads) may block: keep them off the event loop.
        return await _settle(await asyncio.to_thread(self.bridge.call, name, args, kwargs))

    async def _call_method(
        self, obj: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        return await _settle(
            await asyncio.to_thread(self.bridge.call_method, obj, name, args, kwargs)
        )

    async def _serve(self, rid: int, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            frame = await self._answer(rid, call)
        except asyncio.CancelledError:
            # Cancelled by the host (e.g. `HostBridge.cancel_inflight`) while the child still
            # waits: tell it. When the child cancelled the call itself, it waits no more.
            if rid not in self._child_cancelled and self._writer is not None and not self._killed:
                error = {"type": "RuntimeError", "message": "the host call was cancelled"}
                with contextlib.suppress(Exception):
                    self._writer.write(
                        wire.pack({"op": "reply", "id": rid, "ok": False, "error": error})
                    )
            raise
        finally:
            self._child_cancelled.discard(rid)
            self._tasks.pop(rid, None)
            self._host_call_finished()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send(frame)

    async def _answer(self, rid: int, call: Callable[[], Awaitable[Any]]) -> bytes:
        """The reply frame: the call's value, or a sandbox-safe error."""
        try:
            value = await call()
            frame = wire.pack(
                {
                    "op": "reply",
                    "id": rid,
                    "ok": True,
                    "value": wire.encode(value, self._host_object),
                }
            )
            if len(frame) > self._max_reply:
                raise ValueError(
                    f"the result ({len(frame):,} bytes) is too large to pass into the sandbox "
                    f"(limit {self._max_reply:,}); ask for less at a time"
                )
            return frame
        except Exception as exc:
            return wire.pack({"op": "reply", "id": rid, "ok": False, "error": _error_payload(exc)})

    def _host_call_started(self) -> None:
        if self._inflight == 0:
            self._paused_since = time.monotonic()
        self._inflight += 1
        self._clock_changed.set()

    def _host_call_finished(self) -> None:
        self._inflight -= 1
        if self._inflight == 0 and self._paused_since is not None:
            self._paused_total += time.monotonic() - self._paused_since
            self._paused_since = None
        self._clock_changed.set()

    def _host_object(self, value: Any) -> dict[str, Any]:
        """A `ref` for an exposed host object: the object stays here, its id goes to the child."""
        exposure = exposure_of(value)
        if exposure is None:
            raise TypeError(f"a {type(value).__name__} value cannot be passed into the sandbox")
        self._next_ref += 1
        self._refs[self._next_ref] = value
        cls = type(value)
        return {
            "$": "ref",
            "id": self._next_ref,
            "cls": cls.__name__,
            "attrs": {a: wire.encode(getattr(value, a), self._host_object) for a in exposure.attrs},
            "lazy": list(exposure.lazy_attrs),
            "methods": list(exposure.methods),
            "async": [
                m for m in exposure.methods if inspect.iscoroutinefunction(getattr(cls, m, None))
            ],
        }

    def _resolve_ref(self, data: dict[str, Any]) -> Any:
        """The original host object behind a reference the child sent back."""
        try:
            return self._refs[data["id"]]
        except (KeyError, TypeError):
            raise TypeError("the sandbox passed an unknown host object reference") from None
