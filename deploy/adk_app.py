"""`RLMAdkApp`: Vertex AI's `AdkApp` whose ADK app is built in the process that serves it.

The Vertex AI SDK deploys an `AdkApp` by cloudpickling it; Agent Engine unpickles it in the
container and calls `set_up()` before serving. An `RLMAgent` built on the deployer's machine
carries that machine's `RLMConfig` (limits, models, corpus roots) inside the pickle. This class
keeps a factory instead and calls it again in `set_up()`, so every `RLM_*` / `GOOGLE_*` setting
is read from the container's environment (the deployment's `env_vars`) at start-up.

It also never pickles the deployer's `GOOGLE_API_KEY` (plain `AdkApp` stores it for Express
Mode), and checks at start-up that the Monty sandbox's worker binary is there.

This module travels inside the pickle by value (`deploy.agent_engine` registers it with
cloudpickle), so the container needs only vertexai, google-adk and rlm_adk, not `deploy/`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from google.adk.apps.app import App
from vertexai.agent_engines import AdkApp

from deploy.sandbox_check import check_monty

AppFactory = Callable[[], App]

_log = logging.getLogger("rlm_adk.deploy")

_BUILDER_KEYS = (
    "session_service_builder",
    "artifact_service_builder",
    "memory_service_builder",
    "instrumentor_builder",
)


def build_rlm_app() -> App:
    """The RLM app, configured from this process's environment (as `agents/rlm/agent.py`).

    `RLMConfig.from_env()` reads every `RLM_*` variable now; the root model is `RLM_MODEL` (else
    the default), sub-calls use `RLM_SUB_MODEL`; Gemini on Vertex AI uses the runtime's identity.
    `RLMPlugin` records each request's usage, as in the `adk web` app.
    """
    from rlm_adk import RLMAgent, RLMConfig, RLMPlugin

    config = RLMConfig.from_env()
    agent = RLMAgent(
        name="rlm",
        description="Answers questions over a large corpus by writing code over it and recursing.",
        config=config,
    )
    return App(name="rlm", root_agent=agent, plugins=[RLMPlugin()])


class RLMAdkApp(AdkApp):
    """An `AdkApp` that rebuilds its ADK `App` from the environment in `set_up()`.

    `app_factory` is called once here (the SDK inspects the app before deploying it) and again
    in every process that serves it. `check_sandbox` runs one cell in a Monty worker at
    `set_up()` when the root agent uses the Monty sandbox.
    """

    def __init__(
        self,
        *,
        app_factory: AppFactory = build_rlm_app,
        check_sandbox: bool = True,
        enable_tracing: bool | None = None,
        **builders: Any,
    ) -> None:
        unknown = set(builders) - set(_BUILDER_KEYS)
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        super().__init__(app=app_factory(), enable_tracing=enable_tracing, **builders)
        self._tmpl_attrs["app_factory"] = app_factory
        self._tmpl_attrs["check_sandbox"] = check_sandbox
        # AdkApp copies GOOGLE_API_KEY into the pickle for Express Mode; a key belongs in Secret
        # Manager (secret env), and Agent Engine reaches Gemini with its own identity.
        self._tmpl_attrs["express_mode_api_key"] = None

    def set_up(self) -> None:
        """Builds the app from this process's environment, checks the sandbox, then sets up
        ADK's runner and services as `AdkApp` does (Agent Engine sessions when deployed)."""
        app = self._tmpl_attrs["app_factory"]()
        self._tmpl_attrs["app"] = app
        if self._tmpl_attrs.get("check_sandbox", True) and _uses_monty(app):
            report = check_monty()
            _log.info("monty sandbox ready: %s (%s)", report.binary, report.output)
        super().set_up()

    def clone(self) -> RLMAdkApp:
        """A fresh copy with the same factory and builders (the SDK pickles a clone)."""
        attrs = self._tmpl_attrs
        return type(self)(
            app_factory=attrs["app_factory"],
            check_sandbox=attrs.get("check_sandbox", True),
            enable_tracing=attrs.get("enable_tracing"),
            **{key: attrs.get(key) for key in _BUILDER_KEYS},
        )

    @property
    def app(self) -> App:
        """The ADK app this instance serves (rebuilt by each `set_up()`)."""
        return self._tmpl_attrs["app"]


def _uses_monty(app: App) -> bool:
    config = getattr(app.root_agent, "config", None)
    return getattr(config, "sandbox", None) == "monty"
