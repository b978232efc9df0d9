"""The helpers the manual documents for use from Python and notebooks.

Encoding::

    from anonlinkclient.utils import generate_clk_from_csv
    with open("pii.csv") as f:
        clks = generate_clk_from_csv(f, "secret", schema)   # a list of bitarrays

Blocking (a PII CSV, or a CLK file for a lambda-fold schema with ``"input-clks": true``)::

    from anonlinkclient.utils import combine_clks_blocks, generate_candidate_blocks_from_csv
    blocks = generate_candidate_blocks_from_csv("pii.csv", "blocking-schema.json")  # the block file's content
    clknblocks = json.load(combine_clks_blocks("clks.json", "blocks.json"))["clknblocks"]

CLKs travel as base64 strings; :func:`serialize_bitarray`,
:func:`deserialize_bitarray` and :func:`deserialize_filters` convert between the
two forms.
"""

import base64
import binascii
from typing import Iterable, List, Optional, TextIO, Union

from bitarray import bitarray
from clkhash.schema import Schema

from anonlinkclient.blocking import generate_candidate_blocks_from_csv
from anonlinkclient.clknblocks import combine_clks_blocks
from anonlinkclient.hashing import HeaderMode, hash_csv

__all__ = [
    "generate_clk_from_csv",
    "serialize_bitarray",
    "deserialize_bitarray",
    "deserialize_filters",
    "combine_clks_blocks",
    "generate_candidate_blocks_from_csv",
]


def generate_clk_from_csv(
    input_f: TextIO,
    secret: Union[str, bytes],
    schema: Schema,
    validate: bool = True,
    header: HeaderMode = True,
    progress_bar: bool = True,
    max_workers: Optional[int] = None,
) -> List[bitarray]:
    """Hash every record of a PII CSV into a CLK, exactly as clkhash does.

    :param input_f: the CSV as a text stream (an open file or ``io.StringIO``).
    :param secret: the secret the data providers share.
    :param schema: a :class:`clkhash.schema.Schema` (for example from
        :func:`clkhash.schema.from_json_file`).
    :param validate: check every value against the schema's format first.
    :param header: ``True`` if the first row is a header to check against the
        schema, ``"ignore"`` to skip it unchecked, ``False`` if there is none.
    :param progress_bar: show a tqdm progress bar on stderr.
    :param max_workers: worker processes (default: one per core; ``1`` starts none).
    :return: one :class:`bitarray.bitarray` per record, in input order.
    :raises anonlinkclient.errors.InputFileError: naming the row and column of
        the first record that does not fit the schema.
    """
    name = getattr(input_f, "name", "<input>")
    clks = hash_csv(input_f, str(name), secret, schema, header, validate, max_workers, progress_bar)
    return [_to_bitarray(clk) for clk in clks]


def _to_bitarray(data: bytes) -> bitarray:
    ba = bitarray()
    ba.frombytes(data)
    return ba


def serialize_bitarray(ba: bitarray) -> str:
    """The base64 text of a Bloom filter, as CLK JSON files hold it."""
    return base64.b64encode(ba.tobytes()).decode("ascii")


def deserialize_bitarray(ser: str) -> bitarray:
    """The Bloom filter a base64 string encodes.

    :raises ValueError: if ``ser`` is not base64.
    """
    try:
        return _to_bitarray(base64.b64decode(ser, validate=True))
    except binascii.Error as exc:
        raise ValueError(f"not a base64 encoded CLK: {exc}") from None


def deserialize_filters(filters: Iterable[str]) -> List[bitarray]:
    """Deserialize base64 CLKs (for example the ``"clks"`` list of a CLK file) to bitarrays."""
    return [deserialize_bitarray(f) for f in filters]
