"""Benchmark the lazy context: peak RSS, grep throughput against GNU grep, ranged-read latency.

    .venv/bin/python tools/bench_context.py [--sizes 100M,1G] [--runs 3] [--no-gcs]
        [--no-numpy] [--markdown OUT.md] [--docs]

For each corpus size it generates a text corpus in a temporary directory (deleted afterwards),
then measures, each in a fresh child process so peak RSS is clean:

- local grep: `context.grep` over every file against `grep -c` on the same files, same run
  (page cache warm for both; best of 3 for GNU grep; our first run, cold line index, and best),
  `--runs` times alternately, reporting medians (of the times and of the per-run ratios);
- local chunking: `context.chunks(1 MB)` and every `chunk.text()`, read by 16 threads (like an
  `llm_batch` fan-out reading chunk texts host-side);
- the same grep and chunking through fake-gcs-server (the real google-cloud-storage client);
- ranged-read latency against the emulator (4 KiB object ranges; handle reads cold and warm).

Peak RSS is the child's high-water mark (VmHWM); "base" is its RSS after imports, before any work.
`--docs` rewrites this tool's section of docs/benchmarks.md (the hand-written findings at its end,
from "What the figures say", are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

NEEDLE = "needle-XYZZY"
ABSENT = "needle-QUUX"
REGEX = r"needle-XYZZY [0-9]+7 "
GNU_REGEX = "needle-XYZZY [0-9]+7 "
FILE_CAP = 128 << 20  # local files of at most 128 MiB
OBJECT_CAP = 64 << 20  # GCS objects of at most 64 MiB
CHUNK = 1_000_000
BUCKET = "bench-context"
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "context"
FINDINGS = "What the figures say"
INTRO = """## Context: memory, grep throughput, ranged reads

`tools/bench_context.py` generates text corpora (random words with some UTF-8, one
`needle-XYZZY <n>7 found here` line after every ~4 MiB, so matches are spread over every file;
local files of at most 128 MiB, GCS objects of at most 64 MiB) in a temporary directory, measures
each operation in a fresh child process, and deletes everything afterwards. GNU `grep -c` runs on
the same files in the same run (best of 3, page cache warm); `grep -n` is shown too, since it
has to count lines like we do. "first" is our first grep in the child (line numbers counted from
scratch), "best" the best of three (the line index built by the first is reused; any pattern
benefits). Each local grep is measured `--runs` times, alternating GNU grep and a fresh child of
ours; times and ratios are medians over the runs (a ratio is taken within its run), and the
first grep's ratio also shows its lowest and highest run. "chunks" plans
`context.chunks(max_chars=1_000_000)` and reads every `chunk.text()` from 16 threads, as an
`llm_batch` fan-out reads chunk texts host-side. Peak RSS is the child's VmHWM; "base" is its RSS
after imports. The GCS rows go through the real google-cloud-storage client to fake-gcs-server
(filesystem backend) on the same machine."""


def parse_size(text: str) -> int:
    """`100M` -> 100 MiB, `1G` -> 1 GiB, `512K` -> 512 KiB."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def label(size: int) -> str:
    """A short human size."""
    return f"{size / (1 << 30):g} GiB" if size >= 1 << 30 else f"{size / (1 << 20):g} MiB"


# -- corpus ---------------------------------------------------------------------------------------


def _text_block(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
        for _ in range(5000)
    ]
    words += ["café", "naïve", "Zürich", "日本語", "Ελλάδα", "Report", "Total:", "2026"]
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 20)))
        lines.append(line)
        total += len(line.encode()) + 1
    return ("\n".join(lines) + "\n").encode()[:size]


def make_corpus(directory: Path, total: int, file_cap: int) -> tuple[list[Path], int]:
    """Files of text adding up to `total` bytes; returns them and the needle count."""
    block = _text_block(1, 4 << 20)
    block = block[: block.rfind(b"\n") + 1]
    files, needles, written, index = [], 0, 0, 0
    while written < total:
        size = min(file_cap, total - written)
        path = directory / f"part-{index:04d}.txt"
        with path.open("wb") as out:
            done = 0
            while done < size:
                piece = block[: size - done]
                out.write(piece)
                done += len(piece)
                if done < size:  # one needle line after every ~4 MiB block
                    line = f"{NEEDLE} {needles}7 found here\n".encode()[: size - done]
                    out.write(line)
                    done += len(line)
                    needles += 1
        files.append(path)
        written += size
        index += 1
    return files, needles


