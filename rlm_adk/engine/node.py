"""`RLMNode`: one RLM agent's run (the root or a child): its REPL, depth and answer."""

from __future__ import annotations

import contextvars
import itertools
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rlm_adk.engine.budget import Lease, NodeInfo
from rlm_adk.engine.request import RequestState
from rlm_adk.engine.turns import TurnTimer
from rlm_adk.prompts import REPEAT_EMPTY_NOTE, REPEAT_NOTE
from rlm_adk.telemetry import capture_content, clip, content, span

if TYPE_CHECKING:
    from google.adk.agents.invocation_context import InvocationContext
    from google.adk.models.base_llm import BaseLlm
    from google.adk.models.llm_request import LlmRequest

    from rlm_adk.context.handle import ContextHandle
    from rlm_adk.engine.repl import Repl
    from rlm_adk.sandbox.base import CellResult


current_cell: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
    "rlm_current_cell", default=None
)
"""(node id, cell index) of the cell whose host calls are running: sub-calls and children read it
to attach themselves to that cell in the trajectory (it follows tasks and Monty's callbacks)."""


_ID_PREFIX = os.urandom(3).hex()
_ID_COUNTER = itertools.count(1)


def new_node_id() -> str:
    # A per-process random prefix and a counter: unique, and no system call per sub-call.
    return f"{_ID_PREFIX}{next(_ID_COUNTER):06x}"


def render_value(value: Any) -> str:
    """A submitted value as answer text: strings as they are, data as JSON, else `str()`."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


REPEATS_BEFORE_ANSWER = 2
"""Repeats of the same cell (same code and output) after which the model must answer."""


@dataclass
class RLMNode:
    """The run of one RLM agent inside a request's tree."""

    request: RequestState
    info: NodeInfo
    agent_name: str
    context: ContextHandle | None
    repl: Repl
    sub_model: BaseLlm | str
    """Default model for this node's sub-calls and children."""
    child_model: BaseLlm | str
    invocation_context: InvocationContext | None = None
    submitted: str | None = None
    iterations: int = 0
    cells: int = 0
    last_text: str = ""
    last_output: str = ""
    finalizing: bool = False
    stop_reason: str | None = None
    last_cell: tuple[str, str] | None = None
    """The latest cell's code and what it printed, to notice a cell run again to no end."""
    repeats: int = 0
    """How many times in a row the latest cell ran again with the same code and output."""
    answer_now: bool = False
    """The next turn is a tool-less one to answer (the model keeps repeating itself)."""
    pending_lease: Lease | None = None
    pending_request: LlmRequest | None = None
    """The admitted turn's request, to retry it if the model fails (see `engine/turns.py`)."""
    pending_retries: int = 0
    turn_timer: TurnTimer = field(default_factory=TurnTimer)
    """Bounds the model turn in flight (see `RLMAgent._run_flow`)."""
    turn_timeouts: int = 0
    trajectory: list[dict[str, Any]] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return self.info.node_id

    @property
    def depth(self) -> int:
        return self.info.depth

    @property
    def config(self) -> Any:
        return self.request.config

    def note_cell(self, code: str, output: str, *, informative: bool) -> str | None:
        """Records a cell; the note for its tool response when it repeats the previous one
        (same code, same output). A small model can re-run a cell until its turns run out: when
        the cell printed something, the second repeat in a row gives the model one tool-less
        turn to answer from it; when it found nothing, the model is told to try something else
        (an answer forced from nothing would be a guess)."""
        cell = (code.strip(), output)
        self.repeats = self.repeats + 1 if cell == self.last_cell else 0
        self.last_cell = cell
        if not self.repeats:
            return None
        if not informative:
            return REPEAT_EMPTY_NOTE
        if self.repeats >= REPEATS_BEFORE_ANSWER:
            self.answer_now = True
        return REPEAT_NOTE

    def submit(self, value: Any) -> str:
        """Records the final answer given from code."""
        self.submitted = render_value(value)
        self.request.emit("submit", node_id=self.node_id, chars=len(self.submitted))
        return "submitted"

    async def run_cell(self, code: str) -> CellResult:
        """Runs one cell in this node's REPL, traced."""
        self.cells += 1
        index = self.cells
        capture = capture_content(self.config.capture_content)
        token = current_cell.set((self.node_id, index))
        try:
            with span(
                "rlm.code",
                **{
                    "rlm.node_id": self.node_id,
                    "rlm.depth": self.depth,
                    "rlm.cell_index": index,
                    "rlm.code_chars": len(code),
                    "rlm.code": content(code, capture),
                },
            ) as current:
                result = await self.repl.run(self, code)
                if current.is_recording():
                    current.set_attribute(
                        "rlm.duration_ms", round(result.duration_seconds * 1000, 3)
                    )
                    current.set_attribute("rlm.output_chars", result.output_chars)
                    current.set_attribute("rlm.truncated_chars", result.truncated_chars)
                    current.set_attribute("rlm.error_chars", len(result.error or ""))
                    if result.error_type:
                        current.set_attribute("error.type", result.error_type)
                    if result.restarted:
                        current.set_attribute("rlm.restarted", True)
                    if capture:
                        current.set_attribute("rlm.output", content(result.render(), True))
        finally:
            current_cell.reset(token)
        self.last_output = result.render()
        self.trajectory.append(
            {
                "type": "code",
                "cell": index,
                "code": code,
                "output": result.render(),
                "error_type": result.error_type,
                "seconds": round(result.duration_seconds, 4),
            }
        )
        self.request.emit(
            "cell",
            node_id=self.node_id,
            depth=self.depth,
            error=result.error_type,
            cell=index,
            code=code,
            stdout=result.output,
            stderr=result.error or "",
            seconds=result.duration_seconds,
            submitted=self.submitted,
        )
        return result

    def best_answer(self) -> str:
        """What this node has when it must stop: a submitted value, its last text or output."""
        if self.submitted is not None:
            return self.submitted
        if self.last_text.strip():
            return self.last_text
        if self.last_output.strip():
            return f"No final answer was given. Last REPL output:\n{clip(self.last_output, 2000)}"
        return "No answer was produced."
