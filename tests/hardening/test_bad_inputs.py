"""Bad inputs: empty corpora, odd files (0-byte, binary, invalid UTF-8, FIFOs, symlinks out of the
root), unreadable files and directories, missing buckets, paths outside the roots and malformed
configuration. Through the CLI each is exit code 2 with a message naming the problem; through
the Python API a clear exception, or an error the model reads in its REPL.

Tests run as root, which reads any file whatever its mode: the unreadable cases run the CLI with
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped, so root honours permissions like a user does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rlm_adk import RLMAgent, RLMConfig, open_context
from rlm_adk.cli import main as cli_main
from rlm_adk.config import ConfigError
from rlm_adk.context import AccessDenied, ContextError, NotFound
from rlm_adk.context.local import LocalSource
from tests.fakes.gemini_server import FakeGeminiServer
from tests.hardening.adversary import tool_outputs
from tests.hardening.cli_helpers import ask, cli_env, handler_for
from tests.hardening.conftest import Ledger
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, code, text

SURVEY = "print(len(context.files), context.size)"


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(handler_for(SURVEY)) as server:
        yield server


# -- the CLI -----------------------------------------------------------------------------------------


def _cases(tmp: Path, bucket_endpoint: str) -> dict[str, tuple[list[str], dict[str, str], str]]:
    """name -> (arguments, extra environment, what the message must name)."""
    (tmp / "empty").mkdir()
    os.mkfifo(tmp / "fifo")
    gcs = {"STORAGE_EMULATOR_HOST": bucket_endpoint}
    return {
        "empty corpus": (["--context", str(tmp / "empty")], {}, "holds no files"),
        "missing path": (["--context", str(tmp / "nope")], {}, "no such file or directory"),
        "a FIFO as the corpus": (["--context", str(tmp / "fifo")], {}, "neither a regular file"),
        "missing bucket": (["--context", "gs://no-such-bucket-here"], gcs, "does not exist"),
        "invalid bucket name": (["--context", "gs://Not_A_Bucket!"], gcs, "not a valid GCS bucket"),
        "dot-dot in a URI": (["--context", "gs://bucket/a/../b"], gcs, "'..' is not allowed"),
        "no corpus at all": ([], {}, "no corpus"),
        "depth not a number": ([], {"RLM_MAX_DEPTH": "lots"}, "RLM_MAX_DEPTH"),
        "zero calls": ([], {"RLM_MAX_LLM_CALLS": "0"}, "RLM_MAX_LLM_CALLS"),
        "negative cost": ([], {"RLM_MAX_COST_USD": "-1"}, "RLM_MAX_COST_USD"),
        "NaN timeout": ([], {"RLM_CELL_TIMEOUT_SECONDS": "nan"}, "RLM_CELL_TIMEOUT_SECONDS"),
        "huge concurrency": ([], {"RLM_MAX_CONCURRENCY": "1e9"}, "RLM_MAX_CONCURRENCY"),
        "unknown sandbox": ([], {"RLM_SANDBOX": "docker"}, "RLM_SANDBOX"),
        "broken JSON": ([], {"RLM_PRICES": "{bad json"}, "RLM_PRICES"),
        "wrong JSON shape": ([], {"RLM_SUB_MODELS_BY_DEPTH": "[1, 2]"}, "RLM_SUB_MODELS_BY_DEPTH"),
        "bad context setting": ([], {"RLM_CONTEXT": str(tmp / "nope")}, "no such file"),
        "depth flag out of range": (["--max-depth", "0"], {}, "MAX_DEPTH"),
        "unknown trace exporter": (["--trace", "zipkin"], {}, "zipkin"),
    }


def test_cli_refuses_bad_inputs_with_exit_2(
    ledger: Ledger,
    tmp_path: Path,
    gcs_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("text")
    failures = []
    for name, (args, env, needle) in _cases(tmp_path, gcs_endpoint).items():
        with monkeypatch.context() as patch:
            for key in [k for k in os.environ if k.startswith("RLM_")]:
                patch.delenv(key)
            for key, value in env.items():
                patch.setenv(key, value)
            if "--context" not in args and "RLM_CONTEXT" not in env and name != "no corpus at all":
                args = ["--context", str(corpus), *args]
            try:
                code_ = cli_main(["ask", *args, "question"])
            except SystemExit as exc:  # argparse refuses some flags itself
                code_ = int(exc.code or 0)
        err = capsys.readouterr().err
        clear = code_ == 2 and needle.lower() in err.lower()
        ledger.attempt("bad input (CLI)", name, "rlm-adk ask", clear, err[-300:])
        if not clear:
            failures.append((name, code_, err[-300:]))
    assert not failures, failures


def test_cli_refuses_an_unreadable_corpus(ledger: Ledger, tmp_path: Path, gemini: Any) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.txt").write_text("secret")
    locked.chmod(0)
    try:
        proc = ask("--context", str(locked), "q", env=cli_env(gemini), unprivileged=True)
    finally:
        locked.chmod(0o755)
    clear = proc.returncode == 2 and "Permission denied" in proc.stderr
    ledger.attempt("bad input (CLI)", "unreadable corpus directory", "rlm-adk ask", clear)
    assert clear, (proc.returncode, proc.stderr[-500:])
    assert "cannot list the directory" in proc.stderr


def test_an_unreadable_file_is_a_clear_error_in_the_repl(ledger: Ledger, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "open.txt").write_text("NEEDLE open\n")
    (corpus / "locked.txt").write_text("NEEDLE secret\n")
    (corpus / "locked.txt").chmod(0)
    cell = (
        "print(context.read('corpus/open.txt').strip())\n"
        "try:\n    context.read('corpus/locked.txt')\n"
        "except PermissionError as e:\n    print('refused:', e)"
    )
    try:
        with FakeGeminiServer(handler_for(cell)) as gemini:
            env = cli_env(gemini)
            proc = ask("--context", str(corpus), "--json", "q", env=env, unprivileged=True)
    finally:
        (corpus / "locked.txt").chmod(0o644)
    answer = proc.stdout
    clear = (
        proc.returncode == 0
        and "NEEDLE open" in answer
        and "refused: permission denied reading 'locked.txt'" in answer
        and "secret" not in answer
    )
    ledger.attempt("bad input (files)", "unreadable file", "rlm-adk ask", clear, answer[-300:])
    assert clear, (proc.returncode, answer, proc.stderr[-500:])


# -- the Python API ----------------------------------------------------------------------------------


def test_api_refuses_malformed_configuration(ledger: Ledger) -> None:
    cases: dict[str, Any] = {
        "depth 0": lambda: RLMConfig(max_depth=0),
        "unknown field": lambda: RLMConfig(max_dpeth=2),
        "negative timeout": lambda: RLMConfig(cell_timeout_seconds=-1),
        "tiny memory": lambda: RLMConfig(sandbox_memory_bytes=1024),
        "unknown sandbox": lambda: RLMConfig(sandbox="docker"),
        "env: not a number": lambda: RLMConfig.from_env({"RLM_MAX_DEPTH": "two"}),
        "env: bad JSON": lambda: RLMConfig.from_env({"RLM_PRICES": "{"}),
        "env: through the agent": lambda: RLMAgent(
            name="rlm",
            model=ScriptedLlm.of(),
            config=RLMConfig.from_env({"RLM_MAX_ITERATIONS": "0"}),
        ),
    }
    failures = []
    for name, make in cases.items():
        try:
            make()
        except (ValidationError, ConfigError) as exc:
            field = name.split()[-1] if name.startswith("env") else ""
            clear = bool(str(exc)) and (not field or "RLM_" in str(exc))
        else:
            clear = False
        ledger.attempt("bad input (API)", f"config: {name}", "RLMConfig", clear)
        if not clear:
            failures.append(name)
    assert not failures, failures


def test_api_refuses_bad_corpora(ledger: Ledger, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    cases: dict[str, tuple[Any, type[Exception]]] = {
        "missing path": (lambda: open_context(str(tmp_path / "nope")), NotFound),
        "FIFO": (lambda: open_context(str(tmp_path / "fifo")), ContextError),
        "outside the roots": (
            lambda: open_context("/etc", roots=[str(tmp_path)]),
            AccessDenied,
        ),
        "dot-dot out of a root": (
            lambda: open_context(f"{tmp_path}/../..", roots=[str(tmp_path)]),
            AccessDenied,
        ),
        "empty URI": (lambda: open_context(""), ContextError),
        "bucket outside the roots": (
            lambda: open_context("gs://other/x", roots=["gs://mine/"]),
            AccessDenied,
        ),
    }
    failures = []
    for name, (make, expected) in cases.items():
        try:
            make()
            clear = False
        except expected as exc:
            clear = bool(str(exc))
        ledger.attempt("bad input (API)", f"corpus: {name}", "open_context", clear)
        if not clear:
            failures.append(name)
    assert not failures, failures


async def test_session_state_outside_the_roots_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    (tmp_path / "allowed").mkdir()
    agent = RLMAgent(
        name="rlm",
        model=ScriptedLlm.of(text("unused")),
        config=RLMConfig(allowed_roots=[str(tmp_path / "allowed")]),
    )
    try:
        result = await run_once(agent, "q", state={"rlm:context": str(tmp_path)})
    finally:
        await agent.close()
    refused = result.final.error_code == "context_error" and "outside the allowed roots" in (
        result.final.error_message or ""
    )
    ledger.attempt(
        "bad input (API)", "session corpus outside the roots", "RLMAgent", refused, result.text
    )
    assert refused, result.text


ODD_FILES = """
for f in context.files:
    try:
        text = context.read(f.path)
        print(f.path, f.size, repr(text[:12]))
    except ValueError as e:
        print(f.path, f.size, 'refused:', e)
