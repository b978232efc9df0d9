"""Which linkage schemas the encoder can hash, whatever the records: :func:`schema_problem`.

clkhash's JSON schemas and :func:`clkhash.schema.from_json_dict` accept some schemas that
clkhash cannot hash (keys that cannot be derived, a date format strptime refuses, a
missingValue replacement that is no number under a numeric comparison, ...), and some it
would take hours or all memory to hash. The encoder refuses them
(:class:`~anonlinkclient.errors.UnhashableSchema`) and the linkage-schema loader reports them.

Also the limits the encoder keeps to, and :func:`hash_bits`, the length of the filter the
features are hashed into. No NumPy here: ``anonlink validate-schema`` imports this module
and starts faster without it.
"""

from datetime import datetime
from typing import Any, Optional, Tuple

from clkhash.comparators import ExactComparison, NgramComparison, NumericComparison
from clkhash.field_formats import DateSpec, EnumSpec, FieldSpec, IntegerSpec, StringSpec
from clkhash.schema import Schema

from anonlinkclient.encoding.tokens import exact_tokens, ngram_tokens, numeric_tokens

#: Largest Bloom filter (bits, before XOR folding) the encoder takes: 2 MiB per record.
MAX_BITS = 2**24
#: Most insertions (k) of one token, and most tokens of one numeric value, the encoder takes.
MAX_BITS_PER_TOKEN = 2**16
#: Longest n-grams the encoder takes.
MAX_NGRAM = 256
#: Longest key BLAKE2b takes (blakeHash).
BLAKE_MAX_KEY_BYTES = 64

# HKDF-Expand output limit (RFC 5869): 255 blocks of the hash's output.
_HKDF_HASH_BYTES = {"SHA256": 32, "SHA512": 64}


def hash_bits(schema: Schema) -> int:
    """Bits of the filter the features are hashed into: clkhash's ``hash_l``, ``l * 2**xor_folds``."""
    bits: int = schema.l * 2**schema.xor_folds
    return bits


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def schema_problem(schema: Schema) -> Optional[Tuple[Optional[str], str]]:
    """Why records cannot be hashed with ``schema``, whatever the records: ``(feature, reason)``.

    ``feature`` is the identifier of the feature at fault (``None`` for the schema as a whole);
    ``None`` is returned when the schema can be hashed. These are the schemas that
    :func:`clkhash.schema.from_json_dict` accepts but that clkhash cannot hash: its keys cannot
    be derived, or :func:`clkhash.clk.hash_chunk` raises an exception that is no validation
    error (for any record, or for every record using a value the schema fixes: a missingValue
    replacement, an enum value). Also refused: sizes beyond :data:`MAX_BITS` bits per filter
    and :data:`MAX_BITS_PER_TOKEN` insertions per token, which clkhash would take hours or all
    memory to hash.
    """
    hash_l = hash_bits(schema)
    if hash_l > MAX_BITS:
        return None, f"{_length(schema)} is {hash_l} bits; at most {MAX_BITS} bits per filter can be hashed"
    hash_bytes = _HKDF_HASH_BYTES.get(schema.kdf_hash)
    if schema.kdf_type == "HKDF" and hash_bytes is not None:
        needed = 2 * len(schema.fields) * schema.kdf_key_size
        if needed > 255 * hash_bytes:
            return None, (
                f"{len(schema.fields)} features need {needed} bytes of keys ({schema.kdf_key_size}-byte keySize), "
                f"more than HKDF with {schema.kdf_hash} can derive ({255 * hash_bytes} bytes); "
                f"use fewer features or a smaller keySize"
            )
    for field in schema.fields:
        problem = _feature_problem(schema, field, hash_l)
        if problem is not None:
            return field.identifier, problem
    return None


def _length(schema: Schema) -> str:
    """How the schema's filter length (before folding) is named in messages."""
    return "l * 2**xor_folds" if schema.xor_folds else "l"


