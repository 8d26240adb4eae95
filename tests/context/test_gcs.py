"""GCS sources through the real google-cloud-storage client against a real fake-gcs-server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlm_adk.context import (
    AccessDenied,
    BinaryContent,
    ContextError,
    ContextHandle,
    GcsSource,
    NotFound,
    open_context,
)

from .conftest import make_client

MakeBucket = Callable[..., str]

TEXT = "".join(f"line {i} {'needle' if i % 50 == 7 else 'hay'} café 日本\n" for i in range(2000))


def test_default_client_uses_the_emulator(gcs_emulator: str, make_bucket: MakeBucket) -> None:
    bucket = make_bucket({"docs/a.txt": b"hello from gcs\n"})
    h = open_context(f"gs://{bucket}/docs/")  # storage.Client() via STORAGE_EMULATOR_HOST
    assert [f.path for f in h.files] == [f"{bucket}/docs/a.txt"]
    assert h.read(f"{bucket}/docs/a.txt") == "hello from gcs\n"
    h.close()


def test_manifest_is_paginated_and_filtered(gcs_client: Any, make_bucket: MakeBucket) -> None:
    objects = {f"reports/{i:03d}.txt": f"report {i}\n".encode() for i in range(23)}
    objects.update({"reports2/x.txt": b"not me", "other/y.txt": b"nor me", "reports/": b""})
    objects["reports/../escape.txt"] = b"an object name with '..' is never listed"
    bucket = make_bucket(objects)
    source = GcsSource(bucket, "reports", client=gcs_client, page_size=5)
    pages = source.iter_files()
    first = next(pages)  # a lazy stream: one page fetched so far
    assert first.path == "reports/000.txt"
    rest = list(pages)
    assert len(rest) == 22
    h = ContextHandle([source])
    files = h.files
    wanted = sorted(
        k for k in objects if k.startswith("reports/") and k != "reports/" and ".." not in k
    )
    assert [f.path for f in files] == [f"{bucket}/{name}" for name in wanted]
    assert all(f.version and int(f.version) > 0 for f in files)
    assert files[0].content_type == "text/plain" and files[0].size == len(b"report 0\n")


def test_glob_uri(gcs_client: Any, make_bucket: MakeBucket) -> None:
    bucket = make_bucket({"a/x.md": b"x", "a/y.txt": b"y", "a/b/z.md": b"z"})
    h = open_context(f"gs://{bucket}/a/**/*.md", gcs_client=gcs_client)
    assert [f.path for f in h.files] == [f"{bucket}/a/b/z.md", f"{bucket}/a/x.md"]
    h2 = open_context(f"gs://{bucket}/a/*.md", gcs_client=gcs_client)
    assert [f.path for f in h2.files] == [f"{bucket}/a/x.md"]


def test_ranged_reads_grep_lines_and_chunks(gcs_client: Any, make_bucket: MakeBucket) -> None:
    data = TEXT.encode()
    bucket = make_bucket({"corpus/big.txt": data, "corpus/img.png": b"\x89PNG\r\n\x1a\n\x00"})
    h = open_context(
        f"gs://{bucket}/corpus/", gcs_client=gcs_client, block_size=4096, scan_window=8192
    )
    path = f"{bucket}/corpus/big.txt"
    assert h.read_bytes(path, 1000, 1100) == data[1000:1100]
    assert h.read(path) == TEXT
    assert h.lines(path, 1234, 2) == TEXT.splitlines()[1234:1236]
    got = h.grep("needle")
    want = [i + 1 for i, line in enumerate(TEXT.splitlines()) if "needle" in line]
    assert [m.line for m in got] == want
    for m in got[:5]:
        assert h.read_bytes(path, m.offset, m.offset + 6) == b"needle"
    assert [m.line for m in h.grep("needle", paths=[path], max_matches=3)] == want[:3]
    chunks = h.chunks(max_chars=10_000, paths=[path])
    assert "".join(c.text() for c in chunks) == TEXT
    assert all(data[c.end - 1 : c.end] == b"\n" for c in chunks)
    with pytest.raises(BinaryContent):
        h.read(f"{bucket}/corpus/img.png")
    # Reading chunk after chunk is a sequential scan: the cache reads ahead.
    fresh = open_context(f"gs://{bucket}/corpus/", gcs_client=gcs_client, block_size=4096)
    assert "".join(c.text() for c in fresh.chunks(max_chars=5000, paths=[path])) == TEXT
    assert fresh.corpus.cache.stats.prefetched > 0


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_gcs_reads_agree_with_the_bytes(
    gcs_client: Any, make_bucket: MakeBucket, data: Any
) -> None:
    body = data.draw(
        st.lists(st.sampled_from(["a", "é", "日", "🙂", "\n", "needle "]), max_size=60).map("".join)
    ).encode()
    bucket = make_bucket({"f.txt": body})
    h = open_context(f"gs://{bucket}/f.txt", gcs_client=gcs_client, block_size=5, scan_window=7)
    path = f"{bucket}/f.txt"
    a = data.draw(st.integers(0, len(body)))
    b = data.draw(st.integers(a, len(body)))
    assert h.read_bytes(path, a, b) == body[a:b]
    assert h.read(path, 0, a) + h.read(path, a, b) + h.read(path, b) == body.decode()
    lines = body.split(b"\n")
    want = [i + 1 for i, line in enumerate(lines) if b"needle" in line]
    assert [m.line for m in h.grep("needle")] == want
    assert "".join(c.text() for c in h.chunks(max_chars=9)) == body.decode()


def test_reads_are_pinned_to_the_listed_generation(
    gcs_client: Any, make_bucket: MakeBucket
) -> None:
    bucket = make_bucket({"doc.txt": b"version one\n"})
    h = open_context(f"gs://{bucket}/doc.txt", gcs_client=gcs_client)
    path = f"{bucket}/doc.txt"
    assert h.files[0].size == len(b"version one\n")
    gcs_client.bucket(bucket).blob("doc.txt").upload_from_string(b"VERSION TWO, longer\n")
    # The old generation is gone (no versioning): refuse rather than mix two versions.
    with pytest.raises(NotFound, match=r"changed or was deleted after it was listed"):
        h.read(path)
    assert open_context(f"gs://{bucket}/doc.txt", gcs_client=gcs_client).read(path) == (
        "VERSION TWO, longer\n"
    )


def test_missing_bucket_object_and_other_buckets(gcs_client: Any, make_bucket: MakeBucket) -> None:
    with pytest.raises(NotFound, match="bucket gs://no-such-bucket-x does not exist"):
        open_context("gs://no-such-bucket-x/", gcs_client=gcs_client).files  # noqa: B018
    bucket = make_bucket({"a.txt": b"a"})
    with pytest.raises(NotFound, match=rf"no object or folder gs://{bucket}/missing"):
        open_context(f"gs://{bucket}/missing", gcs_client=gcs_client).files  # noqa: B018
    with pytest.raises(AccessDenied, match="outside the allowed roots"):
        open_context("gs://other-bucket/x", roots=[f"gs://{bucket}/"])
    with pytest.raises(AccessDenied):
        open_context(f"gs://{bucket}/ab", roots=[f"gs://{bucket}/a"])  # prefix, not folder
    with pytest.raises(AccessDenied):
        open_context(f"gs://{bucket}/../x")
    h = open_context(f"gs://{bucket}/", roots=[f"gs://{bucket}/"], gcs_client=gcs_client)
    with pytest.raises(AccessDenied):
        h.read("gs://other-bucket/a.txt")
    source = GcsSource(bucket, "sub/", client=gcs_client)
    with pytest.raises(AccessDenied, match="lies outside"):
        source.read_bytes("a.txt", 0, 1)


def test_transient_errors_are_retried(flaky_proxy: Any, make_bucket: MakeBucket) -> None:
    bucket = make_bucket({"t.txt": b"resilient text\n"})
    client = make_client(flaky_proxy.url)
    h = ContextHandle([GcsSource(bucket, client=client, retry_initial=0.05)])
    flaky_proxy.fail(2, status=503, match="/o")
    assert [f.path for f in h.files] == [f"{bucket}/t.txt"]
    flaky_proxy.fail(2, status=503, match="t.txt")
    assert h.read(f"{bucket}/t.txt") == "resilient text\n"
    assert flaky_proxy.seen == 2


def test_permanent_errors_are_reported_clearly(flaky_proxy: Any, make_bucket: MakeBucket) -> None:
    bucket = make_bucket({"t.txt": b"text\n"})
    client = make_client(flaky_proxy.url)
    flaky_proxy.fail(1, status=403, match="/o")
    with pytest.raises(AccessDenied, match=rf"access denied to gs://{bucket}/.*403"):
        open_context(f"gs://{bucket}/", gcs_client=client).files  # noqa: B018
    h = open_context(f"gs://{bucket}/", gcs_client=client)
    assert h.files
    flaky_proxy.fail(1, status=403, match="t.txt")
    with pytest.raises(AccessDenied, match=rf"gs://{bucket}/t.txt"):
        h.read(f"{bucket}/t.txt")
    flaky_proxy.fail(100, status=503, match="t.txt")
    slow = GcsSource(bucket, "", client=client, retry_seconds=0.5, retry_initial=0.05)
    assert slow.list_files()
    with pytest.raises(ContextError, match=rf"reading gs://{bucket}/t.txt failed") as info:
        slow.read_bytes("t.txt", 0, 4)
    assert "token" not in str(info.value).lower()


def test_no_credentials_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/creds.json")
    with pytest.raises(ContextError, match="cannot create a Cloud Storage client"):
        open_context("gs://some-bucket/").files  # noqa: B018


def test_small_objects_are_downloaded_once_per_grep(
    flaky_proxy: Any, make_bucket: MakeBucket
) -> None:
    bucket = make_bucket({f"d/{i}.txt": f"doc {i} needle\n".encode() for i in range(10)})
    h = open_context(f"gs://{bucket}/d/", gcs_client=make_client(flaky_proxy.url))
    assert len(h.grep("needle")) == 10
    assert flaky_proxy.downloads == 10  # the sniff's block serves the scan too
    assert len(h.grep("doc")) == 10
    assert flaky_proxy.downloads == 10  # and the next grep, from the cache


def test_many_small_objects_are_grepped_concurrently_in_order(
    flaky_proxy: Any, make_bucket: MakeBucket
) -> None:
    objects = {
        f"d/{i:03d}.txt": f"doc {i}\n{'needle' if i % 3 == 0 else 'hay'}\n".encode()
        for i in range(40)
    }
    bucket = make_bucket(objects)
    flaky_proxy.delay = 0.02
    h = open_context(f"gs://{bucket}/d/", gcs_client=make_client(flaky_proxy.url))
    got = h.grep("needle")
    assert [m.path for m in got] == [f"{bucket}/d/{i:03d}.txt" for i in range(0, 40, 3)]
    assert all(m.line == 2 for m in got)
    assert flaky_proxy.max_active > 1  # downloads overlapped
    assert [m.path for m in h.grep("needle", max_matches=2)] == [
        f"{bucket}/d/000.txt",
        f"{bucket}/d/003.txt",
    ]
    assert len(h.chunks(max_chars=1000)) == 40
