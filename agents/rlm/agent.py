"""`root_agent` and `app` for ADK's CLI, configured from the environment (`.env` the ADK way).

Settings: `RLM_MODEL`, `RLM_SUB_MODEL`, `RLM_CONTEXT` (paths or gs:// URIs bound to every
session), `RLM_ALLOWED_ROOTS` (what a session may choose through its `rlm:context` state), and
every other `RLM_*` field of `RLMConfig`. Gemini credentials: `GOOGLE_API_KEY`, or Vertex AI with
`GOOGLE_GENAI_USE_ENTERPRISE=true`, `GOOGLE_CLOUD_PROJECT` and `GOOGLE_CLOUD_LOCATION`.
"""

from __future__ import annotations

from google.adk.apps.app import App

from rlm_adk import RLMAgent, RLMPlugin

# No config or model given: RLMAgent reads the RLM_* settings in the process that builds it,
# and again in a process that unpickles it (Agent Engine), so a deployment's env vars count.
root_agent = RLMAgent(
    name="rlm",
    description="Answers questions over a large corpus by writing code over it and recursing.",
)

app = App(name="rlm", root_agent=root_agent, plugins=[RLMPlugin()])
