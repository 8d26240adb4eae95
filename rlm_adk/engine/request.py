"""`RequestState`: what one request's whole tree shares (budget, pool, models, listeners)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.adk.models.base_llm import BaseLlm

from rlm_adk.config import RLMConfig
from rlm_adk.engine.budget import Budget
from rlm_adk.engine.pool import SubcallPool

ProgressListener = Callable[[str, dict[str, Any]], None]


def _cost_fn(config: RLMConfig) -> Callable[[str, int, int], float]:
    try:
        from rlm_adk.models.pricing import cost_usd
    except ImportError:  # pricing not importable: costs stay 0 and say so in usage
        return lambda _m, _i, _o: 0.0
    overrides = dict(config.prices)
    return lambda model, i, o: cost_usd(model, i, o, overrides)


@dataclass
class RequestState:
    """Shared by every node of one request's recursion tree."""

    config: RLMConfig
    budget: Budget
    pool: SubcallPool
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    listeners: list[ProgressListener] = field(default_factory=list)
    conversation_id: str | None = None
    """The root's ADK session id (`gen_ai.conversation.id` on every rlm.* span of the tree)."""
    _models: dict[str, BaseLlm] = field(default_factory=dict)

    @classmethod
    def create(cls, config: RLMConfig) -> RequestState:
        budget = Budget(config, cost_fn=_cost_fn(config))
        return cls(config=config, budget=budget, pool=SubcallPool(budget))

    def model(self, spec: str | BaseLlm) -> BaseLlm:
        """Resolves a model name once per request (objects pass through)."""
        if isinstance(spec, BaseLlm):
            return spec
        cached = self._models.get(spec)
        if cached is None:
            from rlm_adk.models import resolve_model

            cached = self._models[spec] = resolve_model(spec, role="sub")
        return cached

    def emit(self, kind: str, **data: Any) -> None:
        """Tells progress listeners (the CLI's live view, the trajectory log) what happened."""
        for listener in list(self.listeners):
            try:
                listener(kind, data)
            except Exception:  # a listener must never break the engine
                pass
