"""OOLONG-style records: `Date: ... || User: <id> || Instance: <question>` with hidden labels.

Each instance is a question generated from a template of one of the six TREC coarse classes, so
its label is known exactly. 80% of the records come from the 20% most active users, as in the
OOLONG trec-coarse split. Both the OOLONG and the OOLONG-Pairs families build on these records.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass

LABELS = (
    "numeric value",
    "entity",
    "location",
    "description and abstract concept",
    "abbreviation",
    "human being",
)

LABEL_GUIDE = (
    "Each record's Instance is a question that belongs to exactly one of six labels, by what "
    "its answer would be: 'numeric value' (a number, date, amount, distance, count), 'entity' "
    "(a thing, animal, colour, instrument, name of an object), 'location' (a place), "
    "'description and abstract concept' (a definition, reason or manner), 'abbreviation' (an "
    "expansion or short form), 'human being' (a person or group of people). The labels are not "
    "written in the data: infer each one from the question."
)

_PLACES = (
    "Lisbon",
    "Nairobi",
    "Osaka",
    "Quito",
    "Tallinn",
    "Perth",
    "Cusco",
    "Dakar",
    "Bergen",
    "Hanoi",
    "Tbilisi",
    "Montevideo",
    "Reykjavik",
    "Valletta",
    "Accra",
    "Bruges",
    "Windhoek",
)
_PEOPLE = (
    "Ada Lovelace",
    "Nikola Tesla",
    "Marie Curie",
    "Alan Turing",
    "Frida Kahlo",
    "Leo Tolstoy",
    "Grace Hopper",
    "Louis Pasteur",
    "Rosalind Franklin",
    "Hokusai",
    "Simon Bolivar",
)
_THINGS = (
    "telescope",
    "bicycle",
    "compass",
    "violin",
    "sundial",
    "printing press",
    "thermometer",
    "typewriter",
    "barometer",
    "lighthouse lens",
    "steam engine",
    "microscope",
)
_PLURALS = ("bridges", "museums", "islands", "rivers", "libraries", "volcanoes", "castles")
_TERMS = (
    "entropy",
    "photosynthesis",
    "irony",
    "inflation",
    "osmosis",
    "democracy",
    "momentum",
    "metaphor",
    "erosion",
    "nostalgia",
    "symbiosis",
    "recursion",
)
_ACRONYMS = (
    "NASA",
    "UNESCO",
    "OPEC",
    "CERN",
    "LASER",
    "RADAR",
    "SCUBA",
    "NATO",
    "FIFA",
    "HTML",
    "DNA",
    "GPS",
    "UNICEF",
    "OECD",
    "IMF",
)
_LONG_NAMES = (
    "World Health Organization",
    "International Standard Book Number",
    "Federal Bureau of Investigation",
    "European Space Agency",
    "light-emitting diode",
    "Central Processing Unit",
    "British Broadcasting Corporation",
)
_TITLES = ("The Silent Harbor", "Letters from Perth", "A Map of Small Things", "The Ninth Lantern")
_ANIMALS = ("horse", "eagle", "whale", "tiger", "owl", "fox")

TEMPLATES: dict[str, tuple[str, ...]] = {
    "numeric value": (
        "How many {plural} are there in {place}?",
        "In what year did {person} die?",
        "How far is {place} from {place2} in kilometres?",
        "What is the population of {place}?",
        "How much did the first {thing} cost?",
        "How many strings does a {thing} have?",
    ),
    "entity": (
        "What instrument did {person} play?",
        "What animal appears on the flag of {place}?",
        "What colour is the {thing} in the {place} museum?",
        "What was the name of {person}'s {animal}?",
        "Which plant is the national flower of {place}?",
        "What material is a {thing} usually made of?",
    ),
    "location": (
        "Where is the oldest {thing} kept?",
        "In which country is {place}?",
        "Where was {person} born?",
        "Which city is closest to {place}?",
        "Where can you see the largest {plural}?",
        "On which continent is {place}?",
    ),
    "description and abstract concept": (
        "What does {term} mean?",
        "Why do {plural} form near {place}?",
        "How does a {thing} work?",
        "What is the definition of {term}?",
        "Why is {term} important?",
        "How is {term} explained to children?",
    ),
    "abbreviation": (
        "What does {acronym} stand for?",
        "What is the abbreviation for {long_name}?",
        "What is the full form of {acronym}?",
        "What is {long_name} usually shortened to?",
        "What does the acronym {acronym} expand to?",
    ),
    "human being": (
        "Who invented the {thing}?",
        "Who wrote {title}?",
        "Who was the first mayor of {place}?",
        "Who taught {person}?",
        "Which scientist discovered {term}?",
        "Who designed the first {thing}?",
    ),
}

FIRST_DATE = dt.date(2022, 1, 1)
DATE_SPAN_DAYS = 3 * 365


@dataclass(frozen=True, slots=True)
class Record:
    """One record and its hidden label."""

    date: dt.date
    user: int
    instance: str
    label: str

    def line(self) -> str:
        return (
            f"Date: {self.date.strftime('%b %d, %Y')} || User: {self.user} || "
            f"Instance: {self.instance}"
        )


def instance_for(label: str, rng: random.Random) -> str:
    """A question whose label is `label`."""
    template = rng.choice(TEMPLATES[label])
    place, place2 = rng.sample(_PLACES, 2)
    return template.format(
        place=place,
        place2=place2,
        person=rng.choice(_PEOPLE),
        thing=rng.choice(_THINGS),
        plural=rng.choice(_PLURALS),
        term=rng.choice(_TERMS),
        acronym=rng.choice(_ACRONYMS),
        long_name=rng.choice(_LONG_NAMES),
        title=rng.choice(_TITLES),
        animal=rng.choice(_ANIMALS),
    )


def make_users(rng: random.Random, count: int) -> tuple[list[int], list[int]]:
    """(active, others): distinct 5-digit ids, the active fifth first (at least one each)."""
    ids = rng.sample(range(10_000, 100_000), count)
    active = max(1, count // 5)
    return ids[:active], ids[active:] or ids[:active]


def generate_records(rng: random.Random, byte_budget: int) -> list[Record]:
    """Records until their lines (with newlines) fill `byte_budget` bytes."""
    estimated = max(1, byte_budget // 85)
    active, others = make_users(rng, min(5000, max(10, estimated // 20)))
    # Skewed label frequencies, fixed per task, so counts and comparisons are informative.
    weights = [rng.uniform(0.4, 2.0) for _ in LABELS]
    records: list[Record] = []
    size = 0
    while size < byte_budget:
        user = rng.choice(active) if rng.random() < 0.8 else rng.choice(others)
        label = rng.choices(LABELS, weights)[0]
        date = FIRST_DATE + dt.timedelta(days=rng.randrange(DATE_SPAN_DAYS))
        record = Record(date, user, instance_for(label, rng), label)
        records.append(record)
        size += len(record.line().encode("utf-8")) + 1
    return records


def render(records: list[Record]) -> str:
    return "".join(r.line() + "\n" for r in records)


def label_counts(records: list[Record]) -> Counter[str]:
    return Counter(r.label for r in records)


def format_date(date: dt.date) -> str:
    return date.strftime("%b %d, %Y")
