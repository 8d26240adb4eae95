"""What every system driver shares (standard library only: drivers also run in other venvs).

The systems benchmarks use one corpus shape for every system: fixed-width 64-byte lines, so a
chunk of any multiple of 64 bytes ends on a line boundary whichever way a system cuts it
(rlm-adk's line-aware `context.chunks` or a plain string slice in the others), and every chunk's
count of the word `NEEDLE` is known. The simulated sub-model sleeps a fixed latency and counts
that word in its prompt, minus the one mention in the instruction.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LINE_BYTES = 64
WORD = "NEEDLE"
INSTRUCTION = f"Count the word {WORD} in the text below. Reply with a number only."
BLOCK_BYTES = 1 << 20  # the corpus repeats one 1 MiB block; chunk sizes divide into it
NEEDLE_EVERY = 7


def _line(i: int) -> str:
    body = f"row {i:07d} " + (f"the {WORD} is here" if i % NEEDLE_EVERY == 0 else "filler text")
    return body.ljust(LINE_BYTES - 1, ".") + "\n"


def block() -> str:
    """One 1 MiB block of 64-byte lines."""
    return "".join(_line(i) for i in range(BLOCK_BYTES // LINE_BYTES))


def needles_in(size: int) -> int:
    """How many times `WORD` occurs in the first `size` bytes of the corpus (line-aligned)."""
    lines = size // LINE_BYTES
    per_block = BLOCK_BYTES // LINE_BYTES
    full, rest = divmod(lines, per_block)
    per = sum(1 for i in range(per_block) if i % NEEDLE_EVERY == 0)
    return full * per + sum(1 for i in range(rest) if i % NEEDLE_EVERY == 0)


def corpus_text(size: int) -> str:
    """The corpus as a string of `size` bytes (a multiple of 64)."""
    if size % LINE_BYTES:
        raise ValueError("the corpus size must be a multiple of 64 bytes")
    one = block()
    full, rest = divmod(size, BLOCK_BYTES)
    return one * full + one[:rest]


def corpus_file(size: int, directory: Path) -> Path:
    """The corpus written once to `directory/corpus-<size>.txt` (reused when present)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"corpus-{size}.txt"
    if path.exists() and path.stat().st_size == size:
        return path
    one = block().encode()
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        full, rest = divmod(size, BLOCK_BYTES)
        for _ in range(full):
            fh.write(one)
        fh.write(one[:rest])
    tmp.replace(path)
    return path


def count_reply(prompt: str | list[str]) -> str:
    """The simulated sub-model's answer: occurrences of `WORD` minus the instruction's one (over
    the prompt's texts when it comes in parts)."""
    texts = [prompt] if isinstance(prompt, str) else prompt
    return str(max(0, sum(t.count(WORD) for t in texts) - 1))


def answer_from_output(output: str) -> str:
    """The root's second turn: the total printed by the first cell (`... total N`)."""
    marker = "total "
    at = output.rfind(marker)
    if at < 0:
        return "no total"
    digits = ""
    for ch in output[at + len(marker) :]:
        if not ch.isdigit():
            break
        digits += ch
    return digits or "no total"


class PeakRss:
    """Samples the resident memory of this process plus its children every `interval` s.

    `ru_maxrss` sees only this process; the sampler also sees sandbox workers and other
    children, which hold memory for some systems.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_tree = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import psutil

            self._proc: Any = psutil.Process()
        except ImportError:  # psutil missing: only ru_maxrss is reported
            self._proc = None

    def _sample(self) -> None:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # a child that just exited
                pass
        self.peak_tree = max(self.peak_tree, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sample()
            except Exception:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        if self._proc is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def cpu_seconds() -> float:
    """CPU of this process and its waited-for children, plus live children (via psutil)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    try:
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except Exception:
                pass
    except ImportError:
        pass
    return total


