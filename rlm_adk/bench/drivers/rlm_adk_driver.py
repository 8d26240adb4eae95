"""Systems-benchmark driver for rlm-adk (run as a separate process; prints `RESULT {json}`).

Experiments (the spec's `experiment`):

- `chunked_count` (fan-out and memory): turn 1 chunks the file-backed corpus, sends one
  `llm_batch` of `(instruction, chunk)` pairs (chunk text is read host-side, never copied
  through the sandbox), sums the integer replies; turn 2 answers with the total.
- `turns`: `cells` trivial cells with an instant root, after a warm-up run; also a 1-cell run,
  so the per-turn cost is the slope between the two.
- `subcall_cpu`: CPU per sub-call for `calls` instant sub-calls, minus a run without them and
  minus the simulated model's own CPU measured by calling it directly.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from pathlib import Path
from typing import Any

from rlm_adk.bench.drivers.common import (
    INSTRUCTION,
    answer_from_output,
    corpus_file,
    cpu_seconds,
    emit,
    measure,
    needles_in,
    parse_spec,
    turn_stats,
)

COUNT_CELL = """
chunks = context.chunks(max_chars={chunk})
replies = await llm_batch([({instruction!r}, c) for c in chunks])
total = sum(int(r) for r in replies)
print("chunks", len(chunks), "total", total)
"""

SUBCALL_CELL = """
replies = await llm_batch([{instruction!r} + " NEEDLE" for i in range({calls})])
print("calls", len(replies), "total", sum(int(r) for r in replies))
"""


async def run_program(
    cells: list[str], context: Any, *, latency: float, concurrency: int, max_calls: int
) -> dict[str, Any]:
    """One request through ADK's `InMemoryRunner`; returns the answer and usage."""
    from google.adk.runners import InMemoryRunner
    from google.genai import types

    from rlm_adk import RLMAgent, RLMConfig
    from rlm_adk.bench.sim import CountingSubLlm, ProgramRoot

    root = ProgramRoot.of(cells, answer_from_output)
    sub = CountingSubLlm(latency=latency)
    config = RLMConfig(
        max_concurrency=concurrency,
        max_llm_calls=max_calls,
        max_iterations=len(cells) + 5,
        cell_timeout_seconds=600,
    )
    agent = RLMAgent(name="rlm", model=root, sub_model=sub, config=config, context=context)
    runner = InMemoryRunner(agent=agent, app_name="bench")
    session = await runner.session_service.create_session(app_name="bench", user_id="u")
    answer, usage = "", {}
    started = time.perf_counter()
    request_s = 0.0
    try:
        async for event in runner.run_async(
            user_id="u",
            session_id=session.id,
            new_message=types.Content(role="user", parts=[types.Part.from_text(text="count")]),
        ):
            if event.is_final_response() and event.content and event.content.parts:
                answer = "".join(p.text or "" for p in event.content.parts)
                usage = (event.custom_metadata or {}).get("rlm", {}).get("usage", usage)
                request_s = time.perf_counter() - started
    finally:
        await agent.close()
        await runner.close()
    # `request_s`: user message to final answer (the agent's teardown, once per agent, excluded).
    return {"answer": answer, "usage": usage, "stamps": root.stamps, "request_s": request_s}


def _context(spec: dict[str, Any]) -> Any:
    from rlm_adk import open_context

    path = corpus_file(int(spec["context_bytes"]), Path(spec["corpus_dir"]))
    return open_context(str(path))


