"""Combining a CLK file with its block file into the ``clknblocks`` upload form.

The Entity Service takes blocked encodings as
``{"clknblocks": [[clk, block id, block id, ...], ...]}``, one entry per CLK in
order. Both inputs are streamed and the result is written to a temporary file,
so memory stays flat however many CLKs there are, and the result can be read
(or sent) again from the start.
"""

import json
import tempfile
from typing import IO, Tuple

from anonlinkclient.block_json import blocks_by_record, declared_record_count
from anonlinkclient.clk_json import Source, iter_clk_strings, iter_clks, source_name
from anonlinkclient.errors import InputFileError


def _rewind_point(source: Source) -> int:
    return 0 if isinstance(source, str) else source.tell()


def _rewind(source: Source, position: int) -> None:
    if not isinstance(source, str):
        source.seek(position)


def count_clks(source: Source) -> Tuple[int, int]:
    """Count the CLKs of a CLK file, checking each; return ``(count, bytes per CLK)``.

    A file object is left where it was found.

    :raises InputFileError: for an unreadable file, a bad CLK or an empty list.
    """
    start = _rewind_point(source)
    count, size = 0, 0
    for clk in iter_clks(source):
        count, size = count + 1, len(clk)
    _rewind(source, start)
    if count == 0:
        raise InputFileError(source_name(source), "contains no CLKs")
    return count, size


def check_blocks_match(clk_source: Source, block_source: Source) -> int:
    """Check a block file was made for a CLK file of this many records; return the CLK count.

    :raises InputFileError: naming both files if the counts disagree.
    """
    clk_count, _size = count_clks(clk_source)
    start = _rewind_point(block_source)
    declared = declared_record_count(block_source)
    _rewind(block_source, start)
    if declared is not None and declared != clk_count:
        raise InputFileError(
            source_name(block_source),
            f"was made for {declared} records but {source_name(clk_source)} has {clk_count} CLKs",
        )
    return clk_count


def write_clknblocks(out: IO[bytes], clk_source: Source, block_source: Source) -> int:
    """Write ``{"clknblocks": [...]}`` for a CLK file and its block file to ``out``.

    :return: the number of entries written.
    :raises InputFileError: if the files do not belong together.
    """
    clk_count = check_blocks_match(clk_source, block_source)
    out.write(b'{"clknblocks": [')
    blocks = blocks_by_record(block_source, clk_count)
    for index, (clk, record_blocks) in enumerate(zip(iter_clk_strings(clk_source), blocks)):
        if index:
            out.write(b", ")
        out.write(json.dumps([clk, *record_blocks]).encode("utf-8"))
    for _rest in blocks:  # finish the block stream: it checks for records past the end
        pass
    out.write(b"]}")
    return clk_count


def combine_clks_blocks(clk_f: Source, block_f: Source) -> IO[bytes]:
    """Combine CLKs and their blocks into a JSON stream of ``{"clknblocks": [...]}``.

    :param clk_f: the CLK file (path, or opened in binary mode) made by ``anonlink hash``.
    :param block_f: the block file (path, or opened in binary mode) made by ``anonlink block``.
    :return: a binary file positioned at its start, holding the combined JSON
        (``json.load`` reads it); it is deleted when closed.
    :raises InputFileError: if the CLK and block counts disagree, or either file is malformed.
    """
    combined = tempfile.TemporaryFile()
    try:
        write_clknblocks(combined, clk_f, block_f)
    except BaseException:
        combined.close()
        raise
    combined.seek(0)
    return combined
