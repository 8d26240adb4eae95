"""rlm-adk: Recursive Language Models as Google ADK agents."""

from __future__ import annotations

from rlm_adk.agent import RLMAgent
from rlm_adk.config import RLMConfig
from rlm_adk.context import ContextHandle, open_context, open_text
from rlm_adk.plugin import RLMPlugin

__all__ = ["ContextHandle", "RLMAgent", "RLMConfig", "RLMPlugin", "open_context", "open_text"]
