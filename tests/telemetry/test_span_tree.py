"""One trace per request whose parent links are exactly the recursion tree, with the scripted
models' token counts and the configured prices on the spans."""

from __future__ import annotations

import pytest
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.config import ModelPrice
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, has_tools, max_overlap, prompt_text, text
from tests.telemetry.spantree import SpanTree, attr, in_order

CORPUS = {"a.txt": "alpha one\n" * 30, "b.txt": "beta two\n" * 40, "c.txt": "gamma three\n" * 50}
ROOT_TOKENS = (100, 10)
CHILD_TOKENS = (20, 4)
LEAF_TOKENS = (7, 3)
PRICES = {
    "scripted-root": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0),
    "scripted-sub": ModelPrice(input_per_mtok=3.0, output_per_mtok=5.0),
}

ROOT_CODE = (
    "paths = [f.path for f in context.files]\n"
    "answers = await spawn_subagents([('measure ' + p, [p]) for p in paths])\n"
    "hits = context.grep('alpha')\n"
    "print(len(hits), 'hits')\n"
    "submit(answers)"
)
CHILD_CODE = (
    "head = context.read(context.files[0].path, 0, 20)\n"
    "replies = await llm_batch(['first: ' + head, 'second'])\n"
    "submit(head.split()[0] + ':' + ','.join(replies))"
)


def cost(model: str, tokens: tuple[int, int]) -> float:
    price = PRICES[model]
    return (tokens[0] * price.input_per_mtok + tokens[1] * price.output_per_mtok) / 1_000_000


def sub_handler(request: LlmRequest) -> LlmResponse:
    """Child agents (tools available) run CHILD_CODE; plain calls at depth 2 answer 'leaf'."""
    if has_tools(request):
        assert "output" not in prompt_text(request), "a child needs a single turn here"
        return code(CHILD_CODE, tokens=CHILD_TOKENS)
    return text("leaf", tokens=LEAF_TOKENS)


@pytest.fixture
async def depth2_run(spans, request):
    sandbox = getattr(request, "param", "monty")
    root = ScriptedLlm.of(code(ROOT_CODE, tokens=ROOT_TOKENS), model="scripted-root")
    sub = ScriptedLlm.of(fallback=sub_handler, model="scripted-sub", latency=0.05)
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=sub,
        config=RLMConfig(max_depth=2, prices=PRICES, sandbox=sandbox),
        context=open_text(CORPUS),
    )
    result = await run_once(agent, "measure every file")
    await agent.close()
    return result, sub, SpanTree(spans.get_finished_spans())


@pytest.mark.parametrize("depth2_run", ["monty", "subprocess"], indirect=True)
async def test_parent_links_are_exactly_the_recursion_tree(depth2_run):
    result, sub, tree = depth2_run
    assert result.text == '["alpha:leaf,leaf", "beta:leaf,leaf", "gamma:leaf,leaf"]'
    assert len(tree.trace_ids()) == 1
    assert tree.orphans() == []
    assert [s.name for s in tree.spans if s.parent is None] == ["invoke_workflow rlm"]
    nodes = {n["node_id"]: n for n in result.usage["nodes"]}
    root_id = next(i for i, n in nodes.items() if n["depth"] == 0)

    # Every node of the tree is one span: agents as rlm.agent, plain calls as rlm.subcall.
    agent_spans = {attr(s, "rlm.node_id"): s for s in tree.named("rlm.agent")}
    call_spans = {attr(s, "rlm.node_id"): s for s in tree.named("rlm.subcall")}
    assert set(agent_spans) | set(call_spans) == set(nodes)
    assert {i for i, n in nodes.items() if n["kind"] == "call"} == set(call_spans)

    # A node's parent in the tree is the nearest rlm.agent above its span.
    derived = {}
    for node_id, s in {**agent_spans, **call_spans}.items():
        above = tree.nearest(s, "rlm.agent")
        derived[node_id] = attr(above, "rlm.node_id") if above is not None else None
        assert attr(s, "rlm.depth") == nodes[node_id]["depth"]
        assert attr(s, "rlm.parent_node_id") == nodes[node_id]["parent_id"]
    assert derived == {i: n["parent_id"] for i, n in nodes.items()}

    # Children: invoke_agent > rlm.agent under the parent's rlm.spawn > rlm.code > execute_tool.
    children = [s for i, s in agent_spans.items() if i != root_id]
    assert len(children) == 3
    for child in children:
        chain = tree.chain(child)
        assert in_order(
            chain,
            [
                "invoke_agent rlm__d1",
                "rlm.spawn",
                "rlm.code",
                "execute_tool run_code",
                "rlm.agent",
                "invoke_agent rlm",
            ],
        ), chain
        spawn = tree.nearest(child, "rlm.spawn")
        assert attr(spawn, "rlm.child_node_id") == attr(child, "rlm.node_id")
        assert attr(spawn, "rlm.parent_node_id") == root_id
        assert attr(tree.nearest(spawn, "rlm.code"), "rlm.node_id") == root_id
        assert attr(child, "gen_ai.conversation.id") == result.session_id

    # Plain calls: rlm.subcall under rlm.batch under the child's own rlm.code.
    for node_id, s in call_spans.items():
        parent = nodes[node_id]["parent_id"]
        assert in_order(tree.chain(s), ["rlm.batch", "rlm.code", "execute_tool run_code"])
        assert attr(tree.nearest(s, "rlm.code"), "rlm.node_id") == parent

    # The three children ran in parallel: their spans overlap (recorded times, no sleeps).
    assert max_overlap(sub.records[:3]) == 3
    starts = [c.start_time for c in children]
    ends = [c.end_time for c in children]
    assert max(starts) < min(ends)


