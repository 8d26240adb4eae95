"""Child spawning: a child RLM agent over a slice of the parent's context, or a plain call at
the depth limit. Children run as ADK agents under their own `Runner` (as `AgentTool` does), so
plugins, callbacks and traces apply at every level."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rlm_adk.context.base import Chunk, ContextError, FileInfo
from rlm_adk.context.handle import ContextHandle, open_text
from rlm_adk.engine.host import plain_call
from rlm_adk.telemetry import GEN_AI_CONVERSATION_ID, capture_content, content, span

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from rlm_adk.engine.node import RLMNode


def child_context(node: RLMNode, spec: Any) -> ContextHandle:
    """The handle a child sees: a view of the parent's handle (never a copy) or given text."""
    parent = node.context
    if spec is None:
        return parent if parent is not None else ContextHandle([])
    if isinstance(spec, ContextHandle):
        return spec
    if isinstance(spec, str):
        return open_text(spec, name="slice")
    if parent is None:
        raise ContextError("this agent has no context to slice")
    if isinstance(spec, Chunk):
        return parent.view(ranges={spec.path: (spec.start, spec.end)})
    if isinstance(spec, FileInfo):
        return parent.view(paths=[spec.path])
    if isinstance(spec, (list, tuple)):
        paths: list[str] = []
        ranges: dict[str, tuple[int, int]] = {}
        for item in spec:
            if isinstance(item, str):
                paths.append(item)
            elif isinstance(item, FileInfo):
                paths.append(item.path)
            elif isinstance(item, Chunk):
                ranges[item.path] = (item.start, item.end)
            else:
                raise ContextError(f"cannot build a context from {type(item).__name__}")
        return parent.view(paths=paths, ranges=ranges)
    raise ContextError(
        "context for a child is None (the whole context), a string, a chunk, a file or a list "
        f"of paths/chunks, not {type(spec).__name__}"
    )


async def _context_text(handle: ContextHandle, limit: int) -> str:
    """Up to `limit` bytes of the handle's text, for a plain call at the depth limit."""

    def read() -> str:
        pieces: list[str] = []
        used = 0
        for info in handle.files:
            if used >= limit:
                break
            take = min(info.size, limit - used)
            try:
                text = handle.read(info.path, 0, take)
            except ContextError as exc:
                text = f"[{exc}]"
            header = f"--- {info.path} ---" if len(handle.files) > 1 else ""
            pieces.append(f"{header}\n{text}" if header else text)
            used += take
        total = handle.size
        if total > used:
            pieces.append(f"[... {total - used:,} more bytes of context not shown ...]")
        return "\n".join(pieces)

    return await asyncio.to_thread(read)


async def spawn_one(node: RLMNode, task: str, spec: Any) -> str:
    """Runs one child for `task`; returns its answer."""
    request = node.request
    # A child started after a limit would stop before its first model call: refuse it here.
    request.budget.check_open()
    depth = node.depth + 1
    handle = child_context(node, spec)
    capture = capture_content(request.config.capture_content)
    with span(
        "rlm.spawn",
        **{
            "rlm.parent_node_id": node.node_id,
            "rlm.depth": depth,
            "rlm.request_id": request.request_id,
            "rlm.task": content(task, capture, 500),
            "rlm.context_bytes": handle.size,
            GEN_AI_CONVERSATION_ID: request.conversation_id,
        },
    ) as current:
        if depth >= request.config.max_depth:
            current.set_attribute("rlm.kind", "plain_call")
            text = await _context_text(handle, request.config.plain_call_context_chars)
            prompt = f"{text}\n\n{task}" if text.strip() else task
            answer = await plain_call(node, prompt, model=None, kind="spawn_at_depth_limit")
        else:
            current.set_attribute("rlm.kind", "agent")
            async with request.pool.child_slot(depth):
                request.budget.check_open()  # a limit may have been reached while it waited
                answer = await run_child_agent(node, task, handle, spawn_span=current)
        current.set_attribute("rlm.answer_chars", len(answer))
        return answer


async def run_child_agent(
    node: RLMNode, task: str, handle: ContextHandle, *, spawn_span: Span | None = None
) -> str:
    """Runs a child RLM agent with its own REPL through a nested ADK `Runner`."""
    from google.adk.agents.run_config import RunConfig, StreamingMode
    from google.adk.artifacts.in_memory_artifact_service import InMemoryArtifactService
    from google.adk.runners import Runner
    from google.adk.sessions.in_memory_session_service import InMemorySessionService
    from google.genai import types

    from rlm_adk.agent import ChildLink, RLMAgent

    parent_ctx = node.invocation_context
    link = ChildLink(request=node.request, parent=node, context=handle, task=task)
    child = RLMAgent.child_of(node, link)
    plugins = list(parent_ctx.plugin_manager.plugins) if parent_ctx is not None else None
    app_name = parent_ctx.app_name if parent_ctx is not None else child.name
    user_id = parent_ctx.user_id if parent_ctx is not None else "rlm"
    runner = Runner(
        app_name=app_name,
        agent=child,
        session_service=InMemorySessionService(),
        artifact_service=InMemoryArtifactService(),
        plugins=plugins,
    )
    if plugins is not None:
        # The parent's runner owns its plugins; the child must not close them.
        runner.plugin_manager.set_skip_closing_plugins(True)
    run_config = RunConfig(streaming_mode=StreamingMode.NONE, max_llm_calls=10_000_000)
    abort_signal = getattr(parent_ctx, "_abort_signal", None) if parent_ctx else None
    if not isinstance(abort_signal, asyncio.Event):
        abort_signal = None
    try:
        session = await runner.session_service.create_session(app_name=app_name, user_id=user_id)
        message = types.Content(role="user", parts=[types.Part.from_text(text=task)])
        kwargs: dict[str, Any] = {}
        if abort_signal is not None:
            kwargs["abort_signal"] = abort_signal
        async for event in runner.run_async(
            user_id=user_id,
            session_id=session.id,
            new_message=message,
            run_config=run_config,
            **kwargs,
        ):
            if event.error_message and not link.answer:
                link.error = event.error_message
    finally:
        await runner.close()
        if spawn_span is not None and link.node_id is not None:
            spawn_span.set_attribute("rlm.child_node_id", link.node_id)
    if link.answer is None:
        raise RuntimeError(f"the child agent gave no answer ({link.error or 'no final event'})")
    return link.answer
