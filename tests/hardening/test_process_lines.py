"""What the subprocess backend holds (it is full CPython, for trusted use only: docs/SECURITY.md
lists what it does not), and that no sandbox worker of either backend outlives a host that dies:
a subprocess child dies with it (PR_SET_PDEATHSIG); a Monty worker in the middle of a cell ends
when the cell reaches its time limit (an idle one at once)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from rlm_adk.context import open_text
from rlm_adk.sandbox.base import SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge
from rlm_adk.sandbox.subprocess import SubprocessSandbox
from tests.hardening.conftest import Ledger

ROOT = Path(__file__).resolve().parents[2]
CHILD_ENV = ["HOME", "LANG", "MALLOC_ARENA_MAX", "PATH", "TMPDIR"]


async def test_subprocess_backend_holds_its_lines(ledger: Ledger, canary_env: str) -> None:
    limits = SandboxLimits(cell_timeout_seconds=10, memory_bytes=256 * 1024 * 1024)
    sandbox = SubprocessSandbox(limits)
    await sandbox.start(HostBridge(objects={"context": open_text("public")}))
    try:
        checks = {
            # No variable of the host's environment (credentials included) reaches the child.
            "environment scrubbed": (
                "import os\nprint(sorted(os.environ))",
                lambda out: out.strip() == str(CHILD_ENV) and canary_env not in out,
            ),
            "isolated interpreter": (
                "import os, sys\nprint(sys.flags.isolated, os.getcwd() in sys.path)",
                lambda out: out.strip() == "1 False",
            ),
            "address-space limit": (
                "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS))",
                lambda out: out.strip() == str((limits.memory_bytes, limits.memory_bytes)),
            ),
            "no core dumps": (
                "import resource\nprint(resource.getrlimit(resource.RLIMIT_CORE))",
                lambda out: out.strip() == "(0, 0)",
            ),
            "own process group": (
                "import os\nprint(os.getpgid(0) == os.getpid(), os.getsid(0) == os.getpid())",
                lambda out: out.strip() == "True True",
            ),
            "host objects only through the bridge": (
                "for name in ('_corpus', '__dict__', 'add_text', 'close'):\n"
                "    try:\n        getattr(context, name)\n        print('ESC' + 'APED', name)\n"
                "    except AttributeError:\n        pass\nprint('ok')",
                lambda out: out.strip() == "ok",
            ),
        }
        for name, (cell, holds) in checks.items():
            result = await sandbox.run(cell)
            held = result.error is None and holds(result.output)
            ledger.attempt("subprocess (held lines)", name, "subprocess", held, result.render())
            assert held, (name, result.render())
        workdir = sandbox.workdir
        assert workdir is not None and Path(workdir).is_dir()
    finally:
        await sandbox.close()
    assert not Path(workdir).exists(), "the child's working directory is removed with it"


CELL_TIMEOUT = 3.0
HOST = f"""
import asyncio
from rlm_adk.sandbox.base import SandboxLimits
from rlm_adk.sandbox.monty import MontySandbox
from rlm_adk.sandbox.subprocess import SubprocessSandbox
from rlm_adk.sandbox.bridge import HostBridge

async def main():
    limits = SandboxLimits(cell_timeout_seconds={CELL_TIMEOUT})
    for sandbox in (MontySandbox(limits), SubprocessSandbox(limits)):
        await sandbox.start(HostBridge())
        # A busy cell each: the host dies while both workers are mid-cell.
        asyncio.create_task(sandbox.run("while True:\\n    pass"))
    await asyncio.sleep(0.5)
    print("ready", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_workers_die_with_a_killed_host(ledger: Ledger) -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert host.stdout is not None
        assert await asyncio.to_thread(host.stdout.readline) == "ready\n"
        workers = psutil.Process(host.pid).children(recursive=True)
        assert len(workers) == 2, workers
        os.kill(host.pid, signal.SIGKILL)
        await asyncio.to_thread(host.wait)
        # Bounded by the cell time limit (the Monty worker notices when its cell ends).
        gone, alive = await asyncio.to_thread(psutil.wait_procs, workers, CELL_TIMEOUT + 15)
    finally:
        if host.poll() is None:
            host.kill()
    for proc in alive:  # never leave one behind, even when the test fails
        proc.kill()
    held = not alive
    ledger.attempt("orphans", "host killed mid-cell", "both backends", held, str(alive))
    assert held, alive
    assert len(gone) == len(workers)
