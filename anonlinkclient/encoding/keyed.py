"""The keyed primitives of hardening, specified to the byte (docs/linkage-schema.rst, "Hardening").

Everything a hardening step draws at random comes from here, so that another implementation
given the secret, the schema and the records can reproduce our hardened CLKs:

* **Step keys** (:func:`step_key`): one 32-byte key per entry of ``clkConfig.hardening``, from
  the linkage secret by HKDF (RFC 5869, clkhash's :func:`~clkhash.key_derivation.hkdf`) with
  the schema's KDF hash and salt, under a label of its own::

      info = "anonlink-client hardening v1" 0x00 <type> 0x00 <index> 0x00 <clkConfig.kdf.info>

  ``<type>`` is the entry's ``type`` in ASCII, ``<index>`` its 0-based position in the list
  in decimal ASCII. This info is longer than the schema's own info, so it is never the label
  of the CLK keys (clkhash's keys are HKDF with the schema's info itself).
* **Streams** (:func:`stream`): HMAC-SHA256 in counter mode. Block ``i`` (``i`` = 1, 2, ...)
  of the stream of key ``K`` and context ``C`` is ``HMAC-SHA256(K, C || UINT32BE(i))``; the
  stream is the blocks in order (this is PBKDF2-HMAC-SHA256 with one iteration, which
  computes it in one call). Its bits are read byte by byte, most significant bit first.
* **Integers** (:class:`Draws`): uniform in ``[0, n)`` by rejection sampling: with
  ``m = (n - 1).bit_length()``, the next ``ceil(m / 8)`` bytes as a big-endian number, its
  low ``m`` bits kept; a number ``>= n`` is rejected and the next bytes are read. ``n = 1``
  gives 0 and reads nothing.
* **Permutations** (:func:`permutation`): Fisher-Yates (Durstenfeld): ``a = [0, ..., n-1]``;
  for ``i = n-1`` down to 1, ``j`` uniform in ``[0, i]`` (``i`` included: Sattolo's algorithm,
  which excludes it, makes only cyclic permutations), swap ``a[i]`` and ``a[j]``.
* **Salt tags** (:func:`salt_tag`): the first block of the stream of the salt step's key with
  the salt value's UTF-8 bytes as context; a salted token is hashed as ``tag || token``.

This module needs no NumPy.
"""

import hashlib
from functools import lru_cache
from typing import Any, List, Optional, Sequence, Tuple

from clkhash.key_derivation import hkdf

#: The label every hardening key's HKDF info starts with.
KEY_LABEL = b"anonlink-client hardening v1"
#: Bytes of a step key.
KEY_BYTES = 32
#: Bytes of one block of a stream (the output of HMAC-SHA256).
BLOCK_BYTES = 32
_COUNTER_BYTES = 4


def key_info(step_type: str, index: int, kdf_info: Optional[bytes]) -> bytes:
    """The HKDF info of the key of hardening entry ``index`` of type ``step_type`` (see the module)."""
    return b"\0".join([KEY_LABEL, step_type.encode("ascii"), str(index).encode("ascii"), kdf_info or b""])


def step_key(
    secret: Any,
    step_type: str,
    index: int,
    kdf_hash: str = "SHA256",
    kdf_salt: Optional[bytes] = None,
    kdf_info: Optional[bytes] = None,
) -> bytes:
    """The 32-byte key of hardening entry ``index`` (type ``step_type``), derived from the linkage secret.

    :param secret: the linkage secret (text, UTF-8 encoded, or bytes), as for the CLK keys.
    :param kdf_hash: / :param kdf_salt: / :param kdf_info: the schema's ``clkConfig.kdf``
        settings (hash ``SHA256`` or ``SHA512``, salt and info as bytes or ``None``).
    """
    secret_bytes = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    (key,) = hkdf(
        secret_bytes, 1, kdf_hash, salt=kdf_salt, info=key_info(step_type, index, kdf_info), key_size=KEY_BYTES
    )
    return bytes(key)


def counter(i: int) -> bytes:
    """The 4-byte big-endian counter of block ``i`` of a stream."""
    return i.to_bytes(_COUNTER_BYTES, "big")


def stream(key: bytes, context: bytes, size: int) -> bytes:
    """The first ``size`` bytes of the HMAC-SHA256 counter-mode stream of ``key`` and ``context``."""
    if size <= 0:
        return b""
    return hashlib.pbkdf2_hmac("sha256", key, context, 1, size)


