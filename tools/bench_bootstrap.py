"""Shared start-up for the `tools/bench_*.py` scripts: make the environment, then re-run inside it.

From a fresh clone, `python3 tools/bench_systems.py` (any Python 3.11+) builds `.venv` with
`make venv` when it is missing, installs matplotlib into it when missing (the `bench` extra),
and re-executes the script with `.venv/bin/python`. The other systems' venvs (rlms, dspy) are
created by the runner itself, under `.cache/bench/`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
BENCH_EXTRA = ["matplotlib>=3.8", "psutil>=5.9"]


def ensure_environment() -> None:
    """Returns inside `.venv` with the bench extra installed (re-executing if needed)."""
    inside = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    if not inside:
        if not VENV_PYTHON.exists():
            print("[bench] building .venv (make venv; several minutes once)", file=sys.stderr)
            subprocess.run(["make", "-C", str(ROOT), "venv"], check=True)
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    try:
        import matplotlib  # noqa: F401
        import psutil  # noqa: F401
    except ImportError:
        print("[bench] installing the bench extra: " + " ".join(BENCH_EXTRA), file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *BENCH_EXTRA], check=True)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
