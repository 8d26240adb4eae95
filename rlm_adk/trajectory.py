"""Trajectory logs in the format of the reference RLM implementation (PyPI `rlms`, the paper's
code at github.com/alexzhang13/rlm), so its visualizer opens them.

One JSONL file per request (`rlm_<timestamp>_<request id>.jsonl`), as `rlm.logger.RLMLogger`
writes it: a metadata line, then one line per root iteration (one model turn):

    {"type": "metadata", "timestamp": ..., "root_model", "max_depth", "max_iterations", "backend",
     "backend_kwargs", "environment_type", "environment_kwargs", "other_backends"}
    {"type": "iteration", "iteration": 1, "timestamp": ..., "prompt": [{"role", "content"}, ...],
     "response": "...", "code_blocks": [{"code": "...", "result": {"stdout", "stderr", "locals",
     "execution_time", "rlm_calls": [...], "final_answer"}}], "final_answer": ..., "iteration_time"}

Each entry of `rlm_calls` is an `RLMChatCompletion` (`root_model`, `prompt`, `response`,
`usage_summary`, `execution_time`, optional `error`); a child RLM agent's entry carries its own
trajectory as `metadata: {"run_metadata": {...}, "iterations": [...]}`, nested to any depth.
Sub-calls and children that a `spawn_subagent` *tool* call (not code) started are listed under a
code block whose code is a comment naming the tool.

The recorder is a progress listener (`RequestState.listeners`) and never affects the run.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rlm_adk.engine.node import current_cell

if TYPE_CHECKING:
    from google.adk.models.llm_request import LlmRequest
    from google.adk.models.llm_response import LlmResponse

    from rlm_adk.engine.request import RequestState

TOOL_BLOCK_CODE = "# spawn_subagent tool call (children started by the model, not by code)"


@dataclass
class _NodeLog:
    """One agent's part of the trajectory."""

    node_id: str
    parent_id: str | None
    depth: int
    model: str
    task: str
    origin: tuple[str, int] | None
    """The parent's (node id, cell index) that started this child, if code did."""
    metadata: dict[str, Any]
    iterations: list[dict[str, Any]] = field(default_factory=list)
    current: dict[str, Any] | None = None
    started: float = field(default_factory=time.perf_counter)
    turn_started: float = 0.0
    pending: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Calls finished while a cell runs, keyed by cell index, until the cell's result lands."""
    reported_answer: str | None = None


