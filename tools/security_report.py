"""Runs the hardening suite (tests/hardening) and prints its figures as Markdown: attacks tried
and contained, faults injected and what became of the work they hit.

    .venv/bin/python tools/security_report.py            # the whole suite, slow tests included
    .venv/bin/python tools/security_report.py --fast     # without the slow tests
    .venv/bin/python tools/security_report.py --json out.json

The figures come from the suite's ledger (tests/hardening/conftest.py): every test records each
attempt or fault before it asserts, so a green run means every attempt listed was contained.
Exit code: pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_suite(fast: bool, extra: list[str]) -> tuple[int, dict[str, Any]]:
    """Runs pytest on tests/hardening; returns its exit code and the ledger's figures."""
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.json"
        env = {**os.environ, "RLM_HARDENING_FIGURES": str(figures)}
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/hardening",
        ]
        if fast:
            command += ["-m", "not slow"]
        done = subprocess.run([*command, *extra], cwd=ROOT, env=env)
        data = json.loads(figures.read_text()) if figures.exists() else {}
    return done.returncode, data


def markdown(data: dict[str, Any], code: int) -> str:
    """The figures as Markdown tables."""
    lines = []
    total = data.get("attempts_total", {"tried": 0, "contained": 0})
    lines.append(
        f"**{total['tried']} attempts tried, {total['contained']} contained** "
        f"(pytest exit code {code})."
    )
    lines += ["", "| category | tried | contained |", "|---|---:|---:|"]
    for category, row in sorted(data.get("attempts", {}).items()):
        lines.append(f"| {category} | {row['tried']} | {row['contained']} |")
    faults = data.get("faults_total", {"injected": 0, "completed": 0, "lost": 0})
    lines += [
        "",
        f"**{faults['injected']} faults injected; {faults['completed']} units of work completed "
        f"(answer or clear error); {faults['lost']} lost.**",
        "",
        "| scenario | faults injected | units completed | lost |",
        "|---|---:|---:|---:|",
    ]
    for kind, row in sorted(data.get("faults", {}).items()):
        lines.append(f"| {kind} | {row['injected']} | {row['completed']} | {row['lost']} |")
    for escaped in data.get("escaped", []):
        lines.append(f"\nNOT CONTAINED: {escaped}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="skip the slow tests")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    args = parser.parse_args(argv)
    code, data = run_suite(args.fast, args.pytest_args)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    print(markdown(data, code))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
