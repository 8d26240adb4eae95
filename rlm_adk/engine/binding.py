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


MAX_CACHED_SESSIONS = 1024


async def resolve_context(agent: RLMAgent, ctx: InvocationContext) -> ContextHandle | None:
    """The handle for this request's root node, with files uploaded in the user's message added
    (as `uploads/<name>`, and saved as ADK artifacts)."""
    handle = _session_handle(agent, ctx)
    uploads = (
        [p for p in (ctx.user_content.parts or []) if p.inline_data] if ctx.user_content else []
    )
    if not uploads:
        return handle
    key = (ctx.app_name, ctx.user_id, ctx.session.id)
    if handle is None or handle is agent.context:
        # Never add a session's uploads to a handle other sessions share: fork it (same sources
        # and cache, private uploads).
        handle = handle.fork() if handle is not None else ContextHandle([])
        _remember(agent, key, ("uploads:",), handle)
    for index, part in enumerate(uploads):
        blob = part.inline_data
        name = blob.display_name or f"upload_{len(handle.files)}_{index}"
        handle.add_text(name, blob.data or b"", blob.mime_type)
        if ctx.artifact_service is not None:
            await ctx.artifact_service.save_artifact(
                app_name=ctx.app_name,
                user_id=ctx.user_id,
                session_id=ctx.session.id,
                filename=name,
                artifact=part,
            )
    return handle


def _remember(
    agent: RLMAgent, key: tuple[str, str, str], uris: tuple[str, ...], handle: ContextHandle
) -> None:
    cache = agent._handles
    cache.pop(key, None)
    cache[key] = (uris, handle)
    while len(cache) > MAX_CACHED_SESSIONS:
        cache.pop(next(iter(cache)))


def _session_handle(agent: RLMAgent, ctx: InvocationContext) -> ContextHandle | None:
    """The session's corpus (cached per session), before uploads."""
    config = agent.config
    fixed = agent.context
    cache = agent._handles
    key = (ctx.app_name, ctx.user_id, ctx.session.id)
    cached = cache.get(key)
    if cached is not None and cached[0] == ("uploads:",):
        return cached[1]
    if isinstance(fixed, ContextHandle):
        return fixed
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
            if cached is None or cached[0] != ("text:",):
                _remember(agent, key, ("text:",), open_text(fixed))
            return cache[key][1]
        uris, roots = [fixed], None
    elif config.context:
        uris, roots = list(config.context), config.allowed_roots or None
    else:
        return None
    if cached is not None and cached[0] == tuple(uris):
        return cached[1]
    handle = _open(uris, roots)
    _remember(agent, key, tuple(uris), handle)
    return handle
