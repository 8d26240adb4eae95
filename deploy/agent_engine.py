"""Deploys the RLM agent to Vertex AI Agent Engine with the Vertex AI SDK (`AdkApp`).

    python -m deploy.agent_engine --project my-proj --region us-central1 \\
        --staging-bucket gs://my-proj-agent-staging \\
        --service-account rlm-agent@my-proj.iam.gserviceaccount.com \\
        --env RLM_CONTEXT=gs://acme-reports/2026/ --env RLM_MAX_LLM_CALLS=500 --dry-run

What is created: one reasoning engine (`projects/P/locations/R/reasoningEngines/ID`) running a
cloudpickled `RLMAdkApp` (see `deploy/adk_app.py`: the agent is rebuilt from the deployment's
environment at start-up), its requirements computed from pyproject.toml, the `rlm_adk` package
as an extra package, and three staging objects in the bucket. `--dry-run` prints all of it, and
checks that the app pickles (locally, without secrets), without calling any cloud API.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import shlex
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.common import (
    DeployEnv,
    DeployError,
    agent_engine_requirements,
    build_env,
    is_secret_name,
    parse_assignments,
    parse_secret_refs,
    read_env_file,
    render_plan,
)
from deploy.stage import stage_package

DEFAULT_REGION = "us-central1"
SERVICE_AGENT = "service-PROJECT_NUMBER@gcp-sa-aiplatform-re.iam.gserviceaccount.com"
TELEMETRY_ENV = "GOOGLE_CLOUD_AGENT_ENGINE_ENABLE_TELEMETRY"


@dataclass
class AgentEngineOptions:
    """Everything a deployment is made of (one `agents/rlm` app on one reasoning engine)."""

    project: str
    location: str
    staging_bucket: str
    env: DeployEnv = field(default_factory=DeployEnv)
    display_name: str = "rlm"
    description: str = "Recursive Language Model agent (rlm-adk) over large corpora."
    agent_engine_id: str | None = None
    service_account: str | None = None
    agent_identity: bool = False
    min_instances: int | None = None
    max_instances: int | None = None
    cpu: str | None = None
    memory: str | None = None
    container_concurrency: int | None = None
    telemetry: bool = True
    gcs_dir_name: str = "rlm-adk"

    def validate(self) -> None:
        if not self.project:
            raise DeployError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
        if not self.staging_bucket.startswith("gs://") or len(self.staging_bucket) <= 5:
            raise DeployError(f"--staging-bucket {self.staging_bucket!r} must be gs://<bucket>")
        if self.agent_identity and self.service_account:
            raise DeployError("--agent-identity and --service-account exclude each other")
        engine = self.agent_engine_id
        if engine and not engine.startswith("projects/") and not engine.isdigit():
            raise DeployError(f"--agent-engine-id {engine!r}: a numeric id or a resource name")

    @property
    def resource_name(self) -> str | None:
        """The engine to update, as a full resource name; None to create one."""
        if not self.agent_engine_id:
            return None
        if self.agent_engine_id.startswith("projects/"):
            return self.agent_engine_id
        return (
            f"projects/{self.project}/locations/{self.location}"
            f"/reasoningEngines/{self.agent_engine_id}"
        )

    @property
    def env_vars(self) -> dict[str, Any]:
        """`env_vars` for the SDK: plain strings and `{"secret", "version"}` references."""
        values: dict[str, Any] = dict(self.env.plain)
        values.setdefault(TELEMETRY_ENV, "true" if self.telemetry else "false")
        values.update({name: ref.to_dict() for name, ref in self.env.secrets.items()})
        return values

    @property
    def resource_limits(self) -> dict[str, str] | None:
        limits = {k: v for k, v in (("cpu", self.cpu), ("memory", self.memory)) if v}
        return limits or None


def create_config(options: AgentEngineOptions, requirements: list[str]) -> dict[str, Any]:
    """The `config` of `client.agent_engines.create/update` (an `AgentEngineConfig` dict)."""
    config: dict[str, Any] = {
        "display_name": options.display_name,
        "description": options.description,
        "staging_bucket": options.staging_bucket,
        "gcs_dir_name": options.gcs_dir_name,
        "requirements": requirements,
        # Relative to the staging directory the SDK runs in: it tars the path as given, and
        # the container unpacks it into its working directory (importable as `rlm_adk`).
        "extra_packages": ["rlm_adk"],
        "env_vars": options.env_vars,
    }
    if options.service_account:
        config["service_account"] = options.service_account
    if options.agent_identity:
        config["identity_type"] = "AGENT_IDENTITY"
    optional = {
        "min_instances": options.min_instances,
        "max_instances": options.max_instances,
        "resource_limits": options.resource_limits,
        "container_concurrency": options.container_concurrency,
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    return config


def register_by_value() -> None:
    """Ships `deploy.adk_app` and `deploy.sandbox_check` inside the pickle: the container
    has rlm_adk and the SDK installed, but not this repository's `deploy/` folder."""
    import cloudpickle

    import deploy.adk_app
    import deploy.sandbox_check

    for module in (deploy.adk_app, deploy.sandbox_check):
        with contextlib.suppress(ValueError):  # already registered
            cloudpickle.register_pickle_by_value(module)


