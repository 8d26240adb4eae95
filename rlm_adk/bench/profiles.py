"""Engine profiles behind the systems figures, and measured effects of proposed fixes.

Run by `tools/bench_profile.py`; each experiment is one process (`python -m
rlm_adk.bench.profiles '<json>'`). A proposed fix is applied by patching the engine *in that
process only* (the engine files are not edited here), so its effect is measured against the
unpatched engine in the same run:

- `slot_first`: `llm_batch` renders a prompt (reads its chunk) only once a concurrency slot is
  free, instead of reading every chunk of the batch up front.
- `timeline`: when the root's calls and the sub-calls start and end in a fan-out request.
- `cprofile`: where the main thread's time goes (top functions by own time).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import itertools
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from rlm_adk.bench.drivers.common import INSTRUCTION, corpus_file, emit, measure, parse_spec


async def slot_first_llm_batch(self: Any, prompts: Any, model: str | None = None) -> list[str]:
    """`HostAPI.llm_batch` as proposed: each prompt is rendered (its chunk read) only once a
    concurrency slot is free, so at most `max_concurrency` chunk texts are alive at once."""
    from rlm_adk.engine import host

    node = self._node()
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, (list, tuple)):
        raise TypeError("llm_batch takes a list of prompts")
    slots = asyncio.Semaphore(node.request.config.max_concurrency)

    async def one(item: Any) -> str:
        async with slots:
            try:
                text = await host.render_prompt(item, node)
                return await host.plain_call(node, text, model=model, kind="llm_batch")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                return f"ERROR: {exc}"

    return list(await asyncio.gather(*(one(p) for p in prompts)))


def patch_slot_first() -> None:
    """Applies the proposed fix to this process only."""
    from rlm_adk.engine import host

    host.HostAPI.llm_batch = slot_first_llm_batch  # type: ignore[method-assign]


def _install_timeline(marks: dict[str, list[float]]) -> None:
    from rlm_adk.bench import sim

    sub_gen = sim.CountingSubLlm.generate_content_async
    root_gen = sim.ProgramRoot.generate_content_async

    async def sub(self: Any, request: Any, stream: bool = False) -> Any:
        marks["sub_start"].append(time.perf_counter())
        async for response in sub_gen(self, request, stream):
            marks["sub_end"].append(time.perf_counter())
            yield response

    async def root(self: Any, request: Any, stream: bool = False) -> Any:
        marks["root"].append(time.perf_counter())
        async for response in root_gen(self, request, stream):
            yield response

    sim.CountingSubLlm.generate_content_async = sub  # type: ignore[method-assign]
    sim.ProgramRoot.generate_content_async = root  # type: ignore[method-assign]


async def _count_request(spec: dict[str, Any]) -> dict[str, Any]:
    from rlm_adk import open_context
    from rlm_adk.bench.drivers.rlm_adk_driver import COUNT_CELL, run_program

    size, chunk = int(spec["context_bytes"]), int(spec["chunk_bytes"])
    context = open_context(str(corpus_file(size, Path(spec["corpus_dir"]))))
    cell = COUNT_CELL.format(chunk=chunk, instruction=INSTRUCTION)
    out = await run_program(
        [cell],
        context,
        latency=float(spec["latency"]),
        concurrency=int(spec.get("concurrency", 64)),
        max_calls=size // chunk + 10,
    )
    context.close()
    return {"answer": out["answer"]}


def _timeline(marks: dict[str, list[float]], t0: float, concurrency: int) -> dict[str, Any]:
    starts, ends = sorted(marks["sub_start"]), sorted(marks["sub_end"])
    waves = [round(starts[i] - t0, 3) for i in range(0, len(starts), concurrency)]
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(waves)]
    return {
        "root_calls_s": [round(t - t0, 3) for t in marks["root"]],
        "first_sub_start_s": round(starts[0] - t0, 3) if starts else None,
        "last_sub_end_s": round(ends[-1] - t0, 3) if ends else None,
        "wave_starts_s": waves,
        "median_wave_gap_s": sorted(gaps)[len(gaps) // 2] if gaps else None,
    }


def main(argv: list[str]) -> int:
    spec = parse_spec(argv)
    import google.adk.runners  # noqa: F401  # imports before measuring

    if spec.get("read_path"):
        size = int(spec["context_bytes"])
        emit({"read_path": read_path(str(corpus_file(size, Path(spec["corpus_dir"]))))})
        return 0
    if spec.get("turn_breakdown"):
        emit({"turn_breakdown": asyncio.run(turn_breakdown())})
        return 0

    from rlm_adk.bench.drivers import rlm_adk_driver

    if spec.get("slot_first"):
        patch_slot_first()
    corpus_file(int(spec["context_bytes"]), Path(spec["corpus_dir"]))
    asyncio.run(rlm_adk_driver.warm_up())
    marks: dict[str, list[float]] = {"root": [], "sub_start": [], "sub_end": []}
    if spec.get("timeline"):
        _install_timeline(marks)
    profiler = cProfile.Profile() if spec.get("cprofile") else None
    t0 = time.perf_counter()

    def go() -> dict[str, Any]:
        if profiler is not None:
            profiler.enable()
        try:
            return asyncio.run(_count_request(spec))
        finally:
            if profiler is not None:
                profiler.disable()

    result = measure(go)
    if spec.get("timeline"):
        result["timeline"] = _timeline(marks, t0, int(spec.get("concurrency", 64)))
    if profiler is not None:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(12)
        result["cprofile_top"] = _compact(buffer.getvalue())
    result.update(system="rlm-adk", spec=spec)
    emit(result)
    time.sleep(0.05)
    return 0


def _package_of(filename: str) -> str:
    """A coarse owner for a profiled function's file (site-packages top level, or ours)."""
    if "site-packages/" in filename:
        parts = filename.split("site-packages/", 1)[1].split("/")
        return "/".join(parts[:2]) if parts[0] == "google" else parts[0]
    if "/rlm_adk/" in filename:
        return "rlm_adk/" + filename.split("/rlm_adk/", 1)[1].split("/")[0]
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    return "python stdlib"


