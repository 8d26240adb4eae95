"""Results to Markdown tables, PNG plots and marked sections of `docs/benchmarks.md`.

Each runner owns one section, delimited by `<!-- bench:<name>:start -->` / `<!-- bench:<name>:end -->`
markers: writing replaces only that section (re-reading the file right before), so sections
other people append to the same file are left as they are.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from rlm_adk.bench.tasks import format_tokens

DOCS = Path(__file__).resolve().parents[2] / "docs"


def replace_section(path: Path, name: str, body: str) -> None:
    """Writes `body` between the markers of section `name` (appended when absent)."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


# -- quality ------------------------------------------------------------------------------------


def quality_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean score and medians of cost, tokens, wall time and sub-calls per (family, tokens, method)."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["family"], int(row["tokens"]), row["method"])].append(row)
    out = []
    for (family, tokens, method), items in sorted(groups.items()):
        out.append(
            {
                "family": family,
                "tokens": tokens,
                "method": method,
                "n": len(items),
                "score": round(statistics.fmean(r["score"] for r in items), 3),
                "cost_usd": statistics.median(r["cost_usd"] for r in items),
                "input_tokens": statistics.median(r["input_tokens"] for r in items),
                "output_tokens": statistics.median(r["output_tokens"] for r in items),
                "wall_s": statistics.median(r["wall_s"] for r in items),
                "sub_calls": statistics.median(r["sub_calls"] for r in items),
                "kept": statistics.median(r["kept_fraction"] for r in items),
                "errors": sum(1 for r in items if r.get("error")),
            }
        )
    return out


def quality_table(summary: list[dict[str, Any]]) -> str:
    headers = [
        "family",
        "length",
        "method",
        "n",
        "score",
        "cost $",
        "input tok",
        "output tok",
        "wall s",
        "sub-calls",
        "context kept",
        "errors",
    ]
    rows = [
        [
            s["family"],
            format_tokens(s["tokens"]),
            s["method"],
            s["n"],
            s["score"],
            s["cost_usd"],
            int(s["input_tokens"]),
            int(s["output_tokens"]),
            s["wall_s"],
            s["sub_calls"],
            f"{s['kept']:.0%}",
            s["errors"],
        ]
        for s in summary
    ]
    return table(headers, rows)


def plot_quality(summary: list[dict[str, Any]], path: Path, title: str) -> Path | None:
    """Score against context length per family, RLM and direct (the paper's Figure 1 shape)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    families = sorted({s["family"] for s in summary})
    fig, axes = plt.subplots(1, len(families), figsize=(4.2 * len(families), 3.6), squeeze=False)
    for ax, family in zip(axes[0], families, strict=True):
        for method, style in (("rlm", "o-"), ("direct", "s--")):
            points = sorted(
                (s["tokens"], s["score"])
                for s in summary
                if s["family"] == family and s["method"] == method
            )
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, label=method)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(family)
        ax.set_xlabel("context length (tokens)")
        ax.set_ylabel("score")
        ticks = sorted({s["tokens"] for s in summary})
        ax.set_xticks(ticks, [format_tokens(t) for t in ticks])
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -- systems ------------------------------------------------------------------------------------


def plot_fanout(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """rlm-adk wall time against concurrency, with the ideal ceil(1000/C) x 0.2 s."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ours = sorted(
        (r["spec"]["concurrency"], r["wall_s"], r["ideal_s"]) for r in rows if "ideal_s" in r
    )
    if not ours:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    xs = [c for c, _, _ in ours]
    ax.plot(xs, [w for _, w, _ in ours], "o-", label="rlm-adk (median of runs)")
    ax.plot(xs, [i for _, _, i in ours], "k:", label="ideal ceil(1000/C) x 0.2 s")
    others = [r for r in rows if "ideal_s" not in r]
    for i, r in enumerate(others):
        ax.axhline(
            r["wall_s"],
            color=f"C{i + 2}",
            linestyle="--",
            linewidth=1,
            label=f"{r['system']} (its default concurrency)",
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("max_concurrency")
    ax.set_ylabel("wall (s)")
    ax.set_title("1,000 sub-calls at 0.2 s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_memory(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Peak RSS (process tree) against corpus size, per system."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for system in sorted({r["system"] for r in rows}):
        points = sorted(
            (r["context_mb"], max(r["peak_tree_rss_mb"], r["peak_rss_mb"]))
            for r in rows
            if r["system"] == system
        )
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=system)
    ax.axhline(300, color="k", linestyle=":", label="target 300 MB")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("corpus (MB)")
    ax.set_ylabel("peak RSS, process tree (MB)")
    ax.set_title("1 MiB chunks at 0.01 s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
