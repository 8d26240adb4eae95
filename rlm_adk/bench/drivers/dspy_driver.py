"""Systems-benchmark driver for `dspy.RLM` with `dspy.LocalInterpreter`, run in its own venv.

Offline driving (ANCHORS.md): `dspy.BaseLM` subclasses for the root and the sub-model
(`dspy.configure(lm=...)`, `sub_lm=`). The root replays the same program as every other system
through DSPy's chat-adapter format: turn 1 splits the context, one `llm_query_batched`, sums the
replies; turn 2 `SUBMIT`s the total. `max_llm_calls` is raised to 5,000 (its default of 50
refuses a 1,000-call batch). The Deno/Pyodide sandbox is not driven here (see the report).
"""

from __future__ import annotations

import os
import sys
import time
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


from common import (  # type: ignore[import-not-found]
    baseline_main,
    count_reply,
    timed_turns,
)

COUNT_CODE = """parts = [context[i:i + {chunk}] for i in range(0, len(context), {chunk})]
replies = llm_query_batched([{instruction!r} + "\\n\\n" + p for p in parts])
total = sum(int(r) for r in replies)
print("chunks", len(parts), "total", total)"""
ANSWER_CODE = "SUBMIT(output=str(total))"


CELL = "{code}"
SUBMIT_X = "SUBMIT(output=str(x))"


def _adapter_reply(code: str) -> str:
    return (
        "[[ ## reasoning ## ]]\nFollow the program.\n\n"
        f"[[ ## code ## ]]\n```python\n{code}\n```\n\n[[ ## completed ## ]]"
    )


def _response(text: str) -> SimpleNamespace:
    message = SimpleNamespace(content=text, tool_calls=None, reasoning_content=None)
    return SimpleNamespace(
        choices=[SimpleNamespace(message=message, logprobs=None, finish_reason="stop")],
        usage={"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        model="sim",
        _hidden_params={},
    )


def _models(cells: list[str], latency: float) -> tuple[Any, Any]:
    import dspy

    class RootLM(dspy.BaseLM):
        def __init__(self) -> None:
            super().__init__(model="sim-root", cache=False)
            self.turn = 0

        def forward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> Any:
            STAMPS.append(time.perf_counter())
            code = cells[min(self.turn, len(cells) - 1)]
            self.turn += 1
            return _response(_adapter_reply(code))

    class SubLM(dspy.BaseLM):
        def __init__(self) -> None:
            super().__init__(model="sim-sub", cache=False)
            self.calls = 0

        def forward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> Any:
            time.sleep(latency)
            self.calls += 1
            text = prompt if prompt is not None else str(messages[-1]["content"])
            return _response(count_reply(str(text)))

    return RootLM(), SubLM()


def run(cells: list[str], context: str, latency: float) -> dict[str, Any]:
    import dspy

    root, sub = _models(cells, latency)
    dspy.configure(lm=root)
    rlm = dspy.RLM(
        "context, query -> output",
        max_iters=len(cells) + 2,
        max_llm_calls=5000,
        sub_lm=sub,
        interpreter_factory=dspy.LocalInterpreter,
    )
    result = rlm(context=context, query="count")
    return {"answer": str(result.output), "sub_calls": sub.calls}


STAMPS: list[float] = []
"""`time.perf_counter()` at each root-model call (per-turn overhead is measured from these)."""


def turns(context: str, n: int, runs: int) -> dict[str, Any]:
    return timed_turns(run, CELL, SUBMIT_X, context, n, runs, STAMPS)


def main(argv: list[str]) -> int:
    import dspy  # noqa: F401  # imported before measuring, as in every driver

    return baseline_main(argv, "dspy.RLM (LocalInterpreter)", run, COUNT_CODE, ANSWER_CODE, turns)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
