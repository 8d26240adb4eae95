"""`rlm-adk bench` (wired as `rlm_adk.bench.cli_main`) and the `tools/bench_*.py` scripts.

    rlm-adk bench task niah 32K --seed 1            # show one generated task (no model)
    rlm-adk bench systems                           # fan-out, memory, overhead; vs rlms, dspy
    rlm-adk bench quality --model local:PATH.gguf   # RLM against direct calls, per family/length

Results go to `docs/bench/*.json`, PNG plots next to them, and marked sections of
`docs/benchmarks.md`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from rlm_adk.bench.families import FAMILIES, make_task
from rlm_adk.bench.tasks import parse_tokens

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
ASSETS = DOCS / "bench"
BENCHMARKS_MD = DOCS / "benchmarks.md"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlm-adk bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    task = sub.add_parser("task", help="print one generated task's question and answer")
    task.add_argument("family", choices=sorted(FAMILIES))
    task.add_argument("length", help="estimated tokens, e.g. 8K, 1M")
    task.add_argument("--seed", type=int, default=0)
    task.add_argument("--write", type=Path, help="also write the context to this directory")

    systems = sub.add_parser("systems", help="systems benchmarks with simulated models")
    systems.add_argument(
        "--systems", default="rlm-adk,rlms,dspy", help="comma-separated: rlm-adk, rlms, dspy"
    )
    systems.add_argument("--suites", default="fanout,memory,turns,subcall_cpu")
    systems.add_argument("--repeats", type=int, default=3)
    systems.add_argument("--concurrency", default="16,32,64,128,256")
    systems.add_argument("--memory-mb", default="100,250,1000", help="rlm-adk corpus sizes")
    systems.add_argument("--other-memory-mb", default="100,1000", help="rlms/dspy corpus sizes")
    systems.add_argument("--no-docs", action="store_true", help="JSON only")
    systems.add_argument("--as-command", help="the command shown in the report (for scripts)")
    systems.add_argument(
        "--from-json", type=Path, help="re-render the report from a results file; run nothing"
    )

    quality = sub.add_parser("quality", help="RLM against the same model called directly")
    quality.add_argument("--model", required=True, help="root model (e.g. local:/path.gguf)")
    quality.add_argument("--sub-model", help="model for sub-calls (default: --model)")
    quality.add_argument("--families", default="niah,oolong,pairs")
    quality.add_argument("--lengths", default="8K,32K")
    quality.add_argument("--seeds", default="0,1")
    quality.add_argument("--window", type=int, default=8192, help="direct call's window (tokens)")
    quality.add_argument("--max-llm-calls", type=int, default=60)
    quality.add_argument("--max-iterations", type=int, default=8)
    quality.add_argument("--max-wall-seconds", type=float, default=900.0)
    quality.add_argument("--methods", default="direct,rlm")
    quality.add_argument("--name", default="quality", help="section and file name")
    quality.add_argument("--label", help="model label in the report")
    quality.add_argument("--no-docs", action="store_true", help="JSON only")
    quality.add_argument(
        "--resume", action="store_true", help="keep rows already in the JSON; run only the rest"
    )
    quality.add_argument("--as-command", help="the command shown in the report (for scripts)")
    quality.add_argument(
        "--from-json", type=Path, help="re-render the report from a results file; run nothing"
    )
    return parser


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _command(argv: list[str]) -> str:
    return "rlm-adk bench " + " ".join(shlex.quote(a) for a in argv)


def _write_json(name: str, data: Any) -> Path:
    ASSETS.mkdir(parents=True, exist_ok=True)
    path = ASSETS / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
    return path


def cmd_task(args: argparse.Namespace) -> int:
    task = make_task(args.family, parse_tokens(args.length), args.seed)
    print(json.dumps(task.summary(), indent=1, default=str))
    if args.write:
        print(task.write(args.write))
    return 0


def cmd_systems(args: argparse.Namespace, argv: list[str]) -> int:
    from rlm_adk.bench.report import replace_section
    from rlm_adk.bench.sections import systems_section
    from rlm_adk.bench.systems import run_all

    if args.from_json:
        doc = json.loads(args.from_json.read_text(encoding="utf-8"))
        path = args.from_json
    else:
        doc = run_all(
            [s.strip() for s in args.systems.split(",") if s.strip()],
            args.repeats,
            [s.strip() for s in args.suites.split(",") if s.strip()],
            concurrencies=_ints(args.concurrency),
            memory_mb=_ints(args.memory_mb),
            other_memory_mb=_ints(args.other_memory_mb),
        )
        doc["command"] = args.as_command or _command(argv)
        path = _write_json("systems", doc)
    print(path)
    if not args.no_docs:
        body = systems_section(doc, doc["command"], ASSETS, "bench")
        body += f"\nRaw results: [`docs/bench/{path.name}`](bench/{path.name}).\n"
        replace_section(BENCHMARKS_MD, "systems", body)
        print(BENCHMARKS_MD)
    return 0


def cmd_quality(args: argparse.Namespace, argv: list[str]) -> int:
    from rlm_adk.bench.quality import QualityPlan, run_plan_sync
    from rlm_adk.bench.report import replace_section
    from rlm_adk.bench.sections import quality_section

    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        meta, rows = saved["meta"], saved["rows"]
        body = quality_section(rows, meta, meta["command"], ASSETS, "bench", args.name)
        body += (
            f"\nRaw results: [`docs/bench/{args.from_json.name}`](bench/{args.from_json.name}).\n"
        )
        replace_section(BENCHMARKS_MD, args.name, body)
        return 0

    plan = QualityPlan(
        families=[f.strip() for f in args.families.split(",") if f.strip()],
        lengths=[parse_tokens(x) for x in args.lengths.split(",") if x.strip()],
        seeds=_ints(args.seeds),
        model=args.model,
        sub_model=args.sub_model,
        window_tokens=args.window,
        max_llm_calls=args.max_llm_calls,
        max_iterations=args.max_iterations,
        max_wall_seconds=args.max_wall_seconds,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
    )
    label = args.label or args.model.rsplit("/", 1)[-1]
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "model_label": label,
        "seeds": plan.seeds,
        "window_tokens": plan.window_tokens,
        "max_llm_calls": plan.max_llm_calls,
        "max_iterations": plan.max_iterations,
        "max_wall_seconds": plan.max_wall_seconds,
        "command": args.as_command or _command(argv),
    }
    rows: list[dict[str, Any]] = []
    done: set[tuple[str, str]] = set()
    previous = ASSETS / f"{args.name}.json"
    if args.resume and previous.exists():
        old = json.loads(previous.read_text(encoding="utf-8"))
        rows = list(old.get("rows", []))
        done = {(r["task_id"], r["method"]) for r in rows}
        meta["date"] = f"{old['meta']['date']} (resumed {meta['date']})"

    def on_result(outcome: Any) -> None:
        rows.append(outcome.row())
        print(
            f"[bench] {outcome.task_id} {outcome.method}: score {outcome.score:.3f}, "
            f"{outcome.wall_s} s, {outcome.calls} calls, error={outcome.error}",
            file=sys.stderr,
            flush=True,
        )
        _write_json(args.name, {"meta": meta, "rows": rows})  # partial results survive a stop

    run_plan_sync(plan, on_result, skip=done)
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    path = _write_json(args.name, {"meta": meta, "rows": rows})
    print(path)
    if not args.no_docs:
        body = quality_section(rows, meta, meta["command"], ASSETS, "bench", args.name)
        body += f"\nRaw results: [`docs/bench/{path.name}`](bench/{path.name}).\n"
        replace_section(BENCHMARKS_MD, args.name, body)
        print(BENCHMARKS_MD)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.command == "task":
        return cmd_task(args)
    if args.command == "systems":
        return cmd_systems(args, argv)
    return cmd_quality(args, argv)


if __name__ == "__main__":
    raise SystemExit(main())
