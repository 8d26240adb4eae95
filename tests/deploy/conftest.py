"""Fixtures for the deployment tests: a loopback-only network guard (in this process and in
child processes), a clean cloud environment, scripted RLM apps and a free port.

Nothing here may reach the internet: no cloud credentials exist, and every test that could call
out runs under `no_network`, which also fails the test if anything tried.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import netguard

REPO = Path(__file__).resolve().parents[2]

# Cloud and model settings a developer's shell may carry; tests start without them.
CLOUD_ENV = (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_CLOUD_AGENT_ENGINE_ID",
    "GOOGLE_CLOUD_AGENT_ENGINE_LOCATION",
    "GOOGLE_CLOUD_AGENT_ENGINE_ENABLE_TELEMETRY",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)


def reset_env(monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...] | list[str]) -> None:
    """Unsets `names` for this test and restores them afterwards, including variables that code
    under test sets itself (AdkApp.set_up writes several): setting first makes monkeypatch
    remember the prior state."""
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No cloud settings, no `RLM_*` settings, no `.env` loading."""
    reset_env(monkeypatch, [*CLOUD_ENV, *(k for k in os.environ if k.startswith("RLM_"))])
    monkeypatch.setenv("ADK_DISABLE_LOAD_DOTENV", "1")
    return monkeypatch


@pytest.fixture
def no_network() -> Iterator[list[str]]:
    """Refuses non-loopback connections and name lookups; fails the test if any was tried."""
    netguard.attempts.clear()
    netguard.install()
    try:
        yield netguard.attempts
    finally:
        netguard.uninstall()
    tried = list(netguard.attempts)
    netguard.attempts.clear()
    assert not tried, f"the test tried to reach the network: {tried}"


@pytest.fixture
def child_guard(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment entries that install the network guard in a child Python process, and the
    log file where the child records refused attempts."""
    site = tmp_path / "netguard_site"
    site.mkdir()
    source = Path(netguard.__file__).read_text(encoding="utf-8")
    (site / "sitecustomize.py").write_text(source + "\ninstall_from_env()\n", encoding="utf-8")
    log = tmp_path / "netguard.log"
    return {"PYTHONPATH": str(site), "NETGUARD_LOG": str(log)}, log


@pytest.fixture
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