def pickle_check(app: Any) -> dict[str, Any]:
    """Pickles a clone of `app` as the SDK will and loads it back, in this process.

    Fails when a value of a credential-like environment variable of this process is inside.
    """
    import cloudpickle

    register_by_value()
    blob = cloudpickle.dumps(app.clone())
    leaked = sorted(
        name
        for name, value in os.environ.items()
        if is_secret_name(name) and len(value) >= 8 and value.encode() in blob
    )
    if leaked:
        raise DeployError(f"the pickled app would carry the values of {leaked}")
    restored = pickle.loads(blob)
    return {
        "bytes": len(blob),
        "round_trip": type(restored).__name__,
        "shipped_by_value": ["deploy.adk_app", "deploy.sandbox_check"],
        "credential_values_inside": [],
    }


def build_plan(options: AgentEngineOptions, app: Any | None = None) -> dict[str, Any]:
    """What would be created, with which settings; no cloud call."""
    from rlm_adk.config import RLMConfig
    from rlm_adk.models.resolve import default_model_name

    requirements = agent_engine_requirements()
    config = create_config(options, requirements)
    effective = RLMConfig.from_env(dict(options.env.plain))
    models = {role: default_model_name(role, dict(options.env.plain)) for role in ("root", "sub")}
    objects = ["agent_engine.pkl", "requirements.txt", "dependencies.tar.gz"]
    plan: dict[str, Any] = {
        "target": "Vertex AI Agent Engine (Vertex AI SDK, AdkApp)",
        "action": f"update {options.resource_name}" if options.resource_name else "create",
        "resource": options.resource_name
        or f"projects/{options.project}/locations/{options.location}/reasoningEngines/<new id>",
        "project": options.project,
        "location": options.location,
        "runtime_identity": options.service_account
        or ("agent identity (per engine)" if options.agent_identity else SERVICE_AGENT),
        "staging_objects": [
            f"{options.staging_bucket}/{options.gcs_dir_name}/{name}" for name in objects
        ],
        "agent": {
            "class": "deploy.adk_app.RLMAdkApp (an AdkApp; shipped by value in the pickle)",
            "app_factory": "deploy.adk_app.build_rlm_app",
            "settings": "read in the container at set_up() from env (RLMConfig.from_env)",
            "sessions": "VertexAiSessionService (Agent Engine sessions, chosen by AdkApp when "
            "the platform sets GOOGLE_CLOUD_AGENT_ENGINE_ID)",
            "sandbox": f"{effective.sandbox}; the `monty` worker binary comes with "
            "pydantic-monty==1.4.0 (pydantic-monty-runtime) in the container's scripts "
            "directory and is checked at set_up()",
            "traces": "Cloud Trace via telemetry.googleapis.com"
            if options.telemetry
            else "off (--no-telemetry)",
        },
        "models": models,
        "sdk_config": config,
        "sdk_config_check": _validate_sdk_config(config),
        "rlm_config": effective.model_dump(mode="json"),
        "warnings": list(options.env.warnings),
        "equivalent_adk_cli": adk_cli_recipe(options),
    }
    if app is not None:
        plan["pickle_check"] = pickle_check(app)
    return plan


def _validate_sdk_config(config: dict[str, Any]) -> str:
    """Checks `config` against the installed SDK's `AgentEngineConfig` (field names, types)."""
    try:
        from vertexai._genai.types import AgentEngineConfig
    except ImportError as exc:
        return f"skipped: {exc.name} is not installed"
    AgentEngineConfig.model_validate(config)
    return "valid AgentEngineConfig"


def adk_cli_recipe(options: AgentEngineOptions) -> list[str]:
    """The same deployment through ADK's CLI (a Dockerfile running `adk api_server`)."""
    stage = ["python -m deploy.stage --target agent_engine --out build/deploy"]
    stage += [
        f"--env {shlex.quote(f'{name}={value}')}"
        for name, value in sorted(options.env.plain.items())
    ]
    sizing = {
        "--min-instances": options.min_instances,
        "--max-instances": options.max_instances,
        "--cpu": options.cpu,
        "--memory": options.memory,
        "--container-concurrency": options.container_concurrency,
    }
    stage += [f"{flag} {value}" for flag, value in sizing.items() if value is not None]
    deploy = [
        "adk deploy agent_engine",
        f"--project {options.project}",
        f"--region {options.location}",
        f"--display_name {options.display_name}",
        "--extra_packages rlm_adk",
    ]
    if options.telemetry:
        deploy.append("--otel_to_cloud")
    if options.service_account:
        deploy.append(f"--service_account {options.service_account}")
    if options.agent_engine_id:
        deploy.append(f"--agent_engine_id {options.agent_engine_id}")
    deploy.append("build/deploy/rlm")
    return [" ".join(stage), " ".join(deploy)]


