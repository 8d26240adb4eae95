"""Scorers: exact match, options, numbers (0.75 ** |error|) and F1 over pairs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlm_adk.bench.scoring import (
    exact_match,
    extract_number,
    number_score,
    option_match,
    pairs_f1,
    parse_pairs,
)

OPTIONS = ("more common", "less common", "same frequency")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("1234567", 1.0),
        ("  '1234567'. ", 1.0),
        ("Answer: 1234567", 1.0),
        ("The special magic number for amber-otter is 1234567.", 1.0),
        ("1234568", 0.0),
        ("12345678", 0.0),
        ("either 1234567 or 7654321", 0.0),  # naming two candidates earns nothing
        ("", 0.0),
    ],
)
def test_exact_match(reply: str, expected: float) -> None:
    assert exact_match(reply, "1234567") == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("less common", 1.0),
        ("It is LESS COMMON.", 1.0),
        ("more common", 0.0),
        ("less common or more common", 0.0),
        ("I don't know", 0.0),
    ],
)
def test_option_match(reply: str, expected: float) -> None:
    assert option_match(reply, "less common", OPTIONS) == expected


def test_option_match_prefers_longest_option() -> None:
    labels = ("entity", "description and abstract concept", "human being")
    assert option_match(
        "description and abstract concept", "description and abstract concept", labels
    )
    assert option_match("human being", "entity", labels) == 0.0


@pytest.mark.parametrize(
    ("reply", "value"),
    [("42", 42.0), ("There are 1,204 records.", 1204.0), ("from 3 to 7", 7.0), ("none", None)],
)
def test_extract_number(reply: str, value: float | None) -> None:
    assert extract_number(reply) == value


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 5000), st.integers(-50, 50))
def test_number_score_is_075_to_the_error(truth: int, error: int) -> None:
    assert math.isclose(number_score(str(truth + error), truth), 0.75 ** abs(error))


def test_number_score_without_a_number_is_zero() -> None:
    assert number_score("no idea", 3) == 0.0


def test_parse_pairs_symmetric_and_ordered() -> None:
    reply = "(5, 3)\n(3, 5)\n7,9\n(4, 4)"
    assert parse_pairs(reply, symmetric=True) == {(3, 5), (7, 9)}
    assert parse_pairs(reply, symmetric=False) == {(5, 3), (3, 5), (7, 9)}


def test_pairs_f1_values() -> None:
    truth = [(1, 2), (1, 3), (2, 3), (3, 4)]
    assert pairs_f1("(1, 2)\n(2, 1)\n(1, 3)", truth, symmetric=True) == pytest.approx(
        2 * 1.0 * 0.5 / 1.5
    )
    assert pairs_f1("NONE", truth, symmetric=True) == 0.0
    assert pairs_f1("NONE", [], symmetric=True) == 1.0
    assert pairs_f1("(2, 1)", [(1, 2)], symmetric=False) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.tuples(st.integers(1, 40), st.integers(1, 40)).filter(lambda p: p[0] != p[1])),
    st.sets(st.tuples(st.integers(1, 40), st.integers(1, 40)).filter(lambda p: p[0] != p[1])),
)
def test_pairs_f1_matches_set_definition(truth: set, predicted: set) -> None:
    reply = "\n".join(f"({a}, {b})" for a, b in predicted)
    got = pairs_f1(reply, truth, symmetric=False)
    hits = len(truth & predicted)
    if not truth and not predicted:
        assert got == 1.0
    elif hits == 0:
        assert got == 0.0
    else:
        p, r = hits / len(predicted), hits / len(truth)
        assert got == pytest.approx(2 * p * r / (p + r))
    assert 0.0 <= got <= 1.0
