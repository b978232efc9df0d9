"""The census: what the CLKs and the schema give away before any attack is run.

- CLKs shared by records whose values differ (the filter cannot tell them apart) and
  values whose records got different CLKs (only salting or noise does that; without
  it, an identical CLK always means identical values, which frequency attacks exploit);
- per feature: how many distinct values it has, how common the most common one is,
  how many bits a value sets on its own, and warnings for tiny value sets and very
  few bits;
- doubleHash's structure: a token's k positions are ``a + i*b mod l``, an arithmetic
  progression, so that positions an attack has found can be checked and completed
  (Kroll and Steinmetzer, 2015). The census counts how many of the patterns the
  pattern-mining attack assigned to doubleHash tokens are such progressions; the
  patterns of blakeHash tokens are not.
"""

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
from clkhash.comparators import ExactComparison, NgramComparison, NumericComparison
from clkhash.schema import Schema

from anonlinkclient.audit.attacks.bitsets import distinct_rows
from anonlinkclient.audit.attacks.model import Encodings, Guess
from anonlinkclient.audit.data import Population, Tokens, applicable
from anonlinkclient.audit.scoring import Truth
from anonlinkclient.encoding.hardening_schema import hardening_of

#: A feature with at most this many distinct values has a tiny value set.
TINY_VALUE_SET = 20
#: A feature whose values set fewer bits than this on average is encoded with very few bits.
FEW_BITS = 8
#: A pattern is a progression with at most one position in this many off it.
OFF_PROGRESSION = 10
#: Values per feature whose bits the census counts (a sample of the most frequent).
BITS_SAMPLE = 500


@dataclass(frozen=True)
class FeatureCensus:
    """One feature's census line."""

    feature: str
    comparison: str
    hash_type: str
    distinct_values: int
    top_share: float
    bits_per_value: float
    warnings: Tuple[str, ...]


@dataclass(frozen=True)
class Census:
    """What the CLKs and schema give away before any attack (see the module)."""

    records: int
    distinct_clks: int
    shared_clks: int
    split_values: int
    features: Tuple[FeatureCensus, ...]
    double_hash_patterns: int
    progressions: int

    def as_json(self) -> Dict[str, object]:
        """The census as the JSON file holds it."""
        return {
            "records": self.records,
            "distinct_clks": self.distinct_clks,
            "records_sharing_a_clk_with_other_values": self.shared_clks,
            "records_whose_values_have_other_clks": self.split_values,
            "features": [
                {
                    "feature": f.feature,
                    "comparison": f.comparison,
                    "hash": f.hash_type,
                    "distinct_values": f.distinct_values,
                    "most_common_value_share": f.top_share,
                    "bits_per_value": f.bits_per_value,
                    "warnings": list(f.warnings),
                }
                for f in self.features
            ],
            "double_hash_patterns_found": self.double_hash_patterns,
            "of_them_arithmetic_progressions": self.progressions,
        }


def describe_comparison(schema: Schema, feature: int) -> str:
    """How a feature is compared, in a few words."""
    comparator = schema.fields[feature].hashing_properties.comparator
    if isinstance(comparator, NgramComparison):
        kind = {1: "unigrams", 2: "bigrams", 3: "trigrams"}.get(comparator.n, f"{comparator.n}-grams")
        return f"positional {kind}" if comparator.positional else kind
    if isinstance(comparator, ExactComparison):
        return "exact"
    if isinstance(comparator, NumericComparison):
        return "numeric"
    return type(comparator).__name__


