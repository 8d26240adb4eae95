"""The task families by name, and `make_task(family, tokens, seed)`."""

from __future__ import annotations

from collections.abc import Callable

from rlm_adk.bench import niah, oolong, pairs
from rlm_adk.bench.tasks import Task

FAMILIES: dict[str, Callable[[int, int], Task]] = {
    niah.FAMILY: niah.make,
    oolong.FAMILY: oolong.make,
    pairs.FAMILY: pairs.make,
}


def make_task(family: str, tokens: int, seed: int) -> Task:
    """The seeded task of `family` at about `tokens` estimated tokens."""
    try:
        maker = FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}") from None
    return maker(tokens, seed)
