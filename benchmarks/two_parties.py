"""Two parties' data for the blocking and linkage benchmarks.

``anonlink generate SIZE pii_a.csv --linked pii_b.csv --truth truth.csv``
writes both: party B holds 80% of A's people, with the errors of real data
(typos, swapped names, nicknames, date of birth errors, missing values) at the
default corruption rate, plus 20% people of its own, in shuffled order. The
truth file says which rows match. Both files are hashed with ``anonlink hash``
and the default schema. Everything is seeded, so a size always gives the same
data.
"""

import csv
import os
import subprocess
import sys
from typing import Dict, Set, Tuple

ANONLINK = [sys.executable, "-m", "anonlinkclient"]
SHARED = 0.8


def _run(*args: str) -> None:
    subprocess.run([*ANONLINK, *args], check=True, stderr=subprocess.DEVNULL)


def make_parties(size: int, directory: str) -> Dict[str, str]:
    """Write ``pii_a.csv``, ``pii_b.csv``, the truth, their CLK files and the default schemas to ``directory``.

    :return: the paths, keyed ``pii_a``, ``pii_b``, ``truth``, ``clks_a``, ``clks_b``, ``schema``, and the
        default blocking schemas ``psig`` (for the PII) and ``lambda_fold`` (for the CLKs).
    """
    paths = {name: os.path.join(directory, file) for name, file in [
        ("pii_a", "pii_a.csv"), ("pii_b", "pii_b.csv"), ("truth", "truth.csv"), ("clks_a", "clks_a.json"),
        ("clks_b", "clks_b.json"), ("schema", "schema.json"), ("psig", "psig.json"), ("lambda_fold", "lambda.json"),
    ]}  # fmt: skip
    if all(os.path.exists(path) for path in paths.values()):
        return paths
    _run("generate", str(size), paths["pii_a"], "--linked", paths["pii_b"], "--truth", paths["truth"],
         "--overlap", str(SHARED), "--seed", str(size))  # fmt: skip
    _run("generate-default-schema", paths["schema"], "--blocking-psig", paths["psig"],
         "--blocking-lambda-fold", paths["lambda_fold"])  # fmt: skip
    for party in "ab":
        _run("hash", paths[f"pii_{party}"], "secret", paths["schema"], paths[f"clks_{party}"])
    return paths


def true_pairs(paths: Dict[str, str]) -> Set[Tuple[int, int]]:
    """(row in A, row in B) of every person both parties hold, from the truth file."""
    with open(paths["truth"], newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row_a", "row_b"], paths["truth"]
    return {(int(a), int(b)) for a, b in rows[1:]}


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