class TrajectoryRecorder:
    """Builds a request's trajectory from progress events; writes the root's JSONL file when
    `directory` is given (the in-memory trajectory is always available)."""

    def __init__(
        self,
        request: RequestState,
        directory: str | os.PathLike[str] | None = None,
        *,
        root_model: str = "",
        sub_model: str = "",
        file_name: str = "rlm",
    ) -> None:
        self.request = request
        self.directory = os.fspath(directory) if directory is not None else None
        self.root_model = root_model
        self.sub_model = sub_model
        self.file_name = file_name
        self.path: str | None = None
        self._nodes: dict[str, _NodeLog] = {}
        self._root: _NodeLog | None = None
        self._written = 0
        self._lock = threading.RLock()

    # -- listener -----------------------------------------------------------------------------

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            with self._lock:
                handler(data)

    def _on_agent_start(self, data: dict[str, Any]) -> None:
        node_id = data["node_id"]
        parent_id = data.get("parent_id")
        origin = current_cell.get()
        if origin is not None and origin[0] != parent_id:
            origin = None
        log = _NodeLog(
            node_id=node_id,
            parent_id=parent_id,
            depth=int(data.get("depth", 0)),
            model=str(data.get("model") or ""),
            task=str(data.get("task") or ""),
            origin=origin,
            metadata=self._metadata(str(data.get("model") or self.root_model)),
        )
        self._nodes[node_id] = log
        if parent_id is None and self._root is None:
            self._root = log
            self._open_file(log)

    def _on_model_request(self, data: dict[str, Any]) -> None:
        log = self._nodes.get(data["node_id"])
        if log is None:
            return
        self._close_turn(log)
        llm_request = data.get("llm_request")
        log.current = {
            "prompt": request_messages(llm_request) if llm_request is not None else [],
            "response": "",
            "code_blocks": [],
            "final_answer": None,
            "iteration_time": None,
        }
        log.turn_started = time.perf_counter()

    def _on_model_call(self, data: dict[str, Any]) -> None:
        log = self._nodes.get(data["node_id"])
        response = data.get("llm_response")
        if log is None or log.current is None or response is None:
            return
        log.current["response"] = response_text(response)

    def _on_cell(self, data: dict[str, Any]) -> None:
        log = self._nodes.get(data["node_id"])
        if log is None:
            return
        submitted = data.get("submitted")
        final = submitted if submitted is not None and submitted != log.reported_answer else None
        if final is not None:
            log.reported_answer = final
        block = {
            "code": data.get("code", ""),
            "result": {
                "stdout": data.get("stdout", ""),
                "stderr": data.get("stderr", ""),
                "locals": {},
                "execution_time": data.get("seconds"),
                "rlm_calls": log.pending.pop(int(data.get("cell", 0)), []),
                "final_answer": final,
            },
        }
        self._turn(log)["code_blocks"].append(block)
        if final is not None:
            self._turn(log)["final_answer"] = final

    def _on_subcall_end(self, data: dict[str, Any]) -> None:
        model = str(data.get("model") or "")
        call: dict[str, Any] = {
            "root_model": model,
            "prompt": data.get("prompt", ""),
            "response": data.get("response", ""),
            "usage_summary": _usage_summary(
                {
                    model: (
                        1,
                        int(data.get("input_tokens", 0)),
                        int(data.get("output_tokens", 0)),
                        float(data.get("cost_usd", 0.0)),
                    )
                }
            ),
            "execution_time": data.get("seconds"),
        }
        if data.get("error"):
            call["error"] = data["error"]
        self._attach(data.get("parent_id"), current_cell.get(), call)

    def _on_agent_end(self, data: dict[str, Any]) -> None:
        log = self._nodes.get(data["node_id"])
        if log is None:
            return
        answer = data.get("answer")
        if (
            answer
            and log.current is None
            and (not log.iterations or log.iterations[-1]["final_answer"] is None)
        ):
            # Stopped without a model turn (a limit): the answer it had ends the trajectory.
            self._turn(log)["response"] = answer
        if answer and log.current is not None and log.current["final_answer"] is None:
            log.current["final_answer"] = answer
        self._close_turn(log)
        if log is self._root:
            return
        call: dict[str, Any] = {
            "root_model": log.model,
            "prompt": log.task,
            "response": answer or "",
            "usage_summary": self._subtree_usage(log.node_id),
            "execution_time": round(time.perf_counter() - log.started, 6),
            "metadata": {"run_metadata": log.metadata, "iterations": log.iterations},
        }
        if data.get("error"):
            call["error"] = data["error"]
        self._attach(log.parent_id, log.origin, call)
        self._nodes.pop(log.node_id, None)

    # -- building -------------------------------------------------------------------------------

    def _turn(self, log: _NodeLog) -> dict[str, Any]:
        """The node's current iteration (one is opened if a cell ran without a model turn)."""
        if log.current is None:
            log.current = {
                "prompt": [],
                "response": "",
                "code_blocks": [],
                "final_answer": None,
                "iteration_time": None,
            }
            log.turn_started = time.perf_counter()
        return log.current

    def _attach(
        self, parent_id: str | None, cell: tuple[str, int] | None, call: dict[str, Any]
    ) -> None:
        parent = self._nodes.get(parent_id) if parent_id else None
        if parent is None:
            return
        if cell is not None and cell[0] == parent_id:
            parent.pending.setdefault(cell[1], []).append(call)
            return
        turn = self._turn(parent)
        blocks = turn["code_blocks"]
        block = next((b for b in blocks if b["code"] == TOOL_BLOCK_CODE), None)
        if block is None:
            block = {
                "code": TOOL_BLOCK_CODE,
                "result": {
                    "stdout": "",
                    "stderr": "",
                    "locals": {},
                    "execution_time": None,
                    "rlm_calls": [],
                    "final_answer": None,
                },
            }
            blocks.append(block)
        block["result"]["rlm_calls"].append(call)

    def _close_turn(self, log: _NodeLog) -> None:
        if log.current is None:
            return
        turn, log.current = log.current, None
        turn["iteration_time"] = round(time.perf_counter() - log.turn_started, 6)
        entry = {
            "type": "iteration",
            "iteration": len(log.iterations) + 1,
            "timestamp": datetime.now().isoformat(),
            **turn,
        }
        log.iterations.append(entry)
        if log is self._root:
            self._write(entry)

    def _subtree_usage(self, node_id: str) -> dict[str, Any]:
        """Calls, tokens and cost of a node and all its descendants, per model."""
        nodes = self.request.budget.nodes
        children: dict[str | None, list[str]] = {}
        for info in list(nodes.values()):
            children.setdefault(info.parent_id, []).append(info.node_id)
        per_model: dict[str, tuple[int, int, int, float]] = {}
        stack = [node_id]
        while stack:
            info = nodes.get(stack.pop())
            if info is None:
                continue
            stack.extend(children.get(info.node_id, []))
            u = info.usage
            calls, i, o, c = per_model.get(info.model, (0, 0, 0, 0.0))
            per_model[info.model] = (
                calls + u.calls,
                i + u.input_tokens,
                o + u.output_tokens,
                c + u.cost_usd,
            )
        return _usage_summary(per_model)

    def _metadata(self, model: str) -> dict[str, Any]:
        """`RLMMetadata.to_dict()` of the reference implementation."""
        cfg = self.request.config
        return {
            "root_model": model,
            "max_depth": cfg.max_depth,
            "max_iterations": cfg.max_iterations,
            "backend": "google-adk",
            "backend_kwargs": {"model_name": model},
            "environment_type": cfg.sandbox,
            "environment_kwargs": {
                "cell_timeout_seconds": cfg.cell_timeout_seconds,
                "max_output_chars": cfg.max_output_chars,
                "max_llm_calls": cfg.max_llm_calls,
                "max_concurrency": cfg.max_concurrency,
            },
            "other_backends": [self.sub_model] if self.sub_model else None,
        }

    # -- output -----------------------------------------------------------------------------------

    def _open_file(self, root: _NodeLog) -> None:
        if self.directory is None:
            return
        os.makedirs(self.directory, exist_ok=True)
        stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        name = f"{self.file_name}_{stamp}_{self.request.request_id}.jsonl"
        self.path = os.path.join(self.directory, name)
        self._write({"type": "metadata", "timestamp": datetime.now().isoformat(), **root.metadata})

    def _write(self, entry: dict[str, Any]) -> None:
        if self.path is None:
            return
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
            self._written += 1
        except OSError:  # a full disk must not break the request
            pass

    def trajectory(self) -> dict[str, Any] | None:
        """The root's `{"run_metadata": ..., "iterations": [...]}` (like `get_trajectory()`)."""
        with self._lock:
            if self._root is None:
                return None
            return {"run_metadata": self._root.metadata, "iterations": list(self._root.iterations)}


