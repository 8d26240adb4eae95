"""tools/fetch_model.py: assembly, verification and reuse, offline (pip is replaced by a stub)."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "fetch_model.py"


def _load_script() -> ModuleType:
    """tools/ is not a package: load the script as a module (dataclasses need it registered)."""
    name = "fetch_model_under_test"
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.fixture
def fetch() -> ModuleType:
    return _load_script()


PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 3]


def _chunked(fetch: ModuleType, sha256: str | None = None) -> object:
    data = b"".join(PARTS)
    return fetch.ChunkedModel(
        file_name="toy.gguf",
        package_pattern="toy-model-part{n}",
        module_pattern="toy_model_part{n}",
        parts=len(PARTS),
        version="1.0",
        size=len(data),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
    )


def _fake_pip(installs: list[list[str]]):
    """A pip stand-in that lays out chunk packages exposing `get_part_path()` like the real ones."""

    def install(target: Path, requirements: list[str]) -> None:
        installs.append(requirements)
        for n, data in enumerate(PARTS, start=1):
            package = target / f"toy_model_part{n}"
            (package / "data").mkdir(parents=True, exist_ok=True)
            (package / "data" / f"part{n:02d}.bin").write_bytes(data)
            (package / "__init__.py").write_text(
                "import os\n"
                "def get_part_path():\n"
                f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{n:02d}.bin')\n"
            )
            (target / f"toy_model_part{n}-1.0.dist-info").mkdir(exist_ok=True)

    return install


def test_chunks_are_installed_in_order_assembled_and_verified(
    fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installs: list[list[str]] = []
    monkeypatch.setattr(fetch, "pip_install", _fake_pip(installs))
    path = fetch.fetch_chunked(_chunked(fetch), tmp_path, keep_parts=False)
    assert path == tmp_path / "toy.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert installs == [["toy-model-part1==1.0", "toy-model-part2==1.0", "toy-model-part3==1.0"]]
    # The chunks are removed once assembled; nothing half-written is left.
    assert not list((tmp_path / "parts").glob("toy_model_part*"))
    assert not list(tmp_path.glob("*.partial"))


def test_a_verified_file_is_reused_without_installing(
    fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installs: list[list[str]] = []
    monkeypatch.setattr(fetch, "pip_install", _fake_pip(installs))
    model = _chunked(fetch)
    first = fetch.fetch_chunked(model, tmp_path, keep_parts=True)
    second = fetch.fetch_chunked(model, tmp_path, keep_parts=True)
    assert first == second and len(installs) == 1


def test_a_corrupt_file_is_fetched_again(
    fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installs: list[list[str]] = []
    monkeypatch.setattr(fetch, "pip_install", _fake_pip(installs))
    (tmp_path / "toy.gguf").write_bytes(b"truncated")
    path = fetch.fetch_chunked(_chunked(fetch), tmp_path, keep_parts=False)
    assert path.read_bytes() == b"".join(PARTS) and len(installs) == 1


def test_a_hash_mismatch_fails_and_leaves_nothing(
    fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "pip_install", _fake_pip([]))
    with pytest.raises(SystemExit, match="does not verify"):
        fetch.fetch_chunked(_chunked(fetch, sha256="0" * 64), tmp_path, keep_parts=False)
    assert not (tmp_path / "toy.gguf").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_packaged_model_is_used_in_place(
    fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"GGUF tiny"
    model = fetch.PackagedModel(
        package="toy-tiny",
        version="0.1",
        relative_path="toy_tiny/tiny.gguf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    installs: list[list[str]] = []

    def install(target: Path, requirements: list[str]) -> None:
        installs.append(requirements)
        (target / "toy_tiny").mkdir(parents=True, exist_ok=True)
        (target / "toy_tiny" / "tiny.gguf").write_bytes(data)

    monkeypatch.setattr(fetch, "pip_install", install)
    path = fetch.fetch_packaged(model, tmp_path)
    assert path == tmp_path / "parts" / "toy_tiny" / "tiny.gguf"
    assert fetch.fetch_packaged(model, tmp_path) == path
    assert installs == [["toy-tiny==0.1"]]


def test_cache_dir_comes_from_the_environment(
    fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLM_MODEL_CACHE", str(tmp_path / "cache"))
    assert fetch.default_cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("RLM_MODEL_CACHE")
    assert fetch.default_cache_dir() == Path.home() / ".cache" / "rlm-adk" / "models"


def test_only_the_path_goes_to_stdout(tiny_gguf: Path, tmp_path: Path) -> None:
    """The real script, offline: a verified file is reported without running pip."""
    target = tmp_path / "parts" / _load_script().SMOLLM2_135M.relative_path
    target.parent.mkdir(parents=True)
    target.symlink_to(tiny_gguf)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout == f"{target}\n"
