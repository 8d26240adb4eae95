"""The task model shared by every benchmark family: a context with an exact ground truth.

Lengths are in *estimated tokens*: UTF-8 bytes / 4, the same rule the engine's admission uses
(`rlm_adk.engine.calls.estimate_tokens`), so a "32K" task is about 128 KB of text for every
family and every model. Generators are seeded and pure: the same (family, tokens, seed) always
gives byte-identical text and the same answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

BYTES_PER_TOKEN = 4
"""Length rule for task sizes (bytes per estimated token)."""

ScoreKind = Literal["exact", "number", "option", "pairs"]


@dataclass(frozen=True)
class Task:
    """One benchmark item: a context, a question about it and its exact answer.

    `answer` is a string for `exact`/`option` tasks, an int for `number` tasks and a list of
    `(a, b)` pairs for `pairs` tasks. `options` lists the allowed answers of an `option` task
    (exactly one must appear in a reply). `symmetric` says whether pairs are unordered.
    """

    family: str
    tokens: int
    seed: int
    context: str
    question: str
    answer: Any
    kind: ScoreKind
    options: tuple[str, ...] = ()
    symmetric: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def task_id(self) -> str:
        """A stable name: `<family>-<tokens>-<seed>`."""
        return f"{self.family}-{self.tokens}-{self.seed}"

    @property
    def context_bytes(self) -> int:
        return len(self.context.encode("utf-8"))

    def write(self, directory: Path) -> Path:
        """Writes the context to `<directory>/<task_id>.txt` (for file-backed runs)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.task_id}.txt"
        path.write_text(self.context, encoding="utf-8")
        return path

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description without the context text."""
        answer = self.answer
        if self.kind == "pairs":
            answer = f"{len(self.answer)} pairs"
        return {
            "task_id": self.task_id,
            "family": self.family,
            "tokens": self.tokens,
            "seed": self.seed,
            "bytes": self.context_bytes,
            "kind": self.kind,
            "question": self.question,
            "answer": answer,
            **self.meta,
        }


def rng_for(family: str, tokens: int, seed: int) -> random.Random:
    """A generator seeded from the task's identity (stable across Python runs: no `hash()`)."""
    return random.Random(f"{family}:{tokens}:{seed}")


def target_bytes(tokens: int) -> int:
    return max(1, tokens) * BYTES_PER_TOKEN


def parse_tokens(text: str) -> int:
    """`8K`, `32k`, `1M`, `10m` or `8192` -> a token count."""
    raw = text.strip().lower().replace("_", "")
    scale = 1
    if raw.endswith("k"):
        scale, raw = 1024, raw[:-1]
    elif raw.endswith("m"):
        scale, raw = 1024 * 1024, raw[:-1]
    value = float(raw) * scale
    if value < 1:
        raise ValueError(f"a length must be at least 1 token, got {text!r}")
    return int(value)


def format_tokens(tokens: int) -> str:
    """8192 -> `8K`, 10485760 -> `10M` (inverse of `parse_tokens` for round sizes)."""
    if tokens % (1024 * 1024) == 0:
        return f"{tokens // (1024 * 1024)}M"
    if tokens % 1024 == 0:
        return f"{tokens // 1024}K"
    return str(tokens)
