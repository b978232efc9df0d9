"""What each hardening option does to the attacks' figures, measured with the audit on the same records.

Usage: python benchmarks/audit_hardening.py [--records N] [--write-docs]

The data is the published attacks' planted weakness: first names alone, hashed as bigrams
with k = 15 (doubleHash, 1024 bits), ``anonlink generate N`` records (seed 1) with the first
word of each name kept and a year-of-birth column ``YOB`` taken from the date of birth. The
reference list is another ``anonlink generate N`` (seed 2): a disjoint sample of first names.

Each option is the first-name schema with the option's ``clkConfig`` changes (the steps of
docs/hardening.rst); the salted options also hash ``YOB`` (with 1 bit: a salt feature must
be hashed), and so does a control row "YOB hashed, no salt" that tells what the extra bit
does from what the salt does. Each option is audited by ``audit_files`` (the library function
``anonlink audit`` runs: the records hashed with the option's schema, then both attacks in both
scenarios, scored with the truth).

Two checks make the table mean something, and the script fails if either does not hold:

* the planted weakness is found: unhardened, pattern mining identifies at least 10 q-grams
  with position precision >= 0.95 and re-identifies at least 10% of the records one-to-one;
* a control finds nothing: random bit vectors with the unhardened CLKs' column densities
  (and nothing else) give no q-gram and no guess.

Prints the table; with ``--write-docs`` also writes it to docs/audit-hardening.inc (the table
docs/audit.rst and docs/hardening.rst show).
"""

import argparse
import copy
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from anonlinkclient.audit.attacks.model import Encodings
from anonlinkclient.audit.data import read_population, read_reference
from anonlinkclient.audit.run import AuditResult, audit_files, audit_population, hash_population, pii_opener
from anonlinkclient.encoding.parallel import derive_keys, derive_step_keys
from anonlinkclient.encoding.schema import load_linkage_schema

ROOT = Path(__file__).resolve().parent.parent
ANONLINK = [sys.executable, "-m", "anonlinkclient"]
SECRET = "horse"
NAME, YOB_ID = "first name", "YOB"
KDF = {
    "type": "HKDF",
    "hash": "SHA256",
    "salt": "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==",
    "info": "c2NoZW1hX2V4YW1wbGU=",
    "keySize": 64,
}
FIRST_NAME = {
    "identifier": NAME,
    "format": {"type": "string", "encoding": "utf-8"},
    "hashing": {
        "comparison": {"type": "ngram", "n": 2},
        "strategy": {"bitsPerToken": 15},
        "hash": {"type": "doubleHash"},
    },
}
YOB_HASHED = {
    "identifier": YOB_ID,
    "format": {"type": "integer", "minimum": 0, "maximum": 9999},
    "hashing": {
        "comparison": {"type": "exact"},
        "strategy": {"bitsPerToken": 1},
        "hash": {"type": "doubleHash"},
        "missingValue": {"sentinel": ""},
    },
}
YOB_IGNORED = {"identifier": YOB_ID, "ignored": True}
SALT = {"type": "salt", "saltFeature": YOB_ID, "features": [NAME]}
RANDOMIZED = {"type": "randomizedResponse", "probability": 0.05, "seedFeatures": [NAME]}

#: (name, clkConfig changes, whether YOB is hashed): issue 18's options, as docs/hardening.rst's table has them.
OPTIONS: List[Tuple[str, Dict[str, Any], bool]] = [
    ("unhardened", {}, False),
    ("xorFolds: 1", {"xorFolds": 1}, False),
    ("permute", {"hardening": [{"type": "permute"}]}, False),
    ("balance", {"hardening": [{"type": "balance"}]}, False),
    ("xorFold (folds 1)", {"hardening": [{"type": "xorFold", "folds": 1}]}, False),
    ("rule90 (1 iteration)", {"hardening": [{"type": "rule90"}]}, False),
    (
        "rehash (window 8, step 4, bits 2)",
        {"hardening": [{"type": "rehash", "window": 8, "step": 4, "bits": 2}]},
        False,
    ),
    ("randomizedResponse (p 0.05)", {"hardening": [RANDOMIZED]}, False),
    ("randomizedResponse (p 0.05) + permute", {"hardening": [RANDOMIZED, {"type": "permute"}]}, False),
    ("rule90 + xorFold", {"hardening": [{"type": "rule90"}, {"type": "xorFold", "folds": 1}]}, False),
    ("control: YOB hashed, no salt", {}, True),
    ("salt (first name by YOB)", {"hardening": [SALT]}, True),
    ("salt + balance", {"hardening": [SALT, {"type": "balance"}]}, True),
]


def schema_document(changes: Dict[str, Any], yob_hashed: bool) -> Dict[str, Any]:
    """The first-name schema with ``changes`` to its clkConfig."""
    config: Dict[str, Any] = {"l": 1024, "kdf": KDF}
    config.update(copy.deepcopy(changes))
    return {"version": 3, "clkConfig": config, "features": [FIRST_NAME, YOB_HASHED if yob_hashed else YOB_IGNORED]}


