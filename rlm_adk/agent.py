"""`RLMAgent`: an ADK `LlmAgent` that answers over a context held in a sandboxed REPL."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.adk.agents.invocation_context import InvocationContext
from google.adk.agents.llm_agent import LlmAgent
from google.adk.agents.readonly_context import ReadonlyContext
from google.adk.events.event import Event
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import Field, PrivateAttr
from typing_extensions import override

from rlm_adk.config import RLMConfig
from rlm_adk.context.base import ContextError
from rlm_adk.context.handle import ContextHandle
from rlm_adk.engine.binding import resolve_context
from rlm_adk.engine.budget import Lease, LimitReached, NodeInfo
from rlm_adk.engine.calls import estimate_tokens, response_text
from rlm_adk.engine.node import RLMNode, new_node_id
from rlm_adk.engine.repl import Repl
from rlm_adk.engine.request import ProgressListener, RequestState
from rlm_adk.engine.sessions import SessionRepls
from rlm_adk.engine.turns import (
    TurnTimedOut,
    describe,
    retry_turn,
    turn_failure,
    turn_seconds,
)
from rlm_adk.prompts import (
    ANSWER_NOTE,
    FINALIZE_NOTE,
    PromptFacts,
    build_instruction,
    build_small_instruction,
)
from rlm_adk.telemetry import (
    GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_INPUT_TOKENS,
    GEN_AI_OPERATION,
    GEN_AI_OUTPUT_TOKENS,
    GEN_AI_REQUEST_MODEL,
    capture_content,
    span,
)
from rlm_adk.telemetry import content as span_content
from rlm_adk.tools import RunCodeTool, SpawnSubagentTool

if TYPE_CHECKING:
    from google.adk.agents.callback_context import CallbackContext

USAGE_METADATA_KEY = "rlm"
"""Key of the usage summary in the final event's `custom_metadata`."""

MODEL_ERROR = "model_error"
"""The stop reason (`limit_reached`) of an agent whose model failed past its retries."""

REPEATED_CELL = "repeated_cell"
"""The stop reason of an agent that kept re-running one cell and then did not answer."""

CONTEXT_ERROR = "context_error"
"""The error code of a request whose corpus was refused (the message says why)."""

logger = logging.getLogger(__name__)

progress_listeners: contextvars.ContextVar[tuple[ProgressListener, ...]] = contextvars.ContextVar(
    "rlm_progress_listeners", default=()
)
"""Listeners attached to requests started in this context (the CLI's live view uses it)."""


@dataclass
class ChildLink:
    """How a child agent is tied to its parent's request."""

    request: RequestState
    parent: RLMNode
    context: ContextHandle
    task: str
    answer: str | None = None
    error: str | None = None
    node_id: str | None = None
    """The child's node id, once it has started."""