# -- child measurements ---------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def _peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report at least
    # the RSS its parent had when it forked.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _open(task: dict[str, Any]) -> Any:
    from rlm_adk.context import open_context

    return open_context(task["uri"])


def child(task: dict[str, Any]) -> dict[str, Any]:
    """Runs one measurement in this (fresh) process and returns its figures."""
    import re2  # noqa: F401 - imported before the baseline, as the handle would

    from rlm_adk.context import scan

    if task.get("no_numpy"):
        scan.numpy = None
    out: dict[str, Any] = {
        "base_rss_mb": round(_rss_mb(), 1),
        "counter": "bytes.count" if scan.numpy is None else "numpy",
    }
    handle = _open(task)
    files = handle.files
    out["files"] = len(files)
    out["bytes"] = sum(f.size for f in files)
    kind = task["kind"]
    if kind == "grep":
        runs = []
        for _ in range(task.get("repeat", 3)):
            started = time.perf_counter()
            matches = handle.grep(task["pattern"], max_matches=10**9)
            runs.append(time.perf_counter() - started)
        out.update(first_s=runs[0], best_s=min(runs), matches=len(matches))
    elif kind == "chunks":
        started = time.perf_counter()
        chunks = handle.chunks(max_chars=CHUNK)
        planned = time.perf_counter() - started
        with ThreadPoolExecutor(16) as pool:
            chars = sum(pool.map(lambda c: len(c.text()), chunks))
        out.update(
            plan_s=planned, total_s=time.perf_counter() - started, chunks=len(chunks), chars=chars
        )
    elif kind == "latency":
        source = next(iter(handle.corpus.sources.values()))
        rng = random.Random(7)
        picks = [(f, rng.randrange(max(1, f.size - 4096))) for f in rng.choices(files, k=200)]
        raw = []
        for info, offset in picks:
            rel = info.path.partition("/")[2]
            started = time.perf_counter()
            source.read_bytes(rel, offset, offset + 4096)
            raw.append(time.perf_counter() - started)
        cold, warm = [], []
        for info, offset in picks[:100]:
            handle.corpus.cache.clear()  # cold: the 1 MiB block is fetched
            for sink in (cold, warm):
                started = time.perf_counter()
                handle.read_bytes(info.path, offset, offset + 4096)
                sink.append(time.perf_counter() - started)
        out.update(raw_ms=_percentiles(raw), cold_ms=_percentiles(cold), warm_ms=_percentiles(warm))
    handle.close()
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return out


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "p50": round(statistics.median(ms), 3),
        "p95": round(ms[int(len(ms) * 0.95) - 1], 3),
        "mean": round(statistics.fmean(ms), 3),
    }


def run_child(task: dict[str, Any]) -> dict[str, Any]:
    """`child(task)` in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(task)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {task['kind']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def gnu_grep(
    files: list[Path], pattern: str, extended: bool = False, flag: str = "-c"
) -> tuple[float, int]:
    """Best of 3 wall times of `grep -c` (or `-n`) over `files`, and the count of matches."""
    cmd = ["grep", flag, *(["-E"] if extended else ["-F"]), pattern, *map(str, files)]
    best, count = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - started)
        if flag == "-c":
            count = sum(int(x.rsplit(":", 1)[-1]) for x in proc.stdout.split())
        else:
            count = len(proc.stdout.splitlines())
    return best, count


def summarize_runs(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the timed fields and of the per-run ratios to `grep -c`; the runs themselves."""
    out = dict(samples[-1])
    for key in ("first_s", "best_s", "gnu_s", "gnu_n_s", "peak_rss_mb", "base_rss_mb"):
        out[key] = statistics.median(s[key] for s in samples)
    firsts = [s["gnu_s"] / s["first_s"] for s in samples]
    out["ratio_best"] = statistics.median(s["gnu_s"] / s["best_s"] for s in samples)
    out["ratio_first"] = statistics.median(firsts)
    out["ratio_first_range"] = [min(firsts), max(firsts)]
    out["runs"] = samples
    return out


# -- driver ---------------------------------------------------------------------------------------


