"""The `Sandbox` contract, run against every backend (`MontySandbox` and `SubprocessSandbox`)."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from rlm_adk.context import AccessDenied, Chunk, open_text
from rlm_adk.sandbox.base import CellResult, Sandbox, SandboxError
from rlm_adk.sandbox.bridge import HostBridge
from tests.sandbox.conftest import Backend, Opener, Rendezvous

DOCS = {"a.txt": "alpha one\nline two\nwörld three\n" * 20, "b.txt": "beta\nline two again\n"}
HOST_FRAMES = ("bridge.py", "handle.py", "test_contract.py", "_subprocess_", "monty.py")


def _ok(result: CellResult) -> str:
    assert result.error is None, result.render()
    return result.output


async def test_is_a_sandbox(open_sandbox: Opener, backend: Backend) -> None:
    sandbox = await open_sandbox()
    assert isinstance(sandbox, Sandbox)
    assert sandbox.kind == backend.name
    assert not sandbox.closed


async def test_state_persists_across_cells(open_sandbox: Opener) -> None:
    sandbox = await open_sandbox()
    _ok(await sandbox.run("x = 41\ndef inc(v):\n    return v + 1"))
    assert _ok(await sandbox.run("print(inc(x))")) == "42\n"


async def test_print_capture_and_truncation(open_sandbox: Opener) -> None:
    sandbox = await open_sandbox(max_output_chars=100)
    result = await sandbox.run("for i in range(50):\n    print(f'line {i:03d}')")
    _ok(result)
    assert result.output_chars == 50 * 9
    assert result.truncated_chars == 50 * 9 - 100
    assert "[... 350 characters of output cut ...]" in result.output
    assert result.output.startswith("line 000\n")
    assert result.output.endswith("line 049\n")
    small = await sandbox.run("print('a'); print('b', end='')")
    assert (small.output, small.output_chars, small.truncated_chars) == ("a\nb", 3, 0)


async def test_trailing_expression_is_displayed(open_sandbox: Opener) -> None:
    sandbox = await open_sandbox()
    assert _ok(await sandbox.run("1 + 1")) == "2\n"
    assert _ok(await sandbox.run("y = 5\ny * 2")) == "10\n"
    assert _ok(await sandbox.run("'abc'")) == "'abc'\n"
    assert _ok(await sandbox.run("None")) == ""
    assert _ok(await sandbox.run("print('hi')")) == "hi\n"
    assert _ok(await sandbox.run("z = 3")) == ""


async def test_syntax_error_is_readable(open_sandbox: Opener) -> None:
    sandbox = await open_sandbox()
    result = await sandbox.run("x = (")
    assert result.error_type == "SyntaxError"
    assert result.error is not None and "SyntaxError" in result.error
    assert not result.restarted
    assert _ok(await sandbox.run("1")) == "1\n"


async def test_runtime_error_is_readable(open_sandbox: Opener) -> None:
    sandbox = await open_sandbox()
    _ok(await sandbox.run("keep = 7"))
    result = await sandbox.run("def f():\n    return 1 / 0\nf()")
    assert result.error_type == "ZeroDivisionError"
    assert result.error is not None
    assert "ZeroDivisionError: division by zero" in result.error
    assert "line 2, in f" in result.error
    assert not any(frame in result.error for frame in HOST_FRAMES)
    assert "ZeroDivisionError" in result.render()
    assert not result.restarted
    assert _ok(await sandbox.run("keep")) == "7\n"
    raised = await sandbox.run("raise ValueError('boom')")
    assert raised.error_type == "ValueError"
    assert raised.error is not None and raised.error.rstrip().endswith("ValueError: boom")


async def test_time_limit_restarts_the_repl(open_sandbox: Opener) -> None:
    sandbox = await open_sandbox(cell_timeout_seconds=1.0)
    _ok(await sandbox.run("before = 1"))
    result = await sandbox.run("print('started')\nwhile True:\n    pass")
    assert result.error_type == "TimeoutError"
    assert result.restarted
    assert "restarted" in result.render()
    after = await sandbox.run("print(before)")
    assert after.error_type == "NameError"
    assert not after.restarted
    assert _ok(await sandbox.run("print('alive')")) == "alive\n"


async def test_memory_limit_fails_cleanly(open_sandbox: Opener) -> None:
    sandbox = await open_sandbox(memory_bytes=256 * 1024 * 1024)
    _ok(await sandbox.run("small = [1, 2, 3]"))
    result = await sandbox.run("big = [0] * 100_000_000")
    assert result.error_type == "MemoryError", result.render()
    after = await sandbox.run("print(len(small))")
    if result.restarted:
        assert after.error_type == "NameError"
    else:
        assert _ok(after) == "3\n"
    assert _ok(await sandbox.run("print('alive')")) == "alive\n"


async def test_async_host_functions_run_concurrently(
    open_sandbox: Opener, rendezvous: type[Rendezvous]
) -> None:
    meet = rendezvous(5)
    sandbox = await open_sandbox(functions={"meet": meet})
    result = await sandbox.run(
        "import asyncio\nr = await asyncio.gather(*[meet(i) for i in range(5)])\nprint(r)"
    )
    assert _ok(result) == "[0, 1, 2, 3, 4]\n"
    assert len(meet.spans) == 5
    # Every call started before any call ended: they overlapped.
    assert max(start for start, _ in meet.spans) < min(end for _, end in meet.spans)


async def test_sync_host_functions(open_sandbox: Opener) -> None:
    calls: list[tuple[Any, ...]] = []

    def add(a: int, b: int = 0) -> int:
        calls.append((a, b))
        return a + b

    def shape() -> dict[str, Any]:
        return {"t": (1, "two"), "l": [1.5, None, True], "n": {"k": "v"}}

    sandbox = await open_sandbox(functions={"add": add, "shape": shape})
    assert _ok(await sandbox.run("print(add(2, 3), add(a=1, b=2), add(4))")) == "5 3 4\n"
    assert calls == [(2, 3), (1, 2), (4, 0)]
    out = _ok(
        await sandbox.run("s = shape()\nprint(s['t'], s['l'], s['n']['k'], type(s['t']).__name__)")
    )
    assert out == "(1, 'two') [1.5, None, True] v tuple\n"


async def test_host_exceptions_arrive_as_builtin_exceptions(open_sandbox: Opener) -> None:
    def denied() -> None:
        raise AccessDenied("outside the configured roots")

    def bad_value() -> None:
        raise ValueError("not a number")

    def private() -> None:
        class InternalFailure(Exception):
            pass

        raise InternalFailure("backend unavailable")

    async def async_bad() -> None:
        raise KeyError("missing")

    sandbox = await open_sandbox(
        functions={
            "denied": denied,
            "bad_value": bad_value,
            "private": private,
            "async_bad": async_bad,
        },
        objects={"context": open_text(DOCS)},
    )
    expected = {
        "context.read('text/nope.txt')": "FileNotFoundError",
        "denied()": "PermissionError",
        "bad_value()": "ValueError",
        "private()": "RuntimeError",
        "await async_bad()": "KeyError",
    }
    for code, error_type in expected.items():
        result = await sandbox.run(code)
        assert result.error_type == error_type, (code, result.render())
        assert result.error is not None
        assert not any(frame in result.error for frame in HOST_FRAMES), result.error
        assert "During handling" not in result.error
        assert not result.restarted
    caught = await sandbox.run(
        "try:\n    context.read('text/nope.txt')\nexcept FileNotFoundError as e:\n    print('caught', e)"
    )
    assert _ok(caught).startswith("caught ")
    assert "nope.txt" in caught.output


async def test_context_handle(open_sandbox: Opener) -> None:
    context = open_text(DOCS)
    sandbox = await open_sandbox(objects={"context": context})
    files = _ok(await sandbox.run("print([(f.path, f.size) for f in context.files])"))
    assert files == f"{[(f.path, f.size) for f in context.files]}\n"
    assert _ok(await sandbox.run("context.size")) == f"{context.size}\n"
    assert _ok(await sandbox.run("context.read('text/b.txt', 0, 4)")) == "'beta'\n"
    grep = _ok(
        await sandbox.run(
            "m = context.grep('two', max_matches=2)\nprint([(x.path, x.line, x.text) for x in m])"
        )
    )
    assert grep == "[('text/a.txt', 2, 'line two'), ('text/a.txt', 5, 'line two')]\n"
    chunks = _ok(
        await sandbox.run(
            "cs = context.chunks(max_chars=200)\n"
            "print(len(cs), cs[0].index, cs[0].path, cs[0].start, cs[0].end)\n"
            "print(cs[0].text()[:9])"
        )
    )
    expected = context.chunks(max_chars=200)
    first = expected[0]
    assert chunks == f"{len(expected)} 0 {first.path} {first.start} {first.end}\nalpha one\n"


async def test_chunks_return_to_the_host_as_the_original_objects(open_sandbox: Opener) -> None:
    context = open_text(DOCS)
    original = context.chunks(max_chars=200)[1]
    received: list[Any] = []

    def pick() -> Chunk:
        return original

    def same(value: Any) -> bool:
        return value is original

    async def take(value: Any) -> int:
        received.append(value)
        return len(value)

    sandbox = await open_sandbox(
        functions={"pick": pick, "same": same, "take": take}, objects={"context": context}
    )
    assert _ok(await sandbox.run("c = pick()\nprint(same(c), c.index)")) == "True 1\n"
    code = "cs = context.chunks(max_chars=200)\nawait take([('summarize', cs[0]), {'chunk': cs[2]}, [cs[3]]])"
    _ok(await sandbox.run(code))
    (items,) = received
    first, mapping, nested = items
    assert isinstance(first, tuple) and first[0] == "summarize"
    for chunk in (first[1], mapping["chunk"], nested[0]):
        assert type(chunk) is Chunk
        assert chunk.handle is context  # the host's own record, still bound to the handle
    assert first[1].text() == context.read(first[1].path, first[1].start, first[1].end)


async def test_only_declared_members_are_reachable(open_sandbox: Opener) -> None:
    sandbox = await open_sandbox(objects={"context": open_text(DOCS)})
    for code in (
        "context._corpus",
        "context.corpus",
        "context.add_text('x.txt', 'y')",
        "context.close()",
        "context.chunks(max_chars=200)[0].handle",
        "context.grep('two')[0].__dataclass_fields__",
    ):
        result = await sandbox.run(code)
        assert result.error_type == "AttributeError", (code, result.render())
    assert _ok(await sandbox.run("context.grep('beta')[0].line")) == "1\n"


async def test_rebinding_a_host_object_is_seen_by_the_next_cell(open_sandbox: Opener) -> None:
    bridge = HostBridge(objects={"context": open_text("first")})
    sandbox = await open_sandbox(bridge=bridge)
    assert _ok(await sandbox.run("context.read('text/context.txt')")) == "'first'\n"
    bridge.objects["context"] = open_text("second")
    assert _ok(await sandbox.run("context.read('text/context.txt')")) == "'second'\n"


async def test_close_releases_the_worker(open_sandbox: Opener, backend: Backend) -> None:
    before = backend.workers()
    sandbox = await open_sandbox()
    _ok(await sandbox.run("1"))
    started = backend.workers() - before
    assert started, "the sandbox runs in a worker process"
    await sandbox.close()
    await sandbox.close()  # idempotent
    assert sandbox.closed
    with pytest.raises(SandboxError):
        await sandbox.run("1")
    if backend.pooled:
        # The worker went back to the pool: the next sandbox reuses it instead of adding one.
        again = await open_sandbox()
        _ok(await again.run("1"))
        assert backend.workers() - before == started
        await again.close()
    else:
        assert not backend.workers() & started


async def test_cancelled_run_leaves_no_orphans(open_sandbox: Opener, backend: Backend) -> None:
    running = asyncio.Event()

    async def started() -> None:
        running.set()

    before = backend.workers()
    sandbox = await open_sandbox(functions={"started": started})
    cell = asyncio.create_task(
        sandbox.run("leaked = 'secret'\nawait started()\nwhile True:\n    pass")
    )
    await asyncio.wait_for(running.wait(), 10.0)
    mine = backend.workers() - before
    assert mine
    cell.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cell
    if not backend.pooled:
        assert not backend.workers() & mine  # killed and reaped before `run` re-raised
    # The sandbox itself is still usable: the next cell runs in a fresh REPL.
    fresh = await sandbox.run("print('fresh')\nleaked")
    assert fresh.output == "fresh\n" and fresh.error_type == "NameError"
    if backend.pooled:
        # Monty ends the worker in the background, or, when the cell was waiting on the host,
        # hands it back to its pool idle (state reset) and reuses it: either way, at most the one
        # worker now serving this sandbox remains, never one still running the cancelled cell.
        deadline = asyncio.get_running_loop().time() + 10.0
        while len(backend.workers() - before) > 1 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert len(backend.workers() - before) <= 1


REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")


async def test_host_calls_run_in_the_callers_context(open_sandbox: Opener) -> None:
    def who() -> str:
        return REQUEST.get()

    async def awho() -> str:
        return REQUEST.get()

    sandbox = await open_sandbox(functions={"who": who, "awho": awho})
    for request in ("req-1", "req-2"):
        token = REQUEST.set(request)
        try:
            out = _ok(await sandbox.run("print(who(), await awho())"))
        finally:
            REQUEST.reset(token)
        assert out == f"{request} {request}\n"