class RLMAgent(LlmAgent):
    """A Recursive Language Model as an ADK agent.

    The corpus is bound as `context` in a persistent sandboxed REPL; the model works through the
    `run_code` and `spawn_subagent` tools, recursing through `llm_query`, `llm_batch` and
    `spawn_subagent(s)` inside its code. One `RLMConfig` sets every limit; one budget per request
    is shared by the whole tree.
    """

    sub_model: str | BaseLlm | None = None
    """Model for sub-calls and child agents (default: `config.sub_model`, else `model`)."""
    config: RLMConfig = Field(default_factory=RLMConfig.from_env)
    """Limits and settings of the tree."""
    context: Any = None
    """A `ContextHandle`, a path or `gs://` URI, literal text, or None (bound per session)."""

    _user_instruction: Any = PrivateAttr(default="")
    _link: ChildLink | None = PrivateAttr(default=None)
    _nodes: dict[str, RLMNode] = PrivateAttr(default_factory=dict)
    _repls: SessionRepls = PrivateAttr(default_factory=SessionRepls)
    _handles: dict[tuple[str, str, str], tuple[tuple[str, ...], ContextHandle]] = PrivateAttr(
        default_factory=dict
    )
    _config_from_env: bool = PrivateAttr(default=False)
    _model_from_env: bool = PrivateAttr(default=False)

    @override
    def model_post_init(self, __context: Any) -> None:
        # Settings not given in code come from the environment: remember which, so that a copy
        # unpickled in another process (Agent Engine) reads them there instead of carrying ours.
        self._config_from_env = "config" not in self.model_fields_set
        self._model_from_env = not self.model
        if not self.model:
            self.model = self.config.model or _default_model("root")
        if isinstance(self.model, str):
            self.model = _resolve(self.model, "root")
        self._user_instruction = self.instruction
        self.instruction = self._instruction
        self.tools = [RunCodeTool(self), SpawnSubagentTool(self), *self.tools]
        self.before_model_callback = [self._before_model, *_as_list(self.before_model_callback)]
        self.after_model_callback = [self._after_model, *_as_list(self.after_model_callback)]
        self.on_model_error_callback = [
            self._on_model_error,
            *_as_list(self.on_model_error_callback),
        ]
        super().model_post_init(__context)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # Per-process state (nodes, session REPLs, handles) never travels with a pickle.
        self._nodes = {}
        self._repls = SessionRepls()
        self._handles = {}
        if self._config_from_env:
            self.config = RLMConfig.from_env()
            if self._model_from_env:
                self.model = _resolve(self.config.model or _default_model("root"), "root")

    # -- children -----------------------------------------------------------------------------

    @classmethod
    def child_of(cls, node: RLMNode, link: ChildLink) -> RLMAgent:
        """A fresh child agent for one spawn (agents are cheap; REPLs are per child)."""
        depth = node.depth + 1
        config = node.config
        model = config.sub_model_for_depth(depth) or node.child_model
        child = cls(
            name=f"{node.agent_name.split('__')[0]}__d{depth}",
            description=f"RLM sub-agent at depth {depth}",
            model=model,
            sub_model=node.sub_model,
            config=config,
        )
        child._link = link
        return child

    # -- nodes ----------------------------------------------------------------------------------

    def node_for(self, ctx: ReadonlyContext | InvocationContext) -> RLMNode | None:
        return self._nodes.get(ctx.invocation_id)

    async def _open_node(self, ctx: InvocationContext) -> RLMNode:
        link = self._link
        sub_model = self.sub_model or self.config.sub_model or self.model
        if link is not None:
            request = link.request
            parent = link.parent
            info = NodeInfo(
                new_node_id(),
                parent.node_id,
                parent.depth + 1,
                "agent",
                _name(self.model),
                link.task,
            )
            handle: ContextHandle | None = link.context
            repl = Repl(self.config)
        else:
            # First, so that a refused corpus leaves nothing set up (see `_run_async_impl`).
            handle = await resolve_context(self, ctx)
            # An RLMPlugin in the app caps this request's limits and records its usage.
            from rlm_adk.plugin import find_plugin

            plugin = find_plugin(ctx)
            config = plugin.effective_config(self.config) if plugin else self.config
            request = RequestState.create(config)
            request.conversation_id = ctx.session.id
            request.listeners.extend(progress_listeners.get())
            if config.trajectory_dir:
                from rlm_adk.trajectory import TrajectoryRecorder

                request.listeners.append(
                    TrajectoryRecorder(
                        request,
                        config.trajectory_dir,
                        root_model=_name(self.model),
                        sub_model=_name(sub_model),
                    )
                )
            if plugin is not None:
                plugin.attach(request, ctx, self.name)
            info = NodeInfo(new_node_id(), None, 0, "root", _name(self.model), _user_text(ctx))
            key = (ctx.app_name, ctx.user_id, ctx.session.id)
            repl = await self._repls.get(key, self.config)
            repl.requests += 1  # never released as idle while this request runs
        request.budget.register(info)
        node = RLMNode(
            request=request,
            info=info,
            agent_name=self.name,
            context=handle,
            repl=repl,
            sub_model=sub_model,
            child_model=sub_model,
            invocation_context=ctx,
        )
        if link is not None:
            link.node_id = info.node_id
        request.emit(
            "agent_start",
            node_id=info.node_id,
            parent_id=info.parent_id,
            depth=info.depth,
            model=info.model,
            task=info.task,
            agent_name=self.name,
        )
        return node

    @override
    async def _run_async_impl(self, ctx: InvocationContext) -> AsyncGenerator[Event, None]:
        existing = self._nodes.get(ctx.invocation_id)
        if existing is not None:
            # Re-entered within one invocation (e.g. transferred back to): same node, same REPL.
            async for event in self._run_flow(ctx, existing):
                yield event
            return
        try:
            node = await self._open_node(ctx)
        except ContextError as exc:
            if self._link is not None:
                raise
            # The session's corpus is refused (outside the roots, missing, unreadable): the user
            # sees why, as the answer and as the event's error, instead of a failed request.
            logger.warning("%s: corpus refused: %s", self.name, exc)
            yield Event(
                invocation_id=ctx.invocation_id,
                author=self.name,
                branch=ctx.branch,
                error_code=CONTEXT_ERROR,
                error_message=str(exc),
                content=types.Content(
                    role="model",
                    parts=[types.Part.from_text(text=f"[stopped: {CONTEXT_ERROR}: {exc}]")],
                ),
            )
            return
        self._nodes[ctx.invocation_id] = node
        capture = capture_content(node.config.capture_content)
        error: str | None = None
        try:
            with span(
                "rlm.agent",
                **{
                    "rlm.node_id": node.node_id,
                    "rlm.parent_node_id": node.info.parent_id,
                    "rlm.depth": node.depth,
                    "rlm.request_id": node.request.request_id,
                    GEN_AI_OPERATION: "invoke_agent",
                    GEN_AI_AGENT_NAME: self.name,
                    GEN_AI_REQUEST_MODEL: node.info.model,
                    # The root's session: ADK's trace view groups a session's spans by it.
                    GEN_AI_CONVERSATION_ID: node.request.conversation_id or ctx.session.id,
                    "rlm.task": span_content(node.info.task, capture, 500),
                },
            ) as current:
                async for event in self._run_flow(ctx, node):
                    yield event
                if current.is_recording():
                    usage = node.info.usage
                    current.set_attribute(GEN_AI_INPUT_TOKENS, usage.input_tokens)
                    current.set_attribute(GEN_AI_OUTPUT_TOKENS, usage.output_tokens)
                    current.set_attribute("rlm.calls", usage.calls)
                    current.set_attribute("rlm.cost_usd", usage.cost_usd)
                    current.set_attribute("rlm.iterations", node.iterations)
                    current.set_attribute("rlm.cells", node.cells)
                    current.set_attribute("rlm.bytes_read", usage.bytes_read)
                    current.set_attribute("rlm.submitted", node.submitted is not None)
                    if node.stop_reason:
                        current.set_attribute("rlm.limit_reached", node.stop_reason)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._nodes.pop(ctx.invocation_id, None)
            if self._link is None:
                node.repl.requests -= 1
                node.repl.last_used = time.monotonic()
            node.info.ended = node.info.started + node.info.wall_seconds
            answer = node.best_answer()
            if self._link is not None:
                self._link.answer = answer
                await node.repl.close()
            node.request.emit(
                "agent_end",
                node_id=node.node_id,
                depth=node.depth,
                answer=answer,
                error=error,
                submitted=node.submitted is not None,
            )

    async def _run_flow(self, ctx: InvocationContext, node: RLMNode) -> AsyncGenerator[Event, None]:
        while True:
            flow = super()._run_async_impl(ctx)
            timed_out: TurnTimedOut | None = None
            try:
                while True:
                    try:
                        event = await node.turn_timer.next(flow)
                    except StopAsyncIteration:
                        break
                    except TurnTimedOut as exc:
                        timed_out = exc
                        break
                    if event.author == self.name and event.content and not event.partial:
                        text = _event_text(event)
                        if text and not event.get_function_calls():
                            node.last_text = text
                        if event.is_final_response() and text and not event.get_function_calls():
                            self._annotate(event, node)
                    yield event
            finally:
                await flow.aclose()
            if timed_out is None:
                break
            # The flow is gone with its cancelled model call; a new one re-sends the same turn
            # (the session holds everything up to it) unless the retries are spent.
            stopped = self._turn_timed_out(node, timed_out)
            if stopped is not None:
                yield self._final_event(ctx, node, stopped)
                return
        if node.submitted is not None:
            yield self._final_event(ctx, node, node.submitted)

    def _final_event(self, ctx: InvocationContext, node: RLMNode, text: str) -> Event:
        final = Event(
            invocation_id=ctx.invocation_id,
            author=self.name,
            branch=ctx.branch,
            content=types.Content(role="model", parts=[types.Part.from_text(text=text)]),
        )
        node.last_text = text
        self._annotate(final, node)
        return final

    def _turn_timed_out(self, node: RLMNode, error: TurnTimedOut) -> str | None:
        """Settles a turn the model did not answer in time; the stop text once retrying it is
        no use (retries spent or the budget gone), else None (the turn is sent again)."""
        lease, node.pending_lease = node.pending_lease, None
        budget = node.request.budget
        if lease is not None:
            budget.settle(lease, failed=True)
        node.turn_timeouts += 1
        node.iterations -= 1  # the turn is sent again; it was never answered
        node.request.emit("turn_timeout", node_id=node.node_id, seconds=node.turn_timer.seconds)
        retry = node.turn_timeouts <= node.config.max_retries and budget.exhausted_reason is None
        if retry and not node.finalizing:  # a final turn is not sent twice
            return None
        node.finalizing = True
        node.stop_reason = MODEL_ERROR
        node.request.emit("limit", node_id=node.node_id, reason=MODEL_ERROR)
        retries = node.turn_timeouts - 1
        suffix = f" (after {retries} retries)" if retries else ""
        return f"[stopped: {MODEL_ERROR}: {error}{suffix}] {node.best_answer()}"

    def _annotate(self, event: Event, node: RLMNode) -> None:
        summary: dict[str, Any] = node.request.budget.summary() if node.depth == 0 else {}
        summary.update(
            request_id=node.request.request_id,
            node_id=node.node_id,
            depth=node.depth,
            limit_reached=node.stop_reason or node.request.budget.limit_reason,
            submitted=node.submitted is not None,
        )
        event.custom_metadata = {**(event.custom_metadata or {}), USAGE_METADATA_KEY: summary}

    # -- instruction ----------------------------------------------------------------------------

    async def _instruction(self, ctx: ReadonlyContext) -> str:
        node = self._nodes.get(ctx.invocation_id)
        handle = node.context if node else None
        config = node.config if node else self.config  # the request's (plugin-capped) limits
        facts = PromptFacts(
            depth=node.depth if node else 0,
            max_depth=config.max_depth,
            context_summary=handle.describe() if handle is not None else "empty (no corpus bound)",
            max_iterations=config.max_iterations,
            max_concurrency=config.max_concurrency,
            max_output_chars=self.config.max_output_chars,
            sandbox=self.config.sandbox,
        )
        extra = self._user_instruction
        if callable(extra):
            extra = extra(ctx)
            if hasattr(extra, "__await__"):
                extra = await extra
        variant = self.config.prompt
        if variant == "auto":
            variant = "small" if _name(self.model).startswith("local:") else "full"
        if variant == "small":
            return build_small_instruction(facts, str(extra or ""))
        return build_instruction(facts, str(extra or ""))

    # -- budget enforcement -------------------------------------------------------------------

    async def _before_model(
        self, callback_context: CallbackContext, llm_request: LlmRequest
    ) -> LlmResponse | None:
        node = self.node_for(callback_context)
        if node is None:
            return None
        budget = node.request.budget
        if node.finalizing:
            node.stop_reason = node.stop_reason or REPEATED_CELL
            return _text_response(f"[stopped: {node.stop_reason}] {node.best_answer()}")
        node.iterations += 1
        reason = budget.exhausted_reason
        if reason is None and node.iterations > node.config.max_iterations:
            reason = "max_iterations"
        estimated = estimate_tokens(_request_chars(llm_request))
        if reason is None and node.answer_now:
            node.answer_now = False
            note = ANSWER_NOTE.format(count=node.repeats + 1)
            node.request.emit("answer_turn", node_id=node.node_id, repeats=node.repeats)
            try:
                lease = budget.admit(node.node_id, _name(self.model), estimated)
            except LimitReached as exc:
                reason = exc.reason
            else:
                node.finalizing = True
                return self._final_turn(node, llm_request, lease, note)
        if reason is None:
            try:
                node.pending_lease = budget.admit(node.node_id, _name(self.model), estimated)
                node.pending_request = llm_request
                node.request.emit("model_request", node_id=node.node_id, llm_request=llm_request)
                node.turn_timer.arm(turn_seconds(budget))
                return None
            except LimitReached as exc:
                reason = exc.reason
        return self._finalize(node, llm_request, reason, estimated)

    def _finalize(
        self, node: RLMNode, llm_request: LlmRequest, reason: str, estimated: int
    ) -> LlmResponse | None:
        """A limit stops this agent: one last tool-less turn where the budget allows, else the
        best answer it has, marked with the reason."""
        node.finalizing = True
        node.stop_reason = reason
        node.request.emit("limit", node_id=node.node_id, reason=reason)
        budget = node.request.budget
        lease = None
        note = FINALIZE_NOTE.format(reason=reason)
        estimated += estimate_tokens(len(note))  # the note is part of the final turn's prompt
        if node.submitted is None:
            try:
                if reason == "max_iterations" and budget.exhausted_reason is None:
                    lease = budget.admit(node.node_id, _name(self.model), estimated)
                elif reason == "max_llm_calls" and node.depth == 0:
                    lease = budget.admit(node.node_id, _name(self.model), estimated, final=True)
            except LimitReached:
                lease = None
        if lease is None:
            return _text_response(f"[stopped: {reason}] {node.best_answer()}")
        return self._final_turn(node, llm_request, lease, note)

    def _final_turn(
        self, node: RLMNode, llm_request: LlmRequest, lease: Lease, note: str
    ) -> LlmResponse | None:
        """Sends `llm_request` as a tool-less turn ending with `note` (the model must answer)."""
        node.pending_lease = lease
        node.pending_request = llm_request
        llm_request.tools_dict.clear()
        if llm_request.config is not None:
            llm_request.config.tools = None
        llm_request.contents.append(
            types.Content(role="user", parts=[types.Part.from_text(text=note)])
        )
        node.request.emit("model_request", node_id=node.node_id, llm_request=llm_request)
        node.turn_timer.arm(turn_seconds(node.request.budget))
        return None

    async def _after_model(
        self, callback_context: CallbackContext, llm_response: LlmResponse
    ) -> LlmResponse | None:
        node = self.node_for(callback_context)
        if node is None or node.pending_lease is None or llm_response.partial:
            return None
        node.turn_timer.disarm()  # answered (a retry below has its own timeout)
        from rlm_adk.engine.calls import usage_of

        replaced = None
        failure = turn_failure(llm_response)
        if failure is not None:
            replaced = llm_response = await self._recover(node, failure)
            if node.pending_lease is None:  # not recovered: settled, the agent stops
                return replaced
        lease, node.pending_lease = node.pending_lease, None
        retries, node.pending_retries = node.pending_retries, 0
        input_tokens, output_tokens = usage_of(llm_response)
        node.request.budget.settle(lease, input_tokens, output_tokens, retries=retries)
        node.request.emit(
            "model_call",
            node_id=node.node_id,
            depth=node.depth,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            llm_response=llm_response,
        )
        if node.finalizing and llm_response.content and llm_response.content.parts:
            # The final turn may not call tools any more.
            llm_response.content.parts = [
                p for p in llm_response.content.parts if not p.function_call
            ]
            if not response_text(llm_response):
                # It only tried to call tools: it ends with what it has instead of nothing (after
                # an answer turn for repeated cells, that is a stop too).
                node.stop_reason = node.stop_reason or REPEATED_CELL
                llm_response.content.parts = [
                    types.Part.from_text(text=f"[stopped: {node.stop_reason}] {node.best_answer()}")
                ]
        return replaced

    async def _on_model_error(
        self, callback_context: CallbackContext, llm_request: LlmRequest, error: Exception
    ) -> LlmResponse | None:
        node = self.node_for(callback_context)
        if node is None or node.pending_lease is None:
            return None
        node.turn_timer.disarm()  # the retries have their own timeout
        # ADK passes the response returned here through `_after_model`, which settles it.
        return await self._recover(node, error, llm_request)

    async def _recover(
        self, node: RLMNode, error: BaseException, request: LlmRequest | None = None
    ) -> LlmResponse:
        """A failed turn is retried like a sub-call; when that cannot save it, the agent stops
        with its best answer and the reason, instead of one model failure ending the whole
        request without an answer."""
        request = request or node.pending_request
        response, retries, reason = (
            await retry_turn(node.request.budget, self.canonical_model, request, error)
            if request is not None
            else (None, 0, describe(error))
        )
        if response is not None:
            node.pending_retries = retries
            return response
        lease, node.pending_lease = node.pending_lease, None
        if lease is not None:
            node.request.budget.settle(lease, failed=True, retries=retries)
        node.finalizing = True
        node.stop_reason = MODEL_ERROR
        node.request.emit("limit", node_id=node.node_id, reason=MODEL_ERROR)
        return _text_response(f"[stopped: {MODEL_ERROR}: {reason}] {node.best_answer()}")

    async def close(self) -> None:
        """Releases every session REPL this agent holds."""
        await self._repls.close_all()