def first_names(source: str, target: str, with_year: bool) -> None:
    """``anonlink generate``'s records as first name (and year of birth) only."""
    with open(source, newline="") as inp, open(target, "w", newline="") as out:
        reader, writer = csv.DictReader(inp), csv.writer(out)
        writer.writerow([NAME, YOB_ID] if with_year else [NAME])
        for row in reader:
            name = row["NAME freetext"].split(" ")[0]
            year = row["DOB YYYY/MM/DD"][:4]
            writer.writerow([name, year] if with_year else [name])


def _figures(result: AuditResult, attack: str, scenario: str) -> Optional[Any]:
    found = [f for f in result.figures if f.attack == attack and f.scenario == scenario and f.feature == NAME]
    return found[0] if found else None


def _share(count: int, records: int) -> str:
    return f"{100 * count / records:.1f}%"


def row_of(name: str, bits: int, result: AuditResult) -> List[str]:
    """One line of the table."""
    records = result.records
    mined = _figures(result, "pattern-mining", "worst-case")
    aligned = _figures(result, "frequency", "worst-case")
    mined_ref = _figures(result, "pattern-mining", "reference")
    aligned_ref = _figures(result, "frequency", "reference")
    assert mined and aligned and mined_ref and aligned_ref
    precision = "n/a" if mined.position_precision is None else f"{mined.position_precision:.2f}"
    if mined.position_precision is None and mined.qgrams_identified == 0:
        precision = "-"
    return [
        name,
        f"{bits:,}",
        str(mined.qgrams_identified),
        precision,
        _share(mined.correct, records),
        _share(mined.one_to_many, records),
        _share(aligned.correct, records),
        _share(mined_ref.correct, records),
        _share(aligned_ref.correct, records),
    ]


HEADER = [
    "Option",
    "CLK bits",
    "q-grams found (PM)",
    "position precision (PM)",
    "1-to-1 (PM)",
    "1-to-m (PM)",
    "1-to-1 (FA)",
    "1-to-1 (PM, ref.)",
    "1-to-1 (FA, ref.)",
]


def table(rows: List[List[str]]) -> str:
    """An RST list-table of the rows."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [HEADER] + rows:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines) + "\n"


def control(pii: str, schema_path: str, reference: str) -> AuditResult:
    """Random bits with the unhardened CLKs' column densities, audited as if they were the CLKs."""
    schema = load_linkage_schema(schema_path)
    opener = pii_opener(pii, schema)
    with opener() as source:
        population = read_population(source, schema)
    encodings = hash_population(opener, SECRET, schema, population.count)
    bits = encodings.unpacked()
    noise = np.random.default_rng(3).random(bits.shape) < bits.mean(axis=0)
    random_clks = Encodings(np.packbits(noise, axis=1), encodings.bits)
    keys, step_keys = derive_keys(SECRET, schema), derive_step_keys(SECRET, schema)
    return audit_population(
        schema, keys, population, random_clks, read_reference(reference, schema), step_keys=step_keys
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    rows: List[List[str]] = []
    with tempfile.TemporaryDirectory() as work:
        for seed, name in ((1, "records"), (2, "reference")):
            generated = os.path.join(work, f"generated-{name}.csv")
            subprocess.run(
                ANONLINK + ["generate", str(args.records), generated, "--seed", str(seed)],
                check=True,
                capture_output=True,
            )
            first_names(generated, os.path.join(work, f"{name}.csv"), with_year=name == "records")
        pii, reference = os.path.join(work, "records.csv"), os.path.join(work, "reference.csv")
        for name, changes, yob_hashed in OPTIONS:
            schema_path = os.path.join(work, "schema.json")
            with open(schema_path, "w") as handle:
                json.dump(schema_document(changes, yob_hashed), handle)
            started = time.perf_counter()
            result = audit_files(pii, SECRET, schema_path, reference_path=reference)
            rows.append(row_of(name, result.clk_bits, result))
            print(f"{' | '.join(rows[-1])}   ({time.perf_counter() - started:.0f} s)", flush=True)
            if name == "unhardened":
                mined = _figures(result, "pattern-mining", "worst-case")
                assert mined is not None and mined.position_precision is not None
                found = (
                    mined.qgrams_identified >= 10
                    and mined.position_precision >= 0.95
                    and mined.correct >= 0.1 * result.records
                )
                print(f"planted weakness found: {found}", flush=True)
                if not found:
                    sys.exit("the planted weakness was not found: the table would mean nothing")
                with open(schema_path, "w") as handle:
                    json.dump(schema_document({}, False), handle)
                noise = control(pii, schema_path, reference)
                rows.append(row_of("control: random bits, same column densities", noise.clk_bits, noise))
                print(" | ".join(rows[-1]), flush=True)
                quiet = all(
                    f.qgrams_identified == 0 and f.correct + f.one_to_many + f.wrong == 0 for f in noise.figures
                )
                print(f"control found nothing: {quiet}", flush=True)
                if not quiet:
                    sys.exit("the control found something: the attacks see what is not there")
    text = table(rows)
    print(text)
    if args.write_docs:
        (ROOT / "docs" / "audit-hardening.inc").write_text(text)


if __name__ == "__main__":
    main()
