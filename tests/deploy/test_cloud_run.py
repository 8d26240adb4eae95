"""Cloud Run: the entry point starts `adk api_server` with the agent (run here as a subprocess on a
loopback port, with a scripted agent and a sqlite session database, under a network guard), the
Dockerfile ships what the entry point imports, and the deploy plan."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.cloud_run import deploy as cloud_run
from deploy.cloud_run.serve import ServeConfigError, server_argv
from deploy.common import DATABASE_DRIVERS
from tests.deploy.conftest import REPO

DOCKERFILE = REPO / "deploy" / "cloud_run" / "Dockerfile"
AGENT_MODULE = "from tests.deploy.apps import scripted_app\n\napp = scripted_app()\n"


def test_server_argv_from_the_environment() -> None:
    argv = server_argv(
        {
            "PORT": "9090",
            "AGENTS_DIR": "/srv/agents",
            "SESSION_SERVICE_URI": "postgresql+asyncpg://u:p@/rlm?host=/cloudsql/p:r:i",
            "ARTIFACT_SERVICE_URI": "gs://artifacts",
            "OTEL_TO_CLOUD": "true",
            "ALLOW_ORIGINS": "https://a.example, https://b.example",
            "LOG_LEVEL": "WARNING",
        }
    )
    assert argv[:4] == [sys.executable, "-m", "google.adk.cli", "api_server"]
    assert argv[4:] == [
        "--host=0.0.0.0",
        "--port=9090",
        "--log_level=warning",
        "--session_service_uri=postgresql+asyncpg://u:p@/rlm?host=/cloudsql/p:r:i",
        "--artifact_service_uri=gs://artifacts",
        "--otel_to_cloud",
        "--allow_origins=https://a.example",
        "--allow_origins=https://b.example",
        "/srv/agents",
    ]
    defaults = server_argv({})
    assert "--port=8080" in defaults and "--session_service_uri=memory://" in defaults
    assert "--artifact_service_uri=memory://" in defaults
    assert "--otel_to_cloud" not in defaults and defaults[-1] == "/app/agents"


@pytest.mark.parametrize(
    ("env", "message"), [({"PORT": "http"}, "PORT"), ({"LOG_LEVEL": "loud"}, "LOG_LEVEL")]
)
def test_server_argv_refuses_bad_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ServeConfigError, match=message):
        server_argv(env)


@contextlib.contextmanager
def _serve(env: dict[str, str], port: int, log: Path) -> Iterator[httpx.Client]:
    """Runs the Cloud Run entry point until the block ends; yields a client once it answers."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.cloud_run.serve"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited {proc.returncode}: {log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/list-apps").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield client
    finally:
        client.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # what Cloud Run sends
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_entry_point_serves_the_agent_and_sessions_persist(
    tmp_path: Path, free_port: int, child_guard: tuple[dict[str, str], Path]
) -> None:
    agents = tmp_path / "agents"
    (agents / "rlm").mkdir(parents=True)
    (agents / "rlm" / "__init__.py").write_text("from . import agent\n")
    (agents / "rlm" / "agent.py").write_text(AGENT_MODULE)
    guard_env, guard_log = child_guard
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RLM_", "GOOGLE_", "OTEL_", "PYTHONPATH"))
    }
    env.update(
        PORT=str(free_port),
        HOST="127.0.0.1",
        AGENTS_DIR=str(agents),
        SESSION_SERVICE_URI=f"sqlite:///{tmp_path / 'sessions.db'}",
        ADK_DISABLE_LOAD_DOTENV="1",
        RLM_MAX_LLM_CALLS="40",
        NETGUARD_LOG=guard_env["NETGUARD_LOG"],
        # the guard first; the repository for `tests.deploy.apps` (the image has /app on the path)
        PYTHONPATH=os.pathsep.join([guard_env["PYTHONPATH"], str(REPO)]),
    )
    log = tmp_path / "server.log"
    with _serve(env, free_port, log) as client:
        assert client.get("/list-apps").json() == ["rlm"]
        session = client.post("/apps/rlm/users/u1/sessions", json={}).json()
        response = client.post(
            "/run",
            json={
                "app_name": "rlm",
                "user_id": "u1",
                "session_id": session["id"],
                "new_message": {"role": "user", "parts": [{"text": "count the needles"}]},
            },
        )
        assert response.status_code == 200, response.text
        events = response.json()
        final = events[-1]
        assert final["content"]["parts"][0]["text"] == "found 2 needles"
        assert final["customMetadata"]["rlm"]["usage"]["calls"] == 4
        outputs = [
            part["functionResponse"]["response"]["output"]
            for event in events
            for part in event["content"]["parts"]
            if "functionResponse" in part
        ]
        assert outputs == ["MATCHES 2 ['ok', 'ok']"]  # Monty ran the cell in a worker
    assert "monty sandbox ready" in log.read_text()

    # A new server process (a new instance, a new revision): the session is in the database.
    with _serve(env, free_port, log) as client:
        stored = client.get(f"/apps/rlm/users/u1/sessions/{session['id']}").json()
        texts = [
            part["text"]
            for event in stored["events"]
            for part in event["content"]["parts"]
            if part.get("text")
        ]
        assert texts == ["count the needles", "found 2 needles"]
    assert not guard_log.exists() or not guard_log.read_text(), guard_log.read_text()


