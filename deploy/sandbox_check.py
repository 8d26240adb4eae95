"""Start-up check of the Monty sandbox in a deployed container.

The default sandbox runs model-written code in `monty` worker subprocesses; the binary comes
from the `pydantic-monty-runtime` wheel (pulled in by `pydantic-monty==1.4.0`) and lands in the
environment's scripts directory. A container without it would fail on the first `run_code`, deep
inside a request; this check fails at start-up instead, with the fix in the message.

Imports only `rlm_adk` and `pydantic_monty`: it runs in the Cloud Run image (`python -m
deploy.sandbox_check`) and travels by value inside the Agent Engine pickle.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from dataclasses import dataclass
from typing import Any


class SandboxUnavailable(RuntimeError):
    """The Monty worker binary is missing or cannot run here."""


@dataclass(frozen=True)
class SandboxReport:
    """Where the worker binary is and what one cell printed."""

    binary: str
    output: str


def monty_binary() -> str:
    """The path of the `monty` worker binary pools will spawn, or `SandboxUnavailable`."""
    from pydantic_monty._binary import find_monty_binary

    try:
        return find_monty_binary()
    except FileNotFoundError as exc:
        raise SandboxUnavailable(
            f"the Monty sandbox's worker binary is missing ({exc}); install "
            "'pydantic-monty==1.4.0' (it brings pydantic-monty-runtime) in this environment, "
            "or set RLM_SANDBOX=subprocess for trusted use only"
        ) from exc


async def _run_cell(code: str) -> str:
    # A pool of its own, closed before returning: nothing of the check outlives it (the
    # Cloud Run entry point execs the server right after).
    import pydantic_monty

    printed: list[str] = []
    async with pydantic_monty.AsyncMonty(min_processes=0, max_processes=1) as pool:
        session = pool.checkout(script_name="check.py")
        async with session:
            await session.feed_run(code, print_callback=lambda _stream, text: printed.append(text))
    return "".join(printed)


def _run_on_own_loop(code: str) -> str:
    """Runs the cell with `asyncio.run`, on a helper thread if this thread already has a loop
    (a server may call `set_up` from inside its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_run_cell(code))
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["output"] = asyncio.run(_run_cell(code))
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="monty-check")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return str(outcome["output"])


def check_monty(run_cell: bool = True) -> SandboxReport:
    """Finds the worker binary and (by default) runs one cell in a real worker."""
    binary = monty_binary()
    output = ""
    if run_cell:
        try:
            output = _run_on_own_loop("x = 20 + 22\nprint('monty ok', x)")
        except SandboxUnavailable:
            raise
        except Exception as exc:
            raise SandboxUnavailable(
                f"the Monty worker at {binary} could not run a cell: {type(exc).__name__}: {exc}"
            ) from exc
    return SandboxReport(binary, output.strip())


def main() -> int:
    """`python -m deploy.sandbox_check`: prints the binary and the check cell's output."""
    try:
        report = check_monty()
    except SandboxUnavailable as exc:
        print(f"sandbox check failed: {exc}", file=sys.stderr)
        return 1
    print(f"monty binary: {report.binary}\n{report.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
