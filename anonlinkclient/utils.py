"""The helpers the manual documents for use from Python and notebooks (its import path, kept from 0.1.5).

Encoding::

    from anonlinkclient.utils import generate_clk_from_csv
    with open("pii.csv") as f:
        clks = generate_clk_from_csv(f, "secret", schema)   # a list of bitarrays

Blocking (a PII CSV, or a CLK file for a lambda-fold schema with ``"input-clks": true``)::

    from anonlinkclient.utils import combine_clks_blocks, generate_candidate_blocks_from_csv
    blocks = generate_candidate_blocks_from_csv("pii.csv", "blocking-schema.json")  # the block file's content
    clknblocks = json.load(combine_clks_blocks("clks.json", "blocks.json"))["clknblocks"]

The helpers that read CLK and block files take a path or an open file: as in
0.1.5, ``combine_clks_blocks(open("clks.json"), open("blocks.json"))`` and
``deserialize_filters(open("clks.json"))`` read JSON files opened in text mode;
a binary CLK file (``anonlink hash --format binary``) must be opened in binary
mode (``open("clks.bin", "rb")``). A file that is not a CLK file (a CSV, say) is
a ``ValueError``.

CLKs travel as base64 strings; :func:`serialize_bitarray`,
:func:`deserialize_bitarray` and :func:`deserialize_filters` convert between the
two forms.
"""

from anonlinkclient.blocking.blocks import generate_candidate_blocks_from_csv
from anonlinkclient.encoding.hashing import generate_clk_from_csv
from anonlinkclient.io.bits import deserialize_bitarray, deserialize_filters, serialize_bitarray
from anonlinkclient.io.clknblocks import combine_clks_blocks

__all__ = [
    "generate_clk_from_csv",
    "serialize_bitarray",
    "deserialize_bitarray",
    "deserialize_filters",
    "combine_clks_blocks",
    "generate_candidate_blocks_from_csv",
]
