"""Task generators: seeded determinism, sizes, and ground truth recomputed from the text itself."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlm_adk.bench import make_task, parse_tokens, score
from rlm_adk.bench.records import LABELS, TEMPLATES, instance_for
from rlm_adk.bench.tasks import BYTES_PER_TOKEN, format_tokens

LINE = re.compile(r"^Date: (\w{3} \d{2}, \d{4}) \|\| User: (\d+) \|\| Instance: (.+)$")


def _label_of(instance: str) -> str:
    """Recovers a label from the templates alone: each instance matches exactly one label."""
    found = set()
    for label, templates in TEMPLATES.items():
        for template in templates:
            pattern = re.escape(template)
            pattern = re.sub(r"\\\{\w+\\\}", ".+?", pattern)
            if re.fullmatch(pattern, instance):
                found.add(label)
    assert len(found) == 1, (instance, found)
    return found.pop()


def _labels_in(question: str) -> list[str]:
    """Labels named in the question itself (after the label guide)."""
    tail = question.split("\n\n")[-1]
    return [x for x in re.findall(r"'([^']+)'", tail) if x in LABELS]


def _parse(context: str) -> list[tuple[dt.date, int, str]]:
    rows = []
    for line in context.splitlines():
        m = LINE.match(line)
        assert m, line
        date = dt.datetime.strptime(m.group(1), "%b %d, %Y").date()
        rows.append((date, int(m.group(2)), _label_of(m.group(3))))
    return rows


@pytest.mark.parametrize("family", ["niah", "oolong", "pairs"])
def test_same_seed_same_bytes_other_seed_other_bytes(family: str) -> None:
    a, b, c = make_task(family, 4096, 7), make_task(family, 4096, 7), make_task(family, 4096, 8)
    assert a.context == b.context and a.answer == b.answer and a.question == b.question
    assert a.context != c.context


@pytest.mark.parametrize("family", ["niah", "oolong", "pairs"])
@pytest.mark.parametrize("tokens", [2048, 8192, 65536])
def test_length_is_close_to_target(family: str, tokens: int) -> None:
    task = make_task(family, tokens, 1)
    target = tokens * BYTES_PER_TOKEN
    assert target <= task.context_bytes <= target + 400


def test_niah_needle_occurs_once_and_is_the_only_number() -> None:
    for seed in range(20):
        task = make_task("niah", 4096, seed)
        key = task.meta["key"]
        assert task.context.count(key) == 1
        assert re.findall(r"\d+", task.context) == [task.answer]
        sentence = f"The special magic number for {key} is {task.answer}."
        assert sentence in task.context
        assert key in task.question


@pytest.mark.parametrize("seed", range(10))
def test_oolong_answer_recomputed_from_text(seed: int) -> None:
    task = make_task("oolong", 3000, seed)
    rows = _parse(task.context)
    counts = Counter(label for _, _, label in rows)
    qtype = task.meta["question_type"]
    label = re.search(r"label '([^']+)'", task.question)
    if qtype == "count":
        assert task.answer == counts[label.group(1)]
    elif qtype == "compare":
        first, second = re.findall(r"label '([^']+)'", task.question)
        a, b = counts[first], counts[second]
        want = "more common" if a > b else "less common" if a < b else "same frequency"
        assert task.answer == want
    elif qtype == "most_common":
        top = max(counts.values())
        assert [lab for lab, n in counts.items() if n == top] == [task.answer]
    elif qtype == "user_count":
        user = task.meta["user"]
        assert task.answer == sum(1 for _, u, lab in rows if u == user and lab == label.group(1))
    else:
        year = task.meta["year"]
        assert task.answer == sum(
            1 for d, _, lab in rows if d.year == year and lab == label.group(1)
        )


def test_oolong_covers_every_question_type() -> None:
    types = {make_task("oolong", 2048, seed).meta["question_type"] for seed in range(10)}
    assert types >= {"count", "compare", "user_count", "year_count"}


def test_oolong_skew_most_records_from_active_fifth() -> None:
    rows = _parse(make_task("oolong", 65536, 3).context)
    per_user = Counter(u for _, u, _ in rows)
    users = sorted(per_user, key=per_user.get, reverse=True)
    top = users[: max(1, len(users) // 5)]
    share = sum(per_user[u] for u in top) / len(rows)
    assert 0.72 <= share <= 0.9


@pytest.mark.parametrize("seed", range(6))
def test_pairs_answer_recomputed_from_text(seed: int) -> None:
    task = make_task("pairs", 6000, seed)
    rows = _parse(task.context)
    if task.meta["variant"] == "symmetric":
        assert task.symmetric
        k = task.meta["k"]
        first, second = _labels_in(task.question)
        counts = Counter(u for _, u, lab in rows if lab in (first, second))
        good = sorted(u for u, n in counts.items() if n >= k)
        want = {(a, b) for a in good for b in good if a < b}
    else:
        assert not task.symmetric
        l1, l2 = _labels_in(task.question)
        cut = dt.date.fromisoformat(task.meta["cut"])
        left = Counter(u for d, u, lab in rows if lab == l1 and d < cut)
        right = Counter(u for d, u, lab in rows if lab == l2 and d >= cut)
        a_ok = {u for u, n in left.items() if n >= task.meta["k1"]}
        b_ok = {u for u, n in right.items() if n >= task.meta["k2"]}
        want = {(a, b) for a in a_ok for b in b_ok if a != b}
    assert set(task.answer) == want
    assert want, "a pairs task with no pair tests nothing"


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LABELS), st.integers(0, 10**6))
def test_every_generated_instance_has_exactly_its_label(label: str, seed: int) -> None:
    import random

    assert _label_of(instance_for(label, random.Random(seed))) == label


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["niah", "oolong", "pairs"]), st.integers(512, 6000), st.integers(0, 999))
def test_truth_scores_one(family: str, tokens: int, seed: int) -> None:
    task = make_task(family, tokens, seed)
    if task.kind == "pairs":
        reply = "\n".join(f"({a}, {b})" for a, b in task.answer) or "NONE"
    else:
        reply = str(task.answer)
    assert score(task, reply) == 1.0


def test_token_sizes_parse_and_format() -> None:
    assert parse_tokens("8K") == 8192
    assert parse_tokens("10m") == 10 * 1024 * 1024
    assert parse_tokens("1500") == 1500
    assert format_tokens(parse_tokens("256K")) == "256K"
    with pytest.raises(ValueError):
        parse_tokens("0")
