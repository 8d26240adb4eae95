"""REPL display of a trailing expression, and the repair of a compound statement after `;`."""

from __future__ import annotations

import ast

import pytest

from rlm_adk.sandbox.display import repair, with_display


def test_trailing_expression_is_printed():
    assert "print(repr(_rlm_last_value))" in with_display("x = 1\nx + 1")
    assert with_display("print(1)") == "print(1)"
    assert with_display("x = 1") == "x = 1"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "hits = g(); print(len(hits)); for m in hits[:5]: print(m)",
            "hits = g(); print(len(hits))\nfor m in hits[:5]: print(m)",
        ),
        ("def f():\n    a = 1; if a: return a\n", "def f():\n    a = 1\n    if a: return a\n"),
    ],
)
def test_compound_statement_after_semicolon_is_moved_to_its_own_line(code, expected):
    assert repair(code) == expected
    ast.parse(repair(code))


@pytest.mark.parametrize(
    "code",
    [
        "if x: a; b",  # valid already: both statements stay in the suite
        "x = 'a; for y in z: pass'",  # a semicolon inside a string is not a statement break
        "print(1; for)",  # not repairable: left for the sandbox to report
        "x = (1; for i in y: pass)",
    ],
)
def test_other_code_is_left_alone(code):
    assert repair(code) == code


async def test_repaired_cell_runs_in_the_sandbox():
    from rlm_adk.sandbox.bridge import HostBridge
    from rlm_adk.sandbox.monty import MontySandbox

    sandbox = MontySandbox()
    await sandbox.start(HostBridge())
    try:
        result = await sandbox.run("xs = [1, 2]; for v in xs: print(v * 10)")
    finally:
        await sandbox.close()
    assert result.ok and result.output == "10\n20\n"
