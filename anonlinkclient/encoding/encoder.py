"""Our CLK encoder: clkhash's CLKs, bit for bit, computed per chunk with NumPy.

:class:`ClkEncoder` is built once from a clkhash :class:`~clkhash.schema.Schema` (any
version, as clkhash converts it to v3) and the keys of
:func:`clkhash.key_derivation.generate_key_lists`. :meth:`ClkEncoder.encode` turns a chunk
of records into the bytes of their CLKs and their popcounts, exactly as
``[clk.tobytes() for clk in clkhash.clk.hash_chunk(...)[0]]`` and ``hash_chunk(...)[1]``
would, and accepts and rejects exactly the records clkhash accepts and rejects (with
clkhash's record, column and words: a :class:`~anonlinkclient.errors.RecordError`). Records
that make clkhash itself crash (a string that is no number under a numeric comparison, a
value that cannot be encoded when validation is off) are reported the same way.
:func:`~anonlinkclient.encoding.schema_checks.schema_problem` names what would make hashing
fail whatever the records; the encoder refuses such schemas
(:class:`~anonlinkclient.errors.UnhashableSchema`) and the linkage-schema loader reports them.

Every option clkhash supports is handled the way clkhash handles it: n-gram (any n,
positional or not), exact and numeric comparisons; bitsPerToken and bitsPerFeature;
doubleHash (with and without prevent_singularity) and blakeHash; XOR folding; missing-value
sentinels and replacements; string (case, length, pattern, encoding), integer, date and
enum formats. clkhash stays the reference: the tests compare the two on random schemas and
data (tests/encoding/test_encoder_differential.py).

The pipeline, as clkhash's ``crypto_bloom_filter`` runs it for one record, here for a block
of records at a time, a column at a time (one module per job):

1. format: validate and format each feature's values (:meth:`.Feature.format`, dates in
   :mod:`.dates`);
2. tokenise: cut them into tokens (:meth:`.Feature.tokenise`, :mod:`.tokens`);
3. hash tokens: the k bits of each token (:meth:`.Feature.hash_tokens`,
   :mod:`.token_hashing`, cached in :mod:`.caches`); the tokens of a feature a ``salt``
   hardening entry names are hashed together with the record's salt (:mod:`.salting`);
4. combine into the filter: a value's pattern is the OR of its tokens', a record's filter
   the OR of its values' (:func:`.combine_tokens`, :meth:`.Feature.contribute`), a filter of
   :attr:`ClkEncoder.hash_bits` bits;
5. post-steps: XOR folding and the hardening steps of :mod:`.post_steps` (:mod:`.hardening`),
   giving CLKs of :attr:`ClkEncoder.clk_bits` bits; then the CLKs' bytes and popcounts.

Where the speed comes from (clkhash spends its time in Python per bit and per token):

* A Bloom filter is a row of 64-bit words. The pattern of a token (its k bits) is computed
  once, when the token is first seen, and cached; a value's pattern is the OR of its
  tokens' patterns and a record's CLK the OR of its values' patterns, done with NumPy for
  a whole column of a chunk at a time.
* n-grams (n <= 3) are cut from the code points of a whole column at once
  (``str.encode("utf-32-le")`` and NumPy) into int64 codes, looked up in bulk in an
  open-addressing hash table: no Python loop per token. Other comparisons (exact,
  numeric, longer n-grams) tokenise in Python, with a dict per token and a cache of
  whole values.
* Validation is done in bulk per column (one ``int()`` or date parse per value serves
  both validation and formatting; dates of fixed-width numeric formats are parsed with
  NumPy, others once per distinct text with strptime). Only a chunk that holds a bad
  value is walked record by record, as clkhash would, to find its first error and text.
* Filters stay packed from start to end when there are no post-steps (or only XOR folding
  at whole bytes): nothing is unpacked into bits.

Every cache is bounded in entries and in bytes and is emptied when full; records are
encoded in blocks bounded in bytes. So memory does not grow with the number of records.
"""

from typing import Dict, List, Sequence, Tuple

import numpy as np
from clkhash.schema import Schema

from anonlinkclient.encoding.caches import DEFAULT_CACHE_BYTES
from anonlinkclient.encoding.features import Feature
from anonlinkclient.encoding.hardening import leading_gathers
from anonlinkclient.encoding.hardening_schema import hardening_of
from anonlinkclient.encoding.post_steps import apply_steps, final_length, plan
from anonlinkclient.encoding.salting import SaltedFeature, Salts
from anonlinkclient.encoding.schema_checks import BLAKE_MAX_KEY_BYTES, hash_bits, schema_problem
from anonlinkclient.errors import EncodingFallback, RecordError, UnhashableSchema

Keys = Sequence[Sequence[bytes]]

