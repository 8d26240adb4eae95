"""Pathological regexes in `context.grep` and `list_files`: patterns that make a backtracking
engine take exponential time run in linear time on RE2; what RE2 cannot run (backreferences,
lookaround, oversized programs) is refused with an explanation. Python's `re` inside the sandbox
is covered by test_resources.py (Monty's engine does not backtrack; CPython's is stopped by the
cell time limit)."""

from __future__ import annotations

import asyncio

import pytest

from rlm_adk.context import ContextError, open_text
from rlm_adk.sandbox.bridge import HostBridge
from rlm_adk.sandbox.monty import MontySandbox
from tests.hardening.conftest import Ledger

GUARD_SECONDS = 60.0
# Lines a backtracking engine chokes on: long runs that almost match.
HAYSTACK = ("a" * 3000 + "b\n") * 40 + "x" * 3000 + "\n" + ("ab" * 1500 + "\n") * 40

CATASTROPHIC = {
    "nested plus": r"(a+)+$",
    "nested star": r"(a*)*c",
    "overlapping alternation": r"(a|aa)+$",
    "overlapping classes": r"(\w+\w+)+\d",
    "repeated group with any": r"(.*a){25}",
    "classic email": r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}"
    r"(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$",
    "nested quantified alternation": r"((ab)*|a*b*)*c",
}

REFUSED = {
    "backreference": r"(a+)\1",
    "lookahead": r"a(?=b)",
    "lookbehind": r"(?<=a)b",
    "negative lookahead": r"^(?!a).*",
    "huge repetition": r"((a{100}){100}){100}",
    "too long": "a" * 20_000,
    "empty": "",
    "unbalanced": r"(a",
}


@pytest.mark.parametrize("name", sorted(CATASTROPHIC))
async def test_catastrophic_patterns_run_in_linear_time(ledger: Ledger, name: str) -> None:
    handle = open_text(HAYSTACK)
    grep = asyncio.to_thread(handle.grep, CATASTROPHIC[name], None, 10)
    matches = await asyncio.wait_for(grep, GUARD_SECONDS)
    listed = await asyncio.wait_for(
        asyncio.to_thread(handle.list_files, CATASTROPHIC[name]), GUARD_SECONDS
    )
    ledger.attempt("regex", f"grep: {name}", "context.grep", True, f"{len(matches)} matches")
    assert len(matches) <= 10 and isinstance(listed, list)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_patterns_are_refused_with_a_reason(ledger: Ledger, name: str) -> None:
    handle = open_text(HAYSTACK)
    with pytest.raises(ContextError) as info:
        handle.grep(REFUSED[name])
    message = str(info.value)
    clear = any(
        word in message for word in ("RE2", "too long", "non-empty", "invalid regex", "exponential")
    )
    ledger.attempt("regex", f"refused: {name}", "context.grep", clear, message)
    assert clear, message


async def test_refusals_reach_sandbox_code_as_plain_errors(ledger: Ledger) -> None:
    sandbox = MontySandbox()
    await sandbox.start(HostBridge(objects={"context": open_text(HAYSTACK)}))
    try:
        result = await sandbox.run(
            "try:\n    context.grep(r'(a+)\\1')\nexcept ValueError as e:\n    print('refused:', e)\n"
            "print(len(context.grep(r'(a|aa)+b', max_matches=5)))"
        )
    finally:
        await sandbox.close()
    ok = (
        result.error is None
        and "refused: regex" in result.output
        and "backreferences" in (result.output)
    )
    ledger.attempt("regex", "refusal inside the sandbox", "monty", ok, result.render())
    assert ok, result.render()
    assert result.output.rstrip().endswith("5")
