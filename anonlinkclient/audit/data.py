"""What the audit reads: the custodian's records, the attacker's list, and both cut into tokens.

:func:`read_population` reads the records through the record-source seam
(:mod:`anonlinkclient.io.records`), as ``hash`` does. A :class:`Population` holds,
for each feature the schema hashes, every record's value
as a code into the feature's distinct values (so a million records take a few
megabytes). :func:`tokenise` cuts the distinct values of the features the attacks
apply to (n-gram comparisons) into tokens exactly as clkhash does (the schema's
format, missing-value replacement and tokeniser), and numbers the tokens of all
features together. :func:`reference_items` turns a population into the attacker's
list: its distinct records (over the features the list covers) with their counts,
each as the set of its tokens.
"""

import array
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from clkhash.comparators import ExactComparison, NgramComparison, NumericComparison
from clkhash.field_formats import BitsPerTokenStrategy, FieldSpec
from clkhash.schema import Schema

from anonlinkclient.audit.attacks.model import Public, Reference
from anonlinkclient.errors import InputFileError
from anonlinkclient.io.csv_records import CsvRecords, open_text_input
from anonlinkclient.io.records import RecordSource

#: The column of a reference list that may give each row's count (how many people it stands for).
COUNT_COLUMN = "count"
#: Items whose tokens are gathered at a time.
_CHUNK = 1 << 14
#: The largest count one row of a reference list may give.
MAX_COUNT = 10**12


@dataclass
class Column:
    """One feature's values: a code per record into the distinct values (and, once
    :func:`tokenise` cut them, the tokens of each distinct value)."""

    identifier: str
    codes: np.ndarray
    values: List[str]
    tokens: Optional["ValueTokens"] = None


@dataclass
class Population:
    """Records as the audit needs them: a :class:`Column` per hashed feature (by schema index).

    :ivar weights: how many people each record stands for (``None``: one each).
    """

    name: str
    count: int
    columns: Dict[int, Column]
    weights: Optional[np.ndarray] = None


def applicable(field_spec: FieldSpec) -> Optional[str]:
    """Why the attacks do not apply to a feature, or ``None`` when they do (n-gram comparisons)."""
    fhp = field_spec.hashing_properties
    if fhp is None:
        return "not hashed (ignored)"
    if isinstance(fhp.comparator, NgramComparison):
        return None
    if isinstance(fhp.comparator, ExactComparison):
        return "exact comparison: the attacks work on q-grams, and a whole value is one token"
    if isinstance(fhp.comparator, NumericComparison):
        return "numeric comparison: the attacks work on q-grams, not on numbers"
    return f"{type(fhp.comparator).__name__}: the attacks work on q-grams"


class _Coder:
    """Distinct values of one column, numbered as first seen."""

    def __init__(self) -> None:
        self.index: Dict[str, int] = {}
        self.codes = array.array("i")

    def add(self, value: str) -> None:
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.index)
        self.codes.append(code)

    def column(self, identifier: str) -> Column:
        return Column(identifier, np.frombuffer(self.codes, dtype=np.int32).copy(), list(self.index))


def population_from_rows(
    name: str, schema: Schema, rows: Iterable[Sequence[str]], weights: Optional[Sequence[int]] = None
) -> Population:
    """The records given as rows of strings, one per schema feature (``weights``: per row, if any)."""
    hashed = [i for i, f in enumerate(schema.fields) if f.hashing_properties is not None]
    coders = {i: _Coder() for i in hashed}
    count = 0
    for row in rows:
        for i in hashed:
            coders[i].add(row[i])
        count += 1
    columns = {i: coders[i].column(schema.fields[i].identifier) for i in hashed}
    weight_array = None if weights is None else np.asarray(weights, dtype=np.int64)
    return Population(name, count, columns, weight_array)


def read_population(source: RecordSource, schema: Schema) -> Population:
    """The records of a record source opened for the schema (:func:`~anonlinkclient.encoding.pii.open_pii`),
    as ``hash`` reads them.

    :raises InputFileError: naming the row of a malformed record.
    """
    return population_from_rows(source.name, schema, source.rows())


