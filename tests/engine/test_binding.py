"""Binding a corpus: agent context, RLMConfig.context, session state within roots, uploads."""

from __future__ import annotations

from google.genai import types

from rlm_adk import RLMAgent, RLMConfig, open_text
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, last_tool_output, text

LIST_FILES = "print(sorted(f.path for f in context.files))"


def lister() -> ScriptedLlm:
    return ScriptedLlm.of(
        fallback=lambda req: (
            text(last_tool_output(req)) if "output" in str(req.contents[-1]) else code(LIST_FILES)
        )
    )


async def test_config_context_binds_local_files(tmp_path):
    (tmp_path / "a.txt").write_text("alpha")
    agent = RLMAgent(name="rlm", model=lister(), config=RLMConfig(context=[str(tmp_path)]))
    result = await run_once(agent, "q")
    assert result.text == f"['{tmp_path.name}/a.txt']"
    await agent.close()


async def test_session_state_chooses_a_corpus_inside_allowed_roots(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "x.txt").write_text("x")
    agent = RLMAgent(name="rlm", model=lister(), config=RLMConfig(allowed_roots=[str(tmp_path)]))
    result = await run_once(agent, "q", state={"rlm:context": str(tmp_path / "one")})
    assert result.text == "['one/x.txt']"
    await agent.close()


async def test_session_state_outside_the_roots_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    agent = RLMAgent(
        name="rlm",
        model=ScriptedLlm.of(text("unused")),
        config=RLMConfig(allowed_roots=[str(tmp_path / "root")]),
    )
    model = agent.model
    result = await run_once(agent, "q", state={"rlm:context": "/etc"})
    await agent.close()
    # The request ends with the reason, as its answer and as the event's error; no model call.
    assert result.final.error_code == "context_error"
    assert "'/etc' lies outside the allowed roots" in result.final.error_message
    assert result.text.startswith("[stopped: context_error: '/etc' lies outside the allowed roots")
    assert model.records == []


async def test_uploaded_file_becomes_part_of_the_context_for_this_session_only():
    shared = open_text("shared corpus")
    agent = RLMAgent(name="rlm", model=lister(), context=shared)
    from google.adk.runners import InMemoryRunner

    runner = InMemoryRunner(agent=agent)
    session = await runner.session_service.create_session(app_name=runner.app_name, user_id="u")
    message = types.Content(
        role="user",
        parts=[
            types.Part.from_text(text="what files?"),
            types.Part(
                inline_data=types.Blob(
                    data=b"uploaded text", mime_type="text/plain", display_name="notes.txt"
                )
            ),
        ],
    )
    events = [
        e async for e in runner.run_async(user_id="u", session_id=session.id, new_message=message)
    ]
    final = [e for e in events if e.is_final_response()][-1]
    assert final.content.parts[0].text == "['text/context.txt', 'uploads/notes.txt']"
    artifacts = await runner.artifact_service.list_artifact_keys(
        app_name=runner.app_name, user_id="u", session_id=session.id
    )
    assert artifacts == ["notes.txt"]
    # The shared handle did not change; another session does not see the upload.
    assert [f.path for f in shared.files] == ["text/context.txt"]
    other = await run_once(runner=runner, message="files?")
    assert other.text == "['text/context.txt']"
    await agent.close()
