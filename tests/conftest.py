"""Shared fixtures: an in-memory span exporter on a real tracer provider, and runner helpers."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_EXPORTER = InMemorySpanExporter()


def _install_provider() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)


_install_provider()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Finished spans of this test (the global provider exports into memory)."""
    _EXPORTER.clear()
    return _EXPORTER
