"""CLKs as bytes and as :class:`bitarray.bitarray`: the one conversion, both ways.

Files and the wire carry a CLK as its bytes (most significant bit first, as
clkhash's ``bitarray.tobytes()`` gives them); anonlink and the 0.1.5 API work
with bitarrays.
"""

import base64
import binascii
from typing import IO, Any, Iterable, List, Union, cast

from bitarray import bitarray

from anonlinkclient.errors import UsageError
from anonlinkclient.io.clk_file import iter_clks


def to_bitarray(clk: bytes) -> bitarray:
    """The bitarray of a CLK's bytes."""
    bits = bitarray()
    bits.frombytes(clk)
    return bits


def to_bytes(bits: bitarray) -> bytes:
    """The bytes of a CLK's bitarray (padded with zero bits to a whole byte)."""
    return bits.tobytes()


def serialize_bitarray(ba: bitarray) -> str:
    """The base64 text of a Bloom filter, as CLK JSON files hold it."""
    return base64.b64encode(to_bytes(ba)).decode("ascii")


def deserialize_bitarray(ser: str) -> bitarray:
    """The Bloom filter a base64 string encodes.

    :raises UsageError: (a ``ValueError``) if ``ser`` is not base64.
    """
    try:
        return to_bitarray(base64.b64decode(ser, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise UsageError(f"not a base64 encoded CLK: {exc}") from None


def deserialize_filters(filters: Union[Iterable[Union[str, bytes]], IO[bytes], IO[str]]) -> List[bitarray]:
    """Deserialize CLKs to bitarrays: base64 strings (the ``"clks"`` list of a JSON CLK file), raw CLK
    bytes, or every CLK of an open CLK file: JSON (opened in text or binary mode) or binary (in binary mode).

    :raises UsageError: (a ``ValueError``) for a string that is not base64.
    :raises InputFileError: (a ``ValueError``) for a file that is not a usable CLK file.
    """
    if hasattr(filters, "read"):
        return [to_bitarray(clk) for clk in iter_clks(cast(IO[Any], filters))]
    return [to_bitarray(bytes(f)) if isinstance(f, (bytes, bytearray)) else deserialize_bitarray(f) for f in filters]
