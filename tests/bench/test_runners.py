"""Runners end to end on simulated models: the systems program's answer is checked against the
corpus's known count, and the quality runner scores RLM and direct replies exactly."""

from __future__ import annotations

import re
from pathlib import Path

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from rlm_adk import RLMConfig
from rlm_adk.bench import make_task
from rlm_adk.bench.drivers import common
from rlm_adk.bench.drivers.rlm_adk_driver import COUNT_CELL, run_program
from rlm_adk.bench.quality import run_direct, run_rlm
from rlm_adk.bench.sim import ProgramRoot, request_text


def test_corpus_blocks_are_line_aligned_and_counted(tmp_path: Path) -> None:
    size = 3 * common.BLOCK_BYTES + 64 * 10
    text = common.corpus_text(size)
    assert len(text.encode()) == size
    assert all(len(line) == common.LINE_BYTES - 1 for line in text.splitlines())
    assert text.count(common.WORD) == common.needles_in(size)
    path = common.corpus_file(size, tmp_path)
    assert path.read_text() == text
    assert common.corpus_file(size, tmp_path) == path  # reused


def test_simulated_sub_model_reply_and_root_answer_parsing() -> None:
    assert common.count_reply(common.INSTRUCTION + "\n\nNEEDLE x NEEDLE") == "2"
    assert common.answer_from_output("chunks 10 total 4096\n") == "4096"
    assert common.answer_from_output("nothing") == "no total"


async def test_chunked_count_program_is_exact(tmp_path: Path) -> None:
    from rlm_adk import open_context

    size = 256 * 1024
    path = common.corpus_file(size, tmp_path)
    cell = COUNT_CELL.format(chunk=8192, instruction=common.INSTRUCTION)
    context = open_context(str(path))
    out = await run_program([cell], context, latency=0.0, concurrency=8, max_calls=100)
    context.close()
    assert out["answer"].strip() == str(common.needles_in(size))
    assert out["usage"]["calls"] == size // 8192 + 2  # sub-calls and two root turns


class NeedleReader(BaseLlm):
    """A 'direct' model that finds the magic number in whatever part of the context it got."""

    model: str = "sim-reader"

    async def generate_content_async(self, llm_request, stream=False):  # type: ignore[override]
        text = request_text(llm_request)
        found = re.search(r"magic number for [\w-]+ is (\d+)", text)
        reply = found.group(1) if found else "unknown"
        yield LlmResponse(
            content=types.Content(role="model", parts=[types.Part.from_text(text=reply)])
        )


def _truncation_task():
    """A NIAH task whose needle lies past the first half of the context."""
    for seed in range(50):
        task = make_task("niah", 4096, seed)
        if task.meta["depth"] > 0.6:
            return task
    raise AssertionError("no deep needle in 50 seeds")


async def test_direct_baseline_is_truncated_to_its_window() -> None:
    task = _truncation_task()
    cut = await run_direct(task, NeedleReader(), window_tokens=2048, max_output_tokens=16)
    assert cut.kept_fraction < 0.5
    assert cut.score == 0.0 and cut.reply == "unknown"
    full = await run_direct(task, NeedleReader(), window_tokens=8192, max_output_tokens=16)
    assert full.kept_fraction == 1.0
    assert full.score == 1.0


async def test_rlm_run_scores_its_final_answer() -> None:
    task = _truncation_task()
    key = task.meta["key"]
    program = (
        "import re\n"
        f"hits = context.grep('magic number for {key} is')\n"
        f"print('found', re.search(r'for {key} is (\\d+)', hits[0].text).group(1))"
    )
    root = ProgramRoot.of([program], lambda out: out.split("found")[-1].strip().strip("'\""))
    outcome = await run_rlm(task, root, NeedleReader(), RLMConfig(max_llm_calls=10))
    assert outcome.error is None
    assert outcome.reply.strip() == task.answer
    assert outcome.score == 1.0
    assert outcome.calls == 2 and outcome.sub_calls == 0


async def test_proposed_slot_first_batch_gives_the_same_exact_answer(
    tmp_path: Path, monkeypatch
) -> None:
    from rlm_adk import open_context
    from rlm_adk.bench.profiles import slot_first_llm_batch
    from rlm_adk.engine.host import HostAPI

    monkeypatch.setattr(HostAPI, "llm_batch", slot_first_llm_batch)
    size = 128 * 1024
    path = common.corpus_file(size, tmp_path)
    cell = COUNT_CELL.format(chunk=4096, instruction=common.INSTRUCTION)
    context = open_context(str(path))
    out = await run_program([cell], context, latency=0.0, concurrency=4, max_calls=100)
    context.close()
    assert out["answer"].strip() == str(common.needles_in(size))
