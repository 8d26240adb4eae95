"""rlm-adk: Recursive Language Models as Google ADK agents."""

from __future__ import annotations

from rlm_adk.agent import RLMAgent
from rlm_adk.config import RLMConfig
from rlm_adk.context import ContextHandle, open_context, open_text

__all__ = ["ContextHandle", "RLMAgent", "RLMConfig", "open_context", "open_text"]
