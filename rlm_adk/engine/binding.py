"""Binding a corpus to a request: the agent's own context, session state or `RLMConfig.context`.

Each ADK session gets its own handle (so files uploaded in one session never show in another);
corpus content never goes into session state, only the URIs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rlm_adk.context.base import ContextError
from rlm_adk.context.handle import ContextHandle, open_text

if TYPE_CHECKING:
    from google.adk.agents.invocation_context import InvocationContext

    from rlm_adk.agent import RLMAgent

STATE_KEY = "rlm:context"
"""Session state key holding corpus URIs (a string or a list) chosen per session."""


def looks_like_uri(text: str) -> bool:
    """A path or `gs://` URI rather than literal text."""
    if "\n" in text or len(text) > 4096:
        return False
    return text.startswith(("gs://", "/", "./", "../", "~")) or os.path.exists(text)


def _open(uris: list[str], roots: list[str] | None) -> ContextHandle:
    from rlm_adk.context import open_context

    return open_context(*uris, roots=roots or None)


def _uris(value: Any) -> list[str]:
    if isinstance(value, str):
        return [u.strip() for u in value.split(",") if u.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ContextError(f"session state {STATE_KEY!r} must be a URI string or a list of URIs")


async def resolve_context(agent: RLMAgent, ctx: InvocationContext) -> ContextHandle | None:
    """The handle for this request's root node (cached per session)."""
    config = agent.config
    fixed = agent.context
    if isinstance(fixed, ContextHandle):
        return fixed
    cache = agent._handles
    key = (ctx.app_name, ctx.user_id, ctx.session.id)
    state_value = ctx.session.state.get(STATE_KEY) if ctx.session else None
    roots: list[str] | None
    if state_value:
        uris = _uris(state_value)
        roots = config.allowed_roots or config.context
        if not roots:
            raise ContextError(
                f"session state {STATE_KEY!r} asks for {uris}, but no allowed roots are "
                "configured (RLM_ALLOWED_ROOTS)"
            )
    elif isinstance(fixed, str) and fixed:
        if not looks_like_uri(fixed):
            cached = cache.get(key)
            if cached is None or cached[0] != ("text:",):
                cache[key] = (("text:",), open_text(fixed))
            return cache[key][1]
        uris, roots = [fixed], None
    elif config.context:
        uris, roots = list(config.context), config.allowed_roots or None
    else:
        return None
    cached = cache.get(key)
    if cached is not None and cached[0] == tuple(uris):
        return cached[1]
    handle = _open(uris, roots)
    cache[key] = (tuple(uris), handle)
    return handle
