"""Running an agent through ADK's real `InMemoryRunner` in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.adk.agents.base_agent import BaseAgent
from google.adk.apps.app import App
from google.adk.events.event import Event
from google.adk.runners import InMemoryRunner
from google.genai import types


@dataclass
class RunResult:
    events: list[Event] = field(default_factory=list)
    session_id: str = ""

    @property
    def final(self) -> Event:
        finals = [e for e in self.events if e.is_final_response() and e.content and e.content.parts]
        assert finals, "no final response event"
        return finals[-1]

    @property
    def text(self) -> str:
        parts = self.final.content.parts if self.final.content else []
        return "".join(p.text or "" for p in parts or [] if not p.thought)

    @property
    def usage(self) -> dict[str, Any]:
        return (self.final.custom_metadata or {}).get("rlm", {})


async def run_once(
    agent: BaseAgent | None = None,
    message: str = "question",
    *,
    app: App | None = None,
    runner: InMemoryRunner | None = None,
    session_id: str | None = None,
    state: dict[str, Any] | None = None,
    user_id: str = "user",
) -> RunResult:
    """Runs one turn; creates a session unless `session_id` is given."""
    if runner is None:
        runner = InMemoryRunner(app=app) if app is not None else InMemoryRunner(agent=agent)
    if session_id is None:
        session = await runner.session_service.create_session(
            app_name=runner.app_name, user_id=user_id, state=state or {}
        )
        session_id = session.id
    result = RunResult(session_id=session_id)
    async for event in runner.run_async(
        user_id=user_id,
        session_id=session_id,
        new_message=types.Content(role="user", parts=[types.Part.from_text(text=message)]),
    ):
        result.events.append(event)
    return result
