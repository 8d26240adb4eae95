"""Big bad inputs (slow): a 1 GiB single-line file and a million tiny files. Both are served in
bounded memory with clear limits: whole-file reads past the read limit are refused with a message,
lines and grep lines are cut, the listing streams."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlm_adk import RLMAgent, open_context
from rlm_adk.context.handle import DEFAULT_MAX_READ
from tests.fakes.gemini_server import FakeGeminiServer
from tests.hardening.adversary import tool_outputs
from tests.hardening.cli_helpers import ask, cli_env, handler_for
from tests.hardening.conftest import HostSnapshot, Ledger, assert_host_healthy
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, text

GIB = 1 << 30
TAIL = b" NEEDLE"


def one_line_file(path: Path, size: int = GIB) -> None:
    """`size` bytes of text without a newline, then `TAIL`; doubled in the kernel (fast)."""
    path.write_bytes(b"abcdefghij" * (1 << 16))
    fd = os.open(path, os.O_RDWR)
    try:
        have = os.fstat(fd).st_size
        while have < size:
            todo = min(have, size - have)
            done = 0
            while done < todo:
                done += os.copy_file_range(fd, fd, todo - done, done, have + done)
            have += todo
    finally:
        os.close(fd)
    with path.open("ab") as f:
        f.write(TAIL)


BIG_CELL = """
f = context.files[0]
print('size', f.size)
try:
    context.read(f.path)
except ValueError as e:
    print('refused:', e)
print('head', context.read(f.path, 0, 20))
print('grep', [(m.line, m.offset, len(m.text)) for m in context.grep('NEEDLE')])
print('chunks', len(context.chunks(max_chars=10 ** 6)))
line = context.lines(f.path, 0, 1)
print('line', len(line), len(line[0]))
"""


@pytest.mark.slow
async def test_a_one_gib_single_line_file(ledger: Ledger, tmp_path: Path) -> None:
    corpus = tmp_path / "big"
    corpus.mkdir()
    one_line_file(corpus / "line.txt")
    before = HostSnapshot.take()
    root = ScriptedLlm.of(
        code(BIG_CELL), lambda r: text(tool_outputs(r)[-1]), model="scripted-root"
    )
    agent = RLMAgent(name="rlm", model=root, context=open_context(str(corpus)))
    try:
        result = await asyncio.wait_for(run_once(agent, "q"), 180)
    finally:
        await agent.close()
    out = result.text
    size = GIB + len(TAIL)
    checks = {
        "listed with its size": f"size {size}" in out,
        "whole read refused with a reason": "refused: reading 1,073,741,831 bytes" in out
        and "exceeds the limit" in out,
        "ranged read": "head abcdefghijabcdefghij" in out,
        "grep finds the end, line cut": f"grep [(1, {size - 6}, 2000)]" in out,
        "chunks cut on characters": "chunks 1074" in out,
        "a line is cut at the read limit": f"line 1 {DEFAULT_MAX_READ}" in out,
    }
    for name, ok in checks.items():
        ledger.attempt("bad input (big)", f"1 GiB line: {name}", "context", ok, out[-300:])
    assert all(checks.values()), (checks, out)
    # The block cache and scans are bounded: a 1 GiB file is never held in memory.
    assert_host_healthy(before, rss_slack=768 << 20)


@pytest.fixture
def scratch_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on tmpfs when there is one (a million files are made 3x faster there)."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    path = Path(tempfile.mkdtemp(prefix="rlm-hardening-", dir=base))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def million_files(root: Path, dirs: int = 1000, per_dir: int = 1000) -> int:
    for d in range(dirs):
        sub = root / f"d{d:04d}"
        sub.mkdir()
        dir_fd = os.open(sub, os.O_RDONLY)
        try:
            for i in range(per_dir):
                fd = os.open(f"f{i:04d}.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=dir_fd)
                os.write(fd, b"x")
                os.close(fd)
        finally:
            os.close(dir_fd)
    return dirs * per_dir


# The whole manifest as records may not fit in the sandbox's memory (1M records take about
# 800 MB in Monty): that is a clear MemoryError, and `size`, `list_files` and `grep` still work.
MANY_CELL = """
print(context.size, len(context.list_files(limit=5)), len(context.grep('x', max_matches=5)))
print('files', len(context.files))
"""


@pytest.mark.slow
def test_a_million_tiny_files_through_the_cli(ledger: Ledger, scratch_dir: Path) -> None:
    corpus = scratch_dir / "corpus"
    corpus.mkdir()
    count = million_files(corpus)
    with FakeGeminiServer(handler_for(MANY_CELL)) as gemini:
        proc = ask("--context", str(corpus), "--json", "q", env=cli_env(gemini), timeout=300)
    answer = json.loads(proc.stdout)["answer"] if proc.returncode == 0 else ""
    ok = f"answer: {count} 5 5" in answer and (
        f"files {count}" in answer or "MemoryError" in answer
    )
    ledger.attempt("bad input (big)", "a million tiny files", "rlm-adk ask", ok, proc.stderr[-300:])
    assert ok, (proc.returncode, proc.stdout[-500:], proc.stderr[-1000:])
