"""The RLM agent for `adk web agents`, `adk run agents/rlm` and `adk api_server agents`."""

from . import agent  # noqa: F401
