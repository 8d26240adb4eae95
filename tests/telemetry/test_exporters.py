"""`setup_tracing`: each exporter in a fresh process (a process has one global provider)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rlm_adk.telemetry import TracingSetupError, parse_trace_spec, setup_tracing

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import json, sys
from opentelemetry import trace
from rlm_adk.telemetry import setup_tracing, tracer, span

def emit():
    with span("rlm.outer", **{"rlm.depth": 0}):
        with span("rlm.inner", **{"rlm.depth": 1}):
            pass
"""


def run_script(body: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = PRELUDE + textwrap.dedent(body)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(PYTHONPATH=str(ROOT), **env)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_installs_a_provider_and_writes_one_span_per_line(tmp_path):
    out = tmp_path / "traces" / "spans.jsonl"
    done = run_script(
        f"""
        setup = setup_tracing("jsonl:{out}")
        print(json.dumps([setup.installed_provider, str(setup)]))
        emit()
        setup.flush()
        """,
        OTEL_SERVICE_NAME="svc-from-env",
    )
    assert json.loads(done.stdout) == [True, f"jsonl:{out}"]
    inner, outer = read_jsonl(out)
    assert (inner["name"], outer["name"]) == ("rlm.inner", "rlm.outer")
    assert inner["parent_span_id"] == outer["span_id"] and outer["parent_span_id"] is None
    assert inner["trace_id"] == outer["trace_id"]
    assert inner["scope"] == "rlm_adk" and inner["attributes"] == {"rlm.depth": 1}
    assert inner["resource"]["service.name"] == "svc-from-env"


def test_none_sets_nothing():
    done = run_script(
        """
        setup = setup_tracing("none")
        provider = trace.get_tracer_provider()
        emit()
        print(json.dumps([setup.installed_provider, setup.processors == [],
                          isinstance(provider, trace.ProxyTracerProvider)]))
        """
    )
    assert json.loads(done.stdout) == [False, True, True]


def test_an_existing_provider_is_kept_and_gets_the_exporter(tmp_path):
    out = tmp_path / "spans.jsonl"
    done = run_script(
        f"""
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        memory = InMemorySpanExporter()
        mine = TracerProvider()
        mine.add_span_processor(SimpleSpanProcessor(memory))
        trace.set_tracer_provider(mine)
        setup = setup_tracing("jsonl", "{out}")
        emit()
        setup.flush()
        print(json.dumps([setup.installed_provider, trace.get_tracer_provider() is mine,
                          len(memory.get_finished_spans())]))
        """
    )
    assert json.loads(done.stdout) == [False, True, 2]
    assert [s["name"] for s in read_jsonl(out)] == ["rlm.inner", "rlm.outer"]


def test_console_prints_spans():
    done = run_script(
        """
        setup = setup_tracing("console")
        emit()
        setup.flush()
        """
    )
    assert '"name": "rlm.inner"' in done.stdout and '"name": "rlm.outer"' in done.stdout


def test_gcp_uses_adks_cloud_path_and_fails_clearly_without_credentials(tmp_path):
    done = run_script(
        """
        from google.auth.credentials import AnonymousCredentials
        from rlm_adk.telemetry import TracingSetupError
        try:
            setup_tracing("gcp")
            print(json.dumps("no error"))
        except TracingSetupError as exc:
            print(json.dumps(str(exc)))
        setup = setup_tracing("gcp", google_auth=(AnonymousCredentials(), "demo-project"))
        resource = trace.get_tracer_provider().resource.attributes
        exporter = setup.processors[0].span_exporter
        print(json.dumps([str(setup), exporter._endpoint, resource.get("gcp.project_id")]))
        """,
        GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "missing.json"),
        NO_GCE_CHECK="True",
    )
    error, setup = (json.loads(line) for line in done.stdout.splitlines())
    assert "credentials" in error.lower()
    assert setup == [
        "gcp:Cloud Trace (demo-project)",
        "https://telemetry.googleapis.com/v1/traces",
        "demo-project",
    ]


def test_spec_parsing_and_errors():
    assert parse_trace_spec("jsonl:/tmp/x.jsonl") == ("jsonl", "/tmp/x.jsonl")
    assert parse_trace_spec("otlp:http://127.0.0.1:4318/v1/traces") == (
        "otlp",
        "http://127.0.0.1:4318/v1/traces",
    )
    assert parse_trace_spec("console") == ("console", None)
    with pytest.raises(TracingSetupError, match="unknown trace exporter"):
        setup_tracing("zipkin")
    with pytest.raises(TracingSetupError, match="needs a file"):
        setup_tracing("jsonl")
    assert issubclass(TracingSetupError, ValueError)  # the CLI reports it as bad input
