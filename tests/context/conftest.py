"""Fixtures for the context tests: a real fake-gcs-server, GCS clients, corpora on disk."""

from __future__ import annotations

import importlib.util
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.http_proxy import answer_error, forward, read_body, serving

_ROOT = Path(__file__).resolve().parents[2]
_counter = itertools.count()


def _load_emulator_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "gcs_emulator", _ROOT / "tools" / "gcs_emulator.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_client(endpoint: str) -> Any:
    """A real google-cloud-storage client talking to `endpoint` with anonymous credentials."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """URL of a fake-gcs-server running for the whole session (STORAGE_EMULATOR_HOST is set)."""
    module = _load_emulator_module()
    with module.running_emulator() as url:
        yield url


@pytest.fixture(scope="session")
def gcs_client(gcs_emulator: str) -> Any:
    """A storage client for the emulator (the default `storage.Client()` works too)."""
    return make_client(gcs_emulator)


@pytest.fixture
def make_bucket(gcs_client: Any) -> Callable[[dict[str, bytes]], str]:
    """Creates a fresh bucket holding `objects` (name -> bytes); returns the bucket name."""

    def make(objects: dict[str, bytes], content_type: str | None = None) -> str:
        name = f"test-bucket-{next(_counter)}"
        bucket = gcs_client.create_bucket(name)
        for obj, data in objects.items():
            bucket.blob(obj).upload_from_string(data, content_type=content_type)
        return name

    return make


class _FlakyProxy(ThreadingHTTPServer):
    """Forwards to the emulator, answering the first `failures` matching requests with `status`."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream.removeprefix("http://")
        self.failures = 0
        self.status = 503
        self.match = ""
        self.seen = 0
        self.downloads = 0
        self.delay = 0.0  # seconds added to every download (a slow network)
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fail(self, count: int, status: int = 503, match: str = "") -> None:
        with self.lock:
            self.failures, self.status, self.match, self.seen = count, status, match, 0


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _FlakyProxy

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = read_body(self)
        download = "alt=media" in self.path
        with self.server.lock:
            self.server.downloads += download
            self.server.active += download
            self.server.max_active = max(self.server.max_active, self.server.active)
        try:
            if download and self.server.delay:
                time.sleep(self.server.delay)
            self._answer(body)
        finally:
            with self.server.lock:
                self.server.active -= download

    def _answer(self, body: bytes | None) -> None:
        with self.server.lock:
            failing = self.server.match in self.path and self.server.failures > 0
            if failing:
                self.server.failures -= 1
                self.server.seen += 1
            status = self.server.status
        if failing:
            answer_error(self, status)
        else:
            forward(self, self.server.upstream, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


@pytest.fixture
def flaky_proxy(gcs_emulator: str) -> Iterator[_FlakyProxy]:
    """An HTTP proxy in front of the emulator that can inject error responses."""
    with serving(_FlakyProxy(gcs_emulator)) as proxy:
        yield proxy


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A small directory of mixed files: text, Markdown, JSON, JSONL, CSV, binary, nested."""
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha line one\nbeta café\ngamma 日本語 line\n", encoding="utf-8")
    (root / "notes.md").write_text("# Title\n\nSome *markdown* with a needle.\n")
    (root / "data.json").write_text('{"key": "value", "needle": true}\n')
    (root / "rows.jsonl").write_text('{"n": 1}\n{"n": 2, "tag": "needle"}\n')
    (root / "table.csv").write_text("id,name\n1,needle\n2,haystack\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "blob.dat").write_bytes(b"abc\x00def" * 10)
    (root / "sub" / "deep.txt").write_text("deep needle\n")
    (root / ".hidden").write_text("hidden needle\n")
    return root


def minimal_pdf(pages: list[str]) -> bytes:
    """A small valid PDF with one line of Helvetica text per page."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
