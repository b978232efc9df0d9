"""The CLK JSON file ``{"clks": [base64, ...]}``: streaming reader and writer.

Files of a million CLKs are read one CLK at a time with ``ijson`` (a C-backed
incremental JSON parser), so memory does not grow with the file. Every CLK is
checked as it is read: it must be base64 and as long as the first one.
"""

import base64
import binascii
from itertools import islice
from typing import IO, Iterable, Iterator, Optional

import ijson

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import Source, json_stream_errors, open_source, source_name
from anonlinkclient.io.json_array import write_list_document

CLK_FILE_HINT = 'expected a CLK file made by "anonlink hash": {"clks": [...]}'


def decode_clk(text: str, path: str, index: int) -> bytes:
    """Decode one base64 CLK, naming the file and CLK index if it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputFileError(path, "not a valid base64 CLK", row=index, row_label="CLK") from None


def iter_clk_strings(source: Source) -> Iterator[str]:
    """Yield the base64 strings of the ``clks`` list of a CLK file without loading it.

    :param source: a path, or a file opened in binary mode.
    :raises InputFileError: if the file is missing, not JSON, or has no ``clks``
        list of strings.
    """
    with open_source(source) as (handle, path):
        found = False
        index = 0
        with json_stream_errors(path, CLK_FILE_HINT):
            for prefix, event, value in ijson.parse(handle):
                if prefix == "clks.item":
                    if event != "string":
                        raise InputFileError(path, "is not a string; " + CLK_FILE_HINT, row=index, row_label="CLK")
                    index += 1
                    yield value
                elif prefix == "clks" and event == "start_array":
                    found = True
        if not found:
            raise InputFileError(path, f'has no "clks" list; {CLK_FILE_HINT}')


def iter_clks(source: Source) -> Iterator[bytes]:
    """Yield each CLK of a CLK file as bytes, checking base64 and that all have one size.

    :param source: a path, or a file opened in binary mode.
    :raises InputFileError: naming the file and CLK index of the first bad CLK.
    """
    size: Optional[int] = None
    path = source_name(source)
    for index, text in enumerate(iter_clk_strings(source)):
        clk = decode_clk(text, path, index)
        if size is None:
            size = len(clk)
            if size == 0:
                raise InputFileError(path, "is empty", row=index, row_label="CLK")
        elif len(clk) != size:
            raise InputFileError(
                path,
                f"is {len(clk)} bytes but the first CLK is {size} bytes; all CLKs must have one size",
                row=index,
                row_label="CLK",
            )
        yield clk


def write_clks(handle: IO[str], clks: Iterable[bytes]) -> int:
    """Write ``{"clks": [...]}`` to ``handle``, a thousand CLKs at a time; return how many.

    The bytes are the same as ``json.dump({"clks": [...]})`` would write.
    """
    count = 0

    def batches() -> Iterator[str]:
        nonlocal count
        iterator = iter(clks)
        while batch := [binascii.b2a_base64(clk, newline=False).decode("ascii") for clk in islice(iterator, 1000)]:
            count += len(batch)
            yield '"' + '", "'.join(batch) + '"'  # the elements of one batch, as write_sequence joins them

    write_list_document(handle, "clks", batches())
    return count