@contextlib.contextmanager
def _staged_cwd() -> Iterator[Path]:
    # The SDK tars extra_packages by the relative path given, from the working directory.
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="rlm-adk-deploy-") as tmp:
        stage_package(Path(tmp))
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(previous)


def make_app(options: AgentEngineOptions) -> Any:
    """The `RLMAdkApp` to deploy (`vertexai.init` first: `AdkApp` records project/location)."""
    import vertexai

    from deploy.adk_app import RLMAdkApp

    vertexai.init(
        project=options.project,
        location=options.location,
        staging_bucket=options.staging_bucket,
    )
    return RLMAdkApp()


def deploy(options: AgentEngineOptions, *, client: Any = None, app: Any = None) -> str:
    """Creates (or updates) the engine; returns its resource name.

    `client` is a `vertexai.Client` (made from the options when omitted).
    """
    options.validate()
    app = app if app is not None else make_app(options)
    register_by_value()
    if client is None:
        import vertexai

        client = vertexai.Client(project=options.project, location=options.location)
    config = create_config(options, agent_engine_requirements())
    with _staged_cwd():
        if options.resource_name:
            engine = client.agent_engines.update(
                name=options.resource_name, agent=app, config=config
            )
        else:
            engine = client.agent_engines.create(agent=app, config=config)
    return str(engine.api_resource.name)


def options_from_args(args: argparse.Namespace) -> AgentEngineOptions:
    plain = read_env_file(args.env_file) if args.env_file else {}
    plain.update(parse_assignments(args.env))
    options = AgentEngineOptions(
        project=args.project or os.environ.get("GOOGLE_CLOUD_PROJECT", ""),
        location=args.region or os.environ.get("GOOGLE_CLOUD_LOCATION") or DEFAULT_REGION,
        staging_bucket=args.staging_bucket,
        env=build_env(plain, parse_secret_refs(args.secret_env)),
        display_name=args.display_name,
        agent_engine_id=args.agent_engine_id,
        service_account=args.service_account,
        agent_identity=args.agent_identity,
        min_instances=args.min_instances,
        max_instances=args.max_instances,
        cpu=args.cpu,
        memory=args.memory,
        container_concurrency=args.container_concurrency,
        telemetry=not args.no_telemetry,
    )
    if args.description:
        options.description = args.description
    options.validate()
    return options


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m deploy.agent_engine",
        description="Deploy the RLM agent to Vertex AI Agent Engine (see deploy/README.md).",
    )
    p.add_argument("--project", help="default: $GOOGLE_CLOUD_PROJECT")
    p.add_argument("--region", help=f"default: $GOOGLE_CLOUD_LOCATION or {DEFAULT_REGION}")
    p.add_argument("--staging-bucket", required=True, help="gs://bucket for the SDK's uploads")
    p.add_argument("--display-name", default="rlm")
    p.add_argument("--description")
    p.add_argument("--agent-engine-id", help="update this engine instead of creating one")
    p.add_argument("--service-account", help="runtime identity (default: the service agent)")
    p.add_argument("--agent-identity", action="store_true", help="per-engine agent identity")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--env-file", type=Path, help="dotenv file of plain settings")
    p.add_argument("--secret-env", action="append", default=[], metavar="NAME=SECRET[:VERSION]")
    p.add_argument("--min-instances", type=int)
    p.add_argument("--max-instances", type=int)
    p.add_argument("--cpu", help='e.g. "4"')
    p.add_argument("--memory", help='e.g. "8Gi"')
    p.add_argument("--container-concurrency", type=int)
    p.add_argument("--no-telemetry", action="store_true", help="no traces to Cloud Trace")
    p.add_argument("--dry-run", action="store_true", help="print the plan; create nothing")
    p.add_argument("--format", choices=["text", "json"], default="text")
    return p


def main(argv: list[str] | None = None) -> int:
    """Prints the plan (`--dry-run`) or deploys; exit 2 on a bad setting."""
    args = parser().parse_args(argv)
    try:
        options = options_from_args(args)
        app = None
        pickle_note = None
        try:
            app = make_app(options)
        except ImportError as exc:
            pickle_note = f"skipped: {exc.name} is not installed (pip install 'rlm-adk[deploy]')"
        plan = build_plan(options, app if args.dry_run else None)
        if pickle_note:
            plan["pickle_check"] = pickle_note
        if args.dry_run:
            print(render_plan(plan, args.format))
            return 0
        for warning in plan["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        if app is None:
            raise DeployError(str(pickle_note))
        print(f"deployed: {deploy(options, app=app)}")
        return 0
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
