"""REPL display: a cell whose last statement is an expression prints that value, as in Jupyter."""

from __future__ import annotations

import ast

DISPLAY_NAME = "_rlm_last_value"


def with_display(code: str) -> str:
    """Rewrites `code` so the value of a trailing expression is printed (unless it is None).

    Code that CPython cannot parse is returned unchanged (the sandbox reports the error itself).
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return code
    last = tree.body[-1]
    call = last.value
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in {"print", "submit"}
    ):
        return code
    lines = code.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: last.lineno - 1]) + _byte_to_char(
        lines[last.lineno - 1], last.col_offset
    )
    segment = ast.get_source_segment(code, last)
    if segment is None:
        return code
    end = start + len(segment)
    return (
        code[:start]
        + f"{DISPLAY_NAME} = ({segment})\n"
        + f"if {DISPLAY_NAME} is not None:\n    print(repr({DISPLAY_NAME}))\n"
        + code[end:]
    )


def _byte_to_char(line: str, col_offset: int) -> int:
    # ast column offsets are UTF-8 byte offsets.
    return len(line.encode("utf-8")[:col_offset].decode("utf-8", errors="ignore"))
