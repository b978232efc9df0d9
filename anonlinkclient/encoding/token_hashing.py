"""Token hashing: the k bit positions clkhash sets for a token, as packed patterns (:class:`Hasher`).

clkhash hashes each token (its text encoded in the feature's encoding) with the feature's
keys: ``doubleHash`` sets positions ``(sha1 + i * md5) mod l`` for i < k from HMAC-SHA1 and
HMAC-MD5 of the token (RFC 2104, here with the keyed pads computed once, :func:`hmac_pads`),
``blakeHash`` takes k unsigned shorts from BLAKE2b MACs salted ``"0"``, ``"1"``, ...
A pattern is a row of 64-bit words whose bytes, in order, are clkhash's bitarray bytes (bit i
of the filter is bit ``7 - i % 8`` of byte ``i // 8``).

Where a per-record salt would enter (the ``salt`` hardening step; not implemented): each
token of the salted features is hashed together with the record's value of the salt feature,
so the message a MAC is taken of becomes (salt, token) instead of the token alone. That
message is made in one place, :meth:`Hasher.messages`, and everything downstream takes
messages: :meth:`Hasher.patterns` and the seeds it keeps are keyed by message, so they need
no change. Upstream, :meth:`anonlinkclient.encoding.features.Feature.hash_tokens` (the
"hash tokens" stage) would group a column's tokens by their record's salt and pass the salt
to :meth:`Hasher.messages`; its caches would then be keyed by salt too: the token cache by
(k, salt) instead of k (:class:`~anonlinkclient.encoding.caches.TokenCache`), and the value
cache by (value, salt) (:class:`~anonlinkclient.encoding.caches.ValueCache`, in
:meth:`~anonlinkclient.encoding.features.Feature.contribute`). The salt's text and its
framing (e.g. length-prefixed, so that no salt and token pair reads as another) are the
hardening issue's to define and document.
"""

import hashlib
from hashlib import blake2b
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

#: Longest token whose MACs are kept (for another k) by a :class:`Hasher`.
_MAX_KEPT_TOKEN = 256


def hmac_pads(key: bytes, new: Any) -> Tuple[Any, Any]:
    """The keyed inner and outer hash states of HMAC (RFC 2104) for a 64-byte-block hash."""
    if len(key) > 64:
        key = new(key).digest()
    key = key.ljust(64, b"\0")
    return new(bytes(b ^ 0x36 for b in key)), new(bytes(b ^ 0x5C for b in key))


def hmac_digest(pads: Tuple[Any, Any], message: bytes) -> bytes:
    """HMAC of ``message`` from precomputed pads: what ``hmac.digest`` returns, without re-keying."""
    inner = pads[0].copy()
    inner.update(message)
    outer = pads[1].copy()
    outer.update(inner.digest())
    digest: bytes = outer.digest()
    return digest


