"""Stages what a deployment uploads: a clean copy of the `rlm_adk` package, and an agent folder
for ADK's own `adk deploy agent_engine` / `adk deploy cloud_run` recipes.

The staged agent folder is `agents/rlm` (never its `.env`) plus what ADK's deployers read from an
agent folder: `requirements.txt` computed from pyproject.toml, a `.env` holding only the validated,
non-secret settings of the deployment, and for Agent Engine an `.agent_engine_config.json` with
the instance's sizing.

    python -m deploy.stage --target cloud_run --out build/deploy --env RLM_MAX_DEPTH=2
    adk deploy cloud_run ... --extra_packages rlm_adk build/deploy/rlm
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from deploy.common import (
    AGENT_DIR,
    PACKAGE_DIR,
    RESERVED_ENV,
    DeployEnv,
    DeployError,
    build_env,
    cloud_run_requirements,
    parse_assignments,
    read_env_file,
    read_project,
)

Target = Literal["agent_engine", "cloud_run"]
CLOUD_RUN_RESERVED = frozenset({"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"})

# What ADK's Agent Engine deployer insists on finding in requirements.txt (it runs
# `adk api_server`, which needs the v2 SDK's `agentplatform` package).
ADK_AGENT_ENGINE_SDK = "google-cloud-aiplatform[adk,agent_engines]>=2.2,<3"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".env", ".adk", ".DS_Store")


def stage_package(dest: Path, package_dir: Path = PACKAGE_DIR) -> Path:
    """Copies the `rlm_adk` package (sources and package data, no caches) to `dest/rlm_adk`."""
    target = dest / package_dir.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(package_dir, target, ignore=_IGNORE)
    return target


def _env_lines(plain: Mapping[str, str]) -> str:
    # dotenv with every value quoted: ADK reads it with python-dotenv.
    lines = []
    for name, value in sorted(plain.items()):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{name}="{escaped}"')
    return "\n".join(lines) + ("\n" if lines else "")


def stage_agent_folder(
    dest: Path,
    target: Target,
    env: DeployEnv,
    *,
    agent_dir: Path = AGENT_DIR,
    engine_config: Mapping[str, Any] | None = None,
) -> Path:
    """Writes `dest/<agent folder name>/` for `adk deploy <target>`; returns its path.

    Secrets cannot be staged: ADK's deployers read `.env` as plain text. Pass them with the
    deployer's own flags (`gcloud run deploy --set-secrets`) or deploy with the SDK.
    """
    if env.secrets:
        raise DeployError(
            "secret env cannot go into a staged agent folder (.env is plain text): use "
            "`gcloud run deploy --set-secrets` for Cloud Run, or `python -m deploy.agent_engine "
            "--secret-env` for Agent Engine"
        )
    folder = dest / agent_dir.name
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(agent_dir, folder, ignore=_IGNORE)
    # Nothing is pickled on ADK's paths (the image imports the agent module), so the
    # project's ranges stay ranges; Agent Engine's image also needs the v2 SDK.
    requirements = cloud_run_requirements()
    if target == "agent_engine":
        requirements = [*read_project().dependencies, ADK_AGENT_ENGINE_SDK]
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    if env.plain:
        (folder / ".env").write_text(_env_lines(env.plain), encoding="utf-8")
    if target == "agent_engine" and engine_config:
        (folder / ".agent_engine_config.json").write_text(
            json.dumps(dict(engine_config), indent=2) + "\n", encoding="utf-8"
        )
    return folder


def main(argv: list[str] | None = None) -> int:
    """`python -m deploy.stage`: prints the staged agent folder's path."""
    parser = argparse.ArgumentParser(prog="python -m deploy.stage", description=__doc__)
    parser.add_argument("--target", choices=["agent_engine", "cloud_run"], required=True)
    parser.add_argument("--out", type=Path, default=Path("build/deploy"))
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--env-file", type=Path)
    parser.add_argument("--min-instances", type=int)
    parser.add_argument("--max-instances", type=int)
    parser.add_argument("--cpu")
    parser.add_argument("--memory")
    parser.add_argument("--container-concurrency", type=int)
    args = parser.parse_args(argv)
    try:
        plain = read_env_file(args.env_file) if args.env_file else {}
        plain.update(parse_assignments(args.env))
        # Cloud Run lets the service set GOOGLE_CLOUD_PROJECT/LOCATION; Agent Engine does not.
        reserved = RESERVED_ENV if args.target == "agent_engine" else CLOUD_RUN_RESERVED
        env = build_env(plain, {}, reserved=reserved)
        limits = {k: v for k, v in (("cpu", args.cpu), ("memory", args.memory)) if v}
        engine_config = {
            k: v
            for k, v in (
                ("min_instances", args.min_instances),
                ("max_instances", args.max_instances),
                ("resource_limits", limits or None),
                ("container_concurrency", args.container_concurrency),
            )
            if v is not None
        }
        args.out.mkdir(parents=True, exist_ok=True)
        folder = stage_agent_folder(args.out, args.target, env, engine_config=engine_config)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in env.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
