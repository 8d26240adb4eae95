"""The child side of `SubprocessSandbox`: a CPython REPL that talks to its host over a socket.

The host starts this file as a script (`python -I _subprocess_worker.py FD MEMORY PARENT`); it loads
the wire codec (`_subprocess_wire.py`) by path and imports nothing from `rlm_adk`, so the child
never loads host code. Messages (frames and values: see `_subprocess_wire`):

    host -> child: init                          run {code, filename, marker, functions?, objects?}
                   reply {id, ok, value | error}
    child -> host: ready                         done {error, marked}
                   call {id, fn, args, kwargs}   method {id, ref, name, args, kwargs}
                   getattr {id, ref, name}       cancel {id}
                   (any child frame may carry `release`: ids of host objects it no longer holds)

`run` carries the host functions (`{name: is_async}`) and objects (`{name: value}`) whose binding
changed since the last cell, so a host that rebinds `context` between requests is followed.

Printed output does not use the socket: stdout and stderr go to one pipe the host reads. At the end
of a cell the child flushes them and writes the host's per-cell marker to that pipe before `done`,
so the host knows where the cell's output ends.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import collections
import importlib.util
import inspect
import io
import linecache
import os
import select
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from types import ModuleType
from typing import Any


def _load_wire() -> ModuleType:
    # By path: putting this directory on sys.path would shadow the stdlib `subprocess` module.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_subprocess_wire.py")
    spec = importlib.util.spec_from_file_location("_rlm_sandbox_wire", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_wire()

# -- child runtime --------------------------------------------------------------------------------


class _Channel:
    """The child's end of the socket: requests, replies and the host's commands."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()
        self._next_id = 0
        self._futures: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._sync_waiting: set[int] = set()
        self._sync_replies: dict[int, dict[str, Any]] = {}
        self.commands: collections.deque[dict[str, Any]] = collections.deque()
        self.command_ready = asyncio.Event()
        self.released: list[int] = []
        self._thread = threading.get_ident()

    def send(self, message: dict[str, Any]) -> None:
        released, self.released = self.released, []
        if released:
            message["release"] = released
        try:
            view = memoryview(wire.pack(message))
        except BaseException:
            self.released.extend(released)  # not sent: report them with the next frame
            raise
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                select.select([], [self.sock], [])

    def pump(self, block: bool) -> None:
        """Reads what the socket holds (waiting for data when `block`) and dispatches frames."""
        if block:
            select.select([self.sock], [], [])
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except MemoryError:
            os._exit(71)  # at the address-space limit: let the host restart us
        if not data:
            os._exit(0)  # the host is gone: nobody is left to serve
        self._buf += data
        while len(self._buf) >= wire.HEADER.size:
            (size,) = wire.HEADER.unpack_from(self._buf)
            if len(self._buf) < wire.HEADER.size + size:
                break
            frame = bytes(self._buf[wire.HEADER.size : wire.HEADER.size + size])
            del self._buf[: wire.HEADER.size + size]
            try:
                message = wire.unpack(frame)
            except BaseException:
                os._exit(71)  # an unreadable frame (e.g. out of memory): let the host restart us
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("op") != "reply":
            self.commands.append(message)
            self.command_ready.set()
            return
        rid = message["id"]
        future = self._futures.pop(rid, None)
        if future is not None:
            if not future.done():
                future.set_result(message)
        elif rid in self._sync_waiting:
            self._sync_replies[rid] = message

    def _request(self, message: dict[str, Any]) -> int:
        if threading.get_ident() != self._thread:
            raise RuntimeError("host functions can only be called from the sandbox's main thread")
        self._next_id += 1
        message["id"] = self._next_id
        return self._next_id

    def request_sync(self, message: dict[str, Any]) -> Any:
        """Sends a request and blocks (the whole child) until its reply arrives."""
        rid = self._request(message)
        self._sync_waiting.add(rid)
        try:
            self.send(message)
            while rid not in self._sync_replies:
                self.pump(block=True)
        finally:
            self._sync_waiting.discard(rid)
        return _result(self._sync_replies.pop(rid))

    async def request_async(self, message: dict[str, Any]) -> Any:
        """Sends a request and waits for its reply without blocking other tasks."""
        rid = self._request(message)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._futures[rid] = future
        try:
            self.send(message)
        except BaseException:
            self._futures.pop(rid, None)
            raise
        try:
            reply = await future
        except asyncio.CancelledError:
            if self._futures.pop(rid, None) is not None:
                self.send({"op": "cancel", "id": rid})
            raise
        return _result(reply)

    async def next_command(self) -> dict[str, Any]:
        while not self.commands:
            self.command_ready.clear()
            await self.command_ready.wait()
        return self.commands.popleft()


