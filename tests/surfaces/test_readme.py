"""The README's Python examples run as written (in order, in one process), against the fake
Gemini endpoint instead of the real service."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fakes.gemini_server import FakeGeminiServer, call_response, model_env, text_response

ROOT = Path(__file__).resolve().parents[2]


def python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def handler(request: dict[str, Any]) -> dict[str, Any]:
    tools = [d["name"] for t in request.get("tools", []) for d in t.get("functionDeclarations", [])]
    answered = any(
        "functionResponse" in p for c in request.get("contents", []) for p in c.get("parts", [])
    )
    if "run_code" in tools and not answered:
        return call_response("run_code", {"code": "print(context.size)"})
    return text_response("A summary.")


def test_readme_python_examples_run_as_written(tmp_path):
    blocks = python_blocks()
    assert len(blocks) >= 2
    script = tmp_path / "readme_examples.py"
    script.write_text("\n\n".join(blocks))
    with FakeGeminiServer(handler) as fake:
        proc = subprocess.run(
            [sys.executable, str(script)],
            env=model_env(fake.base_url),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "A summary." in proc.stdout
    assert "'calls': 2" in proc.stdout