def is_progression(positions: Sequence[int], length: int, k: int) -> bool:
    """Whether the positions lie on ``a + i*b mod length`` for some ``a``, ``b`` and ``0 <= i < k``,
    but for at most one in :data:`OFF_PROGRESSION` (positions a mined pattern holds by chance,
    which an attacker who knows the structure drops).

    The step is looked for among the most common differences between the positions
    (in a progression, ``b`` is the difference of ``k - 1`` pairs).
    """
    points = sorted(set(int(p) for p in positions))
    if len(points) < 3:
        return False
    present = set(points)
    differences: Dict[int, int] = {}
    for a in points:
        for b in points:
            if a != b:
                step = (b - a) % length
                differences[step] = differences.get(step, 0) + 1
    steps = sorted(differences, key=lambda s: (-differences[s], s))[:8]
    for step in steps:
        # The first of a run; when the progression wraps round onto itself (b shares a factor
        # with the length), there is none, and any point can start it.
        starts = [p for p in points if (p - step) % length not in present] or points
        for start in starts:
            covered = {(start + i * step) % length for i in range(k)}
            if len(present - covered) <= len(present) // OFF_PROGRESSION:
                return True
    return False


def census(
    schema: Schema,
    population: Population,
    encodings: Encodings,
    truth: Truth,
    tokens: Tokens,
    guesses: Sequence[Guess],
    bits_per_token: np.ndarray,
) -> Census:
    """The census of the audited records and their CLKs (``guesses``: pattern-mining's, worst case)."""
    _, clk_of_record, clk_counts = encodings.distinct
    hashed = sorted(population.columns)
    if hashed:
        stacked = np.stack([population.columns[f].codes for f in hashed], axis=1).astype(np.int32)
        _, values_of_record, _ = distinct_rows(np.ascontiguousarray(stacked).view(np.uint8))
    else:
        values_of_record = np.zeros(population.count, dtype=np.int64)
    pairs = np.unique(clk_of_record * (int(values_of_record.max(initial=0)) + 1) + values_of_record)
    span = int(values_of_record.max(initial=0)) + 1
    values_per_clk = np.bincount(pairs // span, minlength=len(clk_counts))
    clks_per_value = np.bincount(pairs % span, minlength=span)
    shared = int((values_per_clk[clk_of_record] > 1).sum())
    split = int((clks_per_value[values_of_record] > 1).sum())

    features: List[FeatureCensus] = []
    for feature in hashed:
        spec = schema.fields[feature]
        column = population.columns[feature]
        frequency = np.bincount(column.codes, minlength=len(column.values))
        top = float(frequency.max() / population.count) if population.count else 0.0
        bits = _bits_per_value(schema, feature, column.values, frequency, truth)
        warnings = []
        if len(column.values) <= TINY_VALUE_SET:
            warnings.append(f"tiny value set ({len(column.values)} values): told apart by frequency alone")
        if bits < FEW_BITS:
            warnings.append(f"very few bits ({bits:.1f} per value): its values collide and stand out")
        why = applicable(spec)
        if why is not None:
            warnings.append(f"not attacked: {why}")
        features.append(
            FeatureCensus(
                spec.identifier,
                describe_comparison(schema, feature),
                spec.hashing_properties.hash_type,
                len(column.values),
                top,
                bits,
                tuple(warnings),
            )
        )
    # Only in the CLK as hashed: folding and hardening steps move the positions off the progressions.
    hardening = hardening_of(schema)
    flat = bool(hardening.xor_folds or hardening.post_steps)
    double_hashed = [
        guess
        for guess in guesses
        if all(schema.fields[tokens.names[t][0]].hashing_properties.hash_type == "doubleHash" for t in guess.tokens)
        and len(guess.tokens) == 1
    ]
    progressions = sum(
        is_progression(guess.positions.tolist(), schema.l * 2**schema.xor_folds, int(bits_per_token[guess.tokens[0]]))
        for guess in double_hashed
        if not flat
    )
    return Census(
        population.count,
        len(clk_counts),
        shared,
        split,
        tuple(features),
        len(double_hashed),
        int(progressions),
    )


def _bits_per_value(schema: Schema, feature: int, values: List[str], frequency: np.ndarray, truth: Truth) -> float:
    """The mean number of bits the most frequent values of a feature set on their own."""
    sample = np.argsort(-frequency, kind="stable")[:BITS_SAMPLE]
    return truth.value_bits(feature, [values[i] for i in sample])
