"""One feature of a linkage schema, a column of a chunk at a time: :class:`Feature`.

A feature turns the raw values of its column into the bit pattern of each value, in the
stages of clkhash's ``crypto_bloom_filter``, each a method:

1. :meth:`Feature.format`: validate and format the values (clkhash's ``format_value``:
   integers normalised, dates as ``%Y%m%d``, missing-value sentinels replaced);
2. :meth:`Feature.tokenise`: cut them into tokens (n-grams, numeric or exact; n-grams of
   up to 3 characters in bulk, :func:`ngram_codes`, the rest with :mod:`.tokens`);
3. :meth:`Feature.hash_tokens`: the pattern of each token (k bits, :mod:`.token_hashing`),
   from the token cache or hashed once and cached;
4. :func:`combine_tokens`: a value's pattern is the OR of its tokens' patterns; and
   :meth:`Feature.contribute` ORs the values' patterns into the records' filters (with a
   cache of whole values in front of stages 1-4).

:meth:`Feature.validation_reason` and :meth:`Feature.hashing_reason` do the same one value
at a time, as clkhash does, to name the first bad record of a chunk.
"""

import codecs
from datetime import datetime
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union, cast

import numpy as np
from clkhash.comparators import NgramComparison, NumericComparison
from clkhash.field_formats import BitsPerTokenStrategy, DateSpec, FieldSpec, IntegerSpec, StringSpec

from anonlinkclient.encoding.caches import CodeTable, TokenCache, ValueCache
from anonlinkclient.encoding.dates import DateFormatter
from anonlinkclient.encoding.token_hashing import Hasher
from anonlinkclient.encoding.tokens import exact_tokens, ngram_tokens, numeric_tokens
from anonlinkclient.errors import EncodingFallback

_CODE_BITS = 21  # every code point fits in 21 bits
_CODE_MASK = (1 << _CODE_BITS) - 1
_NO_IDS = np.zeros(0, dtype=np.int64)


def _numeric_reason(value: str) -> str:
    return f"Expected a finite number for numeric comparison. Read '{value}'."


def _encoding_reason(encoding: str, value: str) -> str:
    return f"Expected entry that can be encoded in {encoding}. Read '{value}'."


class Tokens(NamedTuple):
    """The tokens of a column's values, all values' tokens in a row: as int64 codes or as strings."""

    counts: np.ndarray  # tokens of each value
    total: int  # tokens of all values
    codes: Optional[np.ndarray]  # n-grams cut in bulk (ngram_codes), or
    strings: Optional[List[str]]  # the tokens' texts


class Lookup(NamedTuple):
    """One group's tokens (inserted k times) looked up in a feature's token cache."""

    k: int
    at: Optional[np.ndarray]  # positions of the group's tokens among all (None: all of them)
    ids: np.ndarray  # the store row of each token (to be filled in for the missing ones)
    missing: np.ndarray  # positions (within the group) of the tokens the cache does not hold
    new_keys: Union[np.ndarray, List[str]]  # the distinct missing tokens (codes or strings)
    new_index: np.ndarray  # for each missing token, its index in new_keys


def _new_size(lookups: List[Lookup]) -> Tuple[int, int]:
    """How many new tokens the lookups found, and the bytes their string keys take in a dict."""
    count = sum(len(lookup.new_keys) for lookup in lookups)
    strings = [lookup.new_keys for lookup in lookups if isinstance(lookup.new_keys, list)]
    return count, sum(sum(map(len, keys)) + 100 * len(keys) for keys in strings)


