"""`HostAPI`: the functions model-written code calls (`llm_query`, `llm_batch`, `spawn_subagent`,
`spawn_subagents`, `submit`) and the `context` it reads, bound to the node running the cell."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rlm_adk.context.base import Chunk, FileInfo
from rlm_adk.context.handle import ContextHandle
from rlm_adk.engine.budget import LimitReached, NodeInfo
from rlm_adk.engine.calls import ModelCallError, estimate_tokens, plain_request, response_text
from rlm_adk.sandbox.bridge import HostBridge
from rlm_adk.telemetry import (
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_INPUT_TOKENS,
    GEN_AI_OPERATION,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_OUTPUT_TOKENS,
    GEN_AI_REQUEST_MODEL,
    capture_content,
    content,
    joined_content,
    messages_json,
    span,
    traced_context_call,
)

if TYPE_CHECKING:
    from rlm_adk.engine.node import RLMNode

EMPTY_CONTEXT = ContextHandle([])
MAX_BATCH = 10_000
MAX_REFUSALS_PER_CELL = 100
"""Sub-calls refused by the request's limits, during one cell, before the cell's next sub-call
stops it: time spent waiting on the host is not charged to a cell, so a loop that ignores the
refusals (`while True: try: await llm_query(...)`) would otherwise never end."""


class TracedBridge(HostBridge):
    """The host bridge with context reads traced (`rlm.context.read`/`rlm.context.grep` spans)
    and counted in the bound node's usage. Sync methods run on the sandbox's callback thread
    under a copy of the cell's context, so the spans nest under its `rlm.code` span."""

    def __init__(self, api: HostAPI, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._api = api

    def call_method(
        self, obj: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        node = self._api.node
        if node is None or not isinstance(obj, ContextHandle | Chunk):
            return super().call_method(obj, method, args, kwargs)
        budget = node.request.budget
        node_id = node.node_id
        return traced_context_call(
            obj,
            method,
            args,
            kwargs,
            lambda: super(TracedBridge, self).call_method(obj, method, args, kwargs),
            node_id=node_id,
            capture=capture_content(node.config.capture_content),
            on_bytes=lambda read, scanned: budget.add_bytes_read(node_id, read, scanned),
        )


class HostAPI:
    """Host functions for one REPL; `bind` points them at the node whose cell is running."""

    def __init__(self) -> None:
        self.node: RLMNode | None = None
        self.stop_cell: Callable[[str], None] | None = None
        self._refusals_at_start = 0
        self.bridge = TracedBridge(
            self,
            functions={
                "llm_query": self.llm_query,
                "llm_batch": self.llm_batch,
                "spawn_subagent": self.spawn_subagent,
                "spawn_subagents": self.spawn_subagents,
                "submit": self.submit,
            },
            objects={"context": EMPTY_CONTEXT},
        )

    def bind(self, node: RLMNode) -> None:
        self.node = node
        self.bridge.objects["context"] = node.context or EMPTY_CONTEXT

    def start_cell(self, stop: Callable[[str], None]) -> None:
        """A cell starts; `stop(reason)` ends it when it keeps asking after a limit."""
        self.stop_cell = stop
        self._refusals_at_start = self._node().request.budget.refusals

    def _go_on(self, node: RLMNode) -> None:
        """Stops the cell once it has seen `MAX_REFUSALS_PER_CELL` refusals and asks again."""
        budget = node.request.budget
        if budget.refusals - self._refusals_at_start < MAX_REFUSALS_PER_CELL:
            return
        reason = (
            f"{budget.limit_reason or 'a limit'}: {MAX_REFUSALS_PER_CELL} sub-calls were "
            "refused in this cell"
        )
        if self.stop_cell is not None:
            self.stop_cell(reason)
        raise RuntimeError(f"limit reached: {reason}")

    def _node(self) -> RLMNode:
        if self.node is None:
            raise RuntimeError("no request is bound to this REPL")
        return self.node

    # -- plain model calls ----------------------------------------------------------------------

    async def llm_query(self, prompt: Any, model: str | None = None) -> str:
        """One plain model call at depth + 1; raises on failure."""
        node = self._node()
        self._go_on(node)
        parts = _nonempty(await render_parts(prompt, node))
        try:
            return await plain_call(node, parts, model=model, kind="llm_query")
        except LimitReached as exc:
            raise RuntimeError(f"{exc}: no more sub-calls in this request") from None
        except ModelCallError as exc:
            raise RuntimeError(f"llm_query failed: {exc}") from None

    async def llm_batch(self, prompts: Any, model: str | None = None) -> list[str]:
        """Many plain calls in parallel; order kept; a failed item is an `ERROR: ...` string."""
        node = self._node()
        self._go_on(node)
        if isinstance(prompts, (str, bytes)) or not isinstance(prompts, (list, tuple)):
            raise TypeError("llm_batch takes a list of prompts")
        if len(prompts) > MAX_BATCH:
            raise ValueError(f"llm_batch takes at most {MAX_BATCH} prompts, got {len(prompts)}")

        async def one(item: Any) -> str:
            try:
                return await plain_call(node, item, model=model, kind="llm_batch")
            except asyncio.CancelledError:
                raise
            except LimitReached as exc:
                return f"ERROR: {exc}"
            except Exception as exc:
                return f"ERROR: {exc}"

        with span(
            "rlm.batch",
            **{
                "rlm.node_id": node.node_id,
                "rlm.depth": node.depth,
                "rlm.batch_size": len(prompts),
            },
        ):
            return list(await asyncio.gather(*(one(p) for p in prompts)))

    # -- recursion --------------------------------------------------------------------------------

    async def spawn_subagent(self, task: Any, context: Any = None) -> str:
        """A child RLM over a slice of the context (a plain call at the depth limit)."""
        from rlm_adk.engine.spawn import spawn_one

        node = self._node()
        self._go_on(node)
        if not isinstance(task, str) or not task.strip():
            raise ValueError("spawn_subagent needs a non-empty task string")
        return await spawn_one(node, task, context)

    async def spawn_subagents(self, tasks: Any) -> list[str]:
        """Many children in parallel; each task is a string, `(task, context)` or a dict
        `{"task": ..., "context": ...}`. Order kept; a failed child is an `ERROR: ...` string."""
        node = self._node()
        self._go_on(node)
        return await spawn_many(node, tasks)

    def submit(self, value: Any) -> str:
        """Gives the final answer from a value (large answers built in code)."""
        return self._node().submit(value)


async def spawn_many(node: RLMNode, tasks: Any) -> list[str]:
    """Runs children for `tasks` in parallel (see `HostAPI.spawn_subagents`)."""
    from rlm_adk.engine.spawn import spawn_one

    if not isinstance(tasks, (list, tuple)):
        raise TypeError("spawn_subagents takes a list of tasks")
    if len(tasks) > MAX_BATCH:
        raise ValueError(f"spawn_subagents takes at most {MAX_BATCH} tasks, got {len(tasks)}")
    parsed = [parse_task(t) for t in tasks]

    async def one(task: str, ctx: Any) -> str:
        try:
            return await spawn_one(node, task, ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return f"ERROR: {exc}"

    return list(await asyncio.gather(*(one(t, c) for t, c in parsed)))


def parse_task(item: Any) -> tuple[str, Any]:
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict):
        unknown = set(item) - {"task", "context"}
        if unknown or "task" not in item:
            raise ValueError("a task dict has the keys 'task' and, optionally, 'context'")
        return str(item["task"]), item.get("context")
    if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
        return item[0], item[1]
    raise ValueError(f"a task is a string, (task, context) or a dict, not {type(item).__name__}")


INLINE_READ_BYTES = 64 * 1024
"""Chunks up to this size are read on the event loop: a thread hop costs more than the read."""

PROMPT_SEPARATOR = "\n\n"
SMALL_PIECE_CHARS = 64 * 1024
"""Prompt pieces up to this size carry the separator themselves (copying them is cheap)."""


async def render_prompt(item: Any, node: RLMNode) -> str:
    """Prompt text from a string, a Chunk (read host-side, never copied through the sandbox) or
    a sequence of those joined by blank lines."""
    return join_parts(await render_parts(item, node))


def join_parts(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else PROMPT_SEPARATOR.join(parts)


def _nonempty(parts: list[str]) -> list[str]:
    return parts or [""]  # an empty list is an empty prompt, as its joined text was


def separated(parts: list[str]) -> list[str]:
    """`parts` as `Part` texts that read like `join_parts(parts)` (models concatenate a message's
    text parts): small pieces carry the separator, a large one gets its own."""
    if len(parts) == 1:
        return parts
    out: list[str] = []
    for piece in parts[:-1]:
        if len(piece) <= SMALL_PIECE_CHARS:
            out.append(piece + PROMPT_SEPARATOR)
        else:
            out.extend((piece, PROMPT_SEPARATOR))
    out.append(parts[-1])
    return out


async def render_parts(item: Any, node: RLMNode) -> list[str]:
    """The prompt's pieces (see `render_prompt`), each sent as its own `Part`: a 1 MiB chunk is
    never copied again into one joined string."""
    if isinstance(item, (list, tuple)):
        parts: list[str] = []
        for piece in item:
            parts.extend(await render_parts(piece, node))
        return parts
    return [await _render_one(item, node)]


async def _render_one(item: Any, node: RLMNode) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Chunk):
        handle = item.handle or node.context
        if handle is None:
            raise ValueError("this chunk is not bound to a context")
        if item.end - item.start <= INLINE_READ_BYTES and not handle.corpus.is_remote(item.path):
            text = handle.read(item.path, item.start, item.end, once=True)
        else:
            text = await asyncio.to_thread(handle.read, item.path, item.start, item.end, once=True)
        node.request.budget.add_bytes_read(node.node_id, item.end - item.start)
        return text
    if isinstance(item, FileInfo):
        handle = node.context
        if handle is None:
            raise ValueError("no context is bound")
        text = await asyncio.to_thread(handle.read, item.path)
        node.request.budget.add_bytes_read(node.node_id, item.size)
        return text
    if isinstance(item, (int, float, bool)) or item is None:
        return str(item)
    raise TypeError(f"a prompt is a string, a chunk, or a list of those, not {type(item).__name__}")


async def plain_call(node: RLMNode, prompt: Any, *, model: str | None, kind: str) -> str:
    """One plain model call made by `node` (its child in the tree, at depth + 1).

    The prompt (which may hold chunks) is rendered only once the call holds a concurrency slot,
    so a batch of 1,000 chunks never has more than `max_concurrency` chunk texts in memory.
    """
    async with node.request.pool.slot(node.depth + 1):
        parts = [prompt] if isinstance(prompt, str) else _nonempty(await render_parts(prompt, node))
        return await _plain_call_in_slot(node, parts, model=model, kind=kind)


async def _plain_call_in_slot(
    node: RLMNode, parts: list[str], *, model: str | None, kind: str
) -> str:
    request = node.request
    spec = model or node.sub_model
    llm = request.model(spec)
    name = llm.model
    child = request.budget.register(
        NodeInfo(
            node_id=_new_id(),
            parent_id=node.node_id,
            depth=node.depth + 1,
            kind="call",
            model=name,
            task=parts[0][:200],
        )
    )
    capture = capture_content(request.config.capture_content)
    # The joined text only when a listener records it (a MiB-sized copy otherwise).
    prompt = join_parts(parts) if request.listeners else ""
    prompt_chars = sum(map(len, parts)) + len(PROMPT_SEPARATOR) * (len(parts) - 1)
    request.emit("subcall_start", node_id=child.node_id, depth=child.depth)
    started = time.perf_counter()
    # The per-sub-call span: few attributes, set in two batches (this path runs 1,000s of times).
    with span(
        "rlm.subcall",
        **{
            "rlm.node_id": child.node_id,
            "rlm.parent_node_id": node.node_id,
            "rlm.depth": child.depth,
            "rlm.kind": kind,
            GEN_AI_OPERATION: "chat",
            GEN_AI_REQUEST_MODEL: name,
            # Rendered only when the span records (see `telemetry.span`).
            GEN_AI_INPUT_MESSAGES: (
                lambda: messages_json("user", joined_content(parts, PROMPT_SEPARATOR, True) or "")
            )
            if capture
            else None,
        },
    ) as current:
        outcome = None
        text = ""
        error: str | None = None
        try:
            outcome = await request.pool.call(
                llm,
                plain_request(name, separated(parts)),
                node_id=child.node_id,
                depth=child.depth,
                model_name=name,
                estimated_input_tokens=estimate_tokens(prompt_chars),
                slot_held=True,
            )
            text = response_text(outcome.response)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            child.ended = child.started + child.wall_seconds
            if current.is_recording():
                ended: dict[str, Any] = {
                    "rlm.outcome": _outcome(outcome, error),
                    "rlm.retries": child.usage.retries,
                }
                if outcome is not None:
                    ended[GEN_AI_INPUT_TOKENS] = outcome.input_tokens
                    ended[GEN_AI_OUTPUT_TOKENS] = outcome.output_tokens
                    ended["rlm.cost_usd"] = outcome.cost_usd
                    if capture:
                        ended[GEN_AI_OUTPUT_MESSAGES] = messages_json(
                            "assistant", content(text, True) or ""
                        )
                current.set_attributes(ended)
            request.emit(
                "subcall_end",
                node_id=child.node_id,
                parent_id=node.node_id,
                depth=child.depth,
                ok=outcome is not None,
                model=name,
                prompt=prompt,
                response=text,
                error=error,
                input_tokens=outcome.input_tokens if outcome else 0,
                output_tokens=outcome.output_tokens if outcome else 0,
                cost_usd=outcome.cost_usd if outcome else 0.0,
                retries=child.usage.retries,
                seconds=time.perf_counter() - started,
            )
        return text


def _outcome(outcome: Any, error: str | None) -> str:
    if outcome is not None:
        return "ok"
    if error is None:
        return "error"
    if error.startswith("CancelledError"):
        return "cancelled"
    if error.startswith("LimitReached"):
        return "limit"
    return "error"


def _new_id() -> str:
    from rlm_adk.engine.node import new_node_id

    return new_node_id()
