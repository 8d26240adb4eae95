"""An `adk api_server` subprocess over the project's `agents/` folder, wired to the fake Gemini."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ApiServer:
    base_url: str
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=120)

    def run(
        self, app: str, user: str, session: str, text: str, **extra: Any
    ) -> list[dict[str, Any]]:
        with self.client() as client:
            response = client.post(
                "/run",
                json={
                    "app_name": app,
                    "user_id": user,
                    "session_id": session,
                    "new_message": {"role": "user", "parts": [{"text": text}]},
                    **extra,
                },
            )
            response.raise_for_status()
            return response.json()


@pytest.fixture
def api_server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def start(
        env: dict[str, str], command: str = "api_server", agents_dir: Path | None = None
    ) -> ApiServer:
        port = free_port()
        log = open(tmp_path / f"{command}-{port}.log", "wb")  # noqa: SIM115 - kept for the process's life
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "google.adk.cli",
                command,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                # In memory: the servers must not write session or artifact files into agents/.
                "--session_service_uri",
                "memory://",
                "--artifact_service_uri",
                "memory://",
                str(agents_dir or ROOT / "agents"),
            ],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError((tmp_path / f"{command}-{port}.log").read_text())
            try:
                if httpx.get(base + "/list-apps", timeout=2).status_code == 200:
                    return ApiServer(base, process)
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the ADK server did not start in 60 s")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