def measure(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Runs `fn` and adds wall time, CPU time and peak RSS (process and process tree) in MB."""
    with PeakRss() as rss:
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        result = fn()
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.update(
        wall_s=round(wall, 4),
        cpu_s=round(cpu, 4),
        peak_rss_mb=round(own, 1),
        # Sampling can miss a short peak: the tree's peak is at least the process's own.
        peak_tree_rss_mb=round(max(own, rss.peak_tree / 2**20), 1),
    )
    return result


def emit(result: dict[str, Any]) -> None:
    """The driver's one line of output, read by the parent (`RESULT {...}`)."""
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


def parse_spec(argv: list[str]) -> dict[str, Any]:
    """Drivers take one JSON argument: the experiment spec."""
    if len(argv) != 2:
        raise SystemExit(f"usage: {os.path.basename(argv[0])} '<json spec>'")
    return dict(json.loads(argv[1]))


def turn_stats(answer: str, n: int, intervals: list[float], walls: list[float]) -> dict[str, Any]:
    """Median turn interval and the rest of a run's wall time (the fixed cost)."""
    intervals.sort()
    walls.sort()
    per_turn = intervals[len(intervals) // 2]
    wall = walls[len(walls) // 2]
    return {
        "answer": answer,
        "expected": str(n - 1),
        "correct": answer.strip() == str(n - 1),
        "per_turn_ms": round(per_turn * 1000, 3),
        "p90_turn_ms": round(intervals[int(len(intervals) * 0.9)] * 1000, 3),
        "run_wall_s": round(wall, 4),
        "fixed_s": round(wall - n * per_turn, 4),
    }


Runner = Callable[[list[str], str, float], dict[str, Any]]
"""A baseline driver's `run(cells, context, latency)`: one request with a scripted root."""


def timed_turns(
    run: Runner, cell: str, submit: str, context: str, n: int, runs: int, stamps: list[float]
) -> dict[str, Any]:
    """Per-turn cost: the median interval between consecutive root-model calls (`stamps`, filled
    by the driver's root model) of an n-cell run; each interval is one trivial cell plus the
    framework around it."""
    import itertools

    cells = [cell.format(code=f"x = {i}\nprint('total', x)") for i in range(n)]
    program = [*cells, cell.format(code=submit)]
    run(program[:2] + program[-1:], context, 0.0)  # warm-up
    intervals: list[float] = []
    walls: list[float] = []
    out: dict[str, Any] = {}
    for _ in range(runs):
        stamps.clear()
        t0 = time.perf_counter()
        out = run(program, context, 0.0)
        walls.append(time.perf_counter() - t0)
        intervals += [b - a for a, b in itertools.pairwise(stamps)]
    return turn_stats(out["answer"], n, intervals, walls)


def baseline_main(
    argv: list[str],
    system: str,
    run: Runner,
    count_cell: str,
    answer_cell: str,
    turns: Callable[[str, int, int], dict[str, Any]],
) -> int:
    """The body of a baseline driver's `main`: the chunked-count or turns experiment of the spec,
    measured, printed as the result line."""
    spec = parse_spec(argv)
    size = int(spec["context_bytes"])
    path = corpus_file(size, Path(spec["corpus_dir"]))
    if spec["experiment"] == "chunked_count":
        cells = [count_cell.format(chunk=int(spec["chunk_bytes"]), instruction=INSTRUCTION)]
        cells.append(answer_cell)
        expected = str(needles_in(size))
        if spec.get("warmup", True):  # one small request first, as in every driver
            run(
                [count_cell.format(chunk=64, instruction=INSTRUCTION), answer_cell],
                "NEEDLE\n" * 64,
                0.0,
            )

        def go() -> dict[str, Any]:
            out = run(cells, path.read_text(), float(spec["latency"]))  # context as a string
            out.update(expected=expected, correct=out["answer"].strip() == expected)
            return out

        result = measure(go)
    elif spec["experiment"] == "turns":
        text = path.read_text()
        result = measure(lambda: turns(text, int(spec.get("cells", 20)), int(spec.get("runs", 5))))
    else:
        raise SystemExit(f"{system} driver: unknown experiment {spec['experiment']!r}")
    result.update(system=system, spec=spec)
    emit(result)
    return 0
