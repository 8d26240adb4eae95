"""What both deployment targets share: the project's requirements, the deployment environment
(plain settings and Secret Manager references) and the plan printed by `--dry-run`.

Settings reach the deployed agent only as environment variables of the deployment, read by
`RLMConfig.from_env()` in the container; nothing secret is ever written into code, a pickle, an
image or a plan.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = REPO_ROOT / "pyproject.toml"
PACKAGE_DIR = REPO_ROOT / "rlm_adk"
AGENT_DIR = REPO_ROOT / "agents" / "rlm"

MONTY_REQUIREMENT = "pydantic-monty==1.4.0"
"""Brings `pydantic-monty-runtime`, whose wheel installs the `monty` worker binary into the
environment's scripts directory (`sysconfig.get_path("scripts")`, e.g. `/usr/local/bin/monty`,
or `~/.local/bin/monty` for a `pip install --user`)."""

AGENT_ENGINE_SDK = "google-cloud-aiplatform[agent_engines,adk]"
# Classes of these distributions travel inside the Agent Engine pickle (pydantic models pickle
# their field layout): the container must run the exact versions that pickled the app.
PICKLE_PINNED = ("google-adk", "google-genai", "pydantic", "cloudpickle", "google-cloud-aiplatform")
DATABASE_DRIVERS = ("sqlalchemy[asyncio]>=2,<3", "asyncpg>=0.29")
"""`DatabaseSessionService` (a `postgresql+asyncpg://` session URI on Cloud Run)."""

# Names the platforms set themselves (Agent Engine refuses them; Cloud Run sets PORT and K_*).
RESERVED_ENV = frozenset(
    {
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_QUOTA_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_CLOUD_AGENT_ENGINE_ID",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "PORT",
        "K_SERVICE",
        "K_REVISION",
        "K_CONFIGURATION",
    }
)
# `RLM_*` variables read outside `RLMConfig` (tuning and the local-model extra).
EXTRA_RLM_ENV = frozenset(
    {
        "RLM_ADK_TUNE_MALLOC",
        "RLM_LOCAL_N_CTX",
        "RLM_LOCAL_THREADS",
        "RLM_LOCAL_EXTRA_BUFTS",
        "RLM_MODEL_CACHE",
    }
)
_SECRET_SEGMENTS = frozenset(
    {"KEY", "APIKEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS"}
)
_URL_PASSWORD = re.compile(r"://[^/@\s:]+:[^/@\s]+@")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


class DeployError(ValueError):
    """A deployment setting is wrong; the message names it and says why."""


# -- the project ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """`[project]` of pyproject.toml."""

    name: str
    version: str
    dependencies: tuple[str, ...]


def read_project(pyproject: Path = PYPROJECT) -> Project:
    """Name, version and runtime dependencies from `pyproject`."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return Project(data["name"], data["version"], tuple(data.get("dependencies", ())))


def installed_version(distribution: str) -> str | None:
    """The version of `distribution` in this environment, if installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _pinned(requirement: Requirement, version: str) -> str:
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}=={version}"


def agent_engine_requirements(project: Project | None = None) -> list[str]:
    """Requirements of the Agent Engine container: the project's dependencies, with the
    distributions whose objects are pickled pinned to the versions installed here, plus the
    Vertex AI SDK (`AdkApp` is unpickled there) and cloudpickle."""
    project = project or read_project()
    lines: list[str] = []
    seen: set[str] = set()
    for line in project.dependencies:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        version = installed_version(name) if name in PICKLE_PINNED else None
        lines.append(_pinned(requirement, version) if version else line)
        seen.add(name)
    for spec in (AGENT_ENGINE_SDK, "cloudpickle"):
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        version = installed_version(name)
        lines.append(_pinned(requirement, version) if version else spec)
        seen.add(name)
    _require_monty(lines)
    return lines


def cloud_run_requirements(project: Project | None = None) -> list[str]:
    """Requirements of the Cloud Run image: the project's dependencies plus the database
    drivers of `DatabaseSessionService` (nothing is pickled there, so ranges stay ranges)."""
    project = project or read_project()
    lines = [*project.dependencies, *DATABASE_DRIVERS]
    _require_monty(lines)
    return lines


def _require_monty(lines: Iterable[str]) -> None:
    # The sandbox's worker binary comes only with this exact pin (1.5.0 does not install).
    if MONTY_REQUIREMENT not in {line.replace(" ", "") for line in lines}:
        raise DeployError(
            f"the project's dependencies must include {MONTY_REQUIREMENT!r}: it brings the "
            "`monty` worker binary the default sandbox runs"
        )


# -- the deployment environment ----------------------------------------------------------------


@dataclass(frozen=True)
class SecretRef:
    """A Secret Manager secret that provides one environment variable's value."""

    secret: str
    version: str = "latest"

    def to_dict(self) -> dict[str, str]:
        return {"secret": self.secret, "version": self.version}

    def __str__(self) -> str:
        return f"{self.secret}:{self.version}"