def bench_size(
    total: int, work: Path, gcs: bool, runs: int, options: dict[str, Any]
) -> dict[str, Any]:
    """Every measurement for one corpus size (`options` go to every child)."""
    corpus = work / "corpus"
    corpus.mkdir()
    started = time.perf_counter()
    files, needles = make_corpus(corpus, total, FILE_CAP)
    result: dict[str, Any] = {"size": total, "needles": needles}
    print(f"[{label(total)}] corpus: {len(files)} file(s) in {time.perf_counter() - started:.1f} s")
    for f in files:  # warm the page cache for everyone
        with f.open("rb") as fh:
            while fh.read(16 << 20):
                pass
    uri = str(corpus)
    cases = (("literal", NEEDLE, False), ("absent literal", ABSENT, False), ("regex", REGEX, True))
    for name, pattern, extended in cases:
        gnu_pattern = GNU_REGEX if extended else pattern
        samples = []
        for _ in range(runs):  # alternate, so load from elsewhere hits both sides alike
            g_s, g_count = gnu_grep(files, gnu_pattern, extended)
            n_s, _ = gnu_grep(files, gnu_pattern, extended, flag="-n")
            ours = run_child({"kind": "grep", "uri": uri, "pattern": pattern, **options})
            assert ours["matches"] == g_count, (ours, g_count)
            samples.append({**ours, "gnu_s": g_s, "gnu_n_s": n_s, "gnu_count": g_count})
            print(f"[{label(total)}] local grep {name}: {ours} vs GNU {g_s:.3f} s")
        result[f"local_grep_{name}"] = summarize_runs(samples)
    result["local_chunks"] = run_child({"kind": "chunks", "uri": uri, **options})
    print(f"[{label(total)}] local chunks: {result['local_chunks']}")
    if gcs:
        result.update(bench_gcs(total, work, options))
    shutil.rmtree(corpus)
    return result


def bench_gcs(total: int, work: Path, options: dict[str, Any]) -> dict[str, Any]:
    """The GCS measurements, through a filesystem-backed fake-gcs-server."""
    from gcs_emulator import running_emulator
    from google.cloud import storage

    result: dict[str, Any] = {}
    objects = work / "objects"
    objects.mkdir()
    files, _ = make_corpus(objects, total, OBJECT_CAP)
    with running_emulator(backend="filesystem"):
        client = storage.Client()
        bucket = client.create_bucket(BUCKET)
        started = time.perf_counter()
        for f in files:
            bucket.blob(f"corpus/{f.name}").upload_from_filename(str(f))
            f.unlink()  # keep one copy on disk at a time
        result["gcs_upload_s"] = time.perf_counter() - started
        uri = f"gs://{BUCKET}/corpus/"
        result["gcs_grep_literal"] = run_child(
            {"kind": "grep", "uri": uri, "pattern": NEEDLE, "repeat": 2, **options}
        )
        print(f"[{label(total)}] gcs grep: {result['gcs_grep_literal']}")
        result["gcs_chunks"] = run_child({"kind": "chunks", "uri": uri, **options})
        print(f"[{label(total)}] gcs chunks: {result['gcs_chunks']}")
        result["gcs_latency"] = run_child({"kind": "latency", "uri": uri, **options})
        print(f"[{label(total)}] gcs latency: {result['gcs_latency']}")
    shutil.rmtree(objects)
    return result


