#!/usr/bin/env python3
"""Quality run on the offline local model: the RLM against direct calls, per family and length.

    python3 tools/bench_quality.py                         # 8K and 32K, seeds 0 and 1
    python3 tools/bench_quality.py --lengths 8K,32K,128K,256K --seeds 0

Fetches Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) with `tools/fetch_model.py` when it is not cached,
then runs `rlm-adk bench quality --model local:<path>` with the given arguments (defaults:
`--families niah,oolong,pairs --lengths 8K,32K --seeds 0,1 --window 8192`). Slow on 2 cores:
a direct call at 8K tokens takes about a minute. Writes `docs/bench/quality-local.json`, a plot
and the "quality-local" section of `docs/benchmarks.md`.
"""

from __future__ import annotations

import subprocess
import sys

from bench_bootstrap import ROOT, ensure_environment

if __name__ == "__main__":
    ensure_environment()
    path = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fetch_model.py")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    from rlm_adk.bench.cli import main

    args = sys.argv[1:]
    shown = " ".join(["python3 tools/bench_quality.py", *args]).strip()
    defaults = [
        "--name",
        "quality-local",
        "--label",
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (local)",
        "--as-command",
        shown,
    ]
    raise SystemExit(main(["quality", "--model", f"local:{path}", *defaults, *args]))
