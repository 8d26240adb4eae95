"""REPL display: a cell whose last statement is an expression prints that value, as in Jupyter."""

from __future__ import annotations

import ast
import io
import tokenize

DISPLAY_NAME = "_rlm_last_value"
_COMPOUND = {"for", "if", "while", "with", "def", "class", "try", "async"}


def with_display(code: str) -> str:
    """Rewrites `code` so the value of a trailing expression is printed (unless it is None).

    Code that CPython cannot parse is first given to `repair`; if it still does not parse it is
    returned unchanged (the sandbox reports the error itself).
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        code = repair(code)
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


def repair(code: str) -> str:
    """Fixes one common slip of models writing code as a single line: a compound statement after
    a semicolon (`x = f(); for m in x: print(m)`), which Python rejects. The statement is moved
    to its own line at the same indentation. Anything else is returned unchanged."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    lines = code.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    depth = 0
    cuts: list[tuple[int, str]] = []
    for index, token in enumerate(tokens):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        elif token.type == tokenize.OP and token.string == ";" and depth == 0:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is not None and following.string in _COMPOUND:
                row, col = token.start
                line = lines[row - 1]
                indent = line[: len(line) - len(line.lstrip())]
                cuts.append((offsets[row - 1] + col, indent))
    if not cuts:
        return code
    repaired = code
    for position, indent in reversed(cuts):
        rest = repaired[position + 1 :].lstrip(" ")
        repaired = repaired[:position] + "\n" + indent + rest
    try:
        ast.parse(repaired)
    except (SyntaxError, ValueError):
        return code
    return repaired
