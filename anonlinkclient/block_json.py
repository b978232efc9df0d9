"""The block file ``{"blocks": {record: [block ids]}, "meta": {...}}``: streaming reader.

``anonlink block`` writes one entry per record that falls in at least one block,
keyed by the record's 0-based index (as a string, JSON object keys being
strings), in ascending order, and ``meta.source.clk_count`` holds the number of
records blocked. The reader streams the ``blocks`` object with ``ijson``; files
written in another order are still read correctly, at the cost of holding the
entries that arrive early.
"""

from typing import Dict, Iterator, List, Optional, Tuple, Union

import ijson

from anonlinkclient.clk_json import Source, open_source, source_name
from anonlinkclient.errors import InputFileError
from anonlinkclient.input_files import json_stream_errors

BlockId = Union[str, int]
BLOCK_FILE_HINT = 'expected a block file made by "anonlink block": {"blocks": {...}, "meta": {...}}'


def _record_index(key: str, path: str) -> int:
    try:
        index = int(key)
    except ValueError:
        index = -1
    if index < 0:
        raise InputFileError(path, f"record key {key!r} is not a record index; {BLOCK_FILE_HINT}")
    return index


def iter_block_entries(source: Source) -> Iterator[Tuple[int, List[BlockId]]]:
    """Yield ``(record index, block ids)`` for each entry of the ``blocks`` object.

    :param source: a path, or a file opened in binary mode.
    :raises InputFileError: if the file is not a block file.
    """
    with open_source(source) as (handle, path):
        found = False
        entry_prefix: Optional[str] = None
        item_prefix: Optional[str] = None
        key = ""
        current: Optional[List[BlockId]] = None
        with json_stream_errors(path, BLOCK_FILE_HINT):
            for prefix, event, value in ijson.parse(handle, use_float=True):
                if prefix == "blocks":
                    if event == "start_map":
                        found = True
                    elif event == "map_key":
                        key = value
                        entry_prefix, item_prefix = f"blocks.{key}", f"blocks.{key}.item"
                    elif event != "end_map":
                        raise InputFileError(path, f'"blocks" is not an object; {BLOCK_FILE_HINT}')
                elif prefix == entry_prefix:
                    if event == "start_array":
                        current = []
                    elif event == "end_array" and current is not None:
                        yield _record_index(key, path), current
                        current = None
                    else:
                        raise InputFileError(path, f"record {key}: blocks must be a list of block ids")
                elif prefix == item_prefix and current is not None:
                    if not (event == "string" or (event == "number" and isinstance(value, int))):
                        raise InputFileError(path, f"record {key}: block ids must be strings or integers")
                    current.append(value)
        if not found:
            raise InputFileError(path, f'has no "blocks" object; {BLOCK_FILE_HINT}')


def declared_record_count(source: Source) -> Optional[int]:
    """The ``meta.source.clk_count`` of a block file (records blocked), if it has one."""
    with open_source(source) as (handle, path), json_stream_errors(path, BLOCK_FILE_HINT):
        counts = list(ijson.items(handle, "meta.source.clk_count.item"))
    return int(counts[0]) if counts else None


def blocks_by_record(source: Source, record_count: int) -> Iterator[List[BlockId]]:
    """Yield the block ids of records ``0 .. record_count-1`` in order (``[]`` for no block).

    :raises InputFileError: if an entry names a record at or past ``record_count``.
    """
    path = source_name(source)
    ahead: Dict[int, List[BlockId]] = {}
    entries = iter_block_entries(source)
    exhausted = False
    for index in range(record_count):
        while index not in ahead and not exhausted:
            entry = next(entries, None)
            if entry is None:
                exhausted = True
            else:
                record, blocks = entry
                if record >= record_count:
                    raise InputFileError(
                        path, f"has blocks for record {record}, but there are only {record_count} CLKs"
                    )
                ahead[record] = blocks
        yield ahead.pop(index, [])
    for record, _blocks in entries:
        if record >= record_count:
            raise InputFileError(path, f"has blocks for record {record}, but there are only {record_count} CLKs")
