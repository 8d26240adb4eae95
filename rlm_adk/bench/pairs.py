"""OOLONG-Pairs style: every pair of user ids that meets label and date conditions; F1 over pairs.

Symmetric variant (even seeds): unordered pairs of distinct users who *both* have at least `k`
records with one of two labels. Asymmetric variant (odd seeds): ordered pairs `(a, b)`, `a != b`,
where `a` has at least `k1` records of label L1 dated before a cut-off and `b` at least `k2`
records of label L2 dated on or after it. Thresholds are the smallest that keep each qualifying
set at or below `MAX_QUALIFYING` users (so the answer stays listable at any length), and the
whole answer is computed from the generated labels, so it is exact.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

from rlm_adk.bench.records import (
    DATE_SPAN_DAYS,
    FIRST_DATE,
    LABEL_GUIDE,
    LABELS,
    Record,
    format_date,
    generate_records,
    render,
)
from rlm_adk.bench.tasks import Task, rng_for, target_bytes

FAMILY = "pairs"
MAX_QUALIFYING = 30

_FORMAT = (
    "List one pair per line as `(ID1, ID2)`, with no other text; reply `NONE` if there is no "
    "such pair."
)


def _threshold(counts: Counter[int], users: list[int]) -> tuple[int, list[int]]:
    """The smallest k >= 1 with at most MAX_QUALIFYING users having count >= k."""
    k = 1
    while True:
        chosen = sorted(u for u in users if counts[u] >= k)
        if len(chosen) <= MAX_QUALIFYING:
            return k, chosen
        k += 1


def _counts(records: list[Record], keep: Callable[[Record], bool]) -> Counter[int]:
    return Counter(r.user for r in records if keep(r))


def make(tokens: int, seed: int) -> Task:
    """About `tokens` estimated tokens of records and one pair-listing question."""
    rng = rng_for(FAMILY, tokens, seed)
    records = generate_records(rng, target_bytes(tokens))
    users = sorted({r.user for r in records})
    preface = (
        "The context is a list of records, one per line: `Date: ... || User: <id> || "
        f"Instance: <question>`. {LABEL_GUIDE}\n\n"
    )
    if seed % 2 == 0:
        first, second = rng.sample(LABELS, 2)
        counts = _counts(records, lambda r: r.label in (first, second))
        k, chosen = _threshold(counts, users)
        pairs = [(a, b) for i, a in enumerate(chosen) for b in chosen[i + 1 :]]
        question = (
            f"List every pair of distinct user IDs where both users each have at least {k} "
            f"record(s) with the label '{first}' or '{second}' (the two labels together). Each "
            f"pair once, smaller ID first. {_FORMAT}"
        )
        meta = {"variant": "symmetric", "k": k, "qualifying": len(chosen), "records": len(records)}
        return _task(tokens, seed, records, preface + question, pairs, True, meta)
    l1, l2 = rng.sample(LABELS, 2)
    cut = FIRST_DATE + dt.timedelta(
        days=rng.randrange(DATE_SPAN_DAYS // 4, DATE_SPAN_DAYS * 3 // 4)
    )
    k1, left = _threshold(_counts(records, lambda r: r.label == l1 and r.date < cut), users)
    k2, right = _threshold(_counts(records, lambda r: r.label == l2 and r.date >= cut), users)
    pairs = [(a, b) for a in left for b in right if a != b]
    question = (
        f"List every ordered pair of distinct user IDs (ID1, ID2) where user ID1 has at least "
        f"{k1} record(s) with the label '{l1}' dated before {format_date(cut)}, and user ID2 has "
        f"at least {k2} record(s) with the label '{l2}' dated on or after {format_date(cut)}. "
        f"{_FORMAT}"
    )
    meta = {
        "variant": "asymmetric",
        "k1": k1,
        "k2": k2,
        "cut": cut.isoformat(),
        "records": len(records),
    }
    return _task(tokens, seed, records, preface + question, pairs, False, meta)


def _task(
    tokens: int,
    seed: int,
    records: list[Record],
    question: str,
    pairs: list[tuple[int, int]],
    symmetric: bool,
    meta: dict[str, object],
) -> Task:
    return Task(
        family=FAMILY,
        tokens=tokens,
        seed=seed,
        context=render(records),
        question=question,
        answer=pairs,
        kind="pairs",
        symmetric=symmetric,
        meta=meta,
    )