def read_reference(path: str, schema: Schema) -> Population:
    """An attacker's list: a CSV with a header naming some of the schema's features.

    Only the columns that name a hashed feature the attacks apply to are read; a column
    named ``count`` gives how many people each row stands for (one otherwise).

    :raises InputFileError: for a list with none of the schema's columns, a bad count,
        or no rows.
    """
    with open_text_input(path) as handle:
        records = CsvRecords(handle, path, header=True)
        assert records.header is not None
        names = [name.strip() for name in records.header]
        wanted = {f.identifier: i for i, f in enumerate(schema.fields) if applicable(f) is None}
        found = {wanted[name]: place for place, name in enumerate(names) if name in wanted}
        if not found:
            expected = ", ".join(sorted(wanted)) or "none"
            raise InputFileError(
                path,
                f"has none of the schema's columns the attacks apply to (expected a header naming: {expected})",
                row=1,
            )
        count_at = names.index(COUNT_COLUMN) if COUNT_COLUMN in names else None
        coders = {i: _Coder() for i in found}
        weights = array.array("q")
        rows = 0
        for row in records:
            rows += 1
            if len(row) != len(names):
                raise InputFileError(path, f"has {len(row)} columns but the header has {len(names)}", row=rows + 1)
            for i, place in found.items():
                coders[i].add(row[place])
            if count_at is not None:
                weights.append(_count(row[count_at], path, rows + 1))
    if rows == 0:
        raise InputFileError(path, "has no rows after the header")
    columns = {i: coders[i].column(schema.fields[i].identifier) for i in found}
    weight_array = np.frombuffer(weights, dtype=np.int64).copy() if count_at is not None else None
    return Population(path, rows, columns, weight_array)


def _count(text: str, path: str, row: int) -> int:
    try:
        count = int(text.strip())
    except ValueError:
        count = -1
    if not 0 <= count <= MAX_COUNT:
        raise InputFileError(
            path, f"the {COUNT_COLUMN} must be a whole number from 0 to {MAX_COUNT}", row=row, column=COUNT_COLUMN
        )
    return count


@dataclass
class ValueTokens:
    """The token ids of each distinct value of a column: those of value ``c`` are
    ``tokens[starts[c]:starts[c + 1]]`` (each once); ``lengths[c]`` counts them with repeats."""

    starts: np.ndarray
    tokens: np.ndarray
    lengths: np.ndarray

    def of(self, code: int) -> np.ndarray:
        """The token ids of one value."""
        return self.tokens[self.starts[code] : self.starts[code + 1]]


@dataclass
class Tokens:
    """The tokens of the features the attacks apply to, numbered together.

    :ivar names: ``(feature index, token)`` of each token id.
    """

    names: List[Tuple[int, str]] = field(default_factory=list)
    ids: Dict[Tuple[int, str], int] = field(default_factory=dict)

    def cut(self, schema: Schema, feature: int, values: Sequence[str]) -> ValueTokens:
        """Cut the ``values`` of a feature into tokens, as clkhash would hash them."""
        spec = schema.fields[feature]
        fhp = spec.hashing_properties
        assert fhp is not None
        flat = array.array("i")
        starts = array.array("q", [0])
        lengths = array.array("i")
        for value in values:
            try:
                tokens = list(fhp.comparator.tokenize(spec.format_value(value)))
            except (ValueError, OverflowError):
                tokens = []  # a value clkhash could not hash: the encoder refuses it first
            for token in dict.fromkeys(tokens):
                key = (feature, token)
                ident = self.ids.get(key)
                if ident is None:
                    ident = self.ids[key] = len(self.names)
                    self.names.append(key)
                flat.append(ident)
            starts.append(len(flat))
            lengths.append(len(tokens))
        return ValueTokens(
            np.frombuffer(starts, dtype=np.int64).copy(),
            np.frombuffer(flat, dtype=np.int32).copy(),
            np.frombuffer(lengths, dtype=np.int32).copy(),
        )


