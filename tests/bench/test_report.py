"""Report helpers: marked sections leave other people's sections alone; summaries and tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlm_adk.bench.report import quality_summary, quality_table, replace_section, table
from rlm_adk.bench.sections import quality_section, systems_section


def test_replace_section_appends_then_replaces_only_its_own(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Someone else's section\n\nTheir text.\n")
    replace_section(doc, "systems", "first body")
    replace_section(doc, "quality", "quality body")
    replace_section(doc, "systems", "second body")
    text = doc.read_text()
    assert "Their text." in text
    assert "first body" not in text and "second body" in text and "quality body" in text
    assert text.count("<!-- bench:systems:start -->") == 1
    assert text.index("Someone else") < text.index("second body") < text.index("quality body")


def test_table_escapes_pipes_and_formats_numbers() -> None:
    out = table(["a", "b"], [["x|y", 0.123456], ["z", 12345.6]])
    assert out.splitlines()[0] == "| a | b |"
    assert "x\\|y" in out and "0.123" in out and "12,346" in out


def _row(family: str, tokens: int, method: str, score: float, wall: float) -> dict:
    return {
        "family": family,
        "tokens": tokens,
        "method": method,
        "score": score,
        "cost_usd": 0.0,
        "input_tokens": 100,
        "output_tokens": 5,
        "wall_s": wall,
        "sub_calls": 3 if method == "rlm" else 0,
        "kept_fraction": 1.0 if method == "rlm" else 0.25,
        "error": None,
    }


def test_quality_summary_means_scores_and_medians_walls(tmp_path: Path) -> None:
    rows = [
        _row("niah", 8192, "rlm", 1.0, 10.0),
        _row("niah", 8192, "rlm", 0.0, 30.0),
        _row("niah", 8192, "rlm", 1.0, 20.0),
        _row("niah", 8192, "direct", 0.0, 5.0),
    ]
    summary = quality_summary(rows)
    rlm = next(s for s in summary if s["method"] == "rlm")
    assert rlm["n"] == 3
    assert rlm["score"] == pytest.approx(2 / 3, abs=1e-3)
    assert rlm["wall_s"] == 20.0
    md = quality_table(summary)
    assert "| niah | 8K | rlm | 3 |" in md and "25%" in md
    meta = {
        "date": "2026-11-24",
        "model_label": "sim",
        "seeds": [0, 1, 2],
        "window_tokens": 2048,
        "max_llm_calls": 10,
        "max_iterations": 4,
        "max_wall_seconds": 60,
    }
    section = quality_section(rows, meta, "cmd", tmp_path, "bench", "q")
    assert "`cmd`" in section and "2026-11-24" in section
    assert (tmp_path / "q.png").stat().st_size > 1000


def test_systems_section_judges_targets(tmp_path: Path) -> None:
    fan = {
        "system": "rlm-adk",
        "spec": {"concurrency": 64},
        "wall_s": 3.3,
        "ideal_s": 3.2,
        "efficiency": 0.97,
        "effective_concurrency": 60.6,
        "correct": True,
    }
    slow = {**fan, "wall_s": 4.0, "efficiency": 0.8}
    other = {
        "system": "rlms",
        "spec": {},
        "wall_s": 13.0,
        "effective_concurrency": 15.4,
        "correct": True,
    }
    doc = {"date": "d", "repeats": 3, "fanout": [fan, other]}
    text = systems_section(doc, "cmd", tmp_path, "bench")
    assert "met" in text and "rlms 3.9x slower" in text
    text = systems_section({**doc, "fanout": [slow, other]}, "cmd", tmp_path, "bench")
    assert "**missed**" in text


def test_cli_task_prints_the_generated_task(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from rlm_adk.bench import cli_main, make_task

    assert cli_main(["task", "oolong", "2K", "--seed", "4", "--write", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[: printed.rindex("}") + 1])
    task = make_task("oolong", 2048, 4)
    assert summary["answer"] == task.answer and summary["task_id"] == "oolong-2048-4"
    assert (tmp_path / "oolong-2048-4.txt").read_text() == task.context
