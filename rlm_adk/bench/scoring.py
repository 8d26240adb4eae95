"""Exact scorers: exact match, single-option match, `0.75 ** |error|` numbers, F1 over pairs.

Replies from models are free text, so every scorer first extracts the one thing it grades and
refuses ambiguity: a reply that names two different candidates scores 0, so listing every
possible answer never earns credit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rlm_adk.bench.tasks import Task

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")
_PAIR = re.compile(r"\(?\s*(\d+)\s*,\s*(\d+)\s*\)?")
_EDGE = re.compile(r"^[\s\"'`*.:;,!?()\[\]]+|[\s\"'`*.:;,!?()\[\]]+$")
_PREFIX = re.compile(r"^(final answer|answer|the answer is)\s*[:=-]?\s*", re.IGNORECASE)


def normalize(text: str) -> str:
    """Lower case, collapsed spaces, no surrounding quotes/punctuation or `answer:` prefix."""
    text = " ".join(str(text).split()).lower()
    text = _EDGE.sub("", text)
    text = _PREFIX.sub("", text)
    return _EDGE.sub("", text)


def exact_match(reply: str, truth: str) -> float:
    """1.0 when the normalized reply equals the truth, or contains it as a whole word and no
    other candidate of the same shape (another number when the truth is a number)."""
    got, want = normalize(reply), normalize(truth)
    if not want:
        return float(got == want)
    if got == want:
        return 1.0
    if not re.search(rf"(?<![\w-]){re.escape(want)}(?![\w-])", got):
        return 0.0
    if want.replace(",", "").isdigit():
        others = {n.replace(",", "") for n in _NUMBER.findall(got)} - {want}
        return 0.0 if others else 1.0
    return 1.0


def option_match(reply: str, truth: str, options: Iterable[str]) -> float:
    """1.0 when exactly one of `options` appears in the reply (longest first, whole words) and
    it is the truth."""
    text = normalize(reply)
    found: set[str] = set()
    for option in sorted(options, key=len, reverse=True):
        pattern = rf"(?<![\w-]){re.escape(option.lower())}(?![\w-])"
        if re.search(pattern, text):
            found.add(option)
            text = re.sub(pattern, " ", text)
    return 1.0 if found == {truth} else 0.0


def extract_number(reply: str) -> float | None:
    """The last number in the reply (thousands separators allowed), or None."""
    matches = _NUMBER.findall(str(reply))
    if not matches:
        return None
    try:
        return float(matches[-1].replace(",", ""))
    except ValueError:
        return None


def number_score(reply: str, truth: int | float) -> float:
    """OOLONG's numeric score: `0.75 ** |predicted - truth|` (0 when no number is given)."""
    value = extract_number(reply)
    if value is None:
        return 0.0
    return float(0.75 ** abs(value - float(truth)))


def parse_pairs(reply: str, symmetric: bool) -> set[tuple[int, int]]:
    """Every `(a, b)` in the reply; unordered pairs are normalized to (smaller, larger)."""
    out: set[tuple[int, int]] = set()
    for a_text, b_text in _PAIR.findall(str(reply)):
        a, b = int(a_text), int(b_text)
        if a == b:
            continue
        out.add((min(a, b), max(a, b)) if symmetric else (a, b))
    return out


def pairs_f1(reply: str, truth: Iterable[tuple[int, int]], symmetric: bool) -> float:
    """F1 between the pairs in the reply and the true pairs (1.0 when both are empty)."""
    want = {(min(a, b), max(a, b)) if symmetric else (a, b) for a, b in truth}
    got = parse_pairs(reply, symmetric)
    if not want and not got:
        return 1.0
    hits = len(want & got)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(got), hits / len(want)
    return 2 * precision * recall / (precision + recall)


def score(task: Task, reply: str | None) -> float:
    """The task's score for a reply, in [0, 1]."""
    if reply is None:
        return 0.0
    if task.kind == "exact":
        return exact_match(reply, str(task.answer))
    if task.kind == "number":
        return number_score(reply, task.answer)
    if task.kind == "option":
        return option_match(reply, str(task.answer), task.options)
    if task.kind == "pairs":
        return pairs_f1(reply, task.answer, task.symmetric)
    raise ValueError(f"unknown score kind {task.kind!r}")
