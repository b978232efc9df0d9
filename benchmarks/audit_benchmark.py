"""Audit speed and memory: the whole ``audit_files`` (read, hash, both attacks, scoring, census).

Usage: python benchmarks/audit_benchmark.py [ROWS ...]   (default: 100000 1000000)

For each size, ``anonlink generate`` makes the records (names, dates of birth and genders
drawn from census distributions; the default schema hashes all three), and the audit runs
in a process of its own, measured from outside: wall time, peak memory of the whole
process tree (summed RSS of the parent and its hashing workers, see measure.py) and the
CPU time of the parent and of all processes. The audit is worst case (the attacker's list
is the records themselves) and, with ``--reference``, also realistic, with a disjoint
sample of the same size as the list.

A second run per size audits a first-name-only schema (bigrams, k = 15), the data the
published attacks were measured on.

The targets (issue 19): 100,000 records in under 2 minutes, 1,000,000 in under 20, on 2
cores, under 1 GB. On a shared machine the wall time says little: the CPU time of the
parent (the attacks run in it, the hashing in the workers) is what to compare.
"""

import csv
import json
import os
import sys
import tempfile
from typing import List

from measure import measure_all

ANONLINK = [sys.executable, "-m", "anonlinkclient"]

AUDIT = """
import json, sys, time
from anonlinkclient.audit.page import verdict
from anonlinkclient.audit.run import audit_files
pii, schema, reference = sys.argv[1:4]
start = time.perf_counter()
result = audit_files(pii, "secret", schema, reference_path=reference or None)
print(json.dumps({"seconds": time.perf_counter() - start, "verdict": verdict(result)}))
"""

FIRST_NAMES = {
    "version": 3,
    "clkConfig": {
        "l": 1024,
        "kdf": {
            "type": "HKDF",
            "hash": "SHA256",
            "salt": "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==",
            "info": "c2NoZW1hX2V4YW1wbGU=",
            "keySize": 64,
        },
    },
    "features": [
        {"identifier": "INDEX", "ignored": True},
        {
            "identifier": "NAME freetext",
            "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerToken": 15},
                "hash": {"type": "doubleHash"},
            },
        },
        {"identifier": "DOB YYYY/MM/DD", "ignored": True},
        {"identifier": "GENDER M or F", "ignored": True},
    ],
}


def _first_names_only(source: str, target: str) -> None:
    """The generated records with the first name alone in the name column."""
    with open(source, newline="") as inp, open(target, "w", newline="") as out:
        reader, writer = csv.reader(inp), csv.writer(out)
        writer.writerow(next(reader))
        for row in reader:
            row[1] = row[1].split(" ")[0]
            writer.writerow(row)


def _run(label: str, pii: str, schema: str, reference: str, directory: str) -> None:
    out = os.path.join(directory, "figures.json")
    with open(out, "w") as handle:
        measured = measure_all([sys.executable, "-c", AUDIT, pii, schema, reference], stdout=handle)
    with open(out) as handle:
        figures = json.load(handle)
    print(
        f"{label}: {measured.seconds:.0f} s wall, parent CPU {measured.parent_cpu_seconds:.0f} s, "
        f"all CPU {measured.cpu_seconds:.0f} s, peak {measured.peak_mib:.0f} MiB summed RSS\n    {figures['verdict']}"
    )


def main(sizes: List[int]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        schema = os.path.join(directory, "schema.json")
        measure_all([*ANONLINK, "generate-default-schema", schema])
        names_schema = os.path.join(directory, "names.json")
        with open(names_schema, "w") as handle:
            json.dump(FIRST_NAMES, handle)
        for rows in sizes:
            pii = os.path.join(directory, f"pii-{rows}.csv")
            reference = os.path.join(directory, f"reference-{rows}.csv")
            measure_all([*ANONLINK, "generate", str(rows), pii, "--seed", "1"])
            measure_all([*ANONLINK, "generate", str(rows), reference, "--seed", "2"])
            _run(f"{rows:>8} records, default schema, worst case", pii, schema, "", directory)
            _run(f"{rows:>8} records, default schema, both scenarios", pii, schema, reference, directory)
            names = os.path.join(directory, f"names-{rows}.csv")
            _first_names_only(pii, names)
            _run(f"{rows:>8} records, first names alone, worst case", names, names_schema, "", directory)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [100_000, 1_000_000])
