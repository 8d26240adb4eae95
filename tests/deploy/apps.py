"""Scripted RLM apps for the deployment tests: real `RLMAgent`s (Monty REPL, budgets, sub-calls)
whose models are `ScriptedLlm`s, so a deployed-style run needs no model service.

Query "count": the root greps the corpus and sends each hit to `llm_batch` (async host calls
from the sandbox back to the host), then answers. Query "reuse": it reads the variable `hits`
left in the session's REPL by the previous turn, then answers.
"""

from __future__ import annotations

from google.adk.apps.app import App
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse

from rlm_adk import RLMAgent, RLMConfig, open_text
from tests.scripted_model import ScriptedLlm, code, last_tool_output, text

CORPUS = "alpha needle one\nbeta\ngamma needle two\ndelta\n"
COUNT_CELL = (
    "hits = context.grep('needle')\n"
    "notes = await llm_batch(['note: ' + h.text for h in hits])\n"
    "print('MATCHES', len(hits), notes)"
)
REUSE_CELL = "print('REUSED', len(hits))"


def _latest_is_tool_output(request: LlmRequest) -> bool:
    last = request.contents[-1] if request.contents else None
    return bool(last and any(p.function_response for p in last.parts or []))


def _latest_user_text(request: LlmRequest) -> str:
    for content in reversed(request.contents):
        if content.role == "user":
            texts = [p.text for p in content.parts or [] if p.text]
            if texts:
                return " ".join(texts)
    return ""


def root_turn(request: LlmRequest) -> LlmResponse:
    """Writes a cell for the user's message, then answers from the cell's output."""
    if _latest_is_tool_output(request):
        output = last_tool_output(request)
        if "MATCHES 2" in output:
            return text("found 2 needles")
        if "REUSED 2" in output:
            return text("still 2 needles")
        return text(f"unexpected output: {output}")
    if "reuse" in _latest_user_text(request):
        return code(REUSE_CELL)
    return code(COUNT_CELL)


def sub_turn(request: LlmRequest) -> LlmResponse:
    """Every sub-call answers `ok`."""
    return text("ok", tokens=(7, 2))


def scripted_app() -> App:
    """The RLM app on scripted models; limits from this process's `RLM_*` variables."""
    agent = RLMAgent(
        name="rlm",
        model=ScriptedLlm.of(fallback=root_turn, model="scripted-root"),
        sub_model=ScriptedLlm.of(fallback=sub_turn, model="scripted-sub"),
        config=RLMConfig.from_env(),
        context=open_text(CORPUS),
    )
    return App(name="rlm", root_agent=agent)