#: Bytes of bit patterns one block of records may hold (records are encoded in blocks).
BLOCK_BYTES = 8 * 2**20
#: Bytes of intermediate data (token strings and codes) one block of records may make.
BLOCK_LOAD = 64 * 2**20
#: Shares of the cache budget a salted feature gets (an unsalted one gets one).
SALTED_CACHE_SHARES = 3

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def _words(bits: np.ndarray, words: int) -> np.ndarray:
    """A row of bits (bool) as a row of ``words`` 64-bit words, clkhash's byte order (zero-padded)."""
    packed = np.zeros(8 * words, dtype=np.uint8)
    data = np.packbits(bits)
    packed[: len(data)] = data
    return packed.view(np.uint64)


def _popcount_words(words: np.ndarray) -> np.ndarray:
    """Bits set per row of a 2-D uint64 array."""
    x = words - ((words >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).sum(axis=1)


class ClkEncoder:
    """Computes clkhash's CLKs for records of one linkage schema.

    :param schema: the clkhash linkage schema.
    :param keys: the keys of :func:`clkhash.key_derivation.generate_key_lists` for this
        schema (one sequence of keys per feature).
    :param cache_bytes: bytes all caches of this encoder may hold together.
    :param step_keys: for a hardened schema (:class:`~.hardening_schema.HardenedSchema`), the key
        of each entry of its ``clkConfig.hardening``
        (:func:`~anonlinkclient.encoding.parallel.derive_step_keys`).
    :raises UnhashableSchema: if clkhash could not hash records with this schema, or the
        hardening keys are missing.

    :ivar hash_bits: bits of the filter the features are hashed into (clkhash's ``hash_l``,
        ``l * 2**xor_folds``).
    :ivar filter_bits: bits of a record's filter as the features are combined: ``hash_bits``,
        or what the leading bit gathers (``permute``, ``balance``, done on the token patterns:
        :func:`~.hardening.leading_gathers`) make of it.
    :ivar clk_bits: bits of a CLK, after the post-steps (``l`` unless hardening steps change
        it): what ``encode`` returns, its popcounts count, and CLK files record.
    """

    def __init__(
        self, schema: Schema, keys: Keys, cache_bytes: int = DEFAULT_CACHE_BYTES, step_keys: Sequence[bytes] = ()
    ) -> None:
        problem = schema_problem(schema)
        if problem is not None:
            raise UnhashableSchema(*problem)
        if len(keys) < len(schema.fields):
            raise UnhashableSchema(None, f"{len(keys)} keys for {len(schema.fields)} features")
        self.schema = schema
        self.hash_bits = hash_bits(schema)
        self.post_steps = plan(schema, step_keys)
        self.clk_bits = final_length(self.post_steps, self.hash_bits)
        # Leading bit gathers (permute, balance) are done to the token patterns, once per token.
        fused, spread, flip = leading_gathers([(p.name, p.key) for p in self.post_steps], self.hash_bits)
        self.post_steps = self.post_steps[fused:]
        self.filter_bits = self.hash_bits if spread is None else spread.size
        self.words = (self.filter_bits + 63) // 64
        self.flip = None if flip is None or not flip.any() else _words(flip, self.words)
        self.out_bytes = (self.clk_bits + 7) // 8
        self.field_count = len(schema.fields)
        self.columns = {field.identifier: i for i, field in enumerate(schema.fields)}
        salted = self._salts(schema, step_keys)
        hashed = [(i, f) for i, f in enumerate(schema.fields) if f.hashing_properties is not None]
        # A salted feature's values and tokens are many more (one set per salt): it gets a larger share.
        shares = {i: SALTED_CACHE_SHARES if field.identifier in salted else 1 for i, field in hashed}
        budget = cache_bytes // max(1, sum(shares.values()))
        self.features: List[Tuple[int, Feature]] = []
        for i, field in hashed:
            fhp = field.hashing_properties
            key = keys[i]
            if fhp.hash_type == "blakeHash" and len(bytes(key[0])) > BLAKE_MAX_KEY_BYTES:
                raise UnhashableSchema(field.identifier, "blakeHash takes keys of at most 64 bytes")
            if fhp.hash_type == "doubleHash" and len(key) < 2:
                raise UnhashableSchema(field.identifier, "doubleHash needs two keys per feature")
            share = budget * shares[i]
            if field.identifier in salted:
                salts = salted[field.identifier]
                feature: Feature = SaltedFeature(field, key, self.hash_bits, self.words, share, salts, spread)
            else:
                feature = Feature(field, key, self.hash_bits, self.words, share, spread)
            self.features.append((i, feature))
        self.block_rows = max(1, BLOCK_BYTES // (8 * self.words))

    def _salts(self, schema: Schema, step_keys: Sequence[bytes]) -> Dict[str, Salts]:
        """The salts of the schema's ``salt`` entries, by the identifier of each feature they salt."""
        salted: Dict[str, Salts] = {}
        for step in hardening_of(schema).salts:
            salt_feature = step.params["saltFeature"]
            salts = Salts(
                step_keys[step.index], self.columns[salt_feature], step.params["missingValues"].get(salt_feature)
            )
            for identifier in step.params["features"]:
                salted[identifier] = salts
        return salted

    def encode(
        self, rows: Sequence[Sequence[str]], validate: bool = True, first_index: int = 0
    ) -> Tuple[List[bytes], List[int]]:
        """The CLKs of ``rows`` (as the bytes of clkhash's bitarrays) and their popcounts.

        :param rows: the records, each a sequence of one string per schema feature.
        :param validate: check each value against its feature's format first (clkhash's
            ``validate_data``).
        :param first_index: the index of ``rows[0]`` among all records, for error reports.
        :raises RecordError: for the first record clkhash rejects, with clkhash's reason.
        """
        fields = self.field_count
        if any(length != fields for length in set(map(len, rows))):
            for i, row in enumerate(rows):
                if len(row) != fields:
                    raise RecordError(first_index, None, f"Row {i} has {len(row)} entries when {fields} are expected.")
        clks: List[bytes] = []
        popcounts: List[int] = []
        try:
            for start in range(0, len(rows), self.block_rows):
                block = rows[start : start + self.block_rows]
                self._encode_block(block, validate, clks, popcounts)
        except EncodingFallback:
            self._raise_first_error(rows, validate, first_index)
            raise AssertionError("a chunk failed to encode but no record is at fault") from None
        return clks, popcounts

    def _encode_block(self, rows: Sequence[Sequence[str]], validate: bool, clks: List[bytes], pops: List[int]) -> None:
        """The pipeline for a block of records: their filters, the post-steps, the CLKs and popcounts."""
        count = len(rows)
        if count == 0:
            return
        columns = list(zip(*rows)) if self.field_count else []
        if count > 1 and sum(feature.load(columns[i]) for i, feature in self.features) > BLOCK_LOAD:
            half = count // 2  # long values: fewer records at a time keep memory bounded
            self._encode_block(rows[:half], validate, clks, pops)
            self._encode_block(rows[half:], validate, clks, pops)
            return
        filters = self._hash_features(columns, count, validate)
        packed = self._post_steps(filters, rows)
        self._emit(packed, clks, pops)

    def _hash_features(self, columns: Sequence[Sequence[str]], count: int, validate: bool) -> np.ndarray:
        """Stages 1-4: each feature's column formatted, tokenised, hashed and ORed into the records' filters.

        :return: the filters, ``count`` rows of :attr:`filter_bits` bits packed in ``uint64`` words.
        """
        filters = np.zeros((count, self.words), dtype=np.uint64)
        salt_ids: Dict[int, np.ndarray] = {}  # per Salts (by id()), the salt id of each record
        for i, feature in self.features:
            if isinstance(feature, SaltedFeature):
                salts = feature.salts
                if id(salts) not in salt_ids:
                    salt_ids[id(salts)] = salts.ids_of(columns[salts.column])
                feature.contribute_salted(columns[i], salt_ids[id(salts)], validate, filters)
            else:
                feature.contribute(columns[i], validate, filters)
        if self.flip is not None:
            filters ^= self.flip
        return filters

    def _post_steps(self, filters: np.ndarray, rows: Sequence[Sequence[str]]) -> np.ndarray:
        """Stage 5: the packed CLKs (``uint8``, :attr:`out_bytes` or more a row) from the filters."""
        if not self.post_steps:
            return filters.view(np.uint8)[:, : self.out_bytes]
        return apply_steps(self.post_steps, filters, self.filter_bits, rows, self.columns)

    def _emit(self, packed: np.ndarray, clks: List[bytes], pops: List[int]) -> None:
        """Append the CLKs' bytes and popcounts."""
        data = np.ascontiguousarray(packed[:, : self.out_bytes])
        if self.out_bytes % 8 == 0:
            pops.extend(_popcount_words(data.view(np.uint64)).tolist())
        else:
            pops.extend(_POPCOUNT[data].sum(axis=1).tolist())
        blob = data.tobytes()
        width = self.out_bytes
        clks.extend([blob[j : j + width] for j in range(0, len(blob), width)])

    def _raise_first_error(self, rows: Sequence[Sequence[str]], validate: bool, first_index: int) -> None:
        """Walk the chunk as clkhash does (validate all, then hash) and raise its first error."""
        if validate:
            for offset, row in enumerate(rows):
                for i, feature in self.features:
                    reason = feature.validation_reason(row[i])
                    if reason is not None:
                        raise RecordError(first_index + offset, feature.identifier, reason)
        for offset, row in enumerate(rows):
            for i, feature in self.features:
                reason = feature.hashing_reason(row[i])
                if reason is not None:
                    raise RecordError(first_index + offset, feature.identifier, reason)


__all__ = ["ClkEncoder", "schema_problem", "DEFAULT_CACHE_BYTES"]
