"""Needle in a haystack (S-NIAH style): one key-value sentence hidden in generated filler.

The filler is grammatical prose built from fixed word lists that hold no digits and none of the
key words, so the needle's 7-digit value is the only number in the text and the key occurs once:
the answer is exact by construction.
"""

from __future__ import annotations

from rlm_adk.bench.tasks import Task, rng_for, target_bytes

FAMILY = "niah"

_SUBJECTS = (
    "the harbor",
    "a quiet village",
    "the old library",
    "every garden",
    "the northern road",
    "a travelling merchant",
    "the river",
    "our neighbour",
    "the council",
    "a young painter",
    "the bakery",
    "the mountain pass",
    "a patient teacher",
    "the market square",
    "the lighthouse",
    "the orchard",
    "a curious child",
    "the museum",
    "the winter festival",
    "a small workshop",
)
_VERBS = (
    "remembered",
    "described",
    "changed",
    "welcomed",
    "followed",
    "questioned",
    "protected",
    "admired",
    "ignored",
    "repaired",
    "celebrated",
    "studied",
    "measured",
    "visited",
    "shaped",
)
_OBJECTS = (
    "the long afternoon",
    "a forgotten promise",
    "the morning light",
    "every visitor",
    "the narrow bridge",
    "a careful plan",
    "the evening bells",
    "an unfinished letter",
    "the distant hills",
    "a simple question",
    "the autumn harvest",
    "the slow tide",
    "a borrowed lantern",
    "the silent crowd",
    "the crooked fence",
    "a fresh idea",
)
_TAILS = (
    "without saying a word",
    "before the rain arrived",
    "as the seasons turned",
    "with unusual care",
    "long after everyone left",
    "in the usual way",
    "despite the noise",
    "for reasons nobody recalled",
    "while the town slept",
    "at the edge of the map",
)
# Key words never used in filler; a key is two of them joined by a hyphen.
_KEY_A = ("amber", "cobalt", "crimson", "ivory", "jade", "onyx", "saffron", "teal", "umber")
_KEY_B = ("falcon", "otter", "lynx", "heron", "badger", "marten", "osprey", "ibis", "gecko")


def filler_sentence(rng: object) -> str:
    """One filler sentence (`rng` is a `random.Random`)."""
    choice = rng.choice  # type: ignore[attr-defined]
    text = f"{choice(_SUBJECTS)} {choice(_VERBS)} {choice(_OBJECTS)} {choice(_TAILS)}."
    return text[0].upper() + text[1:]


def make(tokens: int, seed: int) -> Task:
    """A haystack of about `tokens` estimated tokens with one needle at a random depth."""
    rng = rng_for(FAMILY, tokens, seed)
    key = f"{rng.choice(_KEY_A)}-{rng.choice(_KEY_B)}"
    value = str(rng.randrange(1_000_000, 10_000_000))
    needle = f"The special magic number for {key} is {value}."
    budget = max(target_bytes(tokens) - len(needle) - 1, 0)
    sentences: list[str] = []
    size = 0
    while size < budget:
        sentence = filler_sentence(rng)
        sentences.append(sentence)
        size += len(sentence) + 1
    position = rng.randint(0, len(sentences))
    sentences.insert(position, needle)
    # Paragraphs of ten sentences keep lines short for grep and line-based reads.
    lines = [" ".join(sentences[i : i + 10]) for i in range(0, len(sentences), 10)]
    context = "\n".join(lines) + "\n"
    question = (
        f"Somewhere in the text there is a sentence of the form 'The special magic number for "
        f"{key} is N.' What is the special magic number for {key}? Reply with the number only."
    )
    return Task(
        family=FAMILY,
        tokens=tokens,
        seed=seed,
        context=context,
        question=question,
        answer=value,
        kind="exact",
        meta={"key": key, "depth": round(position / max(1, len(sentences)), 4)},
    )