class Hasher:
    """Turns tokens into the packed bit patterns clkhash sets for them (k bits each).

    When one token can be inserted with different k (bitsPerFeature), what its MACs give
    (the seeds) is kept, so that its pattern for another k needs no MAC again.

    :param fhp: the feature's clkhash hashing properties.
    :param key: the feature's keys (from :func:`clkhash.key_derivation.generate_key_lists`).
    :param hash_l: bits of the filter (clkhash's ``hash_l``).
    :param words: 64-bit words of a pattern.
    :param keep_seeds: keep each token's seeds (for a strategy whose k varies).
    :param spread: where each of the ``hash_l`` positions lands in a pattern, when the filter's
        first post-steps are bit gathers done on the patterns instead
        (:func:`~anonlinkclient.encoding.hardening.leading_gathers`): ``(hash_l, m)`` positions
        of a pattern of ``m * hash_l`` bits. ``None``: position ``i`` is bit ``i``.
    """

    MAX_SEEDS = 1 << 16

    def __init__(
        self,
        fhp: Any,
        key: Sequence[bytes],
        hash_l: int,
        words: int,
        keep_seeds: bool,
        spread: Optional[np.ndarray] = None,
    ) -> None:
        self.hash_l = hash_l
        self.words = words
        self.spread = spread
        self.encoding: str = fhp.encoding
        self.blake = fhp.hash_type == "blakeHash"
        self.non_singular = bool(fhp.prevent_singularity)
        if self.blake:
            self.key = bytes(key[0])
            self.salted: List[Any] = []  # blake2b keyed and salted with "0", "1", ...
        else:
            self.sha1 = hmac_pads(bytes(key[0]), hashlib.sha1)
            self.md5 = hmac_pads(bytes(key[1]), hashlib.md5)
        self.seeds: Optional[Dict[bytes, Any]] = {} if keep_seeds else None
        self.seed_bytes = 0

    def messages(self, tokens: Sequence[str]) -> List[bytes]:
        """What the MACs of each token are taken of: its text in the feature's encoding.

        Raises ``UnicodeError`` for a token the encoding cannot represent (clkhash fails too).
        A per-record salt would be framed together with each token here (see the module).
        """
        encoding = self.encoding
        return [token.encode(encoding) for token in tokens]

    def patterns(self, messages: Sequence[bytes], k: int) -> np.ndarray:
        """The packed patterns (len(messages) x words uint64) of tokens inserted with ``k`` bits each."""
        count = len(messages)
        out = np.zeros((count, self.words), dtype=np.uint64)
        if k <= 0 or count == 0:
            return out
        if not self.blake:
            # (a + i*b) mod l depends on i mod l only: more than l insertions set no new bits.
            k = min(k, self.hash_l)
        bits_row = self.words * 64
        step = max(1, min(count, (16 << 20) // (bits_row + 8 * k)))
        for start in range(0, count, step):
            part = messages[start : start + step]
            positions = self._positions(part, k)
            if self.spread is not None:
                positions = self.spread[positions].reshape(len(part), -1)
            matrix = np.zeros((len(part), bits_row), dtype=np.uint8)
            rows = np.repeat(np.arange(len(part)), positions.shape[1])
            matrix[rows, positions.ravel()] = 1
            out[start : start + len(part)] = np.packbits(matrix, axis=1).view(np.uint64)
        return out

    def _positions(self, messages: Sequence[bytes], k: int) -> np.ndarray:
        """The bit positions clkhash sets for each token: (len(messages), k) int64."""
        hash_l = self.hash_l
        if self.blake:
            # clkhash: k unsigned shorts (native order) from BLAKE2b MACs salted "0", "1", ...
            macs = (k + 31) // 32
            digest = b"".join([self._blake_digest(m, macs) for m in messages])
            shorts = np.frombuffer(digest, dtype=np.uint16).reshape(len(messages), 32 * macs)[:, :k]
            return shorts.astype(np.int64) % hash_l
        # clkhash: g_i = (sha1 + i * md5) mod l from HMAC-SHA1 and HMAC-MD5 of the token.
        seeds = [self._double_seed(m) for m in messages]
        first = np.array([s[0] for s in seeds], dtype=np.int64)
        step = np.array([s[1] for s in seeds], dtype=np.int64)
        return (first[:, None] + np.arange(k, dtype=np.int64)[None, :] * step[:, None]) % hash_l

    def _double_seed(self, m: bytes) -> Tuple[int, int]:
        seeds = self.seeds
        if seeds is not None:
            known = seeds.get(m)
            if known is not None:
                return known
        hash_l = self.hash_l
        first = int.from_bytes(hmac_digest(self.sha1, m), "big") % hash_l
        step = int.from_bytes(hmac_digest(self.md5, m), "big") % hash_l
        if self.non_singular:
            i = 0
            while step == 0:
                step = int.from_bytes(hmac_digest(self.md5, m + chr(i).encode()), "big") % hash_l
                i += 1
        self._keep(m, (first, step), 100)
        return first, step

    def _blake_digest(self, m: bytes, macs: int) -> bytes:
        seeds = self.seeds
        if seeds is not None:
            known = seeds.get(m)
            if known is not None and len(known) >= 64 * macs:
                return known[: 64 * macs]
        salted = self.salted
        while len(salted) < macs:
            salted.append(blake2b(key=self.key, salt=str(len(salted)).encode()))
        parts = []
        for i in range(macs):
            h = salted[i].copy()
            h.update(m)
            parts.append(h.digest())
        digest = b"".join(parts)
        self._keep(m, digest, len(digest))
        return digest

    def _keep(self, m: bytes, seed: Any, size: int) -> None:
        seeds = self.seeds
        if seeds is None or len(m) > _MAX_KEPT_TOKEN:
            return
        if len(seeds) >= self.MAX_SEEDS or self.seed_bytes > 8 * 2**20:
            seeds.clear()
            self.seed_bytes = 0
        seeds[m] = seed
        self.seed_bytes += len(m) + size + 100
