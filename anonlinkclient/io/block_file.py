"""The block file ``{"blocks": {record: [block ids]}, "meta": {...}}``: streaming reader and writer.

``anonlink block`` writes one entry per record that falls in at least one block,
keyed by the record's 0-based index (as a string, JSON object keys being
strings), in ascending order, and ``meta.source.clk_count`` holds the number of
records blocked. The reader streams the ``blocks`` object with ``ijson``; files
written in another order are still read correctly, at the cost of holding the
entries that arrive early.
"""

import json
from typing import IO, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

import ijson

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.files import Source, guarded, json_stream_errors, open_source, source_name
from anonlinkclient.io.json_array import encode, write_sequence

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


class BlockFileReader:
    """One pass over a block file: its entries, and ``meta.source.clk_count`` wherever it stands.

    :param source: a path, or a file opened for reading (in text or binary mode).
    :ivar declared_count: the number of records the file says it was made for,
        once the reader has passed it (``None`` if the file has none).
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.path = source_name(source)
        self.declared_count: Optional[int] = None

    def entries(self) -> Iterator[Tuple[int, List[BlockId]]]:
        """Yield ``(record index, block ids)`` for each entry of the ``blocks`` object.

        :raises InputFileError: if the file is not a block file.
        """
        with open_source(self.source) as (handle, path):
            found = False
            entry_prefix: Optional[str] = None
            item_prefix: Optional[str] = None
            key = ""
            current: Optional[List[BlockId]] = None
            with json_stream_errors(path, BLOCK_FILE_HINT):
                for prefix, event, value in ijson.parse(guarded(handle), use_float=True):
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
                    elif prefix == "meta.source.clk_count.item" and self.declared_count is None:
                        if event != "number" or not isinstance(value, int):
                            raise InputFileError(
                                path, f"meta.source.clk_count is not a record count; {BLOCK_FILE_HINT}"
                            )
                        self.declared_count = value
            if not found:
                raise InputFileError(path, f'has no "blocks" object; {BLOCK_FILE_HINT}')


def iter_block_entries(source: Source) -> Iterator[Tuple[int, List[BlockId]]]:
    """Yield ``(record index, block ids)`` for each entry of the ``blocks`` object of a block file.

    :raises InputFileError: if the file is not a block file.
    """
    return BlockFileReader(source).entries()


class BlockAligner:
    """The blocks of a CLK file's records, in record order, from one pass over a block file.

    This is the one check that a block file fits a CLK file. Ask
    :meth:`blocks_for` for records ``0, 1, 2, ...`` in turn, then call
    :meth:`finish` with the number of CLKs: it reads the rest of the file and
    fails if an entry names a record at or past that number, or if the file says
    it was made for another number of records.

    :param source: the block file (a path, or a file opened for reading).
    :param clk_path: the CLK file's name, for messages.
    """

    def __init__(self, source: Source, clk_path: str = "the CLK file") -> None:
        self.reader = BlockFileReader(source)
        self.path = self.reader.path
        self.clk_path = clk_path
        self._entries = self.reader.entries()
        self._ahead: Dict[int, List[BlockId]] = {}
        self._exhausted = False

    def blocks_for(self, index: int) -> List[BlockId]:
        """The block ids of record ``index`` (``[]``: in no block); indices must come in ascending order."""
        while index not in self._ahead and not self._exhausted:
            entry = next(self._entries, None)
            if entry is None:
                self._exhausted = True
            else:
                self._ahead[entry[0]] = entry[1]
        return self._ahead.pop(index, [])

    def finish(self, record_count: int) -> None:
        """Read the rest of the file and check it fits a CLK file of ``record_count`` CLKs.

        :raises InputFileError: naming both files if they do not belong together.
        """
        for record in sorted(self._ahead):
            self._check(record, record_count)
        for record, _blocks in self._entries:
            self._check(record, record_count)
        declared = self.reader.declared_count
        if declared is not None and declared != record_count:
            raise InputFileError(
                self.path, f"was made for {declared} records but {self.clk_path} has {record_count} CLKs"
            )

    def _check(self, record: int, record_count: int) -> None:
        if record >= record_count:
            raise InputFileError(self.path, f"has blocks for record {record}, but there are only {record_count} CLKs")


def blocks_by_record(source: Source, record_count: int, clk_path: str = "the CLK file") -> Iterator[List[BlockId]]:
    """Yield the block ids of records ``0 .. record_count-1`` in order (``[]`` for no block), in one pass,
    then check the file fits (see :class:`BlockAligner`).

    :raises InputFileError: naming both files if they do not belong together.
    """
    aligner = BlockAligner(source, clk_path)
    for index in range(record_count):
        yield aligner.blocks_for(index)
    aligner.finish(record_count)


def write_block_file(handle: IO[str], entries: Iterable[Tuple[str, List[BlockId]]], meta: Mapping[str, Any]) -> int:
    """Write a block file one record at a time; return how many records are in some block.

    :param entries: ``(record key, block ids)`` of each record in a block, in record order.
    :param meta: the ``meta`` object (``state``, ``config``, ``source``, ``stats``).
    """
    handle.write('{"blocks": ')
    count = write_sequence(handle, (f"{json.dumps(key)}: {encode(blocks)}" for key, blocks in entries), "{}")
    handle.write(', "meta": ')
    json.dump(meta, handle)
    handle.write("}")
    return count
