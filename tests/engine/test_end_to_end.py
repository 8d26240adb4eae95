"""The root chunks a ~1 MB context, fans out with llm_batch over 100+ chunks, aggregates, submits."""

from __future__ import annotations

import re

from rlm_adk import RLMAgent, RLMConfig, open_text
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, max_overlap, prompt_text, text, usage

ROOT_CODE = """
chunks = context.chunks(max_chars=8000)
print(len(chunks), "chunks")
replies = await llm_batch([("Count the word NEEDLE. Reply with a number only.", c) for c in chunks])
total = sum(int(r) for r in replies)
print("total", total)
submit(total)
"""


def make_corpus(lines: int = 24_000) -> tuple[str, int]:
    rows = []
    needles = 0
    for i in range(lines):
        if i % 37 == 0:
            rows.append(f"row {i}: the NEEDLE is here")
            needles += 1
        else:
            rows.append(f"row {i}: filler text about nothing at all")
    return "\n".join(rows) + "\n", needles


def counting_sub_model(latency: float = 0.02) -> ScriptedLlm:
    def count(request):
        body = prompt_text(request)
        n = len(re.findall(r"\bNEEDLE\b", body)) - 1  # the instruction names the word once
        from google.adk.models.llm_response import LlmResponse
        from google.genai import types

        return LlmResponse(
            content=types.Content(role="model", parts=[types.Part.from_text(text=str(n))]),
            usage_metadata=usage(len(body) // 4, 1),
        )

    return ScriptedLlm.of(fallback=count, model="scripted-sub", latency=latency)


async def test_chunk_fan_out_aggregate_submit(spans):
    corpus, needles = make_corpus()
    assert len(corpus.encode()) > 900_000
    root = ScriptedLlm.of(code(ROOT_CODE, tokens=(1000, 50)), model="scripted-root")
    sub = counting_sub_model()
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=sub,
        config=RLMConfig(max_concurrency=32, max_llm_calls=1000),
        context=open_text(corpus),
    )
    result = await run_once(agent, "How many NEEDLE rows are there?")

    assert result.text == str(needles)
    n_calls = len(sub.records)
    assert n_calls >= 100
    # The sub-calls overlapped: measured from recorded start/end events.
    assert max_overlap(sub.records) >= 8
    usage_summary = result.usage["usage"]
    assert usage_summary["calls"] == n_calls + 1
    expected_in = 1000 + sum(len(prompt_text(r.request)) // 4 for r in sub.records)
    assert usage_summary["input_tokens"] == expected_in
    assert usage_summary["output_tokens"] == 50 + n_calls
    # The root REPL's `context` never held the corpus as a string: the chunks were read host-side.
    root_request_text = prompt_text(root.requests[0])
    assert "filler text about nothing" not in root_request_text
    await agent.close()


async def test_final_text_answer_after_code():
    root = ScriptedLlm.of(code("x = 6 * 7\nprint(x)"), lambda req: text("The answer is 42"))
    agent = RLMAgent(name="rlm", model=root, context=open_text("abc"))
    result = await run_once(agent, "q")
    assert result.text == "The answer is 42"
    # The second request carried the printed output of the first cell.
    assert "42" in prompt_text(root.requests[1])
    await agent.close()


async def test_chunk_prompts_go_as_parts_that_read_as_the_joined_prompt(tmp_path):
    # One Part per piece, so a large chunk is never copied into a joined string; the parts still
    # concatenate to "piece\n\npiece" (models join a message's text parts), in either order.
    from rlm_adk import open_context

    doc = "".join(f"row {i}: é€ filler\n" for i in range(12_000))  # ~250 KB, multi-byte
    (tmp_path / "doc.txt").write_text(doc, encoding="utf-8")
    root = ScriptedLlm.of(
        code(
            "cs = context.chunks(max_chars=100_000)\n"
            "a = await llm_batch([('Count rows.', c) for c in cs])\n"
            "b = await llm_batch([(c, 'Rows?') for c in cs[:1]])\n"
            "print(len(cs), len(a), len(b))"
        ),
        text("done"),
    )
    sub = ScriptedLlm.of(fallback=lambda r: text("ok"), model="scripted-sub")
    agent = RLMAgent(
        name="rlm", model=root, sub_model=sub, context=open_context(str(tmp_path / "doc.txt"))
    )
    result = await run_once(agent, "q")
    await agent.close()
    assert result.text == "done"
    sent = [[p.text for p in r.request.contents[0].parts] for r in sub.records]
    assert len(sent) >= 4 and all(len(parts) >= 2 for parts in sent)
    chunk_parts = [parts for parts in sent if parts[0] == "Count rows.\n\n"]
    chunks = sorted((parts[1] for parts in chunk_parts), key=doc.index)  # calls run in parallel
    assert "".join(chunks) == doc  # the chunks partition the file, characters intact
    (reversed_order,) = [parts for parts in sent if parts[-1] == "Rows?"]
    assert reversed_order == [chunks[0], "\n\n", "Rows?"]


async def test_an_empty_prompt_list_is_an_empty_prompt():
    root = ScriptedLlm.of(
        code("print(await llm_query([]))\nprint(await llm_batch([[], ('a', 'b')]))"),
        lambda r: text(r.contents[-1].parts[0].function_response.response["output"]),
    )
    sub = ScriptedLlm.of(
        fallback=lambda r: text(repr("".join(p.text for p in r.contents[0].parts))),
        model="scripted-sub",
    )
    agent = RLMAgent(name="rlm", model=root, sub_model=sub, context=open_text("x"))
    result = await run_once(agent, "q")
    await agent.close()
    assert result.text.splitlines() == ["''", "[\"''\", \"'a\\\\n\\\\nb'\"]"]
