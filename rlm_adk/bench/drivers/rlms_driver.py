"""Systems-benchmark driver for `rlms` (the paper's reference code), run in its own venv.

Offline driving (ANCHORS.md): fake clients are `BaseLM` subclasses returned from the
`get_client` lookup that `RLM` uses; batched sub-calls go through the client's async
`acompletion`. The root replays the same program as every other system: turn 1 splits the
context into chunks, sends one `llm_query_batched`, sums the integer replies; turn 2 answers.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


from common import (  # type: ignore[import-not-found]
    baseline_main,
    count_reply,
    timed_turns,
)

COUNT_CELL = """```repl
parts = [context[i:i + {chunk}] for i in range(0, len(context), {chunk})]
replies = llm_query_batched([{instruction!r} + "\\n\\n" + p for p in parts])
total = sum(int(r) for r in replies)
print("chunks", len(parts), "total", total)
```"""
ANSWER_CELL = """```repl
answer["content"] = str(total)
answer["ready"] = True
```"""


CELL = "```repl\n{code}\n```"
SUBMIT_X = 'answer["content"] = str(x)\nanswer["ready"] = True'


def _clients(cells: list[str], latency: float) -> tuple[type, type]:
    from rlm.clients.base_lm import BaseLM
    from rlm.core.types import ModelUsageSummary, UsageSummary

    class Usage:
        def __init__(self) -> None:
            self.calls = 0
            self.input_tokens = 0
            self.output_tokens = 0

        def summary(self, name: str) -> UsageSummary:
            return UsageSummary(model_usage_summaries={name: self.last()})

        def last(self) -> ModelUsageSummary:
            return ModelUsageSummary(
                total_calls=self.calls,
                total_input_tokens=self.input_tokens,
                total_output_tokens=self.output_tokens,
            )

    class RootLM(BaseLM):
        """Turn i replies with cells[i] (one REPL block)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(model_name="sim-root")
            self.turn = 0
            self.usage = Usage()

        def completion(self, prompt: Any) -> str:
            STAMPS.append(time.perf_counter())
            cell = cells[min(self.turn, len(cells) - 1)]
            self.turn += 1
            self.usage.calls += 1
            return cell

        async def acompletion(self, prompt: Any) -> str:
            return self.completion(prompt)

        def get_usage_summary(self) -> UsageSummary:
            return self.usage.summary(self.model_name)

        def get_last_usage(self) -> ModelUsageSummary:
            return self.usage.last()

    class SubLM(BaseLM):
        """Sleeps `latency`, then counts the word in its prompt."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(model_name="sim-sub")
            self.usage = Usage()

        def completion(self, prompt: Any) -> str:
            time.sleep(latency)
            self.usage.calls += 1
            return count_reply(str(prompt))

        async def acompletion(self, prompt: Any) -> str:
            await asyncio.sleep(latency)
            self.usage.calls += 1
            return count_reply(str(prompt))

        def get_usage_summary(self) -> UsageSummary:
            return self.usage.summary(self.model_name)

        def get_last_usage(self) -> ModelUsageSummary:
            return self.usage.last()

    return RootLM, SubLM


def run(cells: list[str], context: str, latency: float) -> dict[str, Any]:
    import rlm.core.rlm as core

    root_cls, sub_cls = _clients(cells, latency)
    made: dict[str, Any] = {}

    def get_client(backend: str, kwargs: dict[str, Any]) -> Any:
        name = kwargs.get("model_name", "")
        client = sub_cls() if name == "sim-sub" else root_cls()
        made[name] = client
        return client

    core.get_client = get_client  # the lookup `RLM` uses (ANCHORS.md)
    rlm = core.RLM(
        backend="openai",
        backend_kwargs={"model_name": "sim-root"},
        other_backends=["openai"],
        other_backend_kwargs=[{"model_name": "sim-sub"}],
        max_iterations=len(cells) + 2,
    )
    result = rlm.completion(context, root_prompt="count")
    sub = made.get("sim-sub")
    return {"answer": str(result.response), "sub_calls": sub.usage.calls if sub else 0}


STAMPS: list[float] = []
"""`time.perf_counter()` at each root-model call (per-turn overhead is measured from these)."""


def turns(context: str, n: int, runs: int) -> dict[str, Any]:
    return timed_turns(run, CELL, SUBMIT_X, context, n, runs, STAMPS)


def main(argv: list[str]) -> int:
    import rlm.core.rlm  # noqa: F401  # imported before measuring, as in every driver

    return baseline_main(argv, "rlms", run, COUNT_CELL, ANSWER_CELL, turns)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
