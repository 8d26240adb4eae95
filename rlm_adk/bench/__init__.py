"""Benchmarks for rlm-adk: seeded long-context tasks with exact answers and scorers, simulated
models, systems benchmarks (fan-out, memory, overhead) and side-by-side runs against other RLM
implementations, and the quality runner (RLM against the same model called directly).

Importing this package imports no ADK code; the runners import it when they run.
"""

from __future__ import annotations

from rlm_adk.bench.families import FAMILIES, make_task
from rlm_adk.bench.scoring import score
from rlm_adk.bench.tasks import Task, format_tokens, parse_tokens


def cli_main(argv: list[str] | None = None) -> int:
    """`rlm-adk bench ...` (see `rlm_adk.bench.cli`)."""
    from rlm_adk.bench.cli import main

    return main(argv)


__all__ = ["FAMILIES", "Task", "cli_main", "format_tokens", "make_task", "parse_tokens", "score"]
