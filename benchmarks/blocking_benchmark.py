"""Blocking speed and memory: ``anonlink block`` with each method on two parties' data.

Usage: python benchmarks/blocking_benchmark.py [RECORDS ...]   (default: 100000)

For each size, two parties of RECORDS records each are made (see two_parties.py)
and blocked five ways: lambda-fold on the CLKs, lambda-fold on the PII (the
manual's example configuration), p-sig on the PII, and the default blocking
schemas of the demo data (lambda-fold on the CLKs, p-sig on the PII). Each run is one ``anonlink
block`` process; its wall time and the peak memory of its process tree are
printed, with the number of blocks and of records in no block.
"""

import json
import os
import sys
import tempfile
from typing import Any, Dict, List, Tuple, Union

from measure import measure
from two_parties import ANONLINK, CLK_BLOCKING_SCHEMA, make_parties

# Columns of the generated PII: 0 INDEX, 1 NAME freetext, 2 DOB YYYY/MM/DD, 3 GENDER.
PII_LAMBDA_FOLD_SCHEMA = {
    "type": "lambda-fold",
    "version": 1,
    "config": {
        "blocking-features": [1, 2],
        "Lambda": 5,
        "bf-len": 2048,
        "num-hash-funcs": 10,
        "K": 40,
        "random_state": 0,
        "input-clks": False,
    },
}
PSIG_SCHEMA = {
    "type": "p-sig",
    "version": 1,
    "config": {
        "blocking-features": [1, 2],
        "filter": {"type": "count", "max": 500, "min": 0},
        "blocking-filter": {"type": "bloom filter", "number-hash-functions": 4, "bf-len": 2048},
        "signatureSpecs": [
            [
                {"type": "characters-at", "config": {"pos": ["0:3"]}, "feature": 1},
                {"type": "characters-at", "config": {"pos": ["0:4"]}, "feature": 2},
            ],
            [{"type": "metaphone", "feature": 1}],
            [{"type": "feature-value", "feature": 2}],
        ],
    },
}
RUNS: List[Tuple[str, Union[str, Dict[str, Any]], str]] = [
    ("lambda-fold on CLKs", CLK_BLOCKING_SCHEMA, "clks"),
    ("lambda-fold on PII", PII_LAMBDA_FOLD_SCHEMA, "pii"),
    ("p-sig on PII", PSIG_SCHEMA, "pii"),
    # The default blocking schemas (anonlink generate-default-schema --blocking-...), written by make_parties.
    ("default lambda-fold", "lambda_fold", "clks"),
    ("default p-sig", "psig", "pii"),
]


def write_schema(directory: str, name: str, schema: Dict[str, Any]) -> str:
    path = os.path.join(directory, name.replace(" ", "-") + ".json")
    with open(path, "w") as handle:
        json.dump(schema, handle)
    return path


def main(sizes: list) -> None:
    print(f"cores: {os.cpu_count()}")
    print(f"{'records':>8} {'party':>5} {'method':<20} {'seconds':>8} {'peak MiB':>9} {'blocks':>8} {'no block':>8}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_parties(size, tmp)
            for name, schema, source in RUNS:
                schema_path = paths[schema] if isinstance(schema, str) else write_schema(tmp, name, schema)
                for party in "ab":
                    out = os.path.join(tmp, "blocks.json")
                    command = ANONLINK + ["block", paths[f"{source}_{party}"], schema_path, out]
                    seconds, peak = measure(command, stderr=open(os.devnull, "w"))
                    with open(out) as handle:
                        stats = json.load(handle)["meta"]["stats"]
                    print(
                        f"{size:>8} {party:>5} {name:<20} {seconds:>8.2f} {peak:>9.0f} "
                        f"{stats['num_of_blocks']:>8} {stats['num_of_records_in_no_block']:>8}",
                        flush=True,
                    )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000])
