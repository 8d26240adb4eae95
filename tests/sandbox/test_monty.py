"""`MontySandbox` specifics: its process-wide worker pools."""

from __future__ import annotations

import asyncio

from rlm_adk.sandbox.bridge import HostBridge
from rlm_adk.sandbox.monty import MontySandbox
from tests.sandbox.conftest import BACKENDS


async def _one_cell_then_close() -> set[int]:
    sandbox = MontySandbox()
    await sandbox.start(HostBridge())
    result = await sandbox.run("21 * 2")
    assert result.output == "42\n", result.render()
    await sandbox.close()
    return BACKENDS["monty"].workers()


def test_pools_of_closed_event_loops_are_closed() -> None:
    # Each `asyncio.run` (like each call of ADK's sync runner) has its own loop and pool; the pool
    # of a loop that has closed must not keep its idle worker alive until the process exits.
    # Workers of pools whose loops are still open (earlier tests') are not this test's business.
    before = BACKENDS["monty"].workers()
    after_first = asyncio.run(_one_cell_then_close()) - before
    assert after_first
    after_second = asyncio.run(_one_cell_then_close())
    assert after_second - before
    assert not after_first & after_second