_CHANNEL: _Channel | None = None


def _channel() -> _Channel:
    if _CHANNEL is None:
        raise RuntimeError("the sandbox channel is not open")
    return _CHANNEL


def _result(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return wire.decode(reply.get("value"), _proxy)
    error = reply.get("error") or {}
    cls = wire.SAFE_EXCEPTIONS.get(str(error.get("type")), RuntimeError)
    raise cls(str(error.get("message", "")))


def _encode_arg(value: Any) -> dict[str, Any]:
    if isinstance(value, HostObject):
        return {"$": "ref", "id": object.__getattribute__(value, "_rlm_id")}
    raise TypeError(f"a {type(value).__name__} object cannot be passed to a host function")


def _call_message(op: str, args: tuple[Any, ...], kwargs: dict[str, Any], **fields: Any) -> dict:
    return {
        "op": op,
        **fields,
        "args": wire.encode(list(args), _encode_arg),
        "kwargs": wire.encode(kwargs, _encode_arg),
    }


class HostObject:
    """A host object as sandbox code sees it: its declared attributes and methods, nothing else."""

    __slots__ = ("__weakref__", "_rlm_async", "_rlm_attrs", "_rlm_id", "_rlm_lazy", "_rlm_methods")

    def __getattr__(self, name: str) -> Any:
        get = object.__getattribute__
        attrs = get(self, "_rlm_attrs")
        if name in attrs:
            return attrs[name]
        ref = get(self, "_rlm_id")
        if name in get(self, "_rlm_lazy"):
            return _channel().request_sync({"op": "getattr", "ref": ref, "name": name})
        if name in get(self, "_rlm_methods"):
            return _bound_method(self, ref, name, name in get(self, "_rlm_async"))
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__!r} object is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__!r} object is read-only")

    def __dir__(self) -> list[str]:
        get = object.__getattribute__
        return sorted(
            [*get(self, "_rlm_attrs"), *get(self, "_rlm_lazy"), *get(self, "_rlm_methods")]
        )

    def __repr__(self) -> str:
        attrs = object.__getattribute__(self, "_rlm_attrs")
        if not attrs:
            return f"<{type(self).__name__} object>"
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in attrs.items())})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostObject) or type(self).__name__ != type(other).__name__:
            return NotImplemented
        get = object.__getattribute__
        attrs = get(self, "_rlm_attrs")
        if not attrs:
            return get(self, "_rlm_id") == get(other, "_rlm_id")
        return attrs == get(other, "_rlm_attrs")

    def __hash__(self) -> int:
        attrs = object.__getattribute__(self, "_rlm_attrs")
        if not attrs:
            return hash(object.__getattribute__(self, "_rlm_id"))
        return hash((type(self).__name__, tuple(attrs.items())))

    def __copy__(self) -> HostObject:
        return self  # read-only, so a copy may be the object itself

    def __deepcopy__(self, memo: dict[int, Any]) -> HostObject:
        return self

    def __del__(self) -> None:
        # Tells the host (with the next frame) that it may forget this object.
        try:
            if _CHANNEL is not None:
                _CHANNEL.released.append(object.__getattribute__(self, "_rlm_id"))
        except Exception:
            pass


_PROXY_CLASSES: dict[str, type[HostObject]] = {}


def _proxy(data: dict[str, Any]) -> HostObject:
    """A child-side object for the host object `data` describes."""
    name = str(data.get("cls", "HostObject"))
    cls = _PROXY_CLASSES.get(name)
    if cls is None:
        cls = _PROXY_CLASSES[name] = type(name, (HostObject,), {"__slots__": ()})
    obj = object.__new__(cls)
    put = object.__setattr__
    put(obj, "_rlm_id", int(data["id"]))
    put(
        obj, "_rlm_attrs", {k: wire.decode(v, _proxy) for k, v in (data.get("attrs") or {}).items()}
    )
    put(obj, "_rlm_lazy", frozenset(data.get("lazy") or ()))
    put(obj, "_rlm_methods", frozenset(data.get("methods") or ()))
    put(obj, "_rlm_async", frozenset(data.get("async") or ()))
    return obj


