"""A socket guard: refuses every non-loopback connection (and name lookup) and records it.

In-process: `install()` / `uninstall()` (the `no_network` fixture). In a child process: the
source of this file plus `install_from_env()` becomes a `sitecustomize.py` on the child's
`PYTHONPATH`, and refused attempts are appended to the file named by `NETGUARD_LOG`.

It covers Python-level sockets (`socket.socket.connect`, `connect_ex`, `getaddrinfo`), which
is what asyncio, httpx, requests and google-auth use; gRPC's C core has its own sockets.
Standard library only: the child imports it before anything else.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}
_original: dict[str, Any] = {}
attempts: list[str] = []
_log_path: str | None = None


class NetworkRefused(ConnectionRefusedError):
    """A connection to a non-loopback address was attempted under the guard."""


def is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> None:
    attempts.append(what)
    if _log_path:
        with open(_log_path, "a", encoding="utf-8") as log:
            log.write(what + "\n")
    raise NetworkRefused(f"network guard: {what} is not loopback")


def _check_address(sock: socket.socket, address: Any) -> None:
    inet = sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
    if inet and not is_loopback(address[0]):
        _refuse(f"connect {address[0]}:{address[1]}")


def install(log_path: str | None = None) -> None:
    """Patches the socket module (idempotent)."""
    global _log_path
    _log_path = log_path
    if _original:
        return
    _original.update(
        connect=socket.socket.connect,
        connect_ex=socket.socket.connect_ex,
        getaddrinfo=socket.getaddrinfo,
    )

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self, address)
        return _original["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self, address)
        return _original["connect_ex"](self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host):
            _refuse(f"resolve {host!r}")
        return _original["getaddrinfo"](host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


def uninstall() -> None:
    """Restores the socket module."""
    if not _original:
        return
    socket.socket.connect = _original["connect"]  # type: ignore[method-assign]
    socket.socket.connect_ex = _original["connect_ex"]  # type: ignore[method-assign]
    socket.getaddrinfo = _original["getaddrinfo"]
    _original.clear()


def install_from_env() -> None:
    """Installs the guard in a child process that has `NETGUARD_LOG` set."""
    path = os.environ.get("NETGUARD_LOG")
    if path:
        install(path)
