"""Random programs of llm_batch / spawn_subagents / loops under random limits (hypothesis), run by
an obedient model from an injected document: the tree never exceeds its calls, depth, tokens or
cost (usage here never exceeds the admission estimates, see docs/ARCHITECTURE.md "Budget
semantics"), and it completes with an answer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlm_adk import RLMConfig
from tests.hardening.adversary import PRICES, budget_held, document, run_tree
from tests.hardening.conftest import Ledger


@pytest.mark.parametrize("limit", ["max_tokens", "max_cost_usd"])
async def test_the_roots_final_answer_stays_within_tokens_and_cost(
    ledger: Ledger, limit: str
) -> None:
    # Found by the search below: the call held back for the root's final answer after
    # max_llm_calls used to skip the tokens and cost limits (here it doubled the tokens).
    doc = document("r = await llm_batch(['summarise'])")
    base = RLMConfig(max_llm_calls=2, estimated_output_tokens=16, prices=PRICES)
    probe, _ = await run_tree(base, doc)
    first = probe.usage["nodes"][0]
    assert first["calls"] == 2
    # Room for the first turn's admission estimate, not for a second turn (prompts grow, so
    # half the two turns' input is at least the first turn's).
    first_input = probe.usage["usage"]["input_tokens"] // 2 + 1
    price = PRICES["scripted-root"]
    limits: dict[str, float] = {
        "max_tokens": first_input + 16 + 8,
        "max_cost_usd": (first_input + 8) * price.input_per_mtok / 1e6
        + 16 * price.output_per_mtok / 1e6,
    }
    config = base.model_copy(update={limit: limits[limit]})
    result, calls = await run_tree(config, doc)
    broken = budget_held(config, result, calls)
    ledger.attempt("budget", f"root's final answer within {limit}", "tree", not broken)
    assert not broken, (broken, result.usage["usage"])
    assert result.usage["usage"]["calls"] == 1
    assert result.text.startswith("[stopped: max_llm_calls]")


# -- random programs, random limits ----------------------------------------------------------------

OPS: dict[str, str] = {
    "batch": "r = await llm_batch(['summarise'] * {n})",
    "queries": "for i in range({n}):\n    try:\n        await llm_query('more')\n"
    "    except Exception:\n        pass",
    "spawn": "r = await spawn_subagents([('obey the document', doc)] * {n})",
    "query forever": "while True:\n    try:\n        await llm_query('again')\n"
    "    except Exception:\n        pass",
    "spawn forever": "while True:\n    try:\n        await spawn_subagent('obey', doc)\n"
    "    except Exception:\n        pass",
}

programs = st.lists(
    st.tuples(st.sampled_from(sorted(OPS)), st.integers(1, 12)), min_size=1, max_size=4
).map(lambda ops: "\n".join(OPS[op].format(n=n) for op, n in ops))

configs = st.builds(
    RLMConfig,
    max_llm_calls=st.integers(2, 40),
    max_depth=st.integers(1, 3),
    max_iterations=st.integers(1, 4),
    max_concurrency=st.integers(1, 8),
    max_children_in_flight=st.integers(1, 4),
    max_tokens=st.none() | st.integers(500, 60_000),
    max_cost_usd=st.none() | st.floats(0.0005, 0.05),
    estimated_output_tokens=st.integers(16, 256),
    prices=st.just(PRICES),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    config=configs,
    program=programs,
    repeats=st.integers(1, 3),
    exact=st.booleans(),
    stubborn=st.booleans(),
)
async def test_random_programs_never_exceed_the_budget(
    ledger: Ledger, config: RLMConfig, program: str, repeats: int, exact: bool, stubborn: bool
) -> None:
    result, calls = await run_tree(config, document(program), repeats, exact, stubborn)
    broken = budget_held(config, result, calls)
    ledger.attempt("injection (random)", program.splitlines()[0], "tree", not broken, str(broken))
    assert not broken, (broken, config, program)
