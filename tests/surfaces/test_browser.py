"""The ADK dev UI in headless Chromium (Debian's, driven by Playwright): ask a question, see the
answer and the RLM spans in the trace view; a screenshot is saved under test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gemini_server import FakeGeminiServer, call_response, model_env, text_response

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


def handler(request: dict[str, Any]) -> dict[str, Any]:
    tools = [d["name"] for t in request.get("tools", []) for d in t.get("functionDeclarations", [])]
    outputs = [
        p["functionResponse"]["response"]
        for c in request.get("contents", [])
        for p in c.get("parts", [])
        if "functionResponse" in p
    ]
    if "run_code" not in tools:
        return text_response("unexpected")
    if outputs:
        size = str(outputs[-1].get("output", "")).strip()
        return text_response(f"The corpus holds {size} bytes.")
    return call_response("run_code", {"code": "print(context.size)"})


def _browser_available() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian package chromium; `make test` installs it as root)"
    if not _playwright_importable():
        return "playwright is not installed (dev extra)"
    return None


def _playwright_importable() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_dev_ui_shows_answer_and_rlm_spans(api_server_factory, tmp_path):
    missing = _browser_available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("y" * 321)
    ARTIFACTS.mkdir(exist_ok=True)
    with FakeGeminiServer(handler) as fake:
        server = api_server_factory(
            model_env(fake.base_url, RLM_CONTEXT=str(corpus)), command="web"
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{server.base_url}/dev-ui/?app=rlm")
                consent = page.get_by_text("No Thanks")
                try:
                    consent.wait_for(timeout=5000)
                    consent.click()
                except Exception:  # the consent dialog is shown only once per profile
                    pass
                box = page.get_by_placeholder("Type a message...")
                box.fill("How big is the corpus?")
                box.press("Enter")
                page.get_by_text("The corpus holds 321 bytes.").first.wait_for(timeout=60_000)
                page.get_by_text("Traces", exact=True).click()
                page.get_by_text("rlm.code", exact=True).first.wait_for(timeout=30_000)
                trace_text = page.inner_text("body")
                page.screenshot(path=str(ARTIFACTS / "adk_web_trace.png"))
            finally:
                browser.close()
    assert "rlm.agent" in trace_text
    assert "run_code" in trace_text
    assert (ARTIFACTS / "adk_web_trace.png").stat().st_size > 10_000
