"""`rlm-adk ask` through a subprocess, against the fake Gemini endpoint (the real google-genai client)."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fakes.gemini_server import (
    FakeError,
    FakeGeminiServer,
    call_response,
    model_env,
    text_response,
)

ROOT = Path(__file__).resolve().parents[2]
ROOT_CODE = (
    "hits = context.grep('NEEDLE')\n"
    "replies = await llm_batch([('count x:', c) for c in context.chunks(max_chars=2000)])\n"
    "print(len(hits), sum(int(r) for r in replies))"
)


def handler(request: dict[str, Any]) -> dict[str, Any]:
    tools = [d["name"] for t in request.get("tools", []) for d in t.get("functionDeclarations", [])]
    contents = request.get("contents", [])
    if "run_code" in tools:
        outputs = [
            p["functionResponse"]["response"].get("output", "")
            for c in contents
            for p in c.get("parts", [])
            if "functionResponse" in p
        ]
        if outputs:
            return text_response(
                f"answer: {outputs[-1].strip()}", prompt_tokens=100, output_tokens=5
            )
        return call_response("run_code", {"code": ROOT_CODE}, prompt_tokens=100, output_tokens=20)
    texts = [p.get("text", "") for c in contents for p in c.get("parts", [])]
    body = "\n".join(texts)
    return text_response(str(body.count("x") - 1), prompt_tokens=len(body) // 4, output_tokens=1)


@pytest.fixture
def server():
    with FakeGeminiServer(handler) as srv:
        yield srv


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.txt").write_text("NEEDLE xx\n" + "filler line\n" * 300)
    (root / "b.txt").write_text("x\n" * 50 + "NEEDLE\n")
    return root


def cli_env(server: FakeGeminiServer, **extra: str) -> dict[str, str]:
    return model_env(server.base_url, **extra)


def ask(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rlm_adk.cli", "ask", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_json_answer_and_usage(server, corpus):
    proc = ask("--context", str(corpus), "--json", "count", env=cli_env(server))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["answer"] == "answer: 2 52"
    assert out["exit_code"] == 0
    assert out["limit_reached"] is None
    sub_calls = sum(1 for r in server.requests if "run_code" not in r.function_names)
    assert out["usage"]["calls"] == 2 + sub_calls
    assert out["usage"]["input_tokens"] >= 200


def test_limit_reached_gives_partial_answer_and_exit_3(server, corpus):
    proc = ask(
        "--context", str(corpus), "--json", "count", env=cli_env(server, RLM_MAX_LLM_CALLS="2")
    )
    out = json.loads(proc.stdout)
    assert proc.returncode == 3 == out["exit_code"]
    assert out["limit_reached"] == "max_llm_calls"
    assert out["usage"]["calls"] == 2


def test_bad_input_exit_2(server, tmp_path):
    proc = ask("--context", str(tmp_path / "missing"), "q", env=cli_env(server))
    assert proc.returncode == 2
    assert "bad input" in proc.stderr and "missing" in proc.stderr
    bad_config = ask("--context", str(tmp_path), "q", env=cli_env(server, RLM_MAX_DEPTH="lots"))
    assert bad_config.returncode == 2
    assert "RLM_MAX_DEPTH" in bad_config.stderr


def test_model_failure_exit_4(corpus):
    with FakeGeminiServer(lambda req: (_ for _ in ()).throw(AssertionError)) as srv:
        for _ in range(10):
            srv.push(FakeError(400, "model refused the request"))
        proc = ask("--context", str(corpus), "q", env=cli_env(srv))
    assert proc.returncode == 4
    assert "model failure" in proc.stderr


def test_progress_on_a_terminal_does_not_break_piped_stdout(server, corpus):
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rlm_adk.cli", "ask", "--context", str(corpus), "count"],
            env=cli_env(server, TERM="xterm"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 0
    assert proc.stdout == "answer: 2 52\n"


def test_ctrl_c_cancels_the_tree_and_leaves_no_processes(corpus):
    with FakeGeminiServer(handler, latency=5.0) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rlm_adk.cli", "ask", "--context", str(corpus), "q"],
            env=cli_env(srv),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        # Wait until the fan-out is under way (the root's first call has been answered).
        while time.monotonic() < deadline and len(srv.requests) < 3:
            time.sleep(0.05)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the sandbox worker should be running"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []


def test_bench_subcommand_is_wired():
    proc = subprocess.run(
        [sys.executable, "-m", "rlm_adk.cli", "bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "{task,systems,quality}" in proc.stdout