def _dockerfile_copies() -> list[tuple[list[str], str]]:
    copies = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY "):
            *sources, dest = line.split()[1:]
            copies.append((sources, dest))
    return copies


def test_dockerfile_ships_what_the_entry_point_imports() -> None:
    copies = _dockerfile_copies()
    shipped = {source for sources, _ in copies for source in sources}
    for source in shipped:
        assert (REPO / source).exists(), f"COPY source {source} does not exist"
    assert not any(".env" in source for source in shipped)
    # Every `deploy.*` module the entry point (transitively) imports is copied into /app.
    needed: set[str] = set()
    todo = ["deploy/cloud_run/serve.py"]
    while todo:
        path = todo.pop()
        needed.add(path)
        for node in ast.walk(ast.parse((REPO / path).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deploy"):
                module = node.module.replace(".", "/") + ".py"
                if module not in needed:
                    todo.append(module)
    needed |= {"deploy/__init__.py", "deploy/cloud_run/__init__.py"}
    assert needed <= shipped, needed - shipped
    text = DOCKERFILE.read_text()
    assert "RUN python -m deploy.sandbox_check" in text
    assert 'CMD ["python", "-m", "deploy.cloud_run.serve"]' in text
    install = next(line for line in text.splitlines() if line.startswith("RUN pip install /src"))
    assert re.findall(r'"([^"]+)"', install) == list(DATABASE_DRIVERS)


def _plan(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert cloud_run.main([*argv, "--dry-run", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


BASE = ["--project", "test-project", "--region", "europe-west1"]


def test_dry_run_plan(
    clean_env: pytest.MonkeyPatch, no_network: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan(
        [
            *BASE,
            "--service-account",
            "rlm@test-project.iam.gserviceaccount.com",
            "--session-db-secret",
            "rlm-session-db",
            "--cloudsql-instance",
            "test-project:europe-west1:rlm",
            "--env",
            "RLM_CONTEXT=gs://corpus/a/,gs://corpus/b/",
            "--env",
            "RLM_MAX_DEPTH=3",
            "--secret-env",
            "GOOGLE_API_KEY=gemini-key:4",
        ],
        capsys,
    )
    assert plan["service"] == "projects/test-project/locations/europe-west1/services/rlm"
    assert plan["env"]["RLM_CONTEXT"] == "gs://corpus/a/,gs://corpus/b/"
    assert plan["env"]["GOOGLE_GENAI_USE_ENTERPRISE"] == "true"
    assert plan["env"]["OTEL_TO_CLOUD"] == "true"
    assert plan["secret_env"] == {
        "GOOGLE_API_KEY": "gemini-key:4",
        "SESSION_SERVICE_URI": "rlm-session-db:latest",
    }
    assert plan["rlm_config"]["max_depth"] == 3
    assert plan["rlm_config"]["context"] == ["gs://corpus/a/", "gs://corpus/b/"]
    build, deploy = plan["commands"]
    assert build.startswith("gcloud builds submit") and "deploy/cloud_run/cloudbuild.yaml" in build
    assert "--add-cloudsql-instances=test-project:europe-west1:rlm" in deploy
    assert "--session-affinity" in deploy and "--no-allow-unauthenticated" in deploy
    # Commas inside values survive gcloud's list syntax (an alternate delimiter).
    assert "'--set-env-vars=^@^GOOGLE_CLOUD_LOCATION=europe-west1@" in deploy
    assert (
        "--set-secrets=^@^GOOGLE_API_KEY=gemini-key:4@SESSION_SERVICE_URI=rlm-session-db:latest"
        in deploy
    )
    assert "not offered" in plan["equivalent_adk_cli"][1]


def test_dry_run_adk_recipe_and_sqlite_warning(
    clean_env: pytest.MonkeyPatch, no_network: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan([*BASE, "--session-service-uri", "sqlite:////tmp/sessions.db"], capsys)
    assert any("per instance" in w for w in plan["warnings"])
    stage, adk = plan["equivalent_adk_cli"]
    assert stage.startswith("python -m deploy.stage --target cloud_run")
    assert adk.startswith("adk deploy cloud_run --project=test-project --region=europe-west1")
    assert "--session_service_uri=sqlite:////tmp/sessions.db" in adk
    assert "--extra_packages=rlm_adk" in adk and " -- --cpu=4" in adk


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--session-service-uri", "postgresql+asyncpg://u:pw@db/rlm"], "Secret Manager"),
        (["--env", "DB_PASSWORD=hunter22"], "credential"),
        (["--env", "PORT=9000"], "set by the platform"),
        (["--env", "RLM_MAX_DEPTH=0"], "RLM_MAX_DEPTH"),
        (["--artifact-bucket", "artifacts"], "gs://"),
    ],
)
def test_dry_run_refuses(
    extra: list[str],
    message: str,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cloud_run.main([*BASE, *extra, "--dry-run"]) == 2
    assert message in capsys.readouterr().err
