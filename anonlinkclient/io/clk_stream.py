"""CLK files as an upload sends them: the service's binary format or ``{"clks": [...]}``, streamed.

:class:`EncodedClks` turns any CLK file (:mod:`.clk_file`: JSON, binary, headerless, or a
Parquet CLK dataset) into the body of an upload, read a block at a time, with its length
known in advance.
"""

import base64
import os
from typing import Iterator, List, Optional

from anonlinkclient.errors import InputFileError, UsageError
from anonlinkclient.io.clk_file import BATCH_CLKS, open_clk_file

#: What an upload can send: the service's binary format, or ``{"clks": [...]}``.
WIRE_FORMATS = ("binary", "json")
_JSON_START = b'{"clks": ['
_JSON_END = b"]}"


def encoded_length(wire_format: str, count: int, size: int) -> int:
    """Bytes of ``count`` CLKs of ``size`` bytes encoded as ``wire_format`` (see :class:`EncodedClks`)."""
    if wire_format == "binary":
        return count * size
    quoted = 4 * ((size + 2) // 3) + 2
    return len(_JSON_START) + count * quoted + 2 * max(count - 1, 0) + len(_JSON_END)


class EncodedClks:
    """The CLKs of a CLK file as an upload sends them, a readable stream whose length is known.

    ``binary``: the CLKs' bytes one after another (the body of ``POST
    /binaryclks``, an object-store ``encodings`` object); ``json``: the bytes
    ``json.dumps({"clks": [...]})`` gives (nothing but ``clks``). The file is read
    as the stream is read, a block at a time; :meth:`seek` to 0 starts again from
    the file's start, so that a retry can send the whole body again.

    :param count: / :param size: the number of CLKs and bytes per CLK, as
        :func:`check_clk_file` found them (they make the length).
    :param raw_size: the file is headerless binary with CLKs of this many bytes.
    :raises InputFileError: while reading, if the file no longer holds that many CLKs of that size.
    """

    def __init__(self, source: str, wire_format: str, count: int, size: int, raw_size: Optional[int] = None) -> None:
        if wire_format not in WIRE_FORMATS:
            raise UsageError(f"unknown upload format {wire_format!r} (expected binary or json)", "wire_format")
        self.source = source
        self.wire_format = wire_format
        self.raw_size = raw_size
        #: The number of bytes (requests reads it as the body's ``Content-Length``).
        self.len = encoded_length(wire_format, count, size)
        self.name = source
        self._restart()

    def _restart(self) -> None:
        self._pieces = self._generate()
        self._piece = b""
        self._offset = 0
        self._position = 0

    def _generate(self) -> Iterator[bytes]:
        produced = 0
        for piece in self._encode():
            produced += len(piece)
            if produced > self.len:
                break
            yield piece
        if produced != self.len:
            raise InputFileError(self.source, "changed while it was being uploaded")

    def _encode(self) -> Iterator[bytes]:
        with open_clk_file(self.source, self.raw_size) as clk_file:
            if self.wire_format == "binary":
                yield from clk_file.blocks()
                return
            yield _JSON_START
            separator = b""
            batch: List[bytes] = []
            for clk in clk_file:
                batch.append(b'"' + base64.b64encode(clk) + b'"')
                if len(batch) == BATCH_CLKS:
                    yield separator + b", ".join(batch)
                    separator, batch = b", ", []
            if batch:
                yield separator + b", ".join(batch)
            yield _JSON_END

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest if ``size`` is negative); ``b""`` at the end."""
        parts: List[bytes] = []
        wanted = self.len if size is None or size < 0 else size
        got = 0
        while got < wanted:
            if self._offset >= len(self._piece):
                self._piece = next(self._pieces, b"")
                self._offset = 0
                if not self._piece:
                    break
            part = self._piece[self._offset : self._offset + wanted - got]
            self._offset += len(part)
            got += len(part)
            parts.append(part)
        data = b"".join(parts)
        self._position += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read(1 << 16)
            if not data:
                return
            yield data

    def tell(self) -> int:
        """How many bytes have been read."""
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Go back to the start (``seek(0)``); other positions are not supported."""
        if whence == os.SEEK_SET and offset == 0:
            self._pieces.close()  # type: ignore[attr-defined]
            self._restart()
            return 0
        if whence == os.SEEK_CUR and offset == 0:
            return self._position
        raise OSError("an encoded CLK stream can only seek to its start")

    def seekable(self) -> bool:
        """It can go back to its start."""
        return True

    def close(self) -> None:
        """Close the file being read."""
        self._pieces.close()  # type: ignore[attr-defined]
