"""Resource attacks on both backends: endless loops, memory bombs, deep recursion, huge outputs,
pathological regexes, process and thread bombs. Each is bounded with a clear error (or cut
output), the next cell runs, and the host stays healthy: memory, threads and descriptors bounded,
its event loop kept running while the cell did, no process left behind."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rlm_adk.sandbox.base import SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge
from tests.hardening.conftest import (
    HostSnapshot,
    Ledger,
    LoopTicker,
    assert_host_healthy,
    descendants,
)
from tests.sandbox.conftest import BACKENDS

LIMITS = SandboxLimits(
    cell_timeout_seconds=2.0, memory_bytes=256 * 1024 * 1024, max_output_chars=2_000
)


@dataclass(frozen=True)
class Bomb:
    name: str
    code: str
    outcomes: frozenset[str]
    """Acceptable error types (`None` for a cell that ends without error, e.g. cut output)."""


def bomb(name: str, code: str, *outcomes: str | None) -> Bomb:
    return Bomb(name, code, frozenset(str(o) for o in outcomes))


COMMON = [
    bomb("endless loop", "while True:\n    pass", "TimeoutError"),
    bomb("long computation", "x = 0\nfor i in range(10 ** 12):\n    x += i", "TimeoutError"),
    bomb("list bomb", "x = [0] * (10 ** 9)", "MemoryError"),
    bomb("growing list", "x = []\nwhile True:\n    x.append('a' * 10 ** 6)", "MemoryError"),
    bomb("string bomb", "x = 'a' * (10 ** 10)", "MemoryError"),
    bomb("integer bomb", "x = 10 ** (10 ** 9)", "MemoryError", "TimeoutError"),
    bomb(
        "dict bomb",
        "d = {}\ni = 0\nwhile True:\n    d[i] = str(i) * 100\n    i += 1",
        "MemoryError",
        "TimeoutError",
    ),
    # Monty may hit its memory limit before its recursion limit.
    bomb("deep recursion", "def f(n):\n    return f(n + 1)\nf(0)", "RecursionError", "MemoryError"),
    bomb(
        "mutual recursion",
        "def a(n):\n    return b(n)\ndef b(n):\n    return a(n)\na(0)",
        "RecursionError",
        "MemoryError",
    ),
    bomb(
        "nested data",
        "x = []\nfor _ in range(10 ** 6):\n    x = [x]\nprint(str(x)[:5])",
        None,
        "RecursionError",
        "MemoryError",
        "SandboxCrash",
    ),
    bomb("huge output", "for i in range(200_000):\n    print('x' * 100)", None),
    bomb("huge single line", "print('y' * (50 * 10 ** 6))", None),
    bomb("output without newlines", "for i in range(10 ** 6):\n    print('z', end='')", None),
    bomb(
        "catastrophic regex",
        "import re\nprint(re.match(r'(a+)+$', 'a' * 64 + 'b'))",
        None,
        "TimeoutError",
    ),
    bomb(
        "nested quantifier regex",
        "import re\nre.compile('((a{1,100}){1,100}){1,100}').match('a' * 5000)",
        None,
        "PatternError",
        "TimeoutError",
        "error",
        "OverflowError",
        "RecursionError",
    ),
]

MONTY_ONLY = [
    bomb("fork bomb", "import os\nwhile True:\n    os.fork()", "AttributeError"),
    bomb("thread bomb", "import threading", "ModuleNotFoundError"),
]

# The subprocess backend is full CPython (trusted use only): these are bounded versions that
# show what it holds (time limit, process-group kill, address-space limit), never unbounded bombs
# on a shared test machine.
SUBPROCESS_ONLY = [
    bomb(
        "bounded fork bomb",
        "import os, time\nfor _ in range(30):\n    if os.fork() == 0:\n        time.sleep(600)\n"
        "        os._exit(0)\nwhile True:\n    pass",
        "TimeoutError",
    ),
    bomb(
        "bounded thread bomb",
        "import threading, time\nfor _ in range(50):\n"
        "    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
        "while True:\n    pass",
        "TimeoutError",
        "RuntimeError",  # "can't start new thread": thread stacks count in the address space
    ),
    bomb(
        "recursion past the C stack",
        "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1)\nf(0)",
        "SandboxCrash",
        "RecursionError",
        "MemoryError",
        "SystemError",
    ),
    bomb(
        "exit the interpreter",
        "import os\nos._exit(3)",
        "SandboxCrash",
    ),
    bomb(
        "grandchild processes",
        "import subprocess\nps = [subprocess.Popen(['sleep', '600']) for _ in range(5)]\n"
        "while True:\n    pass",
        "TimeoutError",
    ),
]


@pytest.mark.parametrize("backend_name", ["monty", "subprocess"])
async def test_resource_attacks_are_bounded(ledger: Ledger, backend_name: str) -> None:
    backend = BACKENDS[backend_name]
    bombs = COMMON + (MONTY_ONLY if backend_name == "monty" else SUBPROCESS_ONLY)
    processes_before = descendants()
    before = HostSnapshot.take()
    sandbox = backend.factory(LIMITS)
    await sandbox.start(HostBridge())
    failures = []
    try:
        for b in bombs:
            async with LoopTicker() as ticker:
                result = await sandbox.run(b.code)
            after = await sandbox.run("print('alive')")
            bounded = (
                str(result.error_type) in b.outcomes
                and result.output_chars - len(result.output) <= result.truncated_chars + 200
                and len(result.output) <= LIMITS.max_output_chars + 200
                and after.output == "alive\n"
                # The host's event loop kept running while a long cell ran.
                and (result.duration_seconds < 0.5 or ticker.ticks > 0)
            )
            ledger.attempt("resources", b.name, backend_name, bounded, result.render()[-300:])
            if not bounded:
                failures.append((b.name, result.error_type, result.render()[-300:]))
    finally:
        await sandbox.close()
    assert not failures, failures
    assert_host_healthy(before)
    if not backend.pooled:
        # Timeouts and crashes killed the whole process group: nothing is left behind.
        assert descendants() <= processes_before
