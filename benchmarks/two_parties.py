"""Two parties' data for the blocking and linkage benchmarks.

Party A is ``anonlink generate`` output (names and dates of birth drawn from
census distributions). Party B holds 80% of A's people, a third of them with a
typo in the name, plus 20% people of its own, in shuffled order. The ``INDEX``
column (ignored by the default linkage schema) keeps A's index for shared people,
so the true matches are known. Both files are hashed with ``anonlink hash`` and
the default schema. Everything is seeded, so a size always gives the same data.
"""

import csv
import os
import random
import subprocess
import sys
from typing import Dict, List, Set, Tuple

ANONLINK = [sys.executable, "-m", "anonlinkclient"]
SHARED = 0.8
TYPO_RATE = 1 / 3


def _run(*args: str) -> None:
    subprocess.run([*ANONLINK, *args], check=True, stderr=subprocess.DEVNULL)


def _read(path: str) -> Tuple[List[str], List[List[str]]]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _typo(name: str, rng: random.Random) -> str:
    position = rng.randrange(len(name))
    return name[:position] + rng.choice("aeiouynmrst") + name[position + 1 :]


def make_parties(size: int, directory: str) -> Dict[str, str]:
    """Write ``pii_a.csv``, ``pii_b.csv``, their CLK files and the default schema to ``directory``.

    :return: the paths, keyed ``pii_a``, ``pii_b``, ``clks_a``, ``clks_b``, ``schema``.
    """
    paths = {name: os.path.join(directory, file) for name, file in [
        ("pii_a", "pii_a.csv"), ("pii_b", "pii_b.csv"), ("clks_a", "clks_a.json"), ("clks_b", "clks_b.json"),
        ("schema", "schema.json"),
    ]}  # fmt: skip
    if all(os.path.exists(path) for path in paths.values()):
        return paths
    rng = random.Random(size)
    fresh = os.path.join(directory, "fresh.csv")
    _run("generate", str(size), paths["pii_a"])
    _run("generate", str(size - int(size * SHARED)), fresh)
    _run("generate-default-schema", paths["schema"])
    header, people_a = _read(paths["pii_a"])
    _, people_new = _read(fresh)
    people_b = []
    for row in rng.sample(people_a, int(size * SHARED)):
        row = list(row)
        if rng.random() < TYPO_RATE:
            row[1] = _typo(row[1], rng)
        people_b.append(row)
    for offset, row in enumerate(people_new):
        people_b.append([str(size + offset), *row[1:]])
    rng.shuffle(people_b)
    with open(paths["pii_b"], "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(people_b)
    os.remove(fresh)
    for party in "ab":
        _run("hash", paths[f"pii_{party}"], "secret", paths["schema"], paths[f"clks_{party}"])
    return paths


def true_pairs(paths: Dict[str, str]) -> Set[Tuple[int, int]]:
    """(row in A, row in B) of every person both parties hold."""
    _, people_a = _read(paths["pii_a"])
    _, people_b = _read(paths["pii_b"])
    row_in_a = {row[0]: index for index, row in enumerate(people_a)}
    return {(row_in_a[row[0]], index) for index, row in enumerate(people_b) if row[0] in row_in_a}


# lambda-fold on the CLKs, sized for 100,000 records a party: 2^10 keys in each of
# 5 tables keeps blocks small, and a pair differing in 4% of its bits still shares
# a block with probability 0.99.
CLK_BLOCKING_SCHEMA = {
    "type": "lambda-fold",
    "version": 1,
    "config": {
        "blocking-features": [1],
        "Lambda": 5,
        "bf-len": 1024,
        "num-hash-funcs": 1,
        "K": 10,
        "input-clks": True,
        "random_state": 0,
    },
}
