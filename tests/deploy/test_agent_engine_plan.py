"""The Agent Engine deployment: the `--dry-run` plan, what is refused before anything is created,
the requirements computed from pyproject.toml, and the exact call made to the Vertex AI SDK (a
recording client stands in for `vertexai.Client`)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from deploy import agent_engine
from deploy.common import (
    MONTY_REQUIREMENT,
    DeployError,
    Project,
    agent_engine_requirements,
    installed_version,
)

BASE = ["--project", "test-project", "--region", "europe-west4", "--staging-bucket", "gs://stage"]


def _plan(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert agent_engine.main([*BASE, *argv, "--dry-run", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_dry_run_plan(
    clean_env: pytest.MonkeyPatch, no_network: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("vertexai.agent_engines")
    plan = _plan(
        [
            "--service-account",
            "rlm@test-project.iam.gserviceaccount.com",
            "--env",
            "RLM_CONTEXT=gs://corpus/2026/",
            "--env",
            "RLM_MAX_DEPTH=3",
            "--env",
            "RLM_SUB_MODEL=gemini-3.1-flash-lite",
            "--secret-env",
            "GOOGLE_API_KEY=gemini-key:2",
            "--cpu",
            "4",
            "--memory",
            "8Gi",
            "--max-instances",
            "5",
        ],
        capsys,
    )
    assert plan["action"] == "create"
    assert (
        plan["resource"] == "projects/test-project/locations/europe-west4/reasoningEngines/<new id>"
    )
    assert plan["runtime_identity"] == "rlm@test-project.iam.gserviceaccount.com"
    assert plan["staging_objects"] == [
        "gs://stage/rlm-adk/agent_engine.pkl",
        "gs://stage/rlm-adk/requirements.txt",
        "gs://stage/rlm-adk/dependencies.tar.gz",
    ]
    config = plan["sdk_config"]
    assert plan["sdk_config_check"] == "valid AgentEngineConfig"
    assert config["env_vars"] == {
        "RLM_CONTEXT": "gs://corpus/2026/",
        "RLM_MAX_DEPTH": "3",
        "RLM_SUB_MODEL": "gemini-3.1-flash-lite",
        "GOOGLE_CLOUD_AGENT_ENGINE_ENABLE_TELEMETRY": "true",
        "GOOGLE_API_KEY": {"secret": "gemini-key", "version": "2"},
    }
    assert config["resource_limits"] == {"cpu": "4", "memory": "8Gi"}
    assert config["max_instances"] == 5 and "min_instances" not in config
    assert config["service_account"] == "rlm@test-project.iam.gserviceaccount.com"
    assert config["extra_packages"] == ["rlm_adk"]
    assert MONTY_REQUIREMENT in config["requirements"]
    assert f"google-adk=={installed_version('google-adk')}" in config["requirements"]
    assert plan["rlm_config"]["max_depth"] == 3
    assert plan["models"] == {"root": "gemini-3.5-flash", "sub": "gemini-3.1-flash-lite"}
    assert plan["pickle_check"]["round_trip"] == "RLMAdkApp"
    assert plan["pickle_check"]["credential_values_inside"] == []
    stage, adk = plan["equivalent_adk_cli"]
    assert stage.startswith("python -m deploy.stage --target agent_engine")
    assert "--env RLM_MAX_DEPTH=3" in stage and "--cpu 4 --memory 8Gi" in stage
    assert adk == (
        "adk deploy agent_engine --project test-project --region europe-west4 --display_name rlm "
        "--extra_packages rlm_adk --otel_to_cloud "
        "--service_account rlm@test-project.iam.gserviceaccount.com build/deploy/rlm"
    )
    assert plan["warnings"] == []


def test_dry_run_text_and_update(
    clean_env: pytest.MonkeyPatch, no_network: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*BASE, "--agent-engine-id", "123", "--no-telemetry", "--env", "RLM_CONTEXT=/data"]
    assert agent_engine.main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "action: update projects/test-project/locations/europe-west4/reasoningEngines/123" in out
    assert "GOOGLE_CLOUD_AGENT_ENGINE_ENABLE_TELEMETRY: false" in out
    assert "traces: off (--no-telemetry)" in out
    assert "corpus root '/data' is a local path" in out  # a warning, listed in the plan


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--env", "GOOGLE_API_KEY=AIza-not-real"], "--secret-env GOOGLE_API_KEY"),
        (["--env", "RLM_MAX_DEPTH=99"], "RLM_MAX_DEPTH"),
        (["--env", "RLM_SANDBOX=docker"], "RLM_SANDBOX"),
        (["--env", "GOOGLE_CLOUD_PROJECT=other"], "set by the platform"),
        (["--env", "DB_URL=postgresql://u:secret@host/db"], "credential"),
        (["--env", "NOEQUALS"], "NAME=VALUE"),
        (["--secret-env", "GOOGLE_API_KEY=projects/x/secrets/y"], "secret id"),
        (["--agent-identity", "--service-account", "a@b.c"], "exclude each other"),
        (["--agent-engine-id", "not an id"], "--agent-engine-id"),
    ],
)
def test_refused_before_anything_is_created(
    extra: list[str],
    message: str,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert agent_engine.main([*BASE, *extra, "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_missing_project_and_bad_bucket(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert agent_engine.main(["--staging-bucket", "gs://stage", "--dry-run"]) == 2
    assert "GOOGLE_CLOUD_PROJECT" in capsys.readouterr().err
    assert agent_engine.main(["--project", "p", "--staging-bucket", "stage", "--dry-run"]) == 2
    assert "gs://" in capsys.readouterr().err


def test_requirements_pin_what_is_pickled_and_keep_the_otel_cap() -> None:
    requirements = agent_engine_requirements()
    for dist in ("google-adk", "google-genai", "pydantic", "cloudpickle"):
        assert f"{dist}=={installed_version(dist)}" in requirements
    sdk = f"google-cloud-aiplatform[adk,agent_engines]=={installed_version('google-cloud-aiplatform')}"
    assert sdk in requirements or "google-cloud-aiplatform" not in str(requirements)
    assert "opentelemetry-sdk>=1.30,<=1.44" in requirements
    assert MONTY_REQUIREMENT in requirements
    with pytest.raises(DeployError, match=re.escape(MONTY_REQUIREMENT)):
        agent_engine_requirements(Project("rlm-adk", "0", ("google-adk>=2.13,<3",)))


class RecordingEngines:
    """Stands in for `vertexai.Client(...).agent_engines`: records calls, uploads nothing."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def _record(self, method: str, **kwargs: Any) -> Any:
        staged = Path.cwd()
        kwargs["staged_files"] = sorted(
            str(p.relative_to(staged)) for p in (staged / "rlm_adk").rglob("*") if p.is_file()
        )
        self.calls.append({"method": method, **kwargs})
        name = (
            kwargs.get("name") or "projects/test-project/locations/europe-west4/reasoningEngines/42"
        )
        return type("Engine", (), {"api_resource": type("R", (), {"name": name})()})()

    def create(self, *, agent: Any, config: dict[str, Any]) -> Any:
        return self._record("create", agent=agent, config=config)

    def update(self, *, name: str, agent: Any, config: dict[str, Any]) -> Any:
        return self._record("update", name=name, agent=agent, config=config)


