"""Generates the demo corpus: a few million tokens of station logs with one fact whose answer is
known, seeded and deterministic.

    python tools/make_corpus.py OUT_DIR [--files 24] [--mb-per-file 0.5] [--seed 7]

Prints a JSON object: {"dir", "bytes", "approx_tokens", "question", "answer"}.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

STATIONS = ["Aldebaran", "Borealis", "Cygnus", "Draco", "Eridanus", "Fornax", "Grus", "Hydra"]
CREW = ["Ada", "Bo", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jun"]
EVENTS = [
    "checked the {part} and logged nominal readings",
    "replaced a worn {part} during the night shift",
    "ran diagnostics on the {part}; all tests passed",
    "recalibrated the {part} after a minor drift",
    "noted a faint noise near the {part}, no action needed",
]
PARTS = [
    "coolant pump",
    "airlock seal",
    "antenna array",
    "battery bank",
    "water recycler",
    "gyroscope",
]


def generate(out: Path, files: int, bytes_per_file: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    station = rng.choice(STATIONS)
    code = rng.randint(10_000, 99_999)
    target_file = rng.randrange(files)
    total = 0
    for index in range(files):
        lines: list[str] = []
        size = 0
        day = 0
        target_line = rng.randrange(200, 4000) if index == target_file else -1
        while size < bytes_per_file:
            day += 1
            if len(lines) == target_line:
                line = (
                    f"Day {day:05d} | {station} | Commander's note: the emergency vault access "
                    f"code for station {station} is {code}."
                )
            else:
                who = rng.choice(CREW)
                what = rng.choice(EVENTS).format(part=rng.choice(PARTS))
                line = f"Day {day:05d} | {rng.choice(STATIONS)} | {who} {what}."
            lines.append(line)
            size += len(line) + 1
        text = "\n".join(lines) + "\n"
        (out / f"log_{index:03d}.txt").write_text(text, encoding="utf-8")
        total += len(text.encode("utf-8"))
    return {
        "dir": str(out),
        "bytes": total,
        "approx_tokens": total // 4,
        "question": f"What is the emergency vault access code for station {station}? "
        "Answer with the number only.",
        "answer": str(code),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--mb-per-file", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    info = generate(Path(args.out), args.files, int(args.mb_per_file * 1024 * 1024), args.seed)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