def _usage_summary(per_model: dict[str, tuple[int, int, int, float]]) -> dict[str, Any]:
    """`UsageSummary.to_dict()` of the reference implementation."""
    summaries = {
        model: {
            "total_calls": calls,
            "total_input_tokens": i,
            "total_output_tokens": o,
            "total_cost": round(cost, 8),
        }
        for model, (calls, i, o, cost) in per_model.items()
    }
    return {
        "model_usage_summaries": summaries,
        "total_cost": round(sum(s["total_cost"] for s in summaries.values()), 8),
    }


def _render_call(name: str, args: dict[str, Any] | None) -> str:
    args = args or {}
    if name == "run_code" and isinstance(args.get("code"), str):
        # The reference format shows code as ```repl blocks inside the model's response.
        return f"```repl\n{args['code']}\n```"
    return f"{name}({json.dumps(args, ensure_ascii=False, default=str)})"


def _parts_text(parts: list[Any]) -> str:
    out: list[str] = []
    for part in parts:
        if part.text and not part.thought:
            out.append(part.text)
        elif part.function_call is not None:
            out.append(_render_call(part.function_call.name or "", part.function_call.args))
        elif part.function_response is not None:
            response = part.function_response.response or {}
            body = response.get("output") if isinstance(response, dict) else None
            if not isinstance(body, str):
                body = json.dumps(response, ensure_ascii=False, default=str)
            out.append(f"{part.function_response.name} output:\n{body}")
    return "\n".join(out)


def request_messages(request: LlmRequest) -> list[dict[str, str]]:
    """An ADK request as the reference format's message list (system, user, assistant)."""
    messages: list[dict[str, str]] = []
    config = request.config
    system = config.system_instruction if config is not None else None
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    for item in request.contents:
        role = "assistant" if item.role == "model" else "user"
        messages.append({"role": role, "content": _parts_text(list(item.parts or []))})
    return messages


def response_text(response: LlmResponse) -> str:
    """A model turn as text: its words, then its tool calls (code as ```repl blocks)."""
    if response.content is None or not response.content.parts:
        return response.error_message or ""
    return _parts_text(list(response.content.parts))
