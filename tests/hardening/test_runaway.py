"""Runaway cells end: sleeping, refused sub-calls in a loop and the request deadline are bounded,
with a clear error, and the next cell runs."""

from __future__ import annotations

import asyncio

from rlm_adk.sandbox.base import SandboxLimits
from rlm_adk.sandbox.bridge import HostBridge
from rlm_adk.sandbox.monty import MontySandbox
from tests.hardening.conftest import Ledger

# A regression would hang for an hour; this turns it into a failure instead.
GUARD_SECONDS = 60.0


async def test_monty_sleep_cannot_outlast_the_time_limit(ledger: Ledger) -> None:
    # Monty leaves sleeps out of its execution time: without a sleep bound these never end.
    sandbox = MontySandbox(SandboxLimits(cell_timeout_seconds=1.0))
    await sandbox.start(HostBridge())
    try:
        for name, code in {
            "sleep loop": "import time\nwhile True:\n    time.sleep(0.4)",
            "async sleep loop": "import asyncio\nwhile True:\n    await asyncio.sleep(0.4)",
            "long sleeps": "import time\nfor _ in range(10):\n    time.sleep(3600)",
        }.items():
            result = await asyncio.wait_for(sandbox.run(code), GUARD_SECONDS)
            held = result.error_type == "TimeoutError" and result.restarted
            ledger.attempt("runaway", name, "monty", held, result.render())
            assert held, result.render()
            assert "sleeping is limited to 1 s in all per REPL" in result.render()
            after = await sandbox.run("print('next')")
            assert after.output == "next\n", after.render()
        # A single sleep longer than the time limit is cut to it (gathered sleeps overlap).
        for name, code in {
            "one long sleep": "import time\ntime.sleep(3600)\nprint('woke')",
            "gathered sleeps": "import asyncio\nawait asyncio.gather(*[asyncio.sleep(3600)] * 50)\n"
            "print('woke')",
        }.items():
            capped = await asyncio.wait_for(sandbox.run(code), GUARD_SECONDS)
            ended = capped.output == "woke\n" or capped.error_type == "TimeoutError"
            ledger.attempt("runaway", name, "monty", ended, capped.render())
            assert ended, capped.render()
    finally:
        await sandbox.close()
