"""A direct, slow implementation of the hardening specification (docs/linkage-schema.rst), for tests.

Written from the documented definitions with nothing but the standard library (RFC 5869 HKDF
and RFC 2104 HMAC from ``hmac``), one record and one bit at a time, so that the package's
vectorised steps and its keyed primitives can be checked against the text they implement.
"""

import hashlib
import hmac
from typing import List, Optional, Sequence

LABEL = b"anonlink-client hardening v1"


def hkdf(secret: bytes, info: bytes, size: int, salt: Optional[bytes] = None, hash_name: str = "sha256") -> bytes:
    """RFC 5869: extract, then expand."""
    digest_size = hashlib.new(hash_name).digest_size
    prk = hmac.digest(salt if salt else b"\0" * digest_size, secret, hash_name)
    out, block, i = b"", b"", 1
    while len(out) < size:
        block = hmac.digest(prk, block + info + bytes([i]), hash_name)
        out += block
        i += 1
    return out[:size]


def step_key(
    secret: str,
    step_type: str,
    index: int,
    kdf_info: bytes = b"",
    kdf_salt: Optional[bytes] = None,
    hash_name: str = "sha256",
) -> bytes:
    info = LABEL + b"\0" + step_type.encode() + b"\0" + str(index).encode() + b"\0" + kdf_info
    return hkdf(secret.encode("utf-8"), info, 32, kdf_salt, hash_name)


class Stream:
    """HMAC-SHA256(K, C || UINT32BE(i)) for i = 1, 2, ..., read as bytes or bits."""

    def __init__(self, key: bytes, context: bytes) -> None:
        self.key, self.context = key, context
        self.buffer = b""
        self.block = 0
        self.byte_at = 0
        self.bit_at = 0

    def _fill(self, size: int) -> None:
        while len(self.buffer) < size:
            self.block += 1
            self.buffer += hmac.digest(self.key, self.context + self.block.to_bytes(4, "big"), "sha256")

    def byte(self) -> int:
        self._fill(self.byte_at + 1)
        value = self.buffer[self.byte_at]
        self.byte_at += 1
        return value

    def bit(self) -> int:
        self._fill(self.bit_at // 8 + 1)
        value = (self.buffer[self.bit_at // 8] >> (7 - self.bit_at % 8)) & 1
        self.bit_at += 1
        return value

    def below(self, n: int) -> int:
        """Uniform in [0, n): ceil(m/8) big-endian bytes, low m bits, rejected if >= n."""
        if n == 1:
            return 0
        m = (n - 1).bit_length()
        while True:
            value = 0
            for _ in range((m + 7) // 8):
                value = value * 256 + self.byte()
            value %= 2**m
            if value < n:
                return value


def fisher_yates(key: bytes, context: bytes, n: int) -> List[int]:
    a = list(range(n))
    stream = Stream(key, context)
    for i in range(n - 1, 0, -1):
        j = stream.below(i + 1)
        a[i], a[j] = a[j], a[i]
    return a


def permute(bits: List[int], key: bytes) -> List[int]:
    a = fisher_yates(key, len(bits).to_bytes(4, "big"), len(bits))
    return [bits[a[x]] for x in range(len(bits))]


def balance(bits: List[int], key: bytes) -> List[int]:
    return permute(bits + [1 - b for b in bits], key)


def xor_fold(bits: List[int], folds: int) -> List[int]:
    for _ in range(folds):
        half = len(bits) // 2
        bits = [bits[i] ^ bits[half + i] for i in range(half)]
    return bits


def rule90(bits: List[int], iterations: int) -> List[int]:
    n = len(bits)
    for _ in range(iterations):
        bits = [bits[(i - 1) % n] ^ bits[(i + 1) % n] for i in range(n)]
    return bits


def rehash(bits: List[int], key: bytes, window: int, step: int, count: int) -> List[int]:
    n = len(bits)
    out = [0] * n
    w = 0
    while w * step + window <= n:
        chunk = bits[w * step : w * step + window]
        chunk = chunk + [0] * (-len(chunk) % 8)
        packed = bytes(int("".join(map(str, chunk[i : i + 8])), 2) for i in range(0, len(chunk), 8))
        stream = Stream(key, w.to_bytes(4, "big") + packed)
        for _ in range(count):
            out[stream.below(n)] = 1
        w += 1
    return out


def seed_context(values: Sequence[str]) -> bytes:
    return b"".join(len(v.encode()).to_bytes(4, "big") + v.encode() for v in values)


def probability_digit(p: float, j: int) -> int:
    numerator, denominator = p.as_integer_ratio()
    return (numerator * 2**j // denominator) % 2


def randomized_response(bits: List[int], key: bytes, p: float, seeds: Sequence[str]) -> List[int]:
    """Lazy comparison of a uniform U_i with p, four binary digits a round, then a coin per replaced bit."""
    stream = Stream(key, seed_context(seeds))
    undecided = list(range(len(bits)))
    replaced = []
    j = 1
    while undecided:
        still = []
        digits = sum(probability_digit(p, 4 * (j - 1) + t) << (4 - t) for t in range(1, 5))
        for i in undecided:
            u = sum(stream.bit() << (3 - t) for t in range(4))
            if u < digits:
                replaced.append(i)
            elif u == digits:
                still.append(i)
        undecided = still
        j += 1
    out = list(bits)
    for i in sorted(replaced):
        out[i] = stream.bit()
    return out


def salt_tag(key: bytes, salt: str) -> bytes:
    return hmac.digest(key, salt.encode() + (1).to_bytes(4, "big"), "sha256")
