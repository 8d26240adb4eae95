"""The process-wide malloc tuning that keeps concurrent chunk reads flat (glibc only)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = "from rlm_adk.context.memory import tune_malloc; print(tune_malloc(), tune_malloc())"


def _run(env_value: str | None) -> str:
    env = dict(os.environ)
    env.pop("RLM_ADK_TUNE_MALLOC", None)
    if env_value is not None:
        env["RLM_ADK_TUNE_MALLOC"] = env_value
    return subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tuning_is_applied_once_and_can_be_turned_off() -> None:
    assert _run(None) == "True True"
    assert _run("0") == "False False"
