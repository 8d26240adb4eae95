#!/usr/bin/env python3
"""Engine profiles behind the systems figures, with the measured effect of a proposed fix.

    python3 tools/bench_profile.py [--repeats 3]

In separate processes, medians of `--repeats`: the memory benchmark (1 MiB chunks at 0.01 s) at
100, 250 and 1,000 MiB with the engine as it is and with `llm_batch` reading each chunk only
inside a concurrency slot (patched in that process only, see `rlm_adk/bench/profiles.py`); a
cProfile of the 1,000 MiB request; and the fan-out timeline (1,000 sub-calls at 0.2 s, 64-way).
Writes `docs/bench/profile.json` and the "engine-profile" section of `docs/benchmarks.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bench_bootstrap import ROOT, ensure_environment

MB = 1 << 20


def _run(spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "rlm_adk.bench.profiles", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(proc.stderr[-2000:])


def _median(spec: dict, repeats: int) -> dict:
    runs = [_run(spec) for _ in range(repeats)]
    out = dict(runs[-1])
    for key in ("wall_s", "cpu_s", "peak_rss_mb", "peak_tree_rss_mb"):
        out[key] = statistics.median(r[key] for r in runs)
    out["answers"] = sorted({r["answer"] for r in runs})
    print(f"[profile] {spec} -> {out['wall_s']} s, {out['peak_tree_rss_mb']} MB", file=sys.stderr)
    return out


def _breakdown_rows(doc: dict) -> list[list]:
    two = doc["turn_breakdown_schema_2"]
    one = doc["turn_breakdown_schema_1"]
    keys = list(
        dict.fromkeys([*two["own_ms_per_turn_by_package"], *one["own_ms_per_turn_by_package"]])
    )
    rows = [
        [
            k,
            two["own_ms_per_turn_by_package"].get(k, "-"),
            one["own_ms_per_turn_by_package"].get(k, "-"),
        ]
        for k in keys
    ]
    rows.append(
        [
            "**wall per turn under cProfile**",
            two["wall_ms_per_turn_under_profiler"],
            one["wall_ms_per_turn_under_profiler"],
        ]
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from rlm_adk.bench.drivers.common import needles_in
    from rlm_adk.bench.report import replace_section, table
    from rlm_adk.bench.systems import CACHE, revision

    corpus = str(CACHE / "corpus")
    date = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    doc: dict = {"date": date, "revision": revision(), "memory": [], "timeline": []}
    for size_mb in (100, 250, 1000):
        for fix in (False, True):
            spec = {
                "context_bytes": size_mb * MB,
                "chunk_bytes": MB,
                "latency": 0.01,
                "corpus_dir": corpus,
                "slot_first": fix,
            }
            row = _median(spec, args.repeats)
            row["context_mb"], row["variant"] = size_mb, "slot-first read" if fix else "as is"
            row["correct"] = row["answers"] == [str(needles_in(size_mb * MB))]
            doc["memory"].append(row)
    for fix in (False, True):
        base = {"context_bytes": 1000 * MB, "chunk_bytes": MB, "latency": 0.01}
        doc[f"cprofile_1gb_{'fix' if fix else 'as_is'}"] = _run(
            {**base, "corpus_dir": corpus, "slot_first": fix, "cprofile": True}
        )["cprofile_top"]
        spec = {"context_bytes": 1000 * 4096, "chunk_bytes": 4096, "latency": 0.2}
        row = _median(
            {**spec, "corpus_dir": corpus, "slot_first": fix, "timeline": True}, args.repeats
        )
        row["variant"] = "slot-first read" if fix else "as is"
        doc["timeline"].append(row)
    for schema in ("2", "1"):
        env = {**os.environ, "ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN": schema}
        proc = subprocess.run(
            [sys.executable, "-m", "rlm_adk.bench.profiles", '{"turn_breakdown": true}'],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        doc[f"turn_breakdown_schema_{schema}"] = json.loads(line[7:])["turn_breakdown"]
    reads = [
        _run({"read_path": True, "context_bytes": 1000 * MB, "corpus_dir": corpus})["read_path"]
        for _ in range(args.repeats)
    ]
    doc["read_path"] = {k: statistics.median(r[k] for r in reads) for k in reads[0]}
    path = ROOT / "docs" / "bench" / "profile.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")

    mem_rows = [
        [
            r["context_mb"],
            r["variant"],
            r["wall_s"],
            r["cpu_s"],
            r["peak_tree_rss_mb"],
            r["correct"],
        ]
        for r in doc["memory"]
    ]
    tl_rows = [
        [
            r["variant"],
            r["wall_s"],
            r["timeline"]["root_calls_s"],
            r["timeline"]["first_sub_start_s"],
            r["timeline"]["median_wave_gap_s"],
            r["timeline"]["last_sub_end_s"],
        ]
        for r in doc["timeline"]
    ]
    body = "\n".join(
        [
            "## Engine profiles behind the systems figures",
            "",
            f"Measured {date} (revision `{doc['revision']}`) with "
            f"`python3 tools/bench_profile.py --repeats {args.repeats}`; medians of "
            f"{args.repeats} processes. 'slot-first read' patches `llm_batch` in the measuring "
            "process only (`rlm_adk/bench/profiles.py`) so that a chunk is read only once a "
            "concurrency slot is free. The engine does this itself since commit 649ecf7 "
            "(2026-11-25), so from that revision on both variants run the same code path; on "
            "revision 2fc64ca, before it, this profile measured 1,109 MB as is against 265 MB "
            "slot-first at 1,000 MiB (`git show 73e9ca4:docs/bench/profile.json`).",
            "",
            "### Memory benchmark (1 MiB chunks at 0.01 s)",
            "",
            table(["corpus MiB", "variant", "wall s", "CPU s", "peak RSS tree MB", "ok"], mem_rows),
            "",
            "### Fan-out timeline (1,000 sub-calls at 0.2 s, 64-way; seconds from request start)",
            "",
            table(
                [
                    "variant",
                    "wall s",
                    "root calls at",
                    "first sub-call",
                    "wave gap (ideal 0.2)",
                    "last sub-call end",
                ],
                tl_rows,
            ),
            "",
            "### cProfile of the 1,000 MiB request (main thread, own time)",
            "",
            "As is:",
            "",
            "```",
            *doc["cprofile_1gb_as_is"],
            "```",
            "",
            "Slot-first read:",
            "",
            "```",
            *doc["cprofile_1gb_fix"],
            "```",
            "",
            "### Rendering an `(instruction, chunk)` prompt, per MiB (300 chunks of 1 MiB)",
            "",
            table(
                [
                    "ContextHandle.read (block cache)",
                    "os.pread + decode, same ranges",
                    "'\\n\\n'.join(instruction, chunk)",
                ],
                [
                    [
                        doc["read_path"]["handle_read_ms_per_mib"],
                        doc["read_path"]["pread_decode_ms_per_mib"],
                        doc["read_path"]["join_ms_per_mib"],
                    ]
                ],
            ),
            "",
            "### Where a REPL turn's time goes (cProfile, own time per turn by package)",
            "",
            "Ten requests of 20 trivial cells with an instant root model, under cProfile (which "
            "roughly doubles the cost, so compare shares, not absolutes). ADK telemetry schema 2 "
            "is ADK 2.13's default; schema 1 sets `ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1`.",
            "",
            table(
                ["package", "schema 2 (default) ms/turn", "schema 1 ms/turn"],
                _breakdown_rows(doc),
            ),
            "",
            "Raw results: [`docs/bench/profile.json`](bench/profile.json).",
        ]
    )
    replace_section(ROOT / "docs" / "benchmarks.md", "engine-profile", body)
    print(path)
    return 0


if __name__ == "__main__":
    ensure_environment()
    raise SystemExit(main())
