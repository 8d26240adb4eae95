"""Deploys the RLM agent to Cloud Run: builds `deploy/cloud_run/Dockerfile` with Cloud Build,
then `gcloud run deploy`s the image with the settings as environment variables.

    python -m deploy.cloud_run.deploy --project my-proj --region europe-west1 \\
        --service-account rlm-agent@my-proj.iam.gserviceaccount.com \\
        --session-db-secret rlm-session-db-url --cloudsql-instance my-proj:europe-west1:rlm \\
        --env RLM_CONTEXT=gs://acme-reports/2026/ --dry-run

`--dry-run` prints the service, image, settings and the exact commands, and runs nothing.
Without it the two `gcloud` commands run (gcloud must be installed and authenticated).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.common import (
    REPO_ROOT,
    DeployEnv,
    DeployError,
    build_env,
    parse_assignments,
    parse_secret_refs,
    read_env_file,
    render_plan,
)
from deploy.stage import CLOUD_RUN_RESERVED

DOCKERFILE = "deploy/cloud_run/Dockerfile"
CLOUDBUILD = "deploy/cloud_run/cloudbuild.yaml"


@dataclass
class CloudRunOptions:
    """One Cloud Run service running the RLM agent."""

    project: str
    region: str
    service: str = "rlm"
    repository: str = "rlm-adk"
    tag: str = "latest"
    image: str | None = None
    env: DeployEnv = field(default_factory=DeployEnv)
    service_account: str | None = None
    session_service_uri: str | None = None
    session_db_secret: str | None = None
    cloudsql_instance: str | None = None
    artifact_bucket: str | None = None
    otel_to_cloud: bool = True
    cpu: str = "4"
    memory: str = "8Gi"
    concurrency: int = 8
    min_instances: int = 0
    max_instances: int = 10
    timeout_seconds: int = 3600
    allow_unauthenticated: bool = False

    def validate(self) -> None:
        if not self.project:
            raise DeployError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
        if not self.region:
            raise DeployError("no region: pass --region or set GOOGLE_CLOUD_LOCATION")
        if self.session_service_uri and self.session_db_secret:
            raise DeployError("--session-service-uri and --session-db-secret exclude each other")
        uri = self.session_service_uri or ""
        if "@" in uri.split("://", 1)[-1].split("/", 1)[0]:
            raise DeployError(
                "--session-service-uri carries credentials: store the URL in Secret Manager "
                "and pass --session-db-secret <secret id>"
            )
        if self.artifact_bucket and not self.artifact_bucket.startswith("gs://"):
            raise DeployError(f"--artifact-bucket {self.artifact_bucket!r} must be gs://<bucket>")

    @property
    def image_name(self) -> str:
        return self.image or (
            f"{self.region}-docker.pkg.dev/{self.project}/{self.repository}/rlm-adk:{self.tag}"
        )

    @property
    def env_vars(self) -> dict[str, str]:
        """Plain environment of the service: Gemini on Vertex AI in this project by default."""
        values = {
            "GOOGLE_GENAI_USE_ENTERPRISE": "true",
            "GOOGLE_CLOUD_PROJECT": self.project,
            "GOOGLE_CLOUD_LOCATION": self.region,
        }
        values.update(self.env.plain)
        values["OTEL_TO_CLOUD"] = "true" if self.otel_to_cloud else "false"
        if self.session_service_uri:
            values["SESSION_SERVICE_URI"] = self.session_service_uri
        if self.artifact_bucket:
            values["ARTIFACT_SERVICE_URI"] = self.artifact_bucket
        return values

    @property
    def secrets(self) -> dict[str, str]:
        refs = {name: str(ref) for name, ref in self.env.secrets.items()}
        if self.session_db_secret:
            refs["SESSION_SERVICE_URI"] = f"{self.session_db_secret}:latest"
        return refs


def _joined(values: dict[str, str]) -> str:
    """`K=V` pairs for a gcloud list flag, with gcloud's alternate delimiter syntax (`^@^`) so
    values may contain commas (RLM_CONTEXT lists); the delimiter is one no value contains."""
    pairs = [f"{k}={v}" for k, v in sorted(values.items())]
    delimiter = next(d for d in "@|;~#%" if not any(d in pair for pair in pairs))
    return f"^{delimiter}^" + delimiter.join(pairs)


def _service_flags(options: CloudRunOptions) -> list[str]:
    """`gcloud run deploy` flags other than the image and the environment."""
    flags = [
        f"--cpu={options.cpu}",
        f"--memory={options.memory}",
        f"--concurrency={options.concurrency}",
        f"--min-instances={options.min_instances}",
        f"--max-instances={options.max_instances}",
        f"--timeout={options.timeout_seconds}",
        # A session's REPL lives in one instance's memory: keep its turns on that instance.
        "--session-affinity",
    ]
    if options.service_account:
        flags.append(f"--service-account={options.service_account}")
    if options.cloudsql_instance:
        flags.append(f"--add-cloudsql-instances={options.cloudsql_instance}")
    flags.append(
        "--allow-unauthenticated" if options.allow_unauthenticated else "--no-allow-unauthenticated"
    )
    return flags


def commands(options: CloudRunOptions) -> list[list[str]]:
    """The build and deploy commands, as argv lists (run from the repository root)."""
    where = [f"--project={options.project}", f"--region={options.region}"]
    build = [
        *("gcloud", "builds", "submit", *where),
        f"--config={CLOUDBUILD}",
        f"--substitutions=_IMAGE={options.image_name}",
        ".",
    ]
    deploy = [
        *("gcloud", "run", "deploy", options.service, *where),
        f"--image={options.image_name}",
        *_service_flags(options),
        f"--set-env-vars={_joined(options.env_vars)}",
    ]
    if options.secrets:
        deploy.append(f"--set-secrets={_joined(options.secrets)}")
    return [build, deploy]


def _sessions(options: CloudRunOptions) -> str:
    if options.session_db_secret:
        return (
            "DatabaseSessionService (SESSION_SERVICE_URI from Secret Manager secret "
            f"{options.session_db_secret!r}, e.g. postgresql+asyncpg://USER:PASSWORD@/DB"
            "?host=/cloudsql/PROJECT:REGION:INSTANCE)"
        )
    uri = options.session_service_uri or "memory://"
    if uri.startswith("sqlite"):
        return f"SqliteSessionService ({uri}): one instance only, lost when it is replaced"
    if uri.startswith("agentengine://"):
        return f"VertexAiSessionService (Agent Engine sessions, {uri})"
    return f"{uri}: in memory, lost when an instance stops (set a session database)"


def build_plan(options: CloudRunOptions) -> dict[str, Any]:
    """What would be built and deployed, with which settings; runs nothing."""
    from rlm_adk.config import RLMConfig
    from rlm_adk.models.resolve import default_model_name

    warnings = list(options.env.warnings)
    uri = options.session_service_uri or ""
    if uri.startswith("sqlite") and options.max_instances != 1:
        warnings.append("sqlite sessions are per instance: use --max-instances 1 or a database")
    if not (options.session_service_uri or options.session_db_secret):
        warnings.append("sessions are in memory: pass --session-db-secret for a database")
    cmds = commands(options)
    plain = dict(options.env.plain)
    config = RLMConfig.from_env(plain)
    return {
        "target": "Cloud Run (adk api_server in deploy/cloud_run/Dockerfile)",
        "service": f"projects/{options.project}/locations/{options.region}/services/{options.service}",
        "image": options.image_name,
        "runtime_identity": options.service_account or "the Compute Engine default service account",
        "public": options.allow_unauthenticated,
        "resources": {
            "cpu": options.cpu,
            "memory": options.memory,
            "concurrency": options.concurrency,
            "min_instances": options.min_instances,
            "max_instances": options.max_instances,
            "timeout_seconds": options.timeout_seconds,
        },
        "env": dict(sorted(options.env_vars.items())),
        "secret_env": dict(sorted(options.secrets.items())),
        "sessions": _sessions(options),
        "traces": "Cloud Trace via ADK --otel_to_cloud (telemetry.googleapis.com)"
        if options.otel_to_cloud
        else "off",
        "sandbox": f"{config.sandbox}; Monty's worker binary /usr/local/bin/monty "
        "(pydantic-monty-runtime) is checked at image build and at container start",
        "models": {role: default_model_name(role, plain) for role in ("root", "sub")},
        "rlm_config": config.model_dump(mode="json"),
        "warnings": warnings,
        "commands": [shlex.join(cmd) for cmd in cmds],
        "equivalent_adk_cli": adk_cli_recipe(options),
    }


# Variables of serve.py; ADK's generated Dockerfile takes them as `adk api_server` flags.
_SERVE_ONLY = frozenset({"OTEL_TO_CLOUD", "SESSION_SERVICE_URI", "ARTIFACT_SERVICE_URI"})


def adk_cli_recipe(options: CloudRunOptions) -> list[str]:
    """The same service through `adk deploy cloud_run` (ADK's generated Dockerfile).

    ADK writes the session URI into the image's command line, so this recipe is only offered
    with a URI that holds no credentials (sqlite, agentengine://, memory://).
    """
    stage = ["python", "-m", "deploy.stage", "--target", "cloud_run", "--out", "build/deploy"]
    for name, value in sorted(options.env_vars.items()):
        if name not in _SERVE_ONLY:
            stage += ["--env", f"{name}={value}"]
    cmd = [
        *("adk", "deploy", "cloud_run", f"--project={options.project}"),
        f"--region={options.region}",
        f"--service_name={options.service}",
        "--extra_packages=rlm_adk",
    ]
    if options.otel_to_cloud:
        cmd.append("--otel_to_cloud")
    if options.session_db_secret:
        return [
            shlex.join(stage),
            "(not offered: `adk deploy cloud_run` bakes --session_service_uri into the image; "
            "a database URL with a password belongs in Secret Manager: use the commands above)",
        ]
    cmd.append(f"--session_service_uri={options.session_service_uri or 'memory://'}")
    if options.artifact_bucket:
        cmd.append(f"--artifact_service_uri={options.artifact_bucket}")
    gcloud = _service_flags(options)
    if options.env.secrets:
        gcloud.append(f"--set-secrets={_joined(options.secrets)}")
    return [shlex.join(stage), shlex.join([*cmd, "build/deploy/rlm", "--", *gcloud])]


def deploy(options: CloudRunOptions) -> None:
    """Runs the build and deploy commands from the repository root."""
    options.validate()
    if shutil.which("gcloud") is None:
        raise DeployError("gcloud is not installed; run the commands of --dry-run elsewhere")
    for cmd in commands(options):
        subprocess.run(cmd, cwd=REPO_ROOT, check=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m deploy.cloud_run.deploy",
        description="Deploy the RLM agent to Cloud Run (see deploy/README.md).",
    )
    p.add_argument("--project", help="default: $GOOGLE_CLOUD_PROJECT")
    p.add_argument("--region", help="default: $GOOGLE_CLOUD_LOCATION")
    p.add_argument("--service", default="rlm")
    p.add_argument("--repository", default="rlm-adk", help="Artifact Registry repository")
    p.add_argument("--tag", default="latest")
    p.add_argument("--image", help="an image built elsewhere (skips nothing: build still runs)")
    p.add_argument("--service-account")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--env-file", type=Path)
    p.add_argument("--secret-env", action="append", default=[], metavar="NAME=SECRET[:VERSION]")
    p.add_argument("--session-service-uri", help="sqlite:///..., agentengine://ID, memory://")
    p.add_argument("--session-db-secret", help="Secret Manager secret holding the database URL")
    p.add_argument("--cloudsql-instance", help="PROJECT:REGION:INSTANCE")
    p.add_argument("--artifact-bucket", help="gs://bucket for ADK artifacts")
    p.add_argument("--no-otel", action="store_true", help="no export to Cloud Trace")
    p.add_argument("--cpu", default="4")
    p.add_argument("--memory", default="8Gi")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--min-instances", type=int, default=0)
    p.add_argument("--max-instances", type=int, default=10)
    p.add_argument("--timeout", type=int, default=3600, help="request timeout in seconds")
    p.add_argument("--allow-unauthenticated", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print the plan; run nothing")
    p.add_argument("--format", choices=["text", "json"], default="text")
    return p


def options_from_args(args: argparse.Namespace) -> CloudRunOptions:
    plain = read_env_file(args.env_file) if args.env_file else {}
    plain.update(parse_assignments(args.env))
    env = build_env(plain, parse_secret_refs(args.secret_env), reserved=CLOUD_RUN_RESERVED)
    options = CloudRunOptions(
        project=args.project or os.environ.get("GOOGLE_CLOUD_PROJECT", ""),
        region=args.region or os.environ.get("GOOGLE_CLOUD_LOCATION", ""),
        service=args.service,
        repository=args.repository,
        tag=args.tag,
        image=args.image,
        env=env,
        service_account=args.service_account,
        session_service_uri=args.session_service_uri,
        session_db_secret=args.session_db_secret,
        cloudsql_instance=args.cloudsql_instance,
        artifact_bucket=args.artifact_bucket,
        otel_to_cloud=not args.no_otel,
        cpu=args.cpu,
        memory=args.memory,
        concurrency=args.concurrency,
        min_instances=args.min_instances,
        max_instances=args.max_instances,
        timeout_seconds=args.timeout,
        allow_unauthenticated=args.allow_unauthenticated,
    )
    options.validate()
    return options


def main(argv: list[str] | None = None) -> int:
    """Prints the plan (`--dry-run`) or runs the commands; exit 2 on a bad setting."""
    args = parser().parse_args(argv)
    try:
        options = options_from_args(args)
        plan = build_plan(options)
        if args.dry_run:
            print(render_plan(plan, args.format))
            return 0
        for warning in plan["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        deploy(options)
        return 0
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
