"""Cloud Run entry point: checks the sandbox, then becomes `adk api_server` over the agents folder.

Configured from the container's environment at start, so the session database URL can come from
Secret Manager (`gcloud run deploy --set-secrets SESSION_SERVICE_URI=...`) and never sits in the
image or its command line as written in the Dockerfile:

| variable | meaning | default |
|---|---|---|
| `PORT` | port to listen on (Cloud Run sets it) | `8080` |
| `HOST` | address to bind | `0.0.0.0` |
| `AGENTS_DIR` | ADK agents folder (`rlm/` inside) | `/app/agents` |
| `SESSION_SERVICE_URI` | `postgresql+asyncpg://...`, `sqlite:///...`, `agentengine://<id>`, `memory://` | `memory://` |
| `ARTIFACT_SERVICE_URI` | `gs://<bucket>` for artifacts | `memory://` |
| `OTEL_TO_CLOUD` | `true`: ADK's `--otel_to_cloud` (Cloud Trace, Cloud Logging) | `false` |
| `ALLOW_ORIGINS` | comma-separated CORS origins | none |
| `LOG_LEVEL` | `debug`, `info`, `warning`, `error` | `info` |
| `SANDBOX_CHECK` | `false` skips the start-up Monty check | `true` |

`RLM_*` and `GOOGLE_*` variables are read by the agent module itself when ADK loads it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

_TRUE = {"1", "true", "yes", "on"}
_LEVELS = {"debug", "info", "warning", "error", "critical"}

_log = logging.getLogger("rlm_adk.deploy.cloud_run")


class ServeConfigError(ValueError):
    """An entry-point variable is malformed; the message names it."""


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    return default if not raw else raw in _TRUE


def server_argv(environ: Mapping[str, str] | None = None) -> list[str]:
    """The `adk api_server` command line for `environ` (default: this process's environment)."""
    env = os.environ if environ is None else environ
    port = env.get("PORT", "8080").strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ServeConfigError(f"PORT={port!r} is not a port number")
    level = env.get("LOG_LEVEL", "info").strip().lower()
    if level not in _LEVELS:
        raise ServeConfigError(f"LOG_LEVEL={level!r}: choose one of {sorted(_LEVELS)}")
    agents_dir = env.get("AGENTS_DIR", "/app/agents")
    # memory:// is ADK's default on a read-only agents dir anyway; saying it keeps it explicit.
    session_uri = env.get("SESSION_SERVICE_URI", "").strip() or "memory://"
    argv = [
        sys.executable,
        "-m",
        "google.adk.cli",
        "api_server",
        f"--host={env.get('HOST', '0.0.0.0').strip()}",
        f"--port={port}",
        f"--log_level={level}",
        f"--session_service_uri={session_uri}",
    ]
    # Explicit, so ADK never tries to write artifacts into the image's agents folder.
    artifact_uri = env.get("ARTIFACT_SERVICE_URI", "").strip() or "memory://"
    argv.append(f"--artifact_service_uri={artifact_uri}")
    if _flag(env, "OTEL_TO_CLOUD", False):
        argv.append("--otel_to_cloud")
    origins = [o.strip() for o in env.get("ALLOW_ORIGINS", "").split(",") if o.strip()]
    argv.extend(f"--allow_origins={origin}" for origin in origins)
    argv.append(agents_dir)
    return argv


def main() -> int:
    """Runs the sandbox check, then replaces this process with the API server."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        argv = server_argv()
    except ServeConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if _flag(os.environ, "SANDBOX_CHECK", True) and os.environ.get("RLM_SANDBOX", "monty") in (
        "",
        "monty",
    ):
        from deploy.sandbox_check import SandboxUnavailable, check_monty

        try:
            report = check_monty()
        except SandboxUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        _log.info("monty sandbox ready: %s (%s)", report.binary, report.output)
    # exec: the server becomes PID 1's process and receives Cloud Run's SIGTERM directly.
    os.execv(argv[0], argv)
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    raise SystemExit(main())