def tokenise(schema: Schema, populations: Sequence[Population]) -> Tokens:
    """Cut every distinct value of the populations' features the attacks apply to into tokens
    (kept with each column, see :attr:`Column.tokens`), numbering the tokens of all together."""
    tokens = Tokens()
    for population in populations:
        for index, column in sorted(population.columns.items()):
            if applicable(schema.fields[index]) is None:
                column.tokens = tokens.cut(schema, index, column.values)
    return tokens


def token_lengths(populations: Sequence[Population], feature: int) -> np.ndarray:
    """How many tokens (with repeats) each distinct value of a feature has, in every population."""
    found = [p.columns[feature].tokens for p in populations if feature in p.columns]
    return np.concatenate([t.lengths for t in found if t is not None] or [np.zeros(0, dtype=np.int32)])


def public_parameters(schema: Schema, tokens: Tokens, populations: Sequence[Population], exact: bool) -> Public:
    """What the schema says in public about each token: the bits it is inserted with.

    Under ``bitsPerFeature`` the number depends on the length of the value; a value
    with the median number of tokens of the feature stands for all.
    """
    per_feature: Dict[int, int] = {}
    for feature in sorted({feature for feature, _ in tokens.names}):
        strategy = schema.fields[feature].hashing_properties.strategy
        if isinstance(strategy, BitsPerTokenStrategy):
            per_feature[feature] = strategy.bits_per_token(1)[0]
        else:
            lengths = token_lengths(populations, feature)
            typical = max(1, int(np.median(lengths))) if len(lengths) else 1
            per_feature[feature] = min(strategy.bits_per_token(typical))
    ks = np.array([per_feature[feature] for feature, _ in tokens.names], dtype=np.int64)
    return Public(ks, exact)


@dataclass
class Items:
    """The attacker's list as the attacks get it, with each item's value code per feature.

    :ivar codes: ``(items, features)`` codes into the population's distinct values, one
        column per feature of ``features``.
    """

    reference: Reference
    features: List[int]
    codes: np.ndarray


def reference_items(population: Population, features: Sequence[int], tokens: Tokens) -> Items:
    """The distinct records of a population over ``features``, their counts and tokens."""
    codes = np.stack([population.columns[f].codes for f in features], axis=1).astype(np.int32)
    keys = np.ascontiguousarray(codes).view(np.dtype((np.void, codes.shape[1] * 4))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    weights = np.ones(population.count, dtype=np.int64) if population.weights is None else population.weights
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(first)).astype(np.int64)
    item_codes = codes[first]
    keep = counts > 0
    item_codes, counts = item_codes[keep], counts[keep]
    parts = []
    for column, feature in enumerate(features):
        cut = population.columns[feature].tokens
        assert cut is not None, "tokenise() first"
        parts.append((cut.starts, cut.tokens, item_codes[:, column]))
    reference = _concatenate(parts, counts, len(tokens.names))
    return Items(reference, list(features), item_codes)


def _concatenate(
    parts: List[Tuple[np.ndarray, np.ndarray, np.ndarray]], counts: np.ndarray, token_count: int
) -> Reference:
    """Each item's tokens: the tokens of its value of every feature, one after the other."""
    items = len(counts)
    lengths = np.zeros(items, dtype=np.int64)
    for starts, _, codes in parts:
        lengths += starts[codes + 1] - starts[codes]
    item_starts = np.zeros(items + 1, dtype=np.int64)
    np.cumsum(lengths, out=item_starts[1:])
    tokens = np.empty(int(item_starts[-1]), dtype=np.int32)
    for begin in range(0, items, _CHUNK):  # a few thousand items at a time: small temporaries
        offset = item_starts[begin : min(begin + _CHUNK, items)].copy()
        for starts, flat, codes in parts:
            first = starts[codes[begin : begin + _CHUNK]]
            size = starts[codes[begin : begin + _CHUNK] + 1] - first
            within = np.arange(int(size.sum()), dtype=np.int64) - np.repeat(np.cumsum(size) - size, size)
            tokens[np.repeat(offset, size) + within] = flat[np.repeat(first, size) + within]
            offset += size
    return Reference(counts, item_starts, tokens, token_count)