@dataclass
class DeployEnv:
    """Environment variables of a deployment: plain values and Secret Manager references."""

    plain: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, SecretRef] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_plan(self) -> dict[str, Any]:
        return {
            "env": dict(sorted(self.plain.items())),
            "secret_env": {k: v.to_dict() for k, v in sorted(self.secrets.items())},
        }


def is_secret_name(name: str) -> bool:
    """Whether a variable's name says it holds a credential (`GOOGLE_API_KEY`, `DB_PASSWORD`)."""
    return any(part in _SECRET_SEGMENTS for part in name.upper().split("_"))


def parse_assignments(items: Iterable[str], what: str = "--env") -> dict[str, str]:
    """`["A=1", "B=x=y"]` -> `{"A": "1", "B": "x=y"}`."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not _ENV_NAME.match(name):
            raise DeployError(f"{what} {item!r}: expected NAME=VALUE")
        result[name] = value
    return result


def parse_secret_refs(items: Iterable[str]) -> dict[str, SecretRef]:
    """`["GOOGLE_API_KEY=gemini-key:3"]` -> `{"GOOGLE_API_KEY": SecretRef("gemini-key", "3")}`."""
    refs: dict[str, SecretRef] = {}
    for name, spec in parse_assignments(items, "--secret-env").items():
        secret, _, version = spec.partition(":")
        if not _SECRET_ID.match(secret):
            raise DeployError(f"--secret-env {name}: {secret!r} is not a Secret Manager secret id")
        refs[name] = SecretRef(secret, version or "latest")
    return refs


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=VALUE` lines of a dotenv file (the format ADK's `.env` uses)."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise DeployError(f"--env-file {path}: no such file")
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def build_env(
    assignments: Mapping[str, str],
    secrets: Mapping[str, SecretRef],
    *,
    reserved: frozenset[str] = RESERVED_ENV,
) -> DeployEnv:
    """Validates a deployment's environment.

    Refused: reserved names, credentials as plain values (by name, or a URL with a password),
    a name given both ways, and `RLM_*` values `RLMConfig` rejects (checked here, before anything
    is created). Unknown `RLM_*` names and corpus paths the container cannot have are warnings.
    """
    env = DeployEnv(dict(assignments), dict(secrets))
    for name in sorted({*env.plain, *env.secrets}):
        if name in reserved:
            raise DeployError(f"{name} is set by the platform; it cannot be a deployment setting")
        if not _ENV_NAME.match(name):
            raise DeployError(f"{name!r} is not a valid environment variable name")
    for name, value in sorted(env.plain.items()):
        if name in env.secrets:
            raise DeployError(f"{name} is given both as a plain value and as a secret")
        if is_secret_name(name) or _URL_PASSWORD.search(value):
            raise DeployError(
                f"{name} looks like a credential: pass it as --secret-env {name}=<secret id> "
                "(Secret Manager), never as a plain value"
            )
    env.warnings.extend(_rlm_warnings(env.plain))
    return env


def _rlm_warnings(plain: Mapping[str, str]) -> list[str]:
    from rlm_adk.config import ENV_PREFIX, ConfigError, RLMConfig

    known = {ENV_PREFIX + name.upper() for name in RLMConfig.model_fields} | EXTRA_RLM_ENV
    warnings = [
        f"{name} is not a setting rlm-adk reads (known: RLM_<RLMConfig field>)"
        for name in sorted(plain)
        if name.startswith(ENV_PREFIX) and name not in known
    ]
    rlm_env = {k: v for k, v in plain.items() if k.startswith(ENV_PREFIX)}
    try:
        config = RLMConfig.from_env(rlm_env)
    except ConfigError as exc:
        raise DeployError(str(exc)) from exc
    for uri in [*config.context, *config.allowed_roots]:
        if not uri.startswith("gs://"):
            warnings.append(
                f"corpus root {uri!r} is a local path: it must exist inside the container "
                "(an image layer or a mounted volume); use gs://bucket/prefix otherwise"
            )
    for name in (config.model, config.sub_model, *config.sub_models_by_depth.values()):
        if name and name.startswith("local:"):
            warnings.append(f"model {name!r} is a local GGUF file: it must exist in the container")
    return warnings


# -- plans ---------------------------------------------------------------------------------------


def render_plan(plan: Mapping[str, Any], fmt: str = "text") -> str:
    """The plan as JSON, or as indented `key: value` text."""
    if fmt == "json":
        return json.dumps(plan, indent=2, sort_keys=False, default=str)
    lines: list[str] = []
    _render(plan, 0, lines)
    return "\n".join(lines)


def _render(value: Any, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list) and item:
                lines.append(f"{pad}{key}:")
                _render(item, depth + 1, lines)
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping | list) and item:
                lines.append(f"{pad}-")
                _render(item, depth + 1, lines)
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")


def _scalar(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, Mapping | list):
        return "{}" if isinstance(value, Mapping) else "[]"
    return str(value)