async def turn_breakdown(runs: int = 10, cells: int = 20) -> dict[str, Any]:
    """Own CPU time per package over `runs` requests of `cells` trivial cells (instant root)."""
    from rlm_adk import open_text
    from rlm_adk.bench.drivers.rlm_adk_driver import run_program

    program = [f"x = {i}\nprint('total', x)" for i in range(cells)]
    kwargs: dict[str, Any] = {"latency": 0.0, "concurrency": 64, "max_calls": cells + 20}
    await run_program(program[:2], open_text("x"), **kwargs)  # warm-up
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for _ in range(runs):
        await run_program(program, open_text("x"), **kwargs)
    profiler.disable()
    wall = time.perf_counter() - t0
    by_package: dict[str, float] = {}
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, _nc, own, _cum, _callers) in stats.items():
        key = _package_of(filename)
        by_package[key] = by_package.get(key, 0.0) + own
    turns = runs * (cells + 1)
    top = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:10]
    return {
        "turns": turns,
        "wall_ms_per_turn_under_profiler": round(wall / turns * 1000, 3),
        "own_ms_per_turn_by_package": {k: round(v / turns * 1000, 3) for k, v in top},
    }


def read_path(path: str, chunks: int = 300) -> dict[str, Any]:
    """Per-MiB cost of the pieces of rendering a `(instruction, chunk)` prompt from a file:
    `ContextHandle.read` (block cache), a plain `os.pread` + decode of the same range, and the
    `"\n\n".join` that puts the instruction in front of the chunk."""
    import os

    from rlm_adk import open_context

    handle = open_context(path)
    plan = handle.chunks(max_chars=1 << 20)[:chunks]
    t0 = time.perf_counter()
    texts = [handle.read(c.path, c.start, c.end) for c in plan]
    t1 = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        plain = [os.pread(fd, c.end - c.start, c.start).decode("utf-8") for c in plan]
    finally:
        os.close(fd)
    t2 = time.perf_counter()
    joined = ["\n\n".join((INSTRUCTION, text)) for text in texts]
    t3 = time.perf_counter()
    handle.close()
    mib = sum(len(t) for t in texts) / (1 << 20)
    assert plain == texts and len(joined) == len(texts)
    return {
        "mib": round(mib, 1),
        "handle_read_ms_per_mib": round((t1 - t0) / mib * 1000, 3),
        "pread_decode_ms_per_mib": round((t2 - t1) / mib * 1000, 3),
        "join_ms_per_mib": round((t3 - t2) / mib * 1000, 3),
    }


def _compact(report: str) -> list[str]:
    """The table rows of a pstats report, with long paths shortened."""
    rows = []
    for line in report.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[0][0].isdigit():
            where = parts[5].replace(str(Path(sys.prefix)), "<venv>")
            rows.append(f"{parts[0]:>10} calls  {parts[1]:>7} s own  {parts[3]:>7} s cum  {where}")
    return rows


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
