"""Combining a CLK file with its block file into the ``clknblocks`` upload form.

The Entity Service takes blocked encodings as
``{"clknblocks": [[clk, block id, block id, ...], ...]}``, one entry per CLK in
order. Both inputs are streamed, each read once, and the result is written to a temporary file,
so memory stays flat however many CLKs there are, and the result can be read
(or sent) again from the start.
"""

import base64
import io
import tempfile
from typing import IO, Iterator, Optional, Tuple

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.block_file import BlockAligner
from anonlinkclient.io.clk_file import check_clk_file, iter_clks
from anonlinkclient.io.files import Source, source_name
from anonlinkclient.io.json_array import encode, write_list_document


def count_clks(source: Source, raw_size: Optional[int] = None) -> Tuple[int, int]:
    """Count the CLKs of a CLK file (JSON or binary), checking each; return ``(count, bytes per CLK)``.

    A file object is left where it was found.

    :param raw_size: the file is headerless binary with CLKs of this many bytes.
    :raises InputFileError: for an unreadable file, a bad CLK or an empty list.
    """
    summary = check_clk_file(source, raw_size)
    return summary.count, summary.size


def write_clknblocks(out: IO[bytes], clk_source: Source, block_source: Source, raw_size: Optional[int] = None) -> int:
    """Write ``{"clknblocks": [...]}`` for a CLK file and its block file to ``out``, reading each once.

    Every CLK is checked as it goes past, and the block file is checked to fit
    the CLK file at the end (:class:`~anonlinkclient.io.block_file.BlockAligner`),
    so ``out`` is only usable if this returns.

    :return: the number of entries written.
    :raises InputFileError: if either file is malformed or they do not belong together.
    """
    clk_name = source_name(clk_source)
    aligner = BlockAligner(block_source, clk_name)
    count = 0

    def entries() -> Iterator[str]:
        nonlocal count
        for index, clk in enumerate(iter_clks(clk_source, raw_size)):
            count = index + 1
            yield encode([base64.b64encode(clk).decode("ascii"), *aligner.blocks_for(index)])

    text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    try:
        write_list_document(text, "clknblocks", entries())
    finally:
        text.detach()
    if count == 0:
        raise InputFileError(clk_name, "contains no CLKs")
    aligner.finish(count)
    return count


def combine_clks_blocks(clk_f: Source, block_f: Source, raw_size: Optional[int] = None) -> IO[bytes]:
    """Combine CLKs and their blocks into a JSON stream of ``{"clknblocks": [...]}``.

    :param clk_f: the CLK file made by ``anonlink hash``: a path, or the file opened for reading (JSON in
        text or binary mode, binary in binary mode), as 0.1.5's ``combine_clks_blocks(open(...), open(...))``.
    :param block_f: the block file made by ``anonlink block``: a path, or the file opened for reading.
    :param raw_size: the CLK file is headerless binary with CLKs of this many bytes.
    :return: a binary file positioned at its start, holding the combined JSON
        (``json.load`` reads it); it is deleted when closed.
    :raises InputFileError: (a ``ValueError``) if the CLK and block counts disagree, or either file is
        malformed or of another kind (a CSV, say).
    """
    combined = tempfile.TemporaryFile()
    try:
        write_clknblocks(combined, clk_f, block_f, raw_size)
    except BaseException:
        combined.close()
        raise
    combined.seek(0)
    return combined
