"""Quality benchmark: the RLM against the same model called directly, per family and length.

The direct baseline sends the context and the question in one prompt, cut to the model's
window (`window_tokens`): when the model still refuses the prompt as too long, the kept part
shrinks by a fifth and the call is retried, and the kept fraction is recorded. The RLM gets the
whole context as its `context` handle. Both are scored with the same exact scorer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rlm_adk.bench.families import make_task
from rlm_adk.bench.scoring import score
from rlm_adk.bench.tasks import BYTES_PER_TOKEN, Task

DIRECT_TEMPLATE = "{context}\n\n{question}"
TRUNCATION_NOTE = "\n[... the rest of the context was cut to fit the model's window ...]"


@dataclass
class Outcome:
    """One (task, method) result."""

    task_id: str
    family: str
    tokens: int
    seed: int
    method: str
    score: float
    reply: str
    wall_s: float
    calls: int = 0
    sub_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    kept_fraction: float = 1.0
    limit_reached: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        data["reply"] = self.reply[:300]
        return data


def _price(model: str, input_tokens: int, output_tokens: int) -> float:
    try:
        from rlm_adk.models.pricing import cost_usd

        return float(cost_usd(model, input_tokens, output_tokens, {}))
    except Exception:  # unknown model (local, simulated): no price
        return 0.0


def _too_long(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "context window" in text or "context length" in text or "too long" in text


async def run_direct(
    task: Task, llm: Any, *, window_tokens: int, max_output_tokens: int = 512
) -> Outcome:
    """The model called once on the (truncated) context and the question."""
    from google.genai import types

    from rlm_adk.engine.calls import generate, plain_request, response_text, usage_of

    reserve = max_output_tokens + len(task.question) // BYTES_PER_TOKEN + 64
    budget = max(0, (window_tokens - reserve) * BYTES_PER_TOKEN)
    data = task.context.encode("utf-8")
    keep = min(len(data), budget)
    started = time.perf_counter()
    outcome = Outcome(task.task_id, task.family, task.tokens, task.seed, "direct", 0.0, "", 0.0)
    for _ in range(8):
        context = data[:keep].decode("utf-8", errors="ignore")
        if keep < len(data):
            context += TRUNCATION_NOTE
        request = plain_request(
            llm.model, DIRECT_TEMPLATE.format(context=context, question=task.question)
        )
        request.config = types.GenerateContentConfig(max_output_tokens=max_output_tokens)
        try:
            response = await generate(llm, request)
        except Exception as exc:
            if _too_long(exc) and keep > 0:
                keep = int(keep * 0.8)
                continue
            outcome.error = f"{type(exc).__name__}: {exc}"[:500]
            break
        outcome.reply = response_text(response)
        outcome.input_tokens, outcome.output_tokens = usage_of(response)
        outcome.calls = 1
        break
    outcome.wall_s = round(time.perf_counter() - started, 3)
    outcome.kept_fraction = round(keep / max(1, len(data)), 4)
    outcome.score = score(task, outcome.reply) if outcome.reply else 0.0
    outcome.cost_usd = _price(llm.model, outcome.input_tokens, outcome.output_tokens)
    return outcome


async def run_rlm(task: Task, root: Any, sub: Any, config: Any) -> Outcome:
    """The RLM over the whole context (a handle), asked the task's question."""
    from google.adk.runners import InMemoryRunner
    from google.genai import types

    from rlm_adk import RLMAgent, open_text

    agent = RLMAgent(
        name="rlm", model=root, sub_model=sub, config=config, context=open_text(task.context)
    )
    runner = InMemoryRunner(agent=agent, app_name="bench_quality")
    session = await runner.session_service.create_session(app_name="bench_quality", user_id="u")
    outcome = Outcome(task.task_id, task.family, task.tokens, task.seed, "rlm", 0.0, "", 0.0)
    started = time.perf_counter()
    meta: dict[str, Any] = {}
    try:
        async for event in runner.run_async(
            user_id="u",
            session_id=session.id,
            new_message=types.Content(
                role="user", parts=[types.Part.from_text(text=task.question)]
            ),
        ):
            if event.author == agent.name and event.is_final_response() and event.content:
                outcome.reply = "".join(
                    p.text or "" for p in event.content.parts or [] if not p.thought
                )
                meta = (event.custom_metadata or {}).get("rlm", meta)
    except Exception as exc:  # a model failure ends this item, not the benchmark
        outcome.error = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        await agent.close()
        await runner.close()
    outcome.wall_s = round(time.perf_counter() - started, 3)
    usage = meta.get("usage", {})
    outcome.calls = int(usage.get("calls", 0))
    outcome.input_tokens = int(usage.get("input_tokens", 0))
    outcome.output_tokens = int(usage.get("output_tokens", 0))
    outcome.cost_usd = float(usage.get("cost_usd", 0.0))
    nodes = meta.get("nodes", [])
    outcome.sub_calls = sum(1 for n in nodes if n.get("depth", 0) > 0)
    outcome.limit_reached = meta.get("limit_reached")
    outcome.score = score(task, outcome.reply) if outcome.reply else 0.0
    return outcome


@dataclass
class QualityPlan:
    """What to run: families x lengths x seeds, with which models and limits."""

    families: list[str]
    lengths: list[int]
    seeds: list[int]
    model: str
    sub_model: str | None = None
    window_tokens: int = 8192
    max_llm_calls: int = 60
    max_iterations: int = 8
    max_wall_seconds: float = 900.0
    methods: tuple[str, ...] = ("direct", "rlm")


async def run_plan(
    plan: QualityPlan, on_result: Any = None, skip: set[tuple[str, str]] | None = None
) -> list[Outcome]:
    """Runs every item of the plan in order; `on_result(outcome)` sees each as it lands.
    Items whose `(task_id, method)` is in `skip` are not run (resuming a stopped run)."""
    from rlm_adk import RLMConfig
    from rlm_adk.models import resolve_model

    root = resolve_model(plan.model, role="root")
    sub = resolve_model(plan.sub_model, role="sub") if plan.sub_model else root
    config = RLMConfig(
        max_llm_calls=plan.max_llm_calls,
        max_iterations=plan.max_iterations,
        max_wall_seconds=plan.max_wall_seconds,
    )
    results: list[Outcome] = []
    for tokens in plan.lengths:
        for family in plan.families:
            for seed in plan.seeds:
                task = make_task(family, tokens, seed)
                for method in plan.methods:
                    if (task.task_id, method) in (skip or set()):
                        continue
                    if method == "direct":
                        outcome = await run_direct(task, root, window_tokens=plan.window_tokens)
                    else:
                        outcome = await run_rlm(task, root, sub, config)
                    outcome.extra["truth"] = task.summary()["answer"]
                    results.append(outcome)
                    if on_result is not None:
                        on_result(outcome)
    return results


def run_plan_sync(
    plan: QualityPlan, on_result: Any = None, skip: set[tuple[str, str]] | None = None
) -> list[Outcome]:
    return asyncio.run(run_plan(plan, on_result, skip))