async def chunked_count(spec: dict[str, Any]) -> dict[str, Any]:
    size, chunk = int(spec["context_bytes"]), int(spec["chunk_bytes"])
    context = _context(spec)
    cell = COUNT_CELL.format(chunk=chunk, instruction=INSTRUCTION)
    calls = -(-size // chunk)
    out = await run_program(
        [cell],
        context,
        latency=float(spec["latency"]),
        concurrency=int(spec.get("concurrency", 64)),
        max_calls=calls + 10,
    )
    context.close()
    expected = str(needles_in(size))
    return {
        "answer": out["answer"],
        "expected": expected,
        "correct": out["answer"].strip() == expected,
        "sub_calls": int(out["usage"].get("calls", 0)) - 2,
        "request_s": round(out["request_s"], 4),
    }


async def turns(spec: dict[str, Any]) -> dict[str, Any]:
    """Per-turn cost: the median interval between consecutive root-model calls of an n-cell
    run (each interval is one trivial cell plus the framework around it; the model is instant)."""
    context = _context(spec)
    n = int(spec.get("cells", 20))
    cells = [f"x = {i}\nprint('total', x)" for i in range(n)]
    kwargs: dict[str, Any] = {"latency": 0.0, "concurrency": 64, "max_calls": n + 20}
    await run_program(cells[:2], context, **kwargs)  # warm-up: sandbox pool, caches
    intervals: list[float] = []
    walls: list[float] = []
    for _ in range(int(spec.get("runs", 5))):
        t0 = time.perf_counter()
        out = await run_program(cells, context, **kwargs)
        walls.append(time.perf_counter() - t0)
        stamps = out["stamps"]
        intervals += [b - a for a, b in itertools.pairwise(stamps)]
    context.close()
    return turn_stats(out["answer"], n, intervals, walls)


async def warm_up() -> None:
    """One small request before measuring (lazy imports, first-use caches), as in every driver."""
    from rlm_adk import open_text

    cell = COUNT_CELL.format(chunk=64, instruction=INSTRUCTION)
    await run_program([cell], open_text("NEEDLE\n" * 64), latency=0.0, concurrency=8, max_calls=100)


async def _sim_model_cpu(calls: int) -> float:
    """CPU seconds the simulated sub-model itself spends on `calls` calls."""
    from rlm_adk.bench.sim import CountingSubLlm
    from rlm_adk.engine.calls import generate, plain_request

    sub = CountingSubLlm()
    request = plain_request(sub.model, INSTRUCTION + " NEEDLE")
    cpu0 = cpu_seconds()
    for _ in range(calls):
        await generate(sub, request)
    return cpu_seconds() - cpu0


async def subcall_cpu(spec: dict[str, Any]) -> dict[str, Any]:
    from rlm_adk import open_text

    calls = int(spec.get("calls", 1000))
    kwargs: dict[str, Any] = {"latency": 0.0, "concurrency": 64, "max_calls": calls + 20}
    with_calls = SUBCALL_CELL.format(instruction=INSTRUCTION, calls=calls)
    without = SUBCALL_CELL.format(instruction=INSTRUCTION, calls=0)
    await run_program([with_calls], open_text("x"), **kwargs)  # warm-up
    deltas = []
    for _ in range(int(spec.get("repeats", 3))):
        c0 = cpu_seconds()
        out = await run_program([without], open_text("x"), **kwargs)
        c1 = cpu_seconds()
        out = await run_program([with_calls], open_text("x"), **kwargs)
        c2 = cpu_seconds()
        deltas.append((c2 - c1) - (c1 - c0))
    deltas.sort()
    model_cpu = await _sim_model_cpu(calls)
    framework = deltas[len(deltas) // 2] - model_cpu
    return {
        "answer": out["answer"],
        "expected": str(calls),
        "correct": out["answer"].strip() == str(calls),
        "cpu_ms_per_subcall": round(deltas[len(deltas) // 2] / calls * 1000, 4),
        "sim_model_cpu_ms_per_call": round(model_cpu / calls * 1000, 4),
        "framework_cpu_ms_per_subcall": round(framework / calls * 1000, 4),
    }


EXPERIMENTS = {"chunked_count": chunked_count, "turns": turns, "subcall_cpu": subcall_cpu}


def main(argv: list[str]) -> int:
    spec = parse_spec(argv)
    experiment = EXPERIMENTS[spec["experiment"]]
    # Imports happen before measuring, in every driver: the figures are the framework's work.
    import google.adk.runners  # noqa: F401

    import rlm_adk.bench.sim  # noqa: F401
    from rlm_adk import RLMAgent  # noqa: F401

    if "corpus_dir" in spec:  # written before measuring (reused when present)
        corpus_file(int(spec["context_bytes"]), Path(spec["corpus_dir"]))
    if spec.get("warmup", True) and spec["experiment"] == "chunked_count":
        asyncio.run(warm_up())
    result = measure(lambda: asyncio.run(experiment(spec)))
    result.update(system="rlm-adk", spec=spec)
    emit(result)
    # A short pause lets sandbox workers wind down before exit (see FACTS.md on Monty).
    time.sleep(0.05)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