print('grep', [(m.path, m.line) for m in context.grep('ok')])
print('chunks', len(context.chunks(max_chars=1000)))
"""


async def test_odd_files_are_listed_read_or_refused_clearly(ledger: Ledger, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "real_dir").mkdir(parents=True)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (corpus / "bad_utf8.txt").write_bytes(b"ok \xff\xfe then \xc3( end\n")
    (corpus / "real_dir" / "inner.txt").write_text("ok inside\n")
    os.mkfifo(corpus / "pipe.txt")
    (corpus / "outside.txt").symlink_to("/etc/passwd")
    (corpus / "dangling.txt").symlink_to(corpus / "gone.txt")
    (corpus / "inner_link.txt").symlink_to(corpus / "real_dir" / "inner.txt")
    (corpus / "linked_dir").symlink_to("/etc")
    root = ScriptedLlm.of(
        code(ODD_FILES), lambda r: text(tool_outputs(r)[-1]), model="scripted-root"
    )
    agent = RLMAgent(name="rlm", model=root, context=open_context(str(corpus)))
    try:
        result = await asyncio.wait_for(run_once(agent, "q"), 60)
    finally:
        await agent.close()
    out = result.text
    listed = sorted(line.split()[0] for line in out.splitlines() if line.startswith("corpus/"))
    expected = [
        "corpus/bad_utf8.txt",
        "corpus/binary.bin",
        "corpus/empty.txt",
        "corpus/inner_link.txt",
        "corpus/real_dir/inner.txt",
    ]
    checks = {
        "only regular files inside the root are listed": listed == expected,
        "0-byte file reads as empty": "corpus/empty.txt 0 ''" in out,
        "binary file refused": "corpus/binary.bin 1024 refused: corpus/binary.bin is binary" in out,
        "invalid UTF-8 replaced": "'ok \ufffd\ufffd then \ufffd'" in out,
        "grep skips binary, reads the rest": "('corpus/bad_utf8.txt', 1)" in out,
        "nothing from outside": "root:x:0:0" not in out,
    }
    for name, ok in checks.items():
        ledger.attempt("bad input (files)", name, "context", ok, out[-300:])
    assert all(checks.values()), (checks, out)


def test_listing_resolves_only_symlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each regular file found by walking real directories is inside the root by construction:
    # listing it takes one stat, not a path resolution (a million files: 45 s -> 10 s).
    for i in range(50):
        (tmp_path / f"f{i}.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to(tmp_path / "f0.txt")
    (tmp_path / "escape.txt").symlink_to("/etc/passwd")
    resolved: list[str] = []
    checked = LocalSource._checked

    def counting(self: LocalSource, rel: str) -> str:
        resolved.append(rel)
        return checked(self, rel)

    monkeypatch.setattr(LocalSource, "_checked", counting)
    files = LocalSource(tmp_path).list_files()
    assert sorted(resolved) == ["escape.txt", "link.txt"]
    assert len(files) == 51 and "escape.txt" not in {f.path for f in files}
