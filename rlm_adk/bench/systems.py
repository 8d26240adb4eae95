"""Systems benchmarks: fan-out, memory, per-turn and per-sub-call overhead, side by side.

Every measurement is one driver process (`drivers/*_driver.py`) so peak RSS is the process's
own; each point is the median of `repeats` processes. rlm-adk runs in this venv; `rlms` and
`dspy` run from their own venvs under `.cache/bench/`, created on first use with the versions
pinned in ANCHORS.md (never installed into the project's venv).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "bench"
DRIVERS = Path(__file__).resolve().parent / "drivers"
MB = 1 << 20

OTHER_SYSTEMS: dict[str, tuple[str, str]] = {
    # name: (pip requirement, driver file)
    "rlms": ("rlms==0.1.3", "rlms_driver.py"),
    "dspy": ("dspy==3.4.1", "dspy_driver.py"),
}


def revision() -> str:
    """`git describe --always --dirty` of the work tree measured (engine edits show as dirty)."""
    try:
        proc = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
        )
        return proc.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_venv(name: str) -> Path:
    """The python of `.cache/bench/venv-<name>`, created with the pinned package if missing."""
    requirement, _ = OTHER_SYSTEMS[name]
    venv = CACHE / f"venv-{name}"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text().strip() == requirement:
        return python
    log(f"creating {venv} with {requirement} (once)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, requirement, "psutil"], check=True)
    stamp.write_text(requirement)
    return python


@dataclass
class Driver:
    """How to start one system's driver."""

    system: str
    command: list[str]

    @classmethod
    def for_system(cls, system: str) -> Driver:
        if system == "rlm-adk":
            return cls(system, [sys.executable, "-m", "rlm_adk.bench.drivers.rlm_adk_driver"])
        python = ensure_venv(system)
        return cls(system, [str(python), str(DRIVERS / OTHER_SYSTEMS[system][1])])

    def run(self, spec: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
        """One measurement in a fresh process (`spec["env"]` adds environment variables)."""
        env = {**os.environ, **spec.get("env", {})}
        proc = subprocess.run(
            [*self.command, json.dumps(spec)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                return dict(json.loads(line[len("RESULT ") :]))
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise RuntimeError(f"{self.system} driver failed (exit {proc.returncode}): {tail}")


def median_run(driver: Driver, spec: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Medians of `repeats` processes for every numeric field; raw values kept in `runs`."""
    runs = []
    for i in range(repeats):
        result = driver.run(spec)
        log(
            f"{driver.system} {spec['experiment']} run {i + 1}/{repeats}: "
            f"wall {result['wall_s']} s, rss {result['peak_rss_mb']} MB, ok={result['correct']}"
        )
        runs.append(result)
    out: dict[str, Any] = {"system": driver.system, "spec": spec, "repeats": repeats}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(float(r[key]) for r in runs)
    out["correct"] = all(r["correct"] for r in runs)
    out["runs"] = [{k: v for k, v in r.items() if k != "spec"} for r in runs]
    return out


def _count_spec(size: int, chunk: int, latency: float, **extra: Any) -> dict[str, Any]:
    return {
        "experiment": "chunked_count",
        "context_bytes": size,
        "chunk_bytes": chunk,
        "latency": latency,
        "corpus_dir": str(CACHE / "corpus"),
        **extra,
    }


def fanout(systems: list[str], repeats: int, concurrencies: list[int]) -> list[dict[str, Any]]:
    """1,000 sub-calls at 0.2 s over a 4 MB context (1,000 chunks of 4 KiB)."""
    size, chunk, latency = 1000 * 4096, 4096, 0.2
    rows = []
    for system in systems:
        driver = Driver.for_system(system)
        levels = concurrencies if system == "rlm-adk" else [0]
        for level in levels:
            extra = {"concurrency": level} if level else {}
            row = median_run(driver, _count_spec(size, chunk, latency, **extra), repeats)
            calls = int(row.get("sub_calls", 1000))
            if level:
                # Judged on the request (message to answer); `wall_s` adds the agent's teardown.
                row["ideal_s"] = math.ceil(calls / level) * latency
                row["efficiency"] = round(row["ideal_s"] / row.get("request_s", row["wall_s"]), 3)
            row["effective_concurrency"] = round(calls * latency / row["wall_s"], 1)
            rows.append(row)
    return rows


def memory(
    systems: list[str], repeats: int, sizes_mb: list[int], other_sizes_mb: list[int]
) -> list[dict[str, Any]]:
    """1 MiB chunks at 0.01 s over corpora of each size (1,000 MiB = 1,000 sub-calls)."""
    rows = []
    for system in systems:
        driver = Driver.for_system(system)
        for size_mb in sizes_mb if system == "rlm-adk" else other_sizes_mb:
            # The others take minutes and gigabytes at 1 GB: one run there.
            n = repeats if system == "rlm-adk" or size_mb <= 100 else 1
            row = median_run(driver, _count_spec(size_mb * MB, MB, 0.01), n)
            row["context_mb"] = size_mb
            row["rss_per_context"] = round(row["peak_tree_rss_mb"] / size_mb, 2)
            rows.append(row)
    return rows


# ADK 2.13's default telemetry schema (v2) builds GenAI semconv attributes from the whole
# request on every model call, even with no tracer installed; schema 1 does not. rlm-adk is also
# measured with it, to separate ADK's share of the per-turn cost from the engine's.
LEGACY_TELEMETRY = {"ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN": "1"}


def turns(systems: list[str], repeats: int, sizes: list[int]) -> list[dict[str, Any]]:
    """20 trivial cells with an instant root, at each context size (bytes)."""
    rows = []
    for system in systems:
        driver = Driver.for_system(system)
        variants: list[dict[str, str]] = [{}]
        if system == "rlm-adk":
            variants.append(LEGACY_TELEMETRY)
        for env in variants:
            for size in sizes:
                spec: dict[str, Any] = {
                    "experiment": "turns",
                    "context_bytes": size,
                    "cells": 20,
                    "corpus_dir": str(CACHE / "corpus"),
                }
                if env:
                    spec["env"] = env
                row = median_run(driver, spec, repeats)
                row["context_bytes"] = size
                row["variant"] = "ADK telemetry schema 1" if env else "defaults"
                rows.append(row)
    return rows


def subcall_cpu(repeats: int) -> list[dict[str, Any]]:
    """CPU per sub-call (rlm-adk only: the others' drivers have no such experiment)."""
    driver = Driver.for_system("rlm-adk")
    return [median_run(driver, {"experiment": "subcall_cpu", "calls": 1000}, repeats)]


SUITES: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "fanout": fanout,
    "memory": memory,
    "turns": turns,
    "subcall_cpu": subcall_cpu,
}


def run_all(
    systems: list[str],
    repeats: int,
    suites: list[str],
    *,
    concurrencies: list[int],
    memory_mb: list[int],
    other_memory_mb: list[int],
) -> dict[str, Any]:
    """Every requested suite; returns the results document written as JSON."""
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    out: dict[str, Any] = {
        "date": started,
        "revision": revision(),
        "systems": systems,
        "repeats": repeats,
    }
    if "fanout" in suites:
        out["fanout"] = fanout(systems, repeats, concurrencies)
    if "memory" in suites:
        out["memory"] = memory(systems, repeats, memory_mb, other_memory_mb)
    if "turns" in suites:
        out["turns"] = turns(systems, repeats, [1024, 4 * MB])
    if "subcall_cpu" in suites:
        out["subcall_cpu"] = subcall_cpu(repeats)
    return out
