"""OOLONG style (trec-coarse-like): counting and comparing hidden labels over many records.

Question types (chosen by the seed): how many records carry a label; whether one label is more
common, less common or as frequent as another; which label is the most common; how many of one
user's records carry a label; how many records of one year carry a label. Numeric answers are
scored `0.75 ** |error|`, the others by exact option match.
"""

from __future__ import annotations

from collections import Counter

from rlm_adk.bench.records import LABEL_GUIDE, LABELS, generate_records, label_counts, render
from rlm_adk.bench.tasks import Task, rng_for, target_bytes

FAMILY = "oolong"
QUESTION_TYPES = ("count", "compare", "most_common", "user_count", "year_count")
COMPARE_OPTIONS = ("more common", "less common", "same frequency")


def make(tokens: int, seed: int) -> Task:
    """About `tokens` estimated tokens of records and one aggregate question about them."""
    rng = rng_for(FAMILY, tokens, seed)
    records = generate_records(rng, target_bytes(tokens))
    counts = label_counts(records)
    qtype = QUESTION_TYPES[seed % len(QUESTION_TYPES)]
    preface = (
        "The context is a list of records, one per line: `Date: ... || User: <id> || "
        f"Instance: <question>`. {LABEL_GUIDE}\n\n"
    )
    label = rng.choice(LABELS)
    if qtype == "most_common":
        top = counts.most_common()
        if len(top) > 1 and top[0][1] == top[1][1]:
            qtype = "count"  # a tie has no single right answer
    meta: dict[str, object] = {"question_type": qtype, "records": len(records)}
    if qtype == "count":
        question = f"How many records have the label '{label}'? Reply with a number only."
        return _task(tokens, seed, records, preface + question, counts[label], "number", meta)
    if qtype == "compare":
        other = rng.choice([x for x in LABELS if x != label])
        a, b = counts[label], counts[other]
        truth = COMPARE_OPTIONS[0] if a > b else COMPARE_OPTIONS[1] if a < b else COMPARE_OPTIONS[2]
        question = (
            f"Is the label '{label}' more common, less common, or the same frequency as the label "
            f"'{other}'? Reply with exactly one of: more common, less common, same frequency."
        )
        return _task(
            tokens, seed, records, preface + question, truth, "option", meta, COMPARE_OPTIONS
        )
    if qtype == "most_common":
        truth = counts.most_common(1)[0][0]
        question = "Which label is the most common? Reply with the label only."
        return _task(tokens, seed, records, preface + question, truth, "option", meta, LABELS)
    if qtype == "user_count":
        by_user = Counter(r.user for r in records)
        user = rng.choice(sorted(by_user))
        truth = sum(1 for r in records if r.user == user and r.label == label)
        question = (
            f"How many records of user {user} have the label '{label}'? Reply with a number only."
        )
        meta["user"] = user
        return _task(tokens, seed, records, preface + question, truth, "number", meta)
    year = rng.choice(sorted({r.date.year for r in records}))
    truth = sum(1 for r in records if r.date.year == year and r.label == label)
    question = (
        f"How many records dated in {year} have the label '{label}'? Reply with a number only."
    )
    meta["year"] = year
    return _task(tokens, seed, records, preface + question, truth, "number", meta)


def _task(
    tokens: int,
    seed: int,
    records: list,
    question: str,
    answer: object,
    kind: str,
    meta: dict[str, object],
    options: tuple[str, ...] = (),
) -> Task:
    return Task(
        family=FAMILY,
        tokens=tokens,
        seed=seed,
        context=render(records),
        question=question,
        answer=answer,
        kind=kind,  # type: ignore[arg-type]
        options=options,
        meta=meta,
    )
