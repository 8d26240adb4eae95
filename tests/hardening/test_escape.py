"""The sandbox escape battery against the default backend (Monty), driven through the real engine:
a red-team model sends each attack as a `run_code` cell, then a cell that must still run.

Contained means: the cell did not print `ESCAPED`, no credential or host file content reached
the model, no file was written or deleted, no connection reached the loopback listener, and the
next cell ran. The host stays healthy throughout.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.context.handle import DEFAULT_MAX_READ, ContextHandle
from tests.hardening.adversary import tool_outputs
from tests.hardening.attacks import ESCAPES, Attack, render
from tests.hardening.conftest import (
    HostSnapshot,
    Ledger,
    SandboxTracker,
    assert_host_healthy,
    monty_workers,
)
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, has_tools, text

ALIVE = "print('alive')"
SANDBOX_LOCAL = {"setattr on context"}
HOST_SECRETS = ("root:x:0:0", "/bin/bash")


class Listener:
    """A loopback TCP listener that counts the connections it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@dataclass
class RedTeam:
    """Sends each cell in turn as `run_code`, then answers; keeps what each cell printed."""

    cells: list[str]
    outputs: list[str] = field(default_factory=list)

    def __call__(self, request: LlmRequest) -> LlmResponse:
        outputs = tool_outputs(request)
        self.outputs = outputs
        if has_tools(request) and len(outputs) < len(self.cells):
            return code(self.cells[len(outputs)])
        return text("done")


def escaped(output: str, secret: str) -> bool:
    return "ESCAPED" in output or secret in output or any(s in output for s in HOST_SECRETS)


async def run_battery(
    attacks: list[Attack],
    tmp_path: Path,
    listener: Listener,
    handle: ContextHandle,
    **config: object,
) -> tuple[list[tuple[Attack, str, str]], Path, Path]:
    """Runs every attack (each followed by a liveness cell); returns (attack, output, next)."""
    marker = tmp_path / "created-by-the-sandbox"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    values = {
        "marker": str(marker),
        "victim": str(victim),
        "port": str(listener.port),
        "secret": "RLM_HARDENING_SECRET_TOKEN",
    }
    cells = [c for a in attacks for c in (render(a.code, **values), ALIVE)]
    team = RedTeam(cells)
    agent = RLMAgent(
        name="rlm",
        model=ScriptedLlm.of(fallback=team, model="scripted-red-team"),
        sub_model=ScriptedLlm.of(fallback=lambda r: text("sub answer"), model="scripted-sub"),
        config=RLMConfig(
            max_iterations=len(cells) + 5,
            max_llm_calls=2 * len(cells) + 20,
            cell_timeout_seconds=5,
            **config,
        ),
        context=handle,
    )
    try:
        await asyncio.wait_for(run_once(agent, "attack"), 300)
    finally:
        await agent.close()
    outputs = team.outputs
    assert len(outputs) == len(cells), "every cell ran"
    results = [(a, outputs[2 * i], outputs[2 * i + 1]) for i, a in enumerate(attacks)]
    return results, marker, victim


async def test_the_monty_sandbox_contains_every_escape(
    ledger: Ledger,
    sandboxes: SandboxTracker,
    listener: Listener,
    tmp_path: Path,
    canary_env: str,
) -> None:
    before = HostSnapshot.take()
    handle = open_text("public text")
    results, marker, victim = await run_battery(ESCAPES, tmp_path, listener, handle)
    # Attributes set on `context` stay in the sandbox: the host's handle is untouched.
    assert handle.max_read_bytes == DEFAULT_MAX_READ
    assert handle.read("text/context.txt") == "public text"
    failures = []
    for attack, output, after in results:
        # Refused with a clear error, except where the cell only touches sandbox-local state.
        clear = attack.name in SANDBOX_LOCAL or re.search(r"\w+(Error|Exception): ", output)
        contained = (
            bool(clear)
            and not escaped(output, canary_env)
            and after == "alive"
            and not marker.exists()
            and victim.exists()
            and listener.connections == 0
        )
        ledger.attempt(f"escape: {attack.category}", attack.name, "monty", contained, output)
        if not contained:
            failures.append((attack.name, output, after))
    assert not failures, failures
    assert not sandboxes.open
    assert_host_healthy(before)
    assert monty_workers(), "the cells ran in Monty worker processes"