def _as_list(callback: Any) -> list[Any]:
    if callback is None:
        return []
    return list(callback) if isinstance(callback, list) else [callback]


def _name(model: Any) -> str:
    return model.model if isinstance(model, BaseLlm) else str(model)


def _default_model(role: str) -> str:
    try:
        from rlm_adk.models import default_model_name

        return default_model_name(role)
    except ImportError:
        return LlmAgent.DEFAULT_MODEL


def _resolve(spec: str, role: str) -> BaseLlm | str:
    try:
        from rlm_adk.models import resolve_model
    except ImportError:
        return spec
    return resolve_model(spec, role=role)  # type: ignore[arg-type]


def _text_response(text: str) -> LlmResponse:
    return LlmResponse(content=types.Content(role="model", parts=[types.Part.from_text(text=text)]))


def _event_text(event: Event) -> str:
    return response_text(event)


def _user_text(ctx: InvocationContext) -> str:
    content = ctx.user_content
    if content is None or not content.parts:
        return ""
    return "".join(p.text or "" for p in content.parts)


def _request_chars(request: LlmRequest) -> int:
    total = 0
    for content in request.contents:
        for part in content.parts or []:
            if part.text:
                total += len(part.text)
            elif part.function_response is not None:
                total += len(str(part.function_response.response))
            elif part.function_call is not None:
                total += len(str(part.function_call.args))
    config = request.config
    if config is not None and isinstance(config.system_instruction, str):
        total += len(config.system_instruction)
    return total
