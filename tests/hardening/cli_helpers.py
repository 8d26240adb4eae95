"""Running `rlm-adk ask` against the fake Gemini endpoint, optionally as a root without its
file-permission capabilities (so that modes are honoured as for a user)."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.gemini_server import FakeGeminiServer, call_response, model_env, text_response

ROOT = Path(__file__).resolve().parents[2]


def handler_for(cell: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Root turns only: run `cell`, then answer with what the REPL printed."""

    def handler(request: dict[str, Any]) -> dict[str, Any]:
        outputs = [
            p["functionResponse"]["response"].get("output", "")
            for c in request.get("contents", [])
            for p in c.get("parts", [])
            if "functionResponse" in p
        ]
        if outputs:
            return text_response(f"answer: {outputs[-1].strip()}")
        return call_response("run_code", {"code": cell})

    return handler


def cli_env(server: FakeGeminiServer, **extra: str) -> dict[str, str]:
    return model_env(server.base_url, **extra)


def drop_dac_capabilities() -> None:
    """In the child before exec: root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH obeys modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def ask(
    *args: str, env: dict[str, str], unprivileged: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rlm_adk.cli", "ask", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=drop_dac_capabilities if unprivileged else None,
    )