def _bound_method(owner: HostObject, ref: int, name: str, is_async: bool) -> Callable[..., Any]:
    # The method holds `owner`, so the host keeps the object while the method is reachable.
    if is_async:

        async def amethod(*args: Any, **kwargs: Any) -> Any:
            message = _call_message("method", args, kwargs, ref=ref, name=name)
            return await _channel().request_async(message)

        method: Callable[..., Any] = amethod
    else:

        def method(*args: Any, **kwargs: Any) -> Any:
            message = _call_message("method", args, kwargs, ref=ref, name=name)
            return _channel().request_sync(message)

    method.__name__ = method.__qualname__ = name
    method.__self__ = owner  # type: ignore[attr-defined]
    return method


def _host_function(name: str, is_async: bool) -> Callable[..., Any]:
    if is_async:

        async def afunction(*args: Any, **kwargs: Any) -> Any:
            return await _channel().request_async(_call_message("call", args, kwargs, fn=name))

        function: Callable[..., Any] = afunction
    else:

        def function(*args: Any, **kwargs: Any) -> Any:
            return _channel().request_sync(_call_message("call", args, kwargs, fn=name))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Host function {name!r}" + (" (async: await it)." if is_async else ".")
    return function


# -- running cells ----------------------------------------------------------------------------------

_CELL_PREFIX = "<python-input-"


def _trim(te: traceback.TracebackException, seen: set[int]) -> None:
    """Keeps only frames of cell code (no worker, asyncio or library frames), in every chain."""
    if id(te) in seen:
        return
    seen.add(id(te))
    frames = [f for f in te.stack if f.filename.startswith(_CELL_PREFIX)]
    te.stack = traceback.StackSummary.from_list(frames)
    for nested in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())):
        if nested is not None:
            _trim(nested, seen)


def format_error(exc: BaseException) -> str:
    """A CPython-style traceback of `exc` limited to the cell's own frames."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
    _trim(te, set())
    return "".join(te.format())


async def run_cell(code: str, filename: str, namespace: dict[str, Any]) -> dict[str, str] | None:
    """Runs one cell in `namespace`; returns None or the error's type name and traceback."""
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    try:
        compiled = compile(
            code, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError) as exc:
        return {"type": type(exc).__name__, "text": format_error(exc)}
    try:
        if compiled.co_flags & inspect.CO_COROUTINE:
            await eval(compiled, namespace)
        else:
            exec(compiled, namespace)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt end the cell, not the REPL
        try:
            return {"type": type(exc).__name__, "text": format_error(exc)}
        except BaseException:
            return {"type": type(exc).__name__, "text": f"{type(exc).__name__}: (unprintable)"}
    return None


def _write_all(fd: int, data: bytes) -> bool:
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        return False
    return True


def _bind(namespace: dict[str, Any], command: dict[str, Any]) -> None:
    """Binds the host names the host says changed (e.g. a new request's `context`)."""
    for name, is_async in (command.get("functions") or {}).items():
        namespace[name] = _host_function(name, bool(is_async))
    for name, value in (command.get("objects") or {}).items():
        namespace[name] = wire.decode(value, _proxy)


async def _serve(channel: _Channel, marker_fd: int, stream: io.TextIOWrapper) -> None:
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    await channel.next_command()  # init
    channel.send({"op": "ready"})
    while True:
        command = await channel.next_command()
        if command.get("op") != "run":
            return
        _bind(namespace, command)
        error = await run_cell(command["code"], command["filename"], namespace)
        for out in {id(s): s for s in (stream, sys.stdout, sys.stderr)}.values():
            try:
                out.flush()
            except Exception:
                pass
        marked = _write_all(marker_fd, command["marker"].encode("ascii"))
        channel.send({"op": "done", "error": error, "marked": marked})


def _limit_resources(memory_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _die_with_parent(parent: int) -> None:
    # Linux only: SIGKILL when the host thread that started us goes away (no orphans).
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != parent:
        os._exit(0)


def main(argv: list[str]) -> None:
    global _CHANNEL
    fd, memory_bytes, parent = int(argv[1]), int(argv[2]), int(argv[3])
    _die_with_parent(parent)
    _limit_resources(memory_bytes)
    marker_fd = os.dup(1)  # kept private: cell code may redirect or close fd 1
    stream = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,  # output printed before a timeout kill still reaches the host
    )
    sys.stdout = sys.stderr = stream  # one stream keeps stdout and stderr in order
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _CHANNEL = _Channel(sock)
    loop.add_reader(sock.fileno(), _CHANNEL.pump, False)
    try:
        loop.run_until_complete(_serve(_CHANNEL, marker_fd, stream))
    except BaseException:
        os._exit(70)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
