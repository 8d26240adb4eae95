"""Tracing overhead: wall time of a 1,000-sub-call request with tracing on against off.

Each measurement runs in a fresh process (a process has one global tracer provider): `off` never
sets a provider (the API's no-op tracer, what a library user gets), `on` calls
`setup_tracing(...)` with a real exporter, spans flushed inside the timed window. The request goes
through the real `RLMAgent` and ADK `InMemoryRunner`: one root turn whose cell runs
`llm_batch` over `--calls` prompts against a simulated sub-model with a fixed latency. Processes
alternate off/on; the result is the median wall time per mode and their ratio.

    .venv/bin/python tools/bench_tracing.py                      # 1,000 calls, 0.02 s, jsonl
    .venv/bin/python tools/bench_tracing.py --exporter otlp      # to a loopback OTLP receiver
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# -- worker: one process, one mode -------------------------------------------------------------


def _models(latency: float, calls: int) -> tuple[Any, Any]:
    from google.adk.models.base_llm import BaseLlm
    from google.adk.models.llm_request import LlmRequest
    from google.adk.models.llm_response import LlmResponse
    from google.genai import types

    def usage(i: int, o: int) -> types.GenerateContentResponseUsageMetadata:
        return types.GenerateContentResponseUsageMetadata(
            prompt_token_count=i, candidates_token_count=o, total_token_count=i + o
        )

    class Root(BaseLlm):
        """One `run_code` turn fanning out `calls` sub-calls."""

        model: str = "sim-root"

        async def generate_content_async(
            self, llm_request: LlmRequest, stream: bool = False
        ) -> AsyncGenerator[LlmResponse, None]:
            source = (
                f"r = await llm_batch(['count the word x in: x y x'] * {calls})\nsubmit(len(r))"
            )
            call = types.FunctionCall(id="c1", name="run_code", args={"code": source})
            yield LlmResponse(
                content=types.Content(role="model", parts=[types.Part(function_call=call)]),
                usage_metadata=usage(1000, 40),
            )

    class Sub(BaseLlm):
        """A fixed-latency model, standing in for a remote one."""

        model: str = "sim-sub"

        async def generate_content_async(
            self, llm_request: LlmRequest, stream: bool = False
        ) -> AsyncGenerator[LlmResponse, None]:
            await asyncio.sleep(latency)
            yield LlmResponse(
                content=types.Content(role="model", parts=[types.Part.from_text(text="2")]),
                usage_metadata=usage(12, 1),
            )

    return Root(), Sub()


async def _worker(args: argparse.Namespace) -> dict[str, Any]:
    setup: Any = None
    if args.worker == "on":
        from rlm_adk.telemetry import setup_tracing

        setup = setup_tracing(args.trace_spec)
    elif args.worker == "null":
        # Every span recorded by the SDK, then dropped: the cost of tracing without exporting.
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            SimpleSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Drop(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(Drop()))
        trace.set_tracer_provider(provider)
    from google.adk.runners import InMemoryRunner
    from google.genai import types

    from rlm_adk import RLMAgent, RLMConfig

    async def one(calls: int) -> tuple[float, float]:
        root, sub = _models(args.latency, calls)
        agent = RLMAgent(
            name="bench",
            model=root,
            sub_model=sub,
            config=RLMConfig(max_llm_calls=calls + 10, capture_content=not args.no_content),
        )
        runner = InMemoryRunner(agent=agent)
        session = await runner.session_service.create_session(app_name=runner.app_name, user_id="u")
        message = types.Content(role="user", parts=[types.Part.from_text(text="go")])
        # Every run starts from a collected heap, so a full collection left over from the previous
        # run does not land in this one's window; collections the run itself triggers still count.
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        answer = ""
        async for event in runner.run_async(
            user_id="u", session_id=session.id, new_message=message
        ):
            if event.is_final_response() and event.content and event.content.parts:
                answer = event.content.parts[0].text or ""
        if setup is not None:
            setup.flush()  # exporting is part of the cost: inside the timed window
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        await agent.close()
        await runner.close()
        if answer.strip() != str(calls):
            raise SystemExit(f"wrong answer {answer!r}, expected {calls}")
        return wall, cpu

    await one(64)  # warm-up: imports, the sandbox pool, the exporter's connection
    runs = [await one(args.calls) for _ in range(args.runs)]
    return {"mode": args.worker, "walls": [w for w, _ in runs], "cpus": [c for _, c in runs]}


# -- driver ------------------------------------------------------------------------------------


def _run_worker(mode: str, args: argparse.Namespace, spec: str) -> dict[str, list[float]]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        mode,
        "--trace-spec",
        spec,
        "--calls",
        str(args.calls),
        "--latency",
        str(args.latency),
        "--runs",
        str(args.runs),
    ]
    if args.no_content:
        command.append("--no-content")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"worker {mode} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02, help="simulated model latency (s)")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per process")
    parser.add_argument("--processes", type=int, default=3, help="process pairs (off, on)")
    parser.add_argument("--exporter", choices=["jsonl", "otlp", "console"], default="jsonl")
    parser.add_argument("--no-content", action="store_true", help="content capture off")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--with-null",
        action="store_true",
        help="also run a third mode: spans recorded by the SDK but not exported",
    )
    parser.add_argument("--worker", choices=["on", "off", "null"], help=argparse.SUPPRESS)
    parser.add_argument("--trace-spec", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(_worker(args))))
        return

    receiver = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.exporter == "otlp":
            sys.path.insert(0, str(ROOT))
            from tools.otlp_receiver import OtlpReceiver

            receiver = OtlpReceiver().start()
            spec = f"otlp:{receiver.endpoint}/v1/traces"
        elif args.exporter == "jsonl":
            spec = f"jsonl:{tmp}/spans.jsonl"
        else:
            spec = "console"
        modes = ("off", "on", "null") if args.with_null else ("off", "on")
        walls: dict[str, list[float]] = {m: [] for m in modes}
        cpus: dict[str, list[float]] = {m: [] for m in modes}
        pair_ratios: list[float] = []
        try:
            for i in range(args.processes):
                # Adjacent off/on processes form a pair; the machine's load drifts less within
                # a pair than across the run, so the median of pair ratios is the robust figure.
                order = modes if i % 2 == 0 else tuple(reversed(modes))
                pair: dict[str, float] = {}
                for mode in order:
                    measured = _run_worker(mode, args, spec)
                    walls[mode].extend(measured["walls"])
                    cpus[mode].extend(measured["cpus"])
                    pair[mode] = statistics.median(measured["walls"])
                pair_ratios.append(pair["on"] / pair["off"])
        finally:
            if receiver is not None:
                receiver.stop()
        spans = 0
        if args.exporter == "jsonl" and os.path.exists(f"{tmp}/spans.jsonl"):
            with open(f"{tmp}/spans.jsonl", encoding="utf-8") as handle:
                spans = sum(1 for _ in handle)
    off, on = statistics.median(walls["off"]), statistics.median(walls["on"])
    pair_ratio = statistics.median(pair_ratios)
    load = os.getloadavg()
    cpu_off, cpu_on = statistics.median(cpus["off"]), statistics.median(cpus["on"])
    ideal = -(-args.calls // 64) * args.latency
    result = {
        "calls": args.calls,
        "latency_s": args.latency,
        "exporter": args.exporter,
        "content_capture": not args.no_content,
        "runs_per_mode": len(walls["off"]),
        "median_off_s": round(off, 4),
        "median_on_s": round(on, 4),
        "ratio": round(on / off, 4),
        "added_pct": round((on / off - 1) * 100, 2),
        "median_pair_ratio": round(pair_ratio, 4),
        "pair_ratios": [round(r, 4) for r in pair_ratios],
        "load_average": [round(x, 2) for x in load],
        "median_cpu_off_s": round(cpu_off, 4),
        "median_cpu_on_s": round(cpu_on, 4),
        "cpu_added_per_call_us": round((cpu_on - cpu_off) / args.calls * 1e6, 1),
        "ideal_s": round(ideal, 3),
        "spans_exported": spans or None,
        "median_cpu_null_s": round(statistics.median(cpus["null"]), 4) if args.with_null else None,
        "walls": {k: [round(w, 4) for w in v] for k, v in walls.items()},
        "cpus": {k: [round(c, 4) for c in v] for k, v in cpus.items()},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{args.calls} sub-calls at {args.latency} s, exporter {args.exporter}, "
        f"content capture {'on' if not args.no_content else 'off'}, "
        f"{len(walls['off'])} runs per mode\n"
        f"  tracing off: median {off:.3f} s   (ideal {ideal:.2f} s at 64-way)\n"
        f"  tracing on : median {on:.3f} s\n"
        f"  ratio {on / off:.3f} -> {(on / off - 1) * 100:+.1f} % wall time; median of "
        f"{len(pair_ratios)} paired ratios {pair_ratio:.3f} -> {(pair_ratio - 1) * 100:+.1f} %\n"
        f"  CPU (all threads): median {cpu_off:.3f} s off, {cpu_on:.3f} s on -> "
        f"{(cpu_on - cpu_off) / args.calls * 1e6:.0f} us added per sub-call\n"
        f"  load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


if __name__ == "__main__":
    main()