class Hmac:
    """HMAC-SHA256 with one key, its padded key states computed once (RFC 2104).

    :meth:`block` gives one block of a stream at the cost of one HMAC, without the set-up of
    :func:`stream` (which is cheaper from the second block on).
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def mac(self, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message``."""
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def block(self, context: bytes, i: int = 1) -> bytes:
        """Block ``i`` (from 1) of the stream of this key and ``context``."""
        return self.mac(context + counter(i))


class Draws:
    """Reads a stream (of one key and context) as uniform integers, by rejection sampling.

    The stream is computed ahead in pieces (``ahead`` bytes at first, doubling), which gives
    the same bytes as reading it block by block.
    """

    def __init__(self, key: bytes, context: bytes, ahead: int = 4 * BLOCK_BYTES) -> None:
        self.key = key
        self.context = context
        self.data = stream(key, context, ahead)
        self.at = 0

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes of the stream."""
        while self.at + size > len(self.data):
            self.data = stream(self.key, self.context, 2 * len(self.data) + size)
        piece = self.data[self.at : self.at + size]
        self.at += size
        return piece

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` (``n >= 1``), by rejection sampling."""
        if n < 1:
            raise ValueError(f"no integer below {n}")
        if n == 1:
            return 0
        bits = (n - 1).bit_length()
        size = (bits + 7) // 8
        mask = (1 << bits) - 1
        while True:
            value = int.from_bytes(self.take(size), "big") & mask
            if value < n:
                return value


def draw_positions(mac: Hmac, context: bytes, count: int, n: int) -> List[int]:
    """``count`` uniform integers in ``[0, n)`` (with repetition), from the stream of ``mac``'s key and ``context``.

    The same integers as ``count`` calls of :meth:`Draws.below`; the stream is computed block
    by block, as most draws of a few positions need one block.
    """
    if n == 1:
        return [0] * count
    bits = (n - 1).bit_length()
    size = (bits + 7) // 8
    mask = (1 << bits) - 1
    data = mac.block(context, 1)
    blocks = 1
    out: List[int] = []
    at = 0
    while len(out) < count:
        while at + size > len(data):
            blocks += 1
            data += mac.block(context, blocks)
        value = int.from_bytes(data[at : at + size], "big") & mask
        at += size
        if value < n:
            out.append(value)
    return out


@lru_cache(maxsize=32)
def permutation(key: bytes, context: bytes, n: int) -> Tuple[int, ...]:
    """A uniform permutation of ``range(n)`` by Fisher-Yates, with draws from the stream of ``key`` and ``context``.

    ``a[x]`` is where the element at ``x`` comes from: applied to bits, bit ``x`` of the
    output is bit ``a[x]`` of the input.
    """
    a = list(range(n))
    draws = Draws(key, context, ahead=max(BLOCK_BYTES, 3 * n))
    for i in range(n - 1, 0, -1):
        j = draws.below(i + 1)
        a[i], a[j] = a[j], a[i]
    return tuple(a)


def length_context(length: int) -> bytes:
    """The stream context of a step that draws once for all records: the length it permutes, UINT32BE."""
    return counter(length)


def value_bytes(value: str) -> bytes:
    """The bytes a record's value is keyed by: UTF-8 (a lone surrogate as its three UTF-8 bytes)."""
    return value.encode("utf-8", "surrogatepass")


def seed_context(values: Sequence[str]) -> bytes:
    """The stream context of a record's seed values: each value as UINT32BE(byte length) || its bytes."""
    return b"".join([len(data).to_bytes(4, "big") + data for data in map(value_bytes, values)])


def seed_contexts(columns: Sequence[Sequence[str]]) -> List[bytes]:
    """:func:`seed_context` of each record, given the seed features' columns (one value per record each)."""
    framed = [[len(data).to_bytes(4, "big") + data for data in map(value_bytes, column)] for column in columns]
    if len(framed) == 1:
        return framed[0]
    return [b"".join(parts) for parts in zip(*framed)]


def salt_tag(salt_hmac: Hmac, salt: str) -> bytes:
    """The 32-byte tag a salted token is prefixed with: block 1 of the stream of the salt key and the salt value."""
    return salt_hmac.block(value_bytes(salt))


def probability_bits(probability: float, count: int) -> List[int]:
    """The first ``count`` bits ``p_1, p_2, ...`` of the binary expansion of ``probability`` (a float, exactly)."""
    numerator, denominator = float(probability).as_integer_ratio()
    return [((numerator << j) // denominator) & 1 for j in range(1, count + 1)]


__all__ = [
    "KEY_LABEL",
    "Draws",
    "Hmac",
    "draw_positions",
    "key_info",
    "length_context",
    "permutation",
    "probability_bits",
    "salt_tag",
    "seed_context",
    "seed_contexts",
    "step_key",
    "stream",
]