@pytest.mark.parametrize("depth2_run", ["monty", "subprocess"], indirect=True)
async def test_context_reads_nest_under_the_cell_that_made_them(depth2_run):
    """Monty runs sync host callbacks on worker threads, the subprocess backend through
    asyncio.to_thread: both carry the cell's context, so reads nest under its rlm.code."""
    result, _, tree = depth2_run
    reads = tree.named("rlm.context.read")
    greps = tree.named("rlm.context.grep")
    assert len(reads) == 3 and len(greps) == 1
    for s in [*reads, *greps]:
        cell = tree.nearest(s, "rlm.code")
        assert cell is not None and attr(cell, "rlm.node_id") == attr(s, "rlm.node_id")
    assert all(attr(r, "rlm.context.bytes") == 20 for r in reads)
    assert {attr(r, "rlm.context.source") for r in reads} == {"text"}
    grep = greps[0]
    assert attr(grep, "rlm.context.matches") == 30
    assert attr(grep, "rlm.context.bytes_scanned") == sum(len(t) for t in CORPUS.values())
    usage = result.usage["usage"]
    assert usage["bytes_read"] >= 60  # 3 reads of 20 bytes (chunk texts would add more)
    assert usage["bytes_scanned"] == sum(len(t) for t in CORPUS.values())


async def test_tokens_and_costs_on_spans_equal_the_scripted_usage(depth2_run):
    result, _, tree = depth2_run
    root = next(s for s in tree.named("rlm.agent") if attr(s, "rlm.depth") == 0)
    children = [s for s in tree.named("rlm.agent") if attr(s, "rlm.depth") == 1]
    calls = tree.named("rlm.subcall")
    assert len(calls) == 6

    def tokens(s) -> tuple[int, int]:
        return attr(s, "gen_ai.usage.input_tokens"), attr(s, "gen_ai.usage.output_tokens")

    assert tokens(root) == ROOT_TOKENS
    assert attr(root, "rlm.cost_usd") == pytest.approx(cost("scripted-root", ROOT_TOKENS))
    assert attr(root, "gen_ai.request.model") == "scripted-root"
    assert attr(root, "gen_ai.operation.name") == "invoke_agent"
    for child in children:
        assert tokens(child) == CHILD_TOKENS
        assert attr(child, "rlm.cost_usd") == pytest.approx(cost("scripted-sub", CHILD_TOKENS))
        assert attr(child, "gen_ai.agent.name") == "rlm__d1"
    for call in calls:
        assert tokens(call) == LEAF_TOKENS
        assert attr(call, "rlm.cost_usd") == pytest.approx(cost("scripted-sub", LEAF_TOKENS))
        assert attr(call, "gen_ai.request.model") == "scripted-sub"
        assert attr(call, "gen_ai.operation.name") == "chat"
        assert attr(call, "rlm.outcome") == "ok"
        assert attr(call, "rlm.retries") == 0
    # Spans add up to the request's usage on the final event.
    usage = result.usage["usage"]
    spans_ = [root, *children, *calls]
    assert usage["calls"] == 1 + 3 + 6
    assert usage["input_tokens"] == sum(tokens(s)[0] for s in spans_)
    assert usage["output_tokens"] == sum(tokens(s)[1] for s in spans_)
    assert usage["cost_usd"] == pytest.approx(sum(attr(s, "rlm.cost_usd") for s in spans_))
    assert usage["cost_usd"] == pytest.approx(
        cost("scripted-root", ROOT_TOKENS)
        + 3 * cost("scripted-sub", CHILD_TOKENS)
        + 6 * cost("scripted-sub", LEAF_TOKENS)
    )


async def test_code_span_reports_cell_sizes_and_errors(spans):
    root = ScriptedLlm.of(
        code("print('x' * 50)"),
        code("1 / 0"),
        lambda req: text("done"),
        model="scripted-root",
    )
    agent = RLMAgent(name="rlm", model=root, context=open_text("abc"))
    await run_once(agent, "q")
    await agent.close()
    cells = sorted(
        SpanTree(spans.get_finished_spans()).named("rlm.code"), key=lambda s: s.start_time
    )
    assert [attr(c, "rlm.cell_index") for c in cells] == [1, 2]
    assert attr(cells[0], "rlm.output_chars") == 51
    assert attr(cells[0], "error.type") is None
    assert attr(cells[1], "error.type") == "ZeroDivisionError"
    assert attr(cells[1], "rlm.error_chars") > 0
    assert all(attr(c, "rlm.duration_ms") >= 0 for c in cells)
