"""`research_desk`: an ADK app whose concierge has its own tools and reaches the RLM two ways:
as an `AgentTool` (it calls the RLM and gets the answer back as a tool result) and as a
sub-agent (it transfers the conversation to the RLM). `RLMPlugin` on the app brings the RLM's
budgets, usage accounting and trajectory log to every RLM agent in it, at any depth.

Run it with `adk web agents` (pick `research_desk`), configured like `agents/rlm` through
`RLM_*` variables; `RLM_CONTEXT` names the corpus.
"""

from __future__ import annotations

import datetime

from google.adk.agents.llm_agent import LlmAgent
from google.adk.apps.app import App
from google.adk.tools.agent_tool import AgentTool

from rlm_adk import RLMAgent, RLMConfig, RLMPlugin

config = RLMConfig.from_env()


def today() -> str:
    """Returns today's date (ISO 8601)."""
    return datetime.date.today().isoformat()


def word_count(text: str) -> int:
    """Counts the words in a short text."""
    return len(text.split())


def _rlm(name: str) -> RLMAgent:
    return RLMAgent(
        name=name,
        description="Answers questions over the whole document corpus, however large.",
        model=config.model or "",
        sub_model=config.sub_model,
        config=config,
    )


corpus_tool = AgentTool(_rlm("corpus_analyst"))
corpus_expert = _rlm("corpus_expert")

root_agent = LlmAgent(
    name="concierge",
    model=config.model or "gemini-3.5-flash",
    instruction=(
        "You help analysts. For a question about the document corpus, call the "
        "`corpus_analyst` tool with the question; for a long investigation the user wants to "
        "pursue in conversation, transfer to `corpus_expert`. Use `today` and `word_count` "
        "for the small things."
    ),
    tools=[corpus_tool, today, word_count],
    sub_agents=[corpus_expert],
)

app = App(name="research_desk", root_agent=root_agent, plugins=[RLMPlugin()])