def ngram_codes(formatted: List[str], n: int, positional: bool) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Token counts and int64 codes of the n-grams of all values, or None if they do not fit.

    A code holds the n code points of an n-gram (21 bits each) and, for positional n-grams,
    the position above them: the tokens of :func:`~anonlinkclient.encoding.tokens.ngram_tokens`,
    cut from the code points of the whole column at once.
    """
    count = len(formatted)
    lengths = np.fromiter(map(len, formatted), dtype=np.int64, count=count)
    counts = np.where(lengths > 0, lengths + (n - 1), 0)
    total = int(counts.sum())
    if total == 0:
        return counts, np.zeros(0, dtype=np.int64)
    if positional and int(counts.max()) + 1 >= 1 << (63 - _CODE_BITS * n):
        return None
    pad = " " * (n - 1)
    joined = pad + (pad + pad).join(formatted) + pad
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    value_starts = np.cumsum(lengths + 2 * (n - 1)) - (lengths + 2 * (n - 1))
    token_starts = np.cumsum(counts) - counts
    within = np.arange(total, dtype=np.int64) - np.repeat(token_starts, counts)
    starts = np.repeat(value_starts, counts) + within
    codes = points[starts]
    for t in range(1, n):
        codes = (codes << _CODE_BITS) | points[starts + t]
    if positional:
        codes |= (within + 1) << (_CODE_BITS * n)
    return counts, codes


def decode_ngrams(codes: np.ndarray, n: int, positional: bool) -> List[str]:
    """The texts of n-gram codes (what :func:`ngram_codes` encoded)."""
    out = []
    for code in codes.tolist():
        gram = "".join(chr((code >> (_CODE_BITS * (n - 1 - t))) & _CODE_MASK) for t in range(n))
        if positional:
            gram = f"{code >> (_CODE_BITS * n)} {gram}"
        out.append(gram)
    return out


def combine_tokens(source: np.ndarray, ids: np.ndarray, counts: np.ndarray, words: int) -> np.ndarray:
    """Per value, the OR of ``source[ids]`` over its tokens (``counts[i]`` consecutive ids each)."""
    count = len(counts)
    longest = int(counts.max())
    if longest == int(counts.min()):
        grid = ids.reshape(count, longest)
        result = source[grid[:, 0]]
        for j in range(1, longest):
            result |= source[grid[:, j]]
        return result
    result = np.zeros((count, words), dtype=np.uint64)
    if longest > 64:
        nonempty = counts > 0
        starts = np.cumsum(counts) - counts
        result[nonempty] = np.bitwise_or.reduceat(source[ids], starts[nonempty], axis=0)
        return result
    # Values longest first: those with more than j tokens are a prefix, ORed in place.
    order = np.argsort(-counts, kind="stable")
    starts = (np.cumsum(counts) - counts)[order]
    with_more = np.searchsorted(-counts[order], -np.arange(longest), side="left")
    acc = np.zeros((count, words), dtype=np.uint64)
    for j in range(longest):
        m = int(with_more[j])
        acc[:m] |= source[ids[starts[:m] + j]]
    result[order] = acc
    return result


class Feature:
    """Everything needed to validate, format, tokenise and hash one (not ignored) feature.

    :param field: the feature's clkhash field spec (with hashing properties).
    :param key: the feature's keys.
    :param hash_l: bits of the filter the features are hashed into.
    :param words: 64-bit words of a filter.
    :param budget: bytes the feature's caches may hold.
    :param spread: where each filter position lands in a pattern (see
        :class:`~anonlinkclient.encoding.token_hashing.Hasher`); ``words`` counts the pattern's words.
    """

    def __init__(
        self,
        field: FieldSpec,
        key: Sequence[bytes],
        hash_l: int,
        words: int,
        budget: int,
        spread: Optional[np.ndarray] = None,
    ) -> None:
        fhp = field.hashing_properties
        assert fhp is not None
        self.field = field
        self.identifier = field.identifier
        self.fhp = fhp
        self.encoding: str = fhp.encoding
        codec = codecs.lookup(self.encoding).name
        self.encoding_kind = "ascii" if codec == "ascii" else "utf" if codec in ("utf-8", "utf-16", "utf-32") else ""
        mv = fhp.missing_value
        self.sentinel: Optional[str] = mv.sentinel if mv is not None else None
        self.replacement: str = mv.replace_with if mv is not None else ""
        self.kind = (
            "string"
            if isinstance(field, StringSpec)
            else "integer"
            if isinstance(field, IntegerSpec)
            else "date"
            if isinstance(field, DateSpec)
            else "enum"
        )
        comparator = fhp.comparator
        self.ngram = isinstance(comparator, NgramComparison)
        self.numeric = isinstance(comparator, NumericComparison)
        self.n = comparator.n if self.ngram else 0
        self.positional = bool(comparator.positional) if self.ngram else False
        self.vector_ngrams = self.ngram and 1 <= self.n <= 3 and not (self.positional and self.n == 3)
        if self.numeric:
            self.distance_interval = comparator.distance_interval
            self.resolution = comparator.resolution
            self.fractional_precision = comparator.fractional_precision
        strategy = fhp.strategy
        self.strategy = strategy
        self.constant_k: Optional[int] = (
            strategy.bits_per_token(1)[0] if isinstance(strategy, BitsPerTokenStrategy) else None
        )
        self.k_by_count: Dict[int, np.ndarray] = {}
        self.hasher = Hasher(fhp, key, hash_l, words, keep_seeds=self.constant_k is None, spread=spread)
        self.words = words
        # Values whose tokens are cut in bulk (n-grams) are cheaper to hash again than to look up;
        # the value cache serves the others (numeric, exact, long n-grams).
        self.values = ValueCache(words, 0 if self.vector_ngrams else budget // 2)
        self.tokens = TokenCache(words, budget if self.vector_ngrams else budget // 2)
        if self.kind == "date":
            self.date_format: str = field.format
            self.dates = DateFormatter(self.date_format)
        if self.kind == "integer":
            self.minimum = field.minimum
            self.maximum = field.maximum
        if self.kind == "string":
            self.regex = field.regex if field.regex_based else None
            self.min_length = None if field.regex_based else field.min_length
            self.max_length = None if field.regex_based else field.max_length
            self.case = "mixed" if field.regex_based else field.case
        if self.kind == "enum":
            self.enum_values = field.values

    # ---- exact, one value at a time (the reference for errors)

    def validation_reason(self, value: str) -> Optional[str]:
        """clkhash's validation message for ``value``, or ``None`` when it is valid."""
        if self.sentinel is not None and value == self.sentinel:
            return None
        try:
            value.encode(self.encoding)
        except UnicodeEncodeError:
            return _encoding_reason(self.encoding, value)
        kind = self.kind
        if kind == "string":
            if self.regex is not None:
                if self.regex.fullmatch(value) is None:
                    return f"Expected entry that conforms to regular expression '{self.regex.pattern}'. Read '{value}'."
                return None
            length = len(value)
            if self.min_length is not None and length < self.min_length:
                return (
                    f"Expected string length of at least {self.min_length}. Read string '{value}' of length {length}."
                )
            if self.max_length is not None and length > self.max_length:
                return f"Expected string length of at most {self.max_length}. Read string '{value}' of length {length}."
            if self.case == "upper" and value.upper() != value:
                return f"Expected upper case string. Read '{value}'."
            if self.case == "lower" and value.lower() != value:
                return f"Expected lower case string. Read '{value}'."
            return None
        if kind == "integer":
            try:
                number = int(value, 10)
            except ValueError:
                return f"Invalid integer. Read '{value}'."
            if self.minimum is not None and number < self.minimum:
                return f"Expected integer value of at least {self.minimum}. Read '{number}'."
            if self.maximum is not None and number > self.maximum:
                return f"Expected integer value of at most {self.maximum}. Read '{number}'."
            return None
        if kind == "date":
            try:
                datetime.strptime(value, self.date_format)
            except ValueError as e:
                return f"Validation error for date type: {e}"
            return None
        if value not in self.enum_values:
            return f"Expected enum value to be one of {list(self.enum_values)}. Read '{value}'."
        return None

    def hashing_reason(self, value: str) -> Optional[str]:
        """Why hashing ``value`` fails (formatting, tokenising, encoding tokens), or ``None``."""
        if self.sentinel is not None and value == self.sentinel:
            formatted = self.replacement
        elif self.kind == "integer":
            try:
                formatted = str(int(value, 10))
            except ValueError:
                return f"Invalid integer. Read '{value}'."
        elif self.kind == "date":
            try:
                formatted = datetime.strptime(value, self.date_format).strftime("%Y%m%d")
            except ValueError as e:
                return f"Unable to format date value '{value}'. Reason: {e}"
        else:
            formatted = value
        try:
            tokens = self.value_tokens(formatted)
        except (ValueError, OverflowError):
            return _numeric_reason(value)
        try:
            for token in tokens:
                token.encode(self.encoding)
        except UnicodeError:
            return _encoding_reason(self.encoding, value)
        return None

    def value_tokens(self, formatted: str) -> List[str]:
        """The tokens of one formatted value (raises ``ValueError``/``OverflowError`` for a bad number)."""
        if self.ngram:
            return ngram_tokens(formatted, self.n, self.positional)
        if self.numeric:
            return numeric_tokens(formatted, self.distance_interval, self.resolution, self.fractional_precision)
        return exact_tokens(formatted)

    def load(self, column: Sequence[str]) -> int:
        """About how many bytes of intermediate data hashing ``column`` makes."""
        characters = sum(map(len, column))
        if self.vector_ngrams:
            return 48 * (characters + len(column) * (self.n - 1))
        if self.ngram:
            return (64 + 4 * self.n) * (characters + len(column) * (self.n - 1))
        if self.numeric:
            return 4 * characters + len(column) * 80 * (2 * self.resolution + 1)
        return 4 * characters + 100 * len(column)

    # ---- fast, a column of values at a time

    def contribute(self, column: Sequence[str], validate: bool, acc: np.ndarray) -> None:
        """OR the patterns of this feature's ``column`` (one value per record) into ``acc``."""
        cache = self.values
        if not cache.enabled:
            patterns, _ = self.patterns(list(column), validate)
            acc |= patterns
            cache.account(len(column), 0)
            return
        found = list(map(cache.ids.get, column))
        if None not in found:
            acc |= cache.store.rows[cast(List[int], found)]
            cache.account(len(column), len(column))
            return
        miss_at = [i for i, x in enumerate(found) if x is None]
        hits = len(column) - len(miss_at)
        if hits:
            hit_at = [i for i, x in enumerate(found) if x is not None]
            acc[hit_at] |= cache.store.rows[cast(List[int], [found[i] for i in hit_at])]
        unique = list(dict.fromkeys([column[i] for i in miss_at]))
        patterns, valid = self.patterns(unique, validate)
        if len(unique) == len(miss_at):
            acc[miss_at] |= patterns
        else:
            position = {v: j for j, v in enumerate(unique)}
            acc[miss_at] |= patterns[[position[column[i]] for i in miss_at]]
        if valid is not None:
            keep = [j for j, ok in enumerate(valid) if ok]
            unique = [unique[j] for j in keep]
            patterns = patterns[keep]
        cache.insert(unique, patterns)
        cache.account(len(column), hits)

    def patterns(self, values: List[str], validate: bool) -> Tuple[np.ndarray, Optional[List[bool]]]:
        """The packed patterns (len(values) x words) of raw ``values``: format, tokenise, hash, combine.

        Also returns which values are valid, or ``None`` when all are. With ``validate``, an
        invalid value raises :class:`EncodingFallback`, as does any value that cannot be hashed.
        """
        formatted, valid = self.format(values, validate)
        tokens = self.tokenise(formatted)
        if tokens.total == 0:
            return np.zeros((len(values), self.words), dtype=np.uint64), valid
        source, ids = self.hash_tokens(self.cache_keys(tokens))
        return combine_tokens(source, ids, tokens.counts, self.words), valid

    def cache_keys(self, tokens: Tokens) -> Tokens:
        """The tokens as the token cache keys them: themselves (a salted feature adds the salt)."""
        return tokens

    def format(self, values: List[str], validate: bool) -> Tuple[List[str], Optional[List[bool]]]:
        """The formatted values (sentinels replaced), and which are valid (``None``: all are).

        Raises :class:`EncodingFallback` for a value that cannot be formatted, and with
        ``validate`` for an invalid one.
        """
        sentinel = self.sentinel
        if sentinel is not None and sentinel in values:
            regular_at: Optional[List[int]] = [i for i, v in enumerate(values) if v != sentinel]
            regular = [values[i] for i in regular_at]  # type: ignore[union-attr]
        else:
            regular_at = None
            regular = values
        formatted, all_valid = self._format_and_check(regular)
        valid: Optional[List[bool]] = None
        if not all_valid:
            if validate:
                raise EncodingFallback
            valid = [self.validation_reason(v) is None for v in values]
        if regular_at is not None:
            full = [self.replacement] * len(values)
            for i, f in zip(regular_at, formatted):
                full[i] = f
            formatted = full
        return formatted, valid

    def _encodable(self, values: List[str]) -> bool:
        """Whether every value can be encoded in the feature's encoding (clkhash's first check)."""
        joined = "".join(values)
        if self.encoding_kind == "ascii":
            return joined.isascii()
        if self.encoding_kind == "utf":  # only lone surrogates fail UTF-8, -16 and -32
            try:
                joined.encode("utf-8")
            except UnicodeEncodeError:
                return False
            return True
        try:
            for value in values:
                value.encode(self.encoding)
        except UnicodeEncodeError:
            return False
        return True

    def _string_constraints(self, values: List[str]) -> bool:
        if self.regex is not None:
            return all(map(self.regex.fullmatch, values))
        if self.min_length is not None or self.max_length is not None:
            lengths = list(map(len, values))
            if self.min_length is not None and min(lengths) < self.min_length:
                return False
            if self.max_length is not None and max(lengths) > self.max_length:
                return False
        if self.case == "upper":
            return list(map(str.upper, values)) == values
        if self.case == "lower":
            return list(map(str.lower, values)) == values
        return True

    def _format_and_check(self, values: List[str]) -> Tuple[List[str], bool]:
        """Formatted values (no sentinels among them) and whether all pass validation.

        Raises :class:`EncodingFallback` for a value that cannot be formatted (an error whether or
        not records are validated). Each value is parsed once, for both.
        """
        kind = self.kind
        if not values:
            return values, True
        if kind == "string":
            return values, self._encodable(values) and self._string_constraints(values)
        if kind == "enum":
            return values, self._encodable(values) and set(values) <= self.enum_values
        if kind == "integer":
            try:
                numbers = list(map(int, values))
            except ValueError:
                raise EncodingFallback from None
            valid = not (
                (self.minimum is not None and min(numbers) < self.minimum)
                or (self.maximum is not None and max(numbers) > self.maximum)
            )
            return list(map(str, numbers)), valid  # what parses as an integer is UTF-8 encodable
        formatted = self.dates.format(values)
        if None in formatted:
            raise EncodingFallback
        return formatted, self._encodable(values)  # type: ignore[return-value]

    def tokenise(self, formatted: List[str]) -> Tokens:
        """The tokens of the formatted values (n-grams of up to 3 characters in bulk, as codes)."""
        vector = ngram_codes(formatted, self.n, self.positional) if self.vector_ngrams else None
        if vector is not None:
            counts, codes = vector
            return Tokens(counts, len(codes), codes, None)
        try:
            token_lists = [self.value_tokens(f) for f in formatted]
        except (ValueError, OverflowError):
            raise EncodingFallback from None
        counts = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(formatted))
        strings = [t for tokens in token_lists for t in tokens]
        return Tokens(counts, len(strings), None, strings)

    def hash_tokens(self, tokens: Tokens) -> Tuple[np.ndarray, np.ndarray]:
        """Rows holding every token's pattern, and the row of each token (``tokens.total`` > 0).

        A token is inserted with k bits, k from the strategy (it can depend on the number of
        tokens of its value); its pattern comes from the token cache or is hashed and cached.
        """
        groups: List[Tuple[int, Optional[np.ndarray]]]
        if self.constant_k is not None:
            groups = [(max(0, self.constant_k), None)]
        else:
            ks = np.maximum(self._ks(tokens.counts), 0)
            unique_ks = np.unique(ks).tolist()
            groups = [(k, None if len(unique_ks) == 1 else np.flatnonzero(ks == k)) for k in unique_ks]
        return self._token_ids(tokens.codes, tokens.strings, groups, tokens.total)

    def _token_ids(
        self,
        codes: Optional[np.ndarray],
        strings: Optional[List[str]],
        groups: List[Tuple[int, Optional[np.ndarray]]],
        total: int,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Rows holding every token's pattern, and the row of each token.

        ``groups`` are (k, positions of the tokens inserted k times); tokens are int64 codes
        or strings. Tokens with k <= 0 set no bits but clkhash still encodes them (which can
        fail); they get all-zero patterns, cached like the others. New tokens are hashed and
        cached; if the cache cannot take them it is emptied first, and if it still cannot they
        are used without being cached.
        """
        cache = self.tokens
        lookups = self._look_up(codes, strings, groups)
        new_count, new_bytes = _new_size(lookups)
        if new_count and not cache.fits(new_count, new_bytes):
            cache.clear()
            lookups = self._look_up(codes, strings, groups)
            new_count, new_bytes = _new_size(lookups)
        keep = cache.fits(new_count, new_bytes)
        extra: List[np.ndarray] = []
        next_id = cache.store.count
        out = np.zeros(total, dtype=np.int64)
        for lookup in lookups:
            ids = lookup.ids
            if len(lookup.new_keys):
                keys = lookup.new_keys
                made = self._new_patterns(keys, lookup.k)
                if keep:
                    new_ids = cache.store.add(made)
                    if isinstance(keys, np.ndarray):
                        cache.codes.setdefault(lookup.k, CodeTable()).insert(keys, new_ids)
                    else:
                        cache.strings.setdefault(lookup.k, {}).update(zip(keys, new_ids.tolist()))
                else:
                    new_ids = np.arange(next_id, next_id + len(made), dtype=np.int64)
                    next_id += len(made)
                    extra.append(made)
                ids[lookup.missing] = new_ids[lookup.new_index]
            if lookup.at is None:
                out = ids
            else:
                out[lookup.at] = ids
        if not new_count:
            return cache.store.rows, out
        if keep:
            cache.string_bytes += new_bytes
            return cache.store.rows, out
        return np.concatenate([cache.store.rows[: cache.store.count], *extra]), out

    def _look_up(
        self, codes: Optional[np.ndarray], strings: Optional[List[str]], groups: List[Tuple[int, Optional[np.ndarray]]]
    ) -> List[Lookup]:
        """Find each group's tokens in the cache; list the distinct ones it does not hold."""
        cache = self.tokens
        lookups = []
        for k, at in groups:
            if codes is not None:
                part = codes if at is None else codes[at]
                table = cache.codes.get(k)
                if table is None:
                    ids, hit = np.zeros(len(part), np.int64), np.zeros(len(part), bool)
                else:
                    ids, hit = table.lookup(part)
                if hit.all():
                    lookups.append(Lookup(k, at, ids, _NO_IDS, _NO_IDS, _NO_IDS))
                    continue
                missing = np.flatnonzero(~hit)
                new_codes, new_index = np.unique(part[missing], return_inverse=True)
                lookups.append(Lookup(k, at, ids, missing, new_codes, new_index))
                continue
            assert strings is not None
            part_s = strings if at is None else [strings[i] for i in at.tolist()]
            found = list(map(cache.strings.get(k, {}).get, part_s))
            if None not in found:
                lookups.append(Lookup(k, at, np.array(found, dtype=np.int64), _NO_IDS, _NO_IDS, _NO_IDS))
                continue
            ids = np.array([-1 if x is None else x for x in found], dtype=np.int64)
            missing = np.flatnonzero(ids < 0)
            unknown = [part_s[i] for i in missing.tolist()]
            new_strings = list(dict.fromkeys(unknown))
            position = {s: j for j, s in enumerate(new_strings)}
            new_index = np.array([position[s] for s in unknown], dtype=np.int64)
            lookups.append(Lookup(k, at, ids, missing, new_strings, new_index))
        return lookups

    def _ks(self, counts: np.ndarray) -> np.ndarray:
        """k of every token, from the strategy (it depends on the number of tokens of the value)."""
        table = self.k_by_count
        parts = []
        for c in counts.tolist():
            if c:
                ks = table.get(c)
                if ks is None:
                    ks = np.array(self.strategy.bits_per_token(c), dtype=np.int64)
                    if c <= 1024:  # at most 4096 short arrays are kept
                        if len(table) >= 4096:
                            table.clear()
                        table[c] = ks
                parts.append(ks)
        return np.concatenate(parts)

    def _new_patterns(self, keys: Union[np.ndarray, List[str]], k: int) -> np.ndarray:
        """The patterns of new tokens, given as the token cache keys them (n-gram codes or texts)."""
        tokens = decode_ngrams(keys, self.n, self.positional) if isinstance(keys, np.ndarray) else keys
        try:
            messages = self.hasher.messages(tokens)
        except UnicodeError:
            raise EncodingFallback from None
        return self.hasher.patterns(messages, k)