def markdown(results: list[dict[str, Any]], command: str) -> str:
    """The figures as the docs/benchmarks.md section."""
    mbps = lambda size, s: f"{size / s / 1e6:,.0f} MB/s"  # noqa: E731
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    grep = results[0]["local_grep_literal"]
    out = [
        f"Measured {date.today().isoformat()} with `{command}` "
        f"({os.cpu_count()} cores, page cache warm, Python {sys.version.split()[0]}, newlines "
        f"counted by {grep['counter']}; {len(grep['runs'])} run(s) per local grep; load average "
        f"at the end {load}).",
        "",
        "| corpus | operation | ours (first / best) | GNU `grep -c` (`-n`) | ratio to `-c`: best "
        "(first; its lowest–highest run) | peak RSS (base) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        size = label(r["size"])
        for name in ("literal", "absent literal", "regex"):
            g = r[f"local_grep_{name}"]
            low, high = g["ratio_first_range"]
            out.append(
                f"| {size} local | grep {name} ({g['matches']} matches) | {g['first_s']:.3f} s / "
                f"{g['best_s']:.3f} s ({mbps(g['bytes'], g['best_s'])}) | {g['gnu_s']:.3f} s "
                f"({g['gnu_n_s']:.3f} s) | "
                f"{g['ratio_best']:.2f}x ({g['ratio_first']:.2f}x; {low:.2f}–{high:.2f}) | "
                f"{g['peak_rss_mb']:.0f} MB ({g['base_rss_mb']:.0f}) |"
            )
        c = r["local_chunks"]
        out.append(
            f"| {size} local | chunks(1 MB) + every text(), 16 threads ({c['chunks']} chunks) | "
            f"{c['total_s']:.2f} s (plan {c['plan_s']:.2f} s) | | | "
            f"{c['peak_rss_mb']:.0f} MB ({c['base_rss_mb']:.0f}) |"
        )
        if "gcs_grep_literal" in r:
            g = r["gcs_grep_literal"]
            out.append(
                f"| {size} GCS emulator | grep literal ({g['matches']} matches) | "
                f"{g['first_s']:.2f} s / {g['best_s']:.2f} s ({mbps(g['bytes'], g['best_s'])}) "
                f"| | | {g['peak_rss_mb']:.0f} MB ({g['base_rss_mb']:.0f}) |"
            )
            c = r["gcs_chunks"]
            out.append(
                f"| {size} GCS emulator | chunks(1 MB) + every text(), 16 threads "
                f"({c['chunks']} chunks) | {c['total_s']:.2f} s (plan {c['plan_s']:.2f} s) | | | "
                f"{c['peak_rss_mb']:.0f} MB ({c['base_rss_mb']:.0f}) |"
            )
    latencies = [r for r in results if "gcs_latency" in r]
    if latencies:
        out += [
            "",
            "Ranged reads against fake-gcs-server (4 KiB at random offsets, milliseconds):",
            "",
            "| corpus | source read p50 / p95 | handle read, cold (1 MiB block) p50 / p95 "
            "| handle read, cached p50 / p95 |",
            "|---|---|---|---|",
        ]
        for r in latencies:
            lat = r["gcs_latency"]
            out.append(
                f"| {label(r['size'])} | {lat['raw_ms']['p50']} / {lat['raw_ms']['p95']} | "
                f"{lat['cold_ms']['p50']} / {lat['cold_ms']['p95']} | "
                f"{lat['warm_ms']['p50']} / {lat['warm_ms']['p95']} |"
            )
        uploads = ", ".join(f"{label(r['size'])} {r['gcs_upload_s']:.0f} s" for r in latencies)
        out += ["", f"Uploading the corpora to the emulator took {uploads}."]
    return "\n".join(out) + "\n"


def write_docs(text: str, path: Path = DOCS) -> None:
    """Rewrites this tool's section of `path`: intro, `text`, then the findings already there."""
    from rlm_adk.bench.report import replace_section

    old = path.read_text(encoding="utf-8") if path.exists() else ""
    start, end = f"<!-- bench:{SECTION}:start -->", f"<!-- bench:{SECTION}:end -->"
    section = old.partition(start)[2].partition(end)[0]
    findings = section[section.find(FINDINGS) :] if FINDINGS in section else ""
    body = f"{INTRO}\n\n{text.rstrip()}\n"
    replace_section(path, SECTION, body + (f"\n{findings.strip()}\n" if findings else ""))


def main() -> None:
    """Parses arguments, runs every size, prints (and optionally writes) the markdown."""
    parser = argparse.ArgumentParser(description="Benchmark the lazy context.")
    parser.add_argument("--sizes", default="100M,1G")
    parser.add_argument("--runs", type=int, default=3, help="runs of each local grep (medians)")
    parser.add_argument("--no-gcs", action="store_true", help="skip the emulator measurements")
    parser.add_argument("--markdown", help="also write the markdown section to this file")
    parser.add_argument("--docs", action="store_true", help=f"rewrite the section of {DOCS.name}")
    parser.add_argument(
        "--no-numpy", action="store_true", help="count newlines with bytes.count (no numpy)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    command = ".venv/bin/python tools/bench_context.py " + " ".join(sys.argv[1:])
    options = {"no_numpy": True} if args.no_numpy else {}
    results = []
    for size in [parse_size(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="bench-context-") as work:
            results.append(
                bench_size(size, Path(work), not args.no_gcs, max(1, args.runs), options)
            )
    text = markdown(results, command.strip())
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.docs:
        write_docs(text)
    print(json.dumps(results, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
