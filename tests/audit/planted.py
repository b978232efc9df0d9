"""Data with planted weaknesses (and without), encoded as ``hash`` encodes it, for the audit's tests.

Names are drawn from clkhash's tables of US census first names, weighted by their
counts, with a seeded generator, so every run gets the same records.
"""

import random
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from clkhash import schema as clkhash_schema
from clkhash.key_derivation import generate_key_lists
from clkhash.randomnames import Distribution

from anonlinkclient.audit.attacks.model import Encodings
from anonlinkclient.audit.data import Population, population_from_rows
from anonlinkclient.audit.run import AuditResult, audit_population
from anonlinkclient.audit.scoring import Figures
from anonlinkclient.encoding.hardening_schema import hardening_of
from anonlinkclient.encoding.parallel import derive_keys, derive_step_keys, encode_records
from anonlinkclient.encoding.schema import linkage_schema

SECRET = "correct horse battery staple"
KDF = {
    "type": "HKDF",
    "hash": "SHA256",
    "salt": "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==",
    "info": "c2NoZW1hX2V4YW1wbGU=",
    "keySize": 64,
}


def feature(identifier: str, n: int = 2, k: int = 15, hash_type: str = "doubleHash", comparison: Any = None) -> Dict:
    """A string feature of a v3 linkage schema (n-grams unless ``comparison`` is given)."""
    return {
        "identifier": identifier,
        "format": {"type": "string", "encoding": "utf-8"},
        "hashing": {
            "comparison": comparison or {"type": "ngram", "n": n},
            "strategy": {"bitsPerToken": k},
            "hash": {"type": hash_type},
        },
    }


def schema_document(*features: Dict, l: int = 1024, hardening: Optional[List[Dict]] = None) -> Dict:  # noqa: E741
    """A v3 linkage schema with these features (and ``clkConfig.hardening`` if given)."""
    config: Dict[str, Any] = {"l": l, "kdf": KDF}
    if hardening:
        config["hardening"] = hardening
    return {"version": 3, "clkConfig": config, "features": list(features)}


def schema(*features: Dict, l: int = 1024, hardening: Optional[List[Dict]] = None) -> clkhash_schema.Schema:  # noqa: E741
    """The schema of :func:`schema_document`, as the linkage-schema loader reads it (with its hardening)."""
    return linkage_schema(schema_document(*features, l=l, hardening=hardening))


def first_names(count: int, seed: int = 1) -> List[str]:
    """``count`` first names, as common as in the US census (half female, half male)."""
    rng = random.Random(seed)
    tables = [Distribution("data/female-first-names.csv"), Distribution("data/male-first-names.csv")]
    return [rng.choices(t.values, cum_weights=t.indices)[0] for t in (rng.choice(tables) for _ in range(count))]


def skewed(count: int, values: Sequence[str], seed: int = 2) -> List[str]:
    """``count`` draws from ``values``, each half as common as the one before it."""
    rng = random.Random(seed)
    weights = [2.0**-i for i in range(len(values))]
    return rng.choices(list(values), weights=weights, k=count)


def encode(the_schema: clkhash_schema.Schema, rows: Sequence[Sequence[str]], secret: str = SECRET) -> Encodings:
    """The CLKs of ``rows``, as ``hash`` makes them."""
    clks = list(encode_records(rows, secret, the_schema, workers=1))
    return Encodings.from_clks(clks, hardening_of(the_schema).clk_bits)


def encode_salted(the_schema: clkhash_schema.Schema, rows: Sequence[Sequence[str]]) -> Encodings:
    """The CLKs of ``rows``, each hashed with keys of its own: what a salt unique to each record does."""
    from clkhash.bloomfilter import crypto_bloom_filter

    comparators = [f.hashing_properties.comparator for f in the_schema.fields]
    clks = []
    for index, row in enumerate(rows):
        keys = generate_key_lists(f"{SECRET}:{index}", len(the_schema.fields), key_size=the_schema.kdf_key_size)
        clks.append(crypto_bloom_filter(row, comparators, the_schema, keys)[0].tobytes())
    return Encodings.from_clks(clks, the_schema.l)


def with_column_densities(encodings: Encodings, seed: int = 3) -> Encodings:
    """Random CLKs whose every bit position is set as often as in ``encodings`` (and nothing else)."""
    bits = encodings.unpacked()
    density = bits.mean(axis=0)
    generator = np.random.default_rng(seed)
    noise = generator.random(bits.shape) < density
    return Encodings(np.packbits(noise, axis=1), encodings.bits)


def audit(
    the_schema: clkhash_schema.Schema,
    rows: Sequence[Sequence[str]],
    encodings: Optional[Encodings] = None,
    reference: Optional[Population] = None,
) -> AuditResult:
    """Audit ``rows`` (hashed with :data:`SECRET` unless ``encodings`` are given)."""
    population = population_from_rows("records.csv", the_schema, rows)
    encodings = encodings if encodings is not None else encode(the_schema, rows)
    keys, step_keys = derive_keys(SECRET, the_schema), derive_step_keys(SECRET, the_schema)
    return audit_population(the_schema, keys, population, encodings, reference, step_keys=step_keys)


def figures(result: AuditResult, attack: str, feature: str, scenario: str = "worst-case") -> Figures:
    """The figures of one attack on one feature."""
    (found,) = [f for f in result.figures if f.attack == attack and f.feature == feature and f.scenario == scenario]
    return found
