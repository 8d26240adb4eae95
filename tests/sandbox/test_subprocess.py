"""`SubprocessSandbox` specifics: isolation of the child, process groups, wire codec, clock."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psutil
import pytest

from rlm_adk.context import open_text
from rlm_adk.sandbox import _subprocess_wire as wire
from rlm_adk.sandbox._subprocess_output import CellOutput
from rlm_adk.sandbox.base import CellResult, SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge
from rlm_adk.sandbox.subprocess import SubprocessSandbox

Open = Callable[..., Awaitable[SubprocessSandbox]]


@pytest.fixture
async def open_sub() -> AsyncIterator[Open]:
    opened: list[SubprocessSandbox] = []

    async def _open(
        functions: dict[str, Any] | None = None,
        objects: dict[str, Any] | None = None,
        bridge: HostBridge | None = None,
        **limits: Any,
    ) -> SubprocessSandbox:
        sandbox = SubprocessSandbox(SandboxLimits(**{"cell_timeout_seconds": 20.0, **limits}))
        opened.append(sandbox)
        await sandbox.start(bridge or HostBridge(functions, objects))
        return sandbox

    yield _open
    for sandbox in opened:
        await sandbox.close()


def _ok(result: CellResult) -> str:
    assert result.error is None, result.render()
    return result.output


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _ends(pid: int) -> bool:
    """Whether `pid` ends soon: a SIGKILLed process may take a moment to be scheduled and die."""
    deadline = asyncio.get_running_loop().time() + 5.0
    while not _gone(pid) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    return _gone(pid)


async def test_host_environment_is_not_passed_on(
    open_sub: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLM_TEST_SECRET_TOKEN", "hunter2")
    sandbox = await open_sub()
    out = _ok(await sandbox.run("import os\nprint(sorted(os.environ.items()))"))
    assert "RLM_TEST_SECRET_TOKEN" not in out and "hunter2" not in out
    names = _ok(await sandbox.run("print(' '.join(sorted(os.environ)))")).split()
    assert set(names) <= {"PATH", "HOME", "TMPDIR", "LANG", "MALLOC_ARENA_MAX", "LC_CTYPE"}


async def test_child_runs_in_a_fresh_temporary_directory(open_sub: Open) -> None:
    sandbox = await open_sub()
    workdir = sandbox.workdir
    assert workdir is not None and os.path.isdir(workdir)
    out = _ok(await sandbox.run("import os\nopen('note.txt', 'w').write('x')\nprint(os.getcwd())"))
    assert out.strip() == os.path.realpath(workdir)
    assert os.path.exists(os.path.join(workdir, "note.txt"))
    await sandbox.close()
    assert not os.path.exists(workdir)


async def test_child_does_not_load_host_code(open_sub: Open) -> None:
    sandbox = await open_sub()
    out = _ok(
        await sandbox.run(
            "import sys, subprocess\n"
            "print('rlm_adk' in sys.modules, subprocess.__file__.endswith('sandbox/subprocess.py'))"
        )
    )
    assert out == "False False\n"


async def test_process_group_is_killed_with_the_child(open_sub: Open) -> None:
    sandbox = await open_sub()
    pid = sandbox.pid
    assert pid is not None
    out = _ok(
        await sandbox.run(
            "import os, subprocess, sys\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "print(os.getsid(0) == os.getpid(), os.getpgid(p.pid) == os.getpid(), p.pid)"
        )
    )
    same_session, same_group, grandchild = out.split()
    assert (same_session, same_group) == ("True", "True")
    assert not _gone(int(grandchild))
    await sandbox.close()
    assert _gone(pid)  # reaped before close returned
    assert await _ends(int(grandchild))


async def test_timeout_kills_grandchildren_and_restarts(open_sub: Open) -> None:
    sandbox = await open_sub(cell_timeout_seconds=1.0)
    first_pid, first_dir = sandbox.pid, sandbox.workdir
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(p.pid, flush=True)\n"
        "import time\n"
        "time.sleep(30)"
    )
    result = await sandbox.run(code)
    assert result.error_type == "TimeoutError" and result.restarted
    grandchild = int(result.output.split()[0])  # printed before the kill, so still captured
    assert first_pid is not None and _gone(first_pid)
    assert await _ends(grandchild)
    assert first_dir is not None and not os.path.exists(first_dir)
    assert _ok(await sandbox.run("print('again')")) == "again\n"
    assert sandbox.pid not in (None, first_pid)


async def test_time_waiting_on_the_host_is_not_charged(open_sub: Open) -> None:
    async def slow_async() -> str:
        await asyncio.sleep(0.8)
        return "a"

    def slow_sync() -> str:
        time.sleep(0.8)
        return "s"

    sandbox = await open_sub(
        functions={"slow_async": slow_async, "slow_sync": slow_sync}, cell_timeout_seconds=0.5
    )
    assert _ok(await sandbox.run("print(await slow_async() + slow_sync())")) == "as\n"
    spin = await sandbox.run("import time\nwhile True:\n    time.sleep(0.01)")
    assert spin.error_type == "TimeoutError"


async def test_a_crash_restarts_the_repl(open_sub: Open) -> None:
    sandbox = await open_sub()
    _ok(await sandbox.run("kept = 1"))
    result = await sandbox.run("import os\nprint('bye', flush=True)\nos._exit(3)")
    assert result.error_type == "SandboxCrash" and result.restarted
    assert "code 3" in (result.error or "")
    assert result.output == "bye\n"
    assert (await sandbox.run("kept")).error_type == "NameError"


async def test_stderr_and_child_process_output_are_captured_in_order(open_sub: Open) -> None:
    sandbox = await open_sub()
    code = "import os, sys\nprint('out')\nprint('err', file=sys.stderr)\nos.system('echo shell')\nprint('end')"
    assert _ok(await sandbox.run(code)) == "out\nerr\nshell\nend\n"


async def test_system_exit_ends_the_cell_not_the_repl(open_sub: Open) -> None:
    sandbox = await open_sub()
    _ok(await sandbox.run("kept = 2"))
    result = await sandbox.run("raise SystemExit(5)")
    assert result.error_type == "SystemExit" and not result.restarted
    assert _ok(await sandbox.run("kept")) == "2\n"


async def test_values_cross_the_wire_with_their_types(open_sub: Open) -> None:
    seen: list[Any] = []

    def echo(value: Any) -> Any:
        seen.append(value)
        return value

    async def aecho(value: Any) -> Any:
        return value

    sandbox = await open_sub(functions={"echo": echo, "aecho": aecho})
    code = (
        "v = {'b': b'\\x00\\xff', 's': {1, 2}, 'f': frozenset('a'), 't': (1, (2, [3])),\n"
        "     1: 'int key', (1, 2): 'tuple key', '$': 'dollar', 'u': 'wörld \\udcff',\n"
        "     'big': 2 ** 100, 'inf': float('inf'), 'none': None}\n"
        "print(echo(v) == v, await aecho(v) == v)\n"
        "print(type(echo((1,))).__name__, echo(float('nan')) != echo(float('nan')))"
    )
    assert _ok(await sandbox.run(code)) == "True True\ntuple True\n"
    value = seen[0]
    assert value["b"] == b"\x00\xff" and value["s"] == {1, 2} and value[(1, 2)] == "tuple key"
    assert value["t"] == (1, (2, [3])) and value["u"] == "wörld \udcff" and value["$"] == "dollar"
    assert math.isinf(value["inf"]) and value["big"] == 2**100


async def test_values_that_cannot_cross_fail_as_type_errors(open_sub: Open) -> None:
    def echo(value: Any) -> Any:
        return value

    def leak() -> Any:
        return object()

    sandbox = await open_sub(functions={"echo": echo, "leak": leak})
    assert (await sandbox.run("echo(object())")).error_type == "TypeError"
    assert (await sandbox.run("leak()")).error_type == "TypeError"


async def test_results_too_large_for_the_child_fail_cleanly(open_sub: Open) -> None:
    def big() -> str:
        return "x" * 20_000_000

    sandbox = await open_sub(functions={"big": big}, memory_bytes=64 * 1024 * 1024)
    result = await sandbox.run("big()")
    assert result.error_type == "ValueError" and "too large" in (result.error or "")
    assert _ok(await sandbox.run("print('fine')")) == "fine\n"


async def test_host_call_limit(open_sub: Open) -> None:
    def one() -> int:
        return 1

    sandbox = await open_sub(functions={"one": one}, max_host_calls=3)
    assert _ok(await sandbox.run("one() + one() + one()")) == "3\n"
    result = await sandbox.run("one()")
    assert result.error_type == "RuntimeError" and "host calls" in (result.error or "")


async def test_host_functions_refuse_other_threads(open_sub: Open) -> None:
    def one() -> int:
        return 1

    sandbox = await open_sub(functions={"one": one})
    code = (
        "import threading\nerrors = []\n"
        "def work():\n    try:\n        one()\n    except RuntimeError as e:\n        errors.append(str(e))\n"
        "t = threading.Thread(target=work)\nt.start(); t.join()\nprint(errors)"
    )
    assert "main thread" in _ok(await sandbox.run(code))


async def test_host_side_cancellation_reaches_the_cell(open_sub: Open) -> None:
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    bridge = HostBridge({"hang": hang})
    sandbox = await open_sub(bridge=bridge)
    cell = asyncio.create_task(
        sandbox.run("try:\n    await hang()\nexcept RuntimeError as e:\n    print('stopped:', e)")
    )
    await asyncio.wait_for(started.wait(), 10.0)
    assert await bridge.cancel_inflight() == 1
    assert _ok(await cell) == "stopped: the host call was cancelled\n"


async def test_child_side_cancellation_cancels_the_host_call(open_sub: Open) -> None:
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    sandbox = await open_sub(functions={"hang": hang})
    code = (
        "import asyncio\ntry:\n    await asyncio.wait_for(hang(), 0.05)\n"
        "except asyncio.TimeoutError:\n    print('gave up')"
    )
    assert _ok(await sandbox.run(code)) == "gave up\n"
    await asyncio.wait_for(cancelled.wait(), 10.0)


async def test_records_behave_like_values(open_sub: Open) -> None:
    sandbox = await open_sub(objects={"context": open_text("one two\nthree two\n")})
    code = (
        "a = context.grep('two')\nb = context.grep('two')\n"
        "print(a == b, len(set(a + b)), repr(a[0]), sorted(dir(a[0])))\n"
        "import copy\nprint(copy.deepcopy(a[0]) == a[0], type(context).__name__)"
    )
    out = _ok(await sandbox.run(code)).splitlines()
    assert out[0] == (
        "True 2 Match(path='text/context.txt', line=1, offset=4, text='one two') "
        "['line', 'offset', 'path', 'text']"
    )
    assert out[1] == "True ContextHandle"


async def test_released_references_are_forgotten_by_the_host(open_sub: Open) -> None:
    context = open_text("a\n" * 1000)
    sandbox = await open_sub(objects={"context": context})
    _ok(await sandbox.run("cs = context.chunks(max_chars=20)\nlen(cs)"))
    worker = sandbox._worker
    assert worker is not None
    held = len(worker._refs)
    assert held > 100
    _ok(await sandbox.run("del cs"))
    _ok(await sandbox.run("1"))  # the release rides on the next frame
    assert list(worker._refs.values()) == [context]  # only the handle bound as `context`


def test_wire_codec_round_trip() -> None:
    value = {"k": [1, 2.5, None, True, "s"], 3: (b"\x01", {4}, frozenset({5})), "$": {"$": 1}}
    encoded = wire.encode(value, lambda obj: {"$": "ref", "id": 7})
    message = wire.unpack(wire.pack({"op": "x", "v": encoded})[wire.HEADER.size :])
    assert wire.decode(message["v"], lambda ref: ref) == value
    marker = object()
    assert wire.decode(
        wire.encode([marker], lambda obj: {"$": "ref", "id": 1}), lambda r: marker
    ) == [marker]
    with pytest.raises(ValueError):
        wire.decode({"$": "pickle", "v": ""}, lambda ref: ref)
    deep: list[Any] = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(ValueError):
        wire.encode(deep, lambda obj: {})


async def test_cell_output_splits_at_markers_across_reads() -> None:
    output = CellOutput(max_chars=1_000)
    marker = b"\x00END:abc\x00"
    finished = output.expect(marker)
    stream = "héllo wörld\n".encode() + marker + b"next cell"
    for i in range(len(stream)):  # one byte per read: markers and characters split everywhere
        output.feed(stream[i : i + 1])
    assert finished.done() and finished.result().getvalue() == "héllo wörld\n"
    output.feed(b"", final=True)
    assert output.take().getvalue() == "next cell"


async def test_a_bound_method_keeps_its_object(open_sub: Open) -> None:
    sandbox = await open_sub(objects={"context": open_text("one two\n" * 50)})
    _ok(await sandbox.run("text = context.chunks(max_chars=100)[1].text"))
    _ok(await sandbox.run("import gc\ngc.collect()"))
    assert _ok(await sandbox.run("text()[:7]")) == "'one two'\n"


async def test_a_child_that_died_between_cells_is_replaced(open_sub: Open) -> None:
    sandbox = await open_sub()
    _ok(await sandbox.run("kept = 1"))
    pid = sandbox.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert await _ends(pid)
    result = await asyncio.wait_for(sandbox.run("kept"), 10.0)
    assert result.error_type == "SandboxCrash" and result.restarted
    assert _ok(await sandbox.run("print('new')")) == "new\n"
