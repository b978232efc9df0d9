"""Salting (the ``salt`` hardening step): the tokens of salted features hashed together with a salt.

A ``salt`` entry of ``clkConfig.hardening`` names a salt feature (for example the year of
birth) and the features it salts. Each token of a salted feature is hashed as clkhash hashes a
token, but with ``tag || token`` as the message of its MACs instead of the token, where the
tag is the record's salt tag (:func:`~anonlinkclient.encoding.keyed.salt_tag`: 32 bytes from
the salt step's key and the record's salt value). The same value under different salts so sets
unrelated bits. docs/linkage-schema.rst specifies every byte.

:class:`Salts` gives each distinct salt value an id and its tag, per block of records;
:class:`SaltedFeature` is a :class:`~anonlinkclient.encoding.features.Feature` whose caches are
keyed by (salt, value) and (salt, token) instead of value and token: the value cache by
``"<salt id> <value>"``, the token cache by ``code << 20 | salt id`` for n-grams cut in bulk
(the code of an n-gram of up to 2 characters, or for longer ones its number in a
:class:`~anonlinkclient.encoding.caches.CodeTable` of the codes) and by ``"<salt id> <token>"``
for the others.
"""

from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from clkhash.field_formats import FieldSpec

from anonlinkclient.encoding.caches import CodeTable
from anonlinkclient.encoding.features import Feature, Tokens, decode_ngrams
from anonlinkclient.encoding.keyed import Hmac, salt_tag
from anonlinkclient.errors import EncodingFallback

#: Most distinct salt values kept (with their tags); beyond, the ids start again.
MAX_SALTS = 1 << 20
#: Bits of a salt id in a token's cache key.
_SID_BITS = 20
#: Most distinct n-gram codes a salted feature numbers; beyond, its caches start again.
MAX_TOKEN_INDEX = 1 << 22


class Salts:
    """The salt values of one ``salt`` entry: an id and a tag for each distinct value seen.

    :param key: the salt entry's key.
    :param column: the salt feature's index in a record.
    :param missing: the salt feature's (sentinel, replacement), if it has a missingValue: a
        record whose value is the sentinel is salted with the replacement.
    :ivar generation: counts the times the ids started again (caches keyed by ids must then too).
    """

    def __init__(self, key: bytes, column: int, missing: Optional[Tuple[str, str]]) -> None:
        self.mac = Hmac(key)
        self.column = column
        self.missing = missing
        self.ids: Dict[str, int] = {}
        self.tags: List[bytes] = []
        self.generation = 0

    def ids_of(self, values: Sequence[str]) -> np.ndarray:
        """The id of each record's salt value (its raw value of the salt feature), tagging new ones."""
        if self.missing is not None:
            sentinel, replacement = self.missing
            values = [replacement if value == sentinel else value for value in values]
        found = list(map(self.ids.get, values))
        if None in found:
            new = list(dict.fromkeys(v for v, i in zip(values, found) if i is None))
            if len(self.ids) + len(new) > MAX_SALTS:
                self.ids, self.tags = {}, []
                self.generation += 1
                new = list(dict.fromkeys(values))
            for value in new:
                self.ids[value] = len(self.tags)
                self.tags.append(salt_tag(self.mac, value))
            found = list(map(self.ids.__getitem__, values))
        return np.array(found, dtype=np.int64)


