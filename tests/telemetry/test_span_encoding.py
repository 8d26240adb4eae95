"""The per-span fast paths: `span_to_json` writes what `json.dumps(span_to_dict(...))` would, the
JSONL processor writes one such line per sampled span, `messages_json` matches `json.dumps`, and
lazy span attributes are computed only for spans that record."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from rlm_adk import telemetry
from rlm_adk.telemetry import _jsonl_processor, messages_json, span, span_to_dict, span_to_json


def reference_line(s: ReadableSpan) -> str:
    return json.dumps(span_to_dict(s), default=str)


def varied_spans(spans: Any) -> list[ReadableSpan]:
    """Finished spans covering what a line can hold: parents, events, statuses, kinds, arrays,
    floats (finite or not), booleans, non-ASCII and control characters, quotes."""
    spans.clear()
    tracer = trace.get_tracer("encoding-test")
    with span("rlm.outer", **{"rlm.depth": 0, "text": 'quote " backslash \\ tab \t nul \x00'}):
        with tracer.start_as_current_span(
            "client ünïcode ☃",
            kind=SpanKind.CLIENT,
            attributes={
                "ints": (1, 2, 3),
                "strs": ["a", "b"],
                "bools": (True, False),
                "float": 0.1,
                "nan": math.nan,
                "inf": -math.inf,
                "big": 2**62,
                "empty": "",
                "emoji": "🙂 and \u2028",
            },
        ) as inner:
            inner.add_event("an event", {"n": 1, "s": "x"})
            inner.add_event("bare")
            inner.set_status(Status(StatusCode.ERROR, "it broke: “quoted”"))
        with span("rlm.subcall", **{"gen_ai.input.messages": messages_json("user", "hi")}):
            pass
        with tracer.start_as_current_span("server", kind=SpanKind.SERVER) as ok:
            ok.set_status(Status(StatusCode.OK))
    finished = list(spans.get_finished_spans())
    assert len(finished) == 4
    return finished


def test_span_to_json_is_json_dumps_of_span_to_dict(spans):
    finished = varied_spans(spans)
    # A span built by hand: no context, parent, scope or timestamps.
    bare = ReadableSpan("bare", resource=Resource.create({"service.name": "x"}))
    for s in [*finished, bare]:
        assert span_to_json(s) == reference_line(s)
    by_name = {s.name: json.loads(span_to_json(s)) for s in finished}
    client = by_name["client ünïcode ☃"]
    assert client["kind"] == "CLIENT" and client["status"] == "ERROR"
    assert client["events"][0] == {
        "name": "an event",
        "time_unix_nano": client["events"][0]["time_unix_nano"],
        "attributes": {"n": 1, "s": "x"},
    }
    assert client["parent_span_id"] == by_name["rlm.outer"]["span_id"]
    assert math.isnan(client["attributes"]["nan"])


def test_each_resource_is_encoded_once_and_never_mistaken_for_another():
    first, second = (
        Resource.create({"service.name": "one"}),
        Resource.create({"service.name": "two"}),
    )
    for resource in (first, second, first):
        line = json.loads(span_to_json(ReadableSpan("s", resource=resource)))
        assert line["resource"]["service.name"] == resource.attributes["service.name"]
    # The JSON of a resource is made once and reused for every later span.
    assert telemetry._resource_entry(first)[2] is telemetry._resource_entry(first)[2]


def test_messages_json_is_what_json_dumps_writes():
    for text in ["", "plain", 'a "quoted" \\ text\nwith lines\t', "ünïcode ☃ 🙂", "\x00\x1f"]:
        expected = json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}])
        assert messages_json("user", text) == expected
        assert json.loads(messages_json("assistant", text))[0]["parts"][0]["content"] == text


def jsonl_provider(path: Path, flush_seconds: float = 1.0) -> tuple[trace.Tracer, Any]:
    processor = _jsonl_processor(str(path), flush_seconds)
    provider = TracerProvider(resource=Resource.create({"service.name": "jsonl-test"}))
    provider.add_span_processor(processor)
    return provider.get_tracer("rlm_adk"), processor


def test_jsonl_processor_writes_one_reference_line_per_span(tmp_path, spans):
    out = tmp_path / "deep" / "spans.jsonl"
    tracer, processor = jsonl_provider(out)
    with (
        tracer.start_as_current_span("outer"),
        tracer.start_as_current_span("inner", attributes={"k": (1, 2)}) as inner,
    ):
        inner.add_event("e", {"x": "y"})
    assert processor.force_flush()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["inner", "outer"]
    inner_line, outer_line = (json.loads(line) for line in lines)
    assert inner_line["parent_span_id"] == outer_line["span_id"]
    assert inner_line["attributes"] == {"k": [1, 2]} and inner_line["events"][0]["name"] == "e"
    assert inner_line["resource"]["service.name"] == "jsonl-test"
    # Same text as the reference encoding of the same spans.
    finished = varied_spans(spans)
    for s in finished:
        processor.on_end(s)
    processor.force_flush()
    assert out.read_text(encoding="utf-8").splitlines()[2:] == [reference_line(s) for s in finished]
    processor.shutdown()


def test_jsonl_processor_skips_unsampled_spans_and_ignores_spans_after_shutdown(tmp_path):
    out = tmp_path / "spans.jsonl"
    _, processor = jsonl_provider(out)
    unsampled = ReadableSpan(
        "unsampled",
        context=SpanContext(1, 2, is_remote=False, trace_flags=TraceFlags(TraceFlags.DEFAULT)),
    )
    sampled = ReadableSpan(
        "sampled",
        context=SpanContext(1, 3, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)),
    )
    processor.on_end(unsampled)
    processor.on_end(ReadableSpan("no context"))
    processor.on_end(sampled)
    processor.shutdown()
    processor.on_end(sampled)  # after shutdown: dropped, no error
    assert processor.force_flush()
    assert [json.loads(line)["name"] for line in out.read_text().splitlines()] == ["sampled"]


def test_jsonl_processor_writes_out_after_flush_seconds(tmp_path):
    out = tmp_path / "spans.jsonl"
    tracer, processor = jsonl_provider(out, flush_seconds=0.0)
    with tracer.start_as_current_span("written at once"):
        pass
    # No force_flush: a span ending flush_seconds after the last write writes the buffer out.
    assert json.loads(out.read_text())["name"] == "written at once"
    processor.shutdown()


def test_jsonl_processor_lines_stay_whole_across_threads(tmp_path):
    out = tmp_path / "spans.jsonl"
    tracer, processor = jsonl_provider(out)

    def emit(worker: int) -> None:
        for i in range(300):
            with tracer.start_as_current_span(f"w{worker}", attributes={"i": i, "pad": "x" * 200}):
                pass

    threads = [threading.Thread(target=emit, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    processor.shutdown()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1200
    for w in range(4):
        assert sorted(s["attributes"]["i"] for s in lines if s["name"] == f"w{w}") == list(
            range(300)
        )


def test_lazy_attributes_are_set_on_recording_spans(spans):
    spans.clear()
    calls: list[str] = []

    def lazy(value: Any) -> Any:
        def make() -> Any:
            calls.append(str(value))
            return value

        return make

    with span("rlm.lazy", eager=1, skipped=None, later=lazy("v"), dropped=lazy(None)) as s:
        assert s.attributes == {"eager": 1, "later": "v"}
    (finished,) = spans.get_finished_spans()
    assert dict(finished.attributes or {}) == {"eager": 1, "later": "v"}
    assert calls == ["v", "None"]


def test_lazy_attributes_are_never_computed_for_spans_that_do_not_record(monkeypatch):
    calls: list[int] = []

    def make() -> str:
        calls.append(1)
        return "costly"

    # No provider at all (a library user's case) and a sampler that drops everything.
    for tracer in (trace.NoOpTracer(), TracerProvider(sampler=ALWAYS_OFF).get_tracer("x")):
        monkeypatch.setattr(telemetry, "_TRACER", tracer)
        with span("rlm.lazy", eager=1, costly=make) as s:
            assert not s.is_recording()
    assert calls == []


def test_a_failing_lazy_attribute_ends_its_span_and_leaves_the_context_as_it_was(spans):
    spans.clear()

    def broken() -> str:
        raise ValueError("no value")

    with span("rlm.outer") as outer:
        with pytest.raises(ValueError, match="no value"), span("rlm.broken", lazy=broken):
            raise AssertionError("the block must not run")
        assert trace.get_current_span() is outer
    names = {s.name: s for s in spans.get_finished_spans()}
    assert set(names) == {"rlm.outer", "rlm.broken"}
    assert names["rlm.broken"].status.status_code is StatusCode.ERROR
    assert names["rlm.broken"].parent is not None
    assert names["rlm.broken"].parent.span_id == outer.get_span_context().span_id