def _feature_problem(schema: Schema, field: FieldSpec, hash_l: int) -> Optional[str]:
    fhp = field.hashing_properties
    if fhp is None:
        return None
    if not isinstance(field, (StringSpec, IntegerSpec, DateSpec, EnumSpec)):
        return f"unsupported feature type {type(field).__name__}"
    if isinstance(field, StringSpec) and not field.regex_based and field.case not in ("upper", "lower", "mixed"):
        return f"invalid case '{field.case}'"
    if isinstance(field, DateSpec):
        try:
            datetime.strptime("", field.format)
        except ValueError as exc:
            if not str(exc).startswith("time data"):
                return f"the date format '{field.format}' cannot be used: {exc}"
        except Exception as exc:  # re.error, for a directive given twice
            return f"the date format '{field.format}' cannot be used: {exc}"
    if fhp.hash_type == "blakeHash":
        if not _is_power_of_two(hash_l):
            return f"blakeHash needs {_length(schema)} to be a power of two, but it is {hash_l}"
        if schema.kdf_key_size > BLAKE_MAX_KEY_BYTES:
            return f"blakeHash takes keys of at most 64 bytes, but keySize is {schema.kdf_key_size}"
    elif fhp.hash_type == "doubleHash":
        if fhp.prevent_singularity and hash_l < 2:
            return f"doubleHash with prevent_singularity needs {_length(schema)} to be at least 2"
    else:
        return f"unsupported hash type '{fhp.hash_type}'"
    most = fhp.strategy.bits_per_token(1)[0]  # what one token of a one-token value gets
    if most > MAX_BITS_PER_TOKEN:
        return f"{most} bits per token (or feature) are more than the {MAX_BITS_PER_TOKEN} that can be hashed"
    comparator = fhp.comparator
    if not isinstance(comparator, (NgramComparison, ExactComparison, NumericComparison)):
        return f"unsupported comparison {type(comparator).__name__}"
    if isinstance(comparator, NgramComparison) and comparator.n > MAX_NGRAM:
        return f"n-grams of {comparator.n} characters are longer than the {MAX_NGRAM} that can be hashed"
    if isinstance(comparator, NumericComparison):
        if 2 * comparator.resolution + 1 > MAX_BITS_PER_TOKEN:
            return (
                f"resolution {comparator.resolution} makes {2 * comparator.resolution + 1} tokens per value, "
                f"more than the {MAX_BITS_PER_TOKEN} that can be hashed"
            )
        try:
            float(comparator.distance_interval)
        except OverflowError:
            return "thresholdDistance * 10**fractional_precision is too large: no number could be hashed"
    try:
        "".encode(fhp.encoding)
    except LookupError:
        return f"unknown encoding '{fhp.encoding}'"
    mv = fhp.missing_value
    if mv is not None:
        problem = _fixed_value_problem(fhp, mv.replace_with)
        if problem is not None:
            return f"the missingValue replacement '{mv.replace_with}' {problem}"
    if isinstance(field, EnumSpec):
        for value in sorted(field.values):
            problem = _fixed_value_problem(fhp, value)
            if problem is not None and not (mv is not None and value == mv.sentinel):
                return f"the enum value '{value}' {problem}"
    return None


def _fixed_value_problem(fhp: Any, value: str) -> Optional[str]:
    """Why a value that is hashed as it is (a missingValue replacement, an enum value) cannot be."""
    comparator = fhp.comparator
    try:
        if isinstance(comparator, NumericComparison):
            tokens = numeric_tokens(
                value, comparator.distance_interval, comparator.resolution, comparator.fractional_precision
            )
        elif isinstance(comparator, NgramComparison):
            tokens = ngram_tokens(value, comparator.n, bool(comparator.positional))
        else:
            tokens = exact_tokens(value)
    except (ValueError, OverflowError):
        return "is not a finite number, which numeric comparison needs"
    try:
        for token in tokens:
            token.encode(fhp.encoding)
    except UnicodeError:
        return f"cannot be encoded in {fhp.encoding}"
    return None