def test_deploy_hands_the_planned_config_to_the_sdk(
    clean_env: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    pytest.importorskip("vertexai.agent_engines")
    import cloudpickle

    from deploy.adk_app import RLMAdkApp

    args = agent_engine.parser().parse_args([*BASE, "--env", "RLM_MAX_LLM_CALLS=99"])
    options = agent_engine.options_from_args(args)
    engines = RecordingEngines()
    client = type("Client", (), {"agent_engines": engines})()
    cwd = os.getcwd()
    name = agent_engine.deploy(options, client=client)

    assert name == "projects/test-project/locations/europe-west4/reasoningEngines/42"
    assert os.getcwd() == cwd
    (call,) = engines.calls
    assert call["method"] == "create"
    assert call["config"] == agent_engine.create_config(options, agent_engine_requirements())
    assert isinstance(call["agent"], RLMAdkApp)
    cloudpickle.dumps(call["agent"].clone())  # what the SDK will upload
    # The package was staged clean in the working directory the SDK tars extra_packages from.
    assert "rlm_adk/agent.py" in call["staged_files"]
    assert "rlm_adk/__init__.py" in call["staged_files"]
    assert not [f for f in call["staged_files"] if "__pycache__" in f or f.endswith(".pyc")]

    options.agent_engine_id = "42"
    agent_engine.deploy(options, client=client, app=call["agent"])
    assert engines.calls[-1]["method"] == "update"
    assert engines.calls[-1]["name"] == name
