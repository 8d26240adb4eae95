"""`RLMPlugin`: budgets, usage accounting and trajectory logs for the RLM agents of any ADK app.

    app = App(name="support", root_agent=root, plugins=[RLMPlugin(max_cost_usd=2.0,
              trajectory_dir="logs/", on_usage=print)])

Every `RLMAgent` in the app finds the plugin when a request starts (`find_plugin`): the plugin's
limits cap the agent's own (the stricter one wins, so a plugin can only tighten), and the
plugin gets a `UsageRecord` when the request's tree has finished. The plugin changes nothing else
about how agents run; non-RLM agents are untouched.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.adk.plugins.base_plugin import BasePlugin

from rlm_adk.config import ModelPrice, RLMConfig
from rlm_adk.trajectory import TrajectoryRecorder

if TYPE_CHECKING:
    from google.adk.agents.invocation_context import InvocationContext

    from rlm_adk.engine.request import RequestState

logger = logging.getLogger(__name__)

PLUGIN_NAME = "rlm"

CAPPED_LIMITS: tuple[str, ...] = (
    "max_depth",
    "max_concurrency",
    "max_children_in_flight",
    "max_llm_calls",
    "max_tokens",
    "max_cost_usd",
    "max_wall_seconds",
    "max_iterations",
    "subcall_timeout_seconds",
    "max_retries",
    "plain_call_context_chars",
)
"""Limits a plugin may set; each caps the agent's own (None means no limit)."""


@dataclass
class UsageRecord:
    """One finished request of an RLM tree: who ran it and what it used."""

    request_id: str
    app_name: str
    user_id: str
    session_id: str
    invocation_id: str
    agent_name: str
    summary: dict[str, Any]
    """`Budget.summary()`: usage of the request and of each node, wall time, limit reached."""
    trajectory_path: str | None = None
    finished_at: float = field(default_factory=time.time)

    @property
    def usage(self) -> dict[str, Any]:
        """Request totals: calls, tokens, cost, bytes read, ..."""
        return dict(self.summary.get("usage", {}))


UsageCallback = Callable[[UsageRecord], None]


class RLMPlugin(BasePlugin):
    """Brings app-wide limits, usage records and trajectory logs to every RLM agent of an app.

    Args:
        name: plugin name in the app (RLM agents find the plugin by type, so any name works).
        trajectory_dir: write each request's trajectory (reference RLM JSONL format) here.
        capture_content: prompts, code and outputs in spans (overrides the agents' setting).
        prices: extra price-table entries (USD per million tokens) for cost accounting.
        on_usage: called (synchronously, on the event loop) with each finished request's record;
            exceptions it raises are logged, never propagated.
        keep: how many recent records `usage_log` keeps.
        **limits: any of `CAPPED_LIMITS` (e.g. `max_llm_calls=200, max_cost_usd=1.5`).
    """

    def __init__(
        self,
        name: str = PLUGIN_NAME,
        *,
        trajectory_dir: str | None = None,
        capture_content: bool | None = None,
        prices: Mapping[str, ModelPrice | Mapping[str, float]] | None = None,
        on_usage: UsageCallback | None = None,
        keep: int = 100,
        **limits: Any,
    ) -> None:
        super().__init__(name=name)
        unknown = sorted(set(limits) - set(CAPPED_LIMITS))
        if unknown:
            raise ValueError(
                f"RLMPlugin does not set {unknown}; it caps only {', '.join(CAPPED_LIMITS)}"
            )
        # Validated once here, so a bad value fails at app construction, not mid-request.
        checked = RLMConfig(**{k: v for k, v in limits.items() if v is not None})
        self.limits: dict[str, Any] = {
            k: getattr(checked, k) for k in limits if limits[k] is not None
        }
        self.trajectory_dir = trajectory_dir
        self.capture_content = capture_content
        self.prices: dict[str, ModelPrice] = {
            model: p if isinstance(p, ModelPrice) else ModelPrice(**p)
            for model, p in (prices or {}).items()
        }
        self.on_usage = on_usage
        self.usage_log: collections.deque[UsageRecord] = collections.deque(maxlen=keep)
        self.last_usage: UsageRecord | None = None

    def effective_config(self, config: RLMConfig) -> RLMConfig:
        """`config` with this plugin's limits applied (stricter wins) and its settings added."""
        update: dict[str, Any] = {}
        for key, cap in self.limits.items():
            own = getattr(config, key)
            value = cap if own is None else min(own, cap)
            if value != own:
                update[key] = value
        if self.prices:
            update["prices"] = {**config.prices, **self.prices}
        if self.capture_content is not None:
            update["capture_content"] = self.capture_content
        if self.trajectory_dir is not None:
            update["trajectory_dir"] = self.trajectory_dir
        return config.model_copy(update=update) if update else config

    def attach(self, request: RequestState, ctx: InvocationContext, agent_name: str) -> None:
        """Subscribes to a request's progress to record its usage when its root finishes."""

        def listener(kind: str, data: dict[str, Any]) -> None:
            if kind != "agent_end" or data.get("depth") != 0:
                return
            path = next(
                (x.path for x in request.listeners if isinstance(x, TrajectoryRecorder)), None
            )
            record = UsageRecord(
                request_id=request.request_id,
                app_name=ctx.app_name,
                user_id=ctx.user_id,
                session_id=ctx.session.id,
                invocation_id=ctx.invocation_id,
                agent_name=agent_name,
                summary=request.budget.summary(),
                trajectory_path=path,
            )
            self.last_usage = record
            self.usage_log.append(record)
            if self.on_usage is not None:
                try:
                    self.on_usage(record)
                except Exception:  # a reporting hook must never break the run
                    logger.exception("RLMPlugin on_usage callback failed")

        request.listeners.append(listener)


def find_plugin(ctx: InvocationContext) -> RLMPlugin | None:
    """The app's `RLMPlugin`, if one is registered (found by type, then by the default name)."""
    manager = getattr(ctx, "plugin_manager", None)
    if manager is None:
        return None
    for plugin in getattr(manager, "plugins", []):
        if isinstance(plugin, RLMPlugin):
            return plugin
    named = manager.get_plugin(PLUGIN_NAME)
    return named if isinstance(named, RLMPlugin) else None
