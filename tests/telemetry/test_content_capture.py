"""Content in spans follows ADK's switch (RLMConfig.capture_content overrides it); credentials
from the environment never reach a span."""

from __future__ import annotations

from typing import Any

import pytest

from rlm_adk import RLMAgent, RLMConfig, open_text
from rlm_adk.telemetry import REDACTED, content, scrub
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, has_tools, text
from tests.telemetry.spantree import SpanTree

FAKE_API_KEY = "AIzaFAKE-test-key-0123456789abcdef"
FAKE_SECRET = "s3cr3t-FAKE-credential-value-42"
CONTENT_KEYS = (
    "rlm.code",
    "rlm.output",
    "rlm.task",
    "gen_ai.input.messages",
    "rlm.context.pattern",
)


def sub(request: Any):
    if has_tools(request):
        return code("submit(context.read(context.files[0].path))")
    return text("leaf answer")


async def run(spans: Any, config: RLMConfig, corpus: str = "the corpus text") -> SpanTree:
    spans.clear()
    root = ScriptedLlm.of(
        code(
            "r = await llm_query('summarize: ' + context.read(context.files[0].path))\n"
            "kids = await spawn_subagents(['look'])\n"
            "print(r, kids, context.grep('corpus'))\n"
        ),
        lambda req: text("final"),
        model="scripted-root",
    )
    agent = RLMAgent(
        name="rlm",
        model=root,
        sub_model=ScriptedLlm.of(fallback=sub, model="scripted-sub"),
        config=config,
        context=open_text(corpus),
    )
    await run_once(agent, "what does it say?")
    await agent.close()
    return SpanTree(spans.get_finished_spans())


def content_attrs(tree: SpanTree) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for s in tree.rlm():
        for key in CONTENT_KEYS:
            if key in (s.attributes or {}):
                found.setdefault(key, []).append(s.attributes[key])
    return found


async def test_content_is_captured_by_default(monkeypatch, spans):
    monkeypatch.delenv("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", raising=False)
    found = content_attrs(await run(spans, RLMConfig()))
    assert set(found) == set(CONTENT_KEYS)
    assert any("llm_query" in c for c in found["rlm.code"])
    assert any("summarize: the corpus text" in m for m in found["gen_ai.input.messages"])
    assert any("leaf answer" in o for o in found["rlm.output"])


async def test_adk_switch_turns_content_off(monkeypatch, spans):
    monkeypatch.setenv("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", "false")
    tree = await run(spans, RLMConfig())
    assert content_attrs(tree) == {}
    # Sizes and counts stay.
    cell = tree.named("rlm.code")[0]
    assert cell.attributes["rlm.code_chars"] > 0
    assert cell.attributes["rlm.output_chars"] > 0


async def test_config_overrides_the_adk_switch(monkeypatch, spans):
    monkeypatch.setenv("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", "false")
    assert set(content_attrs(await run(spans, RLMConfig(capture_content=True)))) == set(
        CONTENT_KEYS
    )
    monkeypatch.setenv("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", "true")
    assert content_attrs(await run(spans, RLMConfig(capture_content=False))) == {}


def all_attribute_text(tree: SpanTree, rlm_only: bool = False) -> str:
    spans = tree.rlm() if rlm_only else tree.spans
    parts: list[str] = []
    for s in spans:
        parts.extend(str(v) for v in (s.attributes or {}).values())
        for event in s.events:
            parts.extend(str(v) for v in (event.attributes or {}).values())
        parts.extend(str(v) for v in s.resource.attributes.values())
    return "\n".join(parts)


async def test_credentials_in_the_environment_appear_in_no_span(monkeypatch, spans):
    monkeypatch.setenv("GOOGLE_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("ACME_SERVICE_CREDENTIAL", FAKE_SECRET)
    monkeypatch.setenv("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", "true")
    tree = await run(spans, RLMConfig(capture_content=True))
    assert len(tree.rlm()) > 5
    everything = all_attribute_text(tree)
    assert "corpus text" in everything  # content capture is on
    assert FAKE_API_KEY not in everything
    assert FAKE_SECRET not in everything


async def test_a_credential_quoted_by_a_document_is_redacted_in_rlm_spans(monkeypatch, spans):
    """Content can quote anything a document holds; values of credential-like variables are
    replaced before they reach an rlm.* span. (ADK's own spans capture tool responses as they
    are: switch ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS off where documents may hold secrets.)"""
    monkeypatch.setenv("ACME_SERVICE_CREDENTIAL", FAKE_SECRET)
    tree = await run(spans, RLMConfig(capture_content=True), corpus=f"leaked: {FAKE_SECRET} end")
    rlm_text = all_attribute_text(tree, rlm_only=True)
    assert FAKE_SECRET not in rlm_text
    assert f"leaked: {REDACTED} end" in rlm_text


def test_scrub_and_content_helpers(monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "tok-123456789")
    monkeypatch.setenv("SHORT_KEY", "abc")  # too short to be a credential: left alone
    assert scrub("a tok-123456789 b abc") == f"a {REDACTED} b abc"
    assert content("x", enabled=False) is None
    # A secret straddling the clip boundary is still caught.
    clipped = content("y" * 95 + "tok-123456789" + "z" * 50, enabled=True, limit=100)
    assert clipped is not None and "tok-1234" not in clipped and clipped.startswith("y" * 95)
    assert clipped.endswith("more chars]")


@pytest.mark.parametrize(
    "parts",
    [
        ["short"],
        ["instruction", "y" * 95 + "tok-123456789" + "z" * 500],
        ["y" * 99, "tok-123456789", "tail"],  # the secret starts in a later part
        ["a" * 40, "b" * 40, "c" * 40, "d" * 40],
        ["", "", "x"],
    ],
)
def test_joined_content_is_the_content_of_the_joined_parts(monkeypatch, parts):
    from rlm_adk.telemetry import joined_content

    monkeypatch.setenv("MY_TOKEN", "tok-123456789")
    expected = content("\n\n".join(parts), enabled=True, limit=100)
    assert joined_content(parts, "\n\n", enabled=True, limit=100) == expected
    assert joined_content(parts, "\n\n", enabled=False) is None


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_capture_switch_values(monkeypatch, value):
    from rlm_adk.telemetry import capture_content

    monkeypatch.setenv("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", value)
    assert capture_content() is False
    assert capture_content(True) is True
