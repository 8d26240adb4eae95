#!/usr/bin/env python3
"""Systems benchmarks with simulated models, side by side with `rlms` and `dspy.RLM`.

    python3 tools/bench_systems.py                 # everything, medians of 3 (about 15 min)
    python3 tools/bench_systems.py --systems rlm-adk --suites fanout,turns --repeats 1

Fan-out (1,000 sub-calls at 0.2 s, 16- to 256-way), memory (1 MiB chunks at 0.01 s over 100 MB
to 1 GB corpora), per-turn overhead (20 trivial cells, 1 KB and 4 MB contexts) and CPU per
sub-call, each measurement in its own process. Writes `docs/bench/systems.json`, PNG plots and
the "systems" section of `docs/benchmarks.md`. Arguments are those of `rlm-adk bench systems`.
"""

from __future__ import annotations

import sys

from bench_bootstrap import ensure_environment

if __name__ == "__main__":
    ensure_environment()
    from rlm_adk.bench.cli import main

    shown = " ".join(["python3 tools/bench_systems.py", *sys.argv[1:]])
    raise SystemExit(main(["systems", "--as-command", shown, *sys.argv[1:]]))