class SaltedFeature(Feature):
    """A feature whose tokens are salted by :class:`Salts` (see the module).

    :param salts: the salt values of the entry that salts this feature.
    """

    def __init__(
        self,
        field: FieldSpec,
        key: Sequence[bytes],
        hash_l: int,
        words: int,
        budget: int,
        salts: Salts,
        spread: Optional[np.ndarray] = None,
    ) -> None:
        super().__init__(field, key, hash_l, words, budget, spread)
        self.salts = salts
        self.generation = salts.generation
        self.sids = np.zeros(0, dtype=np.int64)  # the salt id of each value being hashed (set before each hash)
        # Codes of n-grams of up to 2 characters (42 bits) leave room for the salt id beside them;
        # longer ones are numbered first (a token index of at most 22 bits).
        self.direct = self.vector_ngrams and self.n <= 2 and not self.positional
        self._clear_index()

    def _clear_index(self) -> None:
        self.index = CodeTable()
        self.index_codes = np.zeros(1024, dtype=np.int64)
        self.index_count = 0

    def contribute_salted(self, column: Sequence[str], salt_ids: np.ndarray, validate: bool, acc: np.ndarray) -> None:
        """OR the patterns of ``column``, each value salted by the salt of its id, into ``acc``."""
        if self.generation != self.salts.generation:  # the salt ids started again: so do the caches
            self.values.clear()
            self.tokens.clear()
            self._clear_index()
            self.generation = self.salts.generation
        if not self.values.enabled:  # n-grams cut in bulk, or values that hardly repeat: no value cache
            self.sids = salt_ids
            patterns, _ = super().patterns(list(column), validate)
            acc |= patterns
            self.values.account(len(column), 0)
            return
        keyed = [f"{sid} {value}" for sid, value in zip(salt_ids.tolist(), column)]
        self.contribute(keyed, validate, acc)

    def patterns(self, values: List[str], validate: bool) -> Tuple[np.ndarray, Optional[List[bool]]]:
        """The patterns of salted values given as the value cache keys them: ``"<salt id> <value>"``."""
        pairs = [value.split(" ", 1) for value in values]
        self.sids = np.array([int(sid) for sid, _ in pairs], dtype=np.int64)
        return super().patterns([value for _, value in pairs], validate)

    def cache_keys(self, tokens: Tokens) -> Tokens:
        """The tokens keyed by (token, salt): each value's tokens get the salt id of :attr:`sids` of its value."""
        token_sids = np.repeat(self.sids, tokens.counts)
        if tokens.codes is not None:
            codes = tokens.codes if self.direct else self._token_index(tokens.codes)
            return Tokens(tokens.counts, tokens.total, (codes << _SID_BITS) | token_sids, None)
        assert tokens.strings is not None
        salted = [f"{sid} {token}" for sid, token in zip(token_sids.tolist(), tokens.strings)]
        return Tokens(tokens.counts, tokens.total, None, salted)

    def _token_index(self, codes: np.ndarray) -> np.ndarray:
        """A small number for each n-gram code (numbered as first seen)."""
        found, hit = self.index.lookup(codes)
        if hit.all():
            return found
        new = np.unique(codes[~hit])
        if self.index_count + len(new) > MAX_TOKEN_INDEX:
            self.tokens.clear()  # its keys hold indices that are about to mean other codes
            self._clear_index()
            new = np.unique(codes)
        need = self.index_count + len(new)
        if need > len(self.index_codes):
            grown = np.zeros(max(need, 2 * len(self.index_codes)), dtype=np.int64)
            grown[: self.index_count] = self.index_codes[: self.index_count]
            self.index_codes = grown
        numbers = np.arange(self.index_count, need, dtype=np.int64)
        self.index_codes[self.index_count : need] = new
        self.index.insert(new, numbers)
        self.index_count = need
        found, _ = self.index.lookup(codes)
        return found

    def _new_patterns(self, keys: Union[np.ndarray, List[str]], k: int) -> np.ndarray:
        """The patterns of new (salt, token) keys: each token's MACs of ``tag || token``."""
        if isinstance(keys, np.ndarray):
            sids = (keys & ((1 << _SID_BITS) - 1)).tolist()
            codes = keys >> _SID_BITS
            tokens = decode_ngrams(codes if self.direct else self.index_codes[codes], self.n, self.positional)
        else:
            pairs = [key.split(" ", 1) for key in keys]
            sids = [int(sid) for sid, _ in pairs]
            tokens = [token for _, token in pairs]
        try:
            messages = self.hasher.messages(tokens)
        except UnicodeError:
            raise EncodingFallback from None
        tags = self.salts.tags
        return self.hasher.patterns([tags[sid] + message for sid, message in zip(sids, messages)], k)
