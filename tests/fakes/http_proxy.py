"""Pieces of the fault-injecting HTTP proxies the tests put in front of the GCS emulator."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TypeVar

_S = TypeVar("_S", bound=HTTPServer)


def read_body(handler: BaseHTTPRequestHandler) -> bytes | None:
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else None


def answer_error(handler: BaseHTTPRequestHandler, status: int) -> None:
    """A JSON error answer in the shape GCS gives."""
    payload = b'{"error": {"code": %d, "message": "injected"}}' % status
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def forward(handler: BaseHTTPRequestHandler, upstream: str, body: bytes | None) -> None:
    """Passes the request to `upstream` (host:port) and its answer back."""
    conn = http.client.HTTPConnection(upstream, timeout=30)
    try:
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
        conn.request(handler.command, handler.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        handler.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    finally:
        conn.close()


@contextmanager
def serving(server: _S) -> Iterator[_S]:
    """Runs `server` on a daemon thread for the block, then shuts it down."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
