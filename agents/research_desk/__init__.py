"""A larger ADK app that embeds the RLM agent as a sub-agent and as an AgentTool."""

from . import agent  # noqa: F401
