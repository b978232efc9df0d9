"""The CLK file formats (anonlinkclient/io/clk_file.py): exact bytes written, both formats read, every bad file named.

The JSON format is ``json.dump`` of ``{"meta", "clks", "clk_count"}``; the binary
format is a 28-byte header, the metadata, then the CLKs' raw bytes; headerless
files are read only with their CLK size.
"""

import base64
import io
import json
import os
import random
import struct
from pathlib import Path
from typing import Any, List, Optional

import pytest

from anonlinkclient import deserialize_filters
from anonlinkclient.errors import InputFileError, UsageError
from anonlinkclient.io.bits import to_bitarray
from anonlinkclient.io.clk_file import (
    MAGIC,
    READ_BYTES,
    ClkMeta,
    EncodedClks,
    check_clk_file,
    iter_clks,
    no_metadata_note,
    read_clk_info,
    write_binary_clks,
    write_clk_file,
    write_clks,
)
from anonlinkclient.io.clknblocks import combine_clks_blocks
from tests.helpers import write_block_file

FINGERPRINT = "sha256:" + "0123456789abcdef" * 4
META = ClkMeta("anonlink-client", "0.2.0", 64, FINGERPRINT, "1a2b")
CLKS = [bytes.fromhex("ff00ff00ff00ff00"), bytes.fromhex("0f0f0f0f0f0f0f0f"), bytes.fromhex("aaaaaaaaaaaaaaaa")]
META_JSON = (
    '{"tool": "anonlink-client", "tool_version": "0.2.0", "clk_bits": 64, '
    f'"schema_fingerprint": "{FINGERPRINT}", "secret_check": "1a2b"}}'
).encode()


def random_clks(count: int, size: int) -> List[bytes]:
    rng = random.Random(count)
    return [rng.randbytes(size) for _ in range(count)]


def b64(clk: bytes) -> str:
    return base64.b64encode(clk).decode("ascii")


def json_bytes(clks: List[bytes], meta: Optional[ClkMeta] = META) -> bytes:
    out = io.StringIO()
    write_clks(out, clks, meta)
    return out.getvalue().encode()


def binary_bytes(clks: List[bytes], meta: ClkMeta = META) -> bytes:
    out = io.BytesIO()
    write_binary_clks(out, clks, meta)
    return out.getvalue()


def failure(source: Any, raw_size: Optional[int] = None) -> str:
    """The message of reading every CLK of ``source``."""
    with pytest.raises(InputFileError) as caught:
        list(iter_clks(source, raw_size))
    return str(caught.value)


class Pipe(io.RawIOBase):
    """A stream that cannot seek (a pipe), handing out at most ``chunk`` bytes per read."""

    def __init__(self, data: bytes, chunk: int = 1 << 30) -> None:
        self.data = io.BytesIO(data)
        self.chunk = chunk
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        self.largest_read = max(self.largest_read, len(buffer))
        data = self.data.read(min(len(buffer), self.chunk))
        buffer[: len(data)] = data
        return len(data)


# ---- what is written, byte for byte ----


def test_json_is_what_json_dump_writes_meta_first_and_count_last():
    assert (
        json_bytes(CLKS)
        == json.dumps({"meta": META.to_json(), "clks": [b64(c) for c in CLKS], "clk_count": 3}).encode()
    )
    assert json_bytes(CLKS).startswith(b'{"meta": ' + META_JSON + b', "clks": ["/wD/AP8A/wA=", ')
    assert json_bytes(CLKS, meta=None) == json.dumps({"clks": [b64(c) for c in CLKS]}).encode()  # as before


def test_older_readers_of_clks_read_the_json_format():
    assert json.loads(json_bytes(CLKS))["clks"] == [b64(c) for c in CLKS]


def test_binary_is_the_documented_header_then_the_service_format():
    data = binary_bytes(CLKS)
    header = (
        bytes.fromhex("89 43 4C 4B 0D 0A 1A 0A")  # magic
        + bytes.fromhex("00 01 00 00")  # layout version 1, flags 0
        + (8).to_bytes(4, "big")  # S
        + (3).to_bytes(8, "big")  # N
        + len(META_JSON).to_bytes(4, "big")  # M
    )
    assert data == header + META_JSON + b"".join(CLKS)
    assert MAGIC == b"\x89CLK\r\n\x1a\n"


def test_the_binary_count_is_filled_in_after_the_last_clk_is_written():
    def clks():
        yield from CLKS
        assert out.getvalue()[16:24] == bytes(8)  # not known yet

    out = io.BytesIO()
    assert write_binary_clks(out, clks(), META) == 3
    assert struct.unpack(">Q", out.getvalue()[16:24]) == (3,)


def test_binary_output_must_be_able_to_seek(tmp_path):
    taken: List[bytes] = []

    def clks():
        for clk in CLKS:
            taken.append(clk)
            yield clk

    class Unseekable(io.BytesIO):
        def seekable(self) -> bool:
            return False

    with pytest.raises(UsageError) as caught:
        write_binary_clks(Unseekable(), clks(), META)
    assert str(caught.value) == (
        "a binary CLK file records the number of CLKs in its header, so it must be written to a file that can "
        "seek, not to a pipe (nor appended to a file)"
    )
    assert taken == []  # refused before the first CLK is made
    appended = tmp_path / "appended.bin"
    appended.write_bytes(b"old")
    with open(appended, "ab") as handle, pytest.raises(UsageError):
        write_binary_clks(handle, iter(CLKS), META)
    assert appended.read_bytes() == b"old"


def test_writers_refuse_clks_of_another_size_than_the_metadata_says(tmp_path):
    with pytest.raises(UsageError, match="CLK 1 is 4 bytes, but the metadata says 8-byte CLKs"):
        write_clk_file(str(tmp_path / "a.bin"), [CLKS[0], b"abcd"], META, "binary")
    with pytest.raises(UsageError, match="CLK 1 is 4 bytes, but the metadata says 8-byte CLKs"):
        write_clk_file(str(tmp_path / "a.json"), [CLKS[0], b"abcd"], META, "json")
    assert list(tmp_path.iterdir()) == []  # nothing left behind


# ---- reading both formats ----


@pytest.mark.parametrize("kind", ["json", "binary"])
def test_both_formats_read_back_with_their_metadata(tmp_path, kind):
    path = tmp_path / f"clks.{kind}"
    assert write_clk_file(str(path), CLKS, META, kind) == 3
    assert list(iter_clks(str(path))) == CLKS
    info = read_clk_info(str(path))
    assert (info.format, info.meta, info.clk_size) == (kind, META, 8)
    assert info.count == (3 if kind == "binary" else None)  # JSON says its count at the end
    summary = check_clk_file(str(path))
    assert (summary.count, summary.size, summary.info.checkable) == (3, 8, True)


def test_a_json_file_without_metadata_is_read_as_before_and_cannot_be_checked(tmp_path):
    path = tmp_path / "old.json"
    path.write_text('\ufeff  {"clks": ["/wD/AP8A/wA="]}\n')
    assert list(iter_clks(str(path))) == CLKS[:1]
    info = read_clk_info(str(path))
    assert (info.format, info.meta, info.checkable) == ("json", None, False)
    assert no_metadata_note(str(path)) == (
        f"Note: {path} records no schema fingerprint or secret check value (older tools do not), so its schema "
        "and secret cannot be checked"
    )


def test_unknown_metadata_fields_are_ignored_and_meta_after_clks_is_not_metadata():
    document = {"meta": dict(META.to_json(), future="x"), "clks": [b64(CLKS[0])], "clk_count": 1}
    assert read_clk_info(io.BytesIO(json.dumps(document).encode())).meta == META
    late = {"clks": [b64(CLKS[0])], "meta": {"clk_bits": 1024}}
    assert list(iter_clks(io.BytesIO(json.dumps(late).encode()))) == CLKS[:1]
    assert read_clk_info(io.BytesIO(json.dumps(late).encode())).meta is None


def test_a_headerless_file_is_read_only_with_its_clk_size(tmp_path):
    raw = tmp_path / "clks.raw"
    raw.write_bytes(b"".join(CLKS))
    assert list(iter_clks(str(raw), raw_size=8)) == CLKS
    info = read_clk_info(str(raw), raw_size=8)
    assert (info.format, info.meta, info.clk_size, info.count) == ("raw", None, 8, 3)
    assert list(iter_clks(str(raw), raw_size=4)) == [c[i : i + 4] for c in CLKS for i in (0, 4)]
    assert failure(str(raw)).startswith(f"{raw}: not valid JSON")  # never guessed
    with pytest.raises(UsageError, match="must be a positive number of bytes, not 0"):
        list(iter_clks(str(raw), raw_size=0))


def test_binary_files_are_streamed_in_blocks():
    clks = random_clks(20_000, size=128)
    pipe = Pipe(binary_bytes(clks, ClkMeta(clk_bits=1024)))
    assert list(iter_clks(io.BufferedReader(pipe, 1 << 16))) == clks
    assert pipe.largest_read <= READ_BYTES + (1 << 16) < len(clks) * 128


def test_short_reads_of_a_pipe_do_not_split_clks():
    data = binary_bytes(CLKS)
    assert list(iter_clks(Pipe(data, chunk=5))) == CLKS
    assert list(iter_clks(Pipe(b"".join(CLKS), chunk=3), raw_size=8)) == CLKS


# ---- bad files: one line naming the file and the problem ----


def test_truncated_and_padded_binary_files(tmp_path):
    data = binary_bytes(CLKS)
    cases = {
        data[:-3]: "is truncated: its header says 3 CLKs of 8 bytes (24 bytes), but 21 bytes follow the header",
        data[:-8]: "is truncated: its header says 3 CLKs of 8 bytes (24 bytes), but 16 bytes follow the header",
        data + b"\0": "its header says 3 CLKs of 8 bytes (24 bytes), but 25 bytes follow the header",
        data[:20]: "is truncated: its binary CLK header is incomplete",
        data[:30]: "is truncated: its binary CLK header is incomplete",
    }
    for content, message in cases.items():
        path = tmp_path / "clks.bin"
        path.write_bytes(content)
        assert failure(str(path)) == f"{path}: {message}"
        with pytest.raises(InputFileError) as caught:
            read_clk_info(str(path))  # a file is measured before its first CLK is read
        assert str(caught.value) == f"{path}: {message}"
        assert failure(Pipe(content)) == f"<stream>: {message}"  # and a pipe while it is read


def test_bad_binary_headers():
    good = binary_bytes(CLKS)
    version_2 = good[:8] + b"\x00\x02" + good[10:]
    not_json = good[:24] + (3).to_bytes(4, "big") + b"{x}" + b"".join(CLKS)
    meta_1024 = ClkMeta(clk_bits=1024).to_json()
    contradicting = binary_bytes(CLKS, ClkMeta(clk_bits=64)).replace(b'"clk_bits": 64', b'"clk_bits": 99')
    zero = good[:12] + bytes(4) + good[16:]
    assert failure(io.BytesIO(version_2)) == (
        "<stream>: is a binary CLK file of layout version 2 (flags 0); this tool reads version 1 (flags 0)"
    )
    assert failure(io.BytesIO(not_json)) == "<stream>: its binary CLK header's metadata is not JSON"
    assert failure(io.BytesIO(contradicting)) == (
        "<stream>: its header says 8-byte CLKs, but its metadata says 99-bit CLKs"
    )
    assert failure(io.BytesIO(zero)) == "<stream>: its binary CLK header says CLKs of 0 bytes"
    assert meta_1024 == {"clk_bits": 1024}


def test_a_headerless_file_that_is_not_a_multiple_of_the_clk_size(tmp_path):
    path = tmp_path / "clks.raw"
    path.write_bytes(b"".join(CLKS)[:-1])
    assert failure(str(path), raw_size=8) == f"{path}: is 23 bytes, not a multiple of the 8-byte CLK size"
    assert failure(Pipe(b"".join(CLKS)[:-1]), raw_size=8) == (
        "<stream>: is 23 bytes, not a multiple of the 8-byte CLK size"
    )
    path.write_bytes(binary_bytes(CLKS))
    assert failure(str(path), raw_size=8) == (
        f"{path}: starts with the header of a binary CLK file, so it is not headerless; read it without giving "
        "a CLK size"
    )


def test_json_metadata_that_contradicts_the_clks(tmp_path):
    document = json.loads(json_bytes(CLKS))
    wrong_count = dict(document, clk_count=4)
    wrong_bits = dict(document, meta=dict(document["meta"], clk_bits=128))
    bad_fields = {
        "clk_bits": (1.5, "1.5, not a positive integer"),
        "schema_fingerprint": ("md5:00", '"md5:00", not "sha256:" and 64 hex digits'),
        "secret_check": ("XYZ", '"XYZ", not hex digits'),
        "tool": (7, "7, not a string"),
    }
    path = tmp_path / "clks.json"
    path.write_text(json.dumps(wrong_count))
    assert failure(str(path)) == f"{path}: has 3 CLKs, but its metadata says 4 (clk_count)"
    path.write_text(json.dumps(wrong_bits))
    assert failure(str(path)) == f"{path}, CLK 0: is 8 bytes, but the file's metadata says 128-bit CLKs (16 bytes)"
    for field, (value, said) in bad_fields.items():
        path.write_text(json.dumps(dict(document, meta=dict(document["meta"], **{field: value}))))
        assert failure(str(path)) == f"{path}: its metadata field {field} is {said}"
    path.write_text(json.dumps(dict(document, meta=[1])))
    assert failure(str(path)).startswith(f'{path}: its "meta" is not an object; expected a CLK file')
    path.write_text(json.dumps(dict(document, clk_count="3")))
    assert failure(str(path)) == f'{path}: its clk_count is "3", not a number of CLKs'


def test_a_truncated_json_file(tmp_path):
    path = tmp_path / "clks.json"
    text = json_bytes(CLKS)
    for cut in (len(text) - 1, len(text) - 20, text.index(b'"clks"') + 12, 5):
        path.write_bytes(text[:cut])
        assert failure(str(path)) == f"{path}: is truncated: its JSON ends before the CLK file does"


# ---- what an upload sends ----


@pytest.mark.parametrize("source_format", ["json", "binary", "raw"])
@pytest.mark.parametrize("wire_format", ["binary", "json"])
def test_encoded_clks_are_exactly_what_the_service_takes(tmp_path, source_format, wire_format):
    clks = random_clks(5000, size=16)
    path = tmp_path / "clks"
    if source_format == "raw":
        path.write_bytes(b"".join(clks))
    else:
        write_clk_file(str(path), clks, ClkMeta(clk_bits=128), source_format)
    raw_size = 16 if source_format == "raw" else None
    summary = check_clk_file(str(path), raw_size)
    stream = EncodedClks(str(path), wire_format, summary.count, summary.size, raw_size)
    expected = b"".join(clks) if wire_format == "binary" else json.dumps({"clks": [b64(c) for c in clks]}).encode()
    body = b"".join(iter(lambda: stream.read(1000), b""))
    assert body == expected and stream.len == len(expected) and stream.tell() == len(expected)
    assert stream.seek(0) == 0 and stream.read() == expected  # a retry sends it all again
    stream.close()


def test_a_file_that_changes_while_it_is_sent(tmp_path):
    path = tmp_path / "clks.json"
    write_clk_file(str(path), CLKS, META)
    summary = check_clk_file(str(path))
    stream = EncodedClks(str(path), "binary", summary.count, summary.size)
    write_clk_file(str(path), CLKS + CLKS[:1], META)
    with pytest.raises(InputFileError, match=f"^{path}: changed while it was being uploaded$"):
        stream.read()


# ---- the Python helpers ----


def test_deserialize_filters_takes_base64_bytes_or_a_clk_file(tmp_path):
    bits = [to_bitarray(c) for c in CLKS]
    assert deserialize_filters([b64(c) for c in CLKS]) == bits
    assert deserialize_filters(CLKS) == bits
    for kind in ("json", "binary"):
        path = tmp_path / f"clks.{kind}"
        write_clk_file(str(path), CLKS, META, kind)
        with open(path, "rb") as handle:
            assert deserialize_filters(handle) == bits


def test_combine_clks_blocks_reads_binary_clk_files(tmp_path):
    clks = random_clks(12, size=8)
    blocks = write_block_file(tmp_path / "blocks.json", [["x"] if i % 2 else ["y", 3] for i in range(12)])
    combined = []
    for kind in ("json", "binary"):
        path = tmp_path / f"clks.{kind}"
        write_clk_file(str(path), clks, ClkMeta(clk_bits=64), kind)
        with combine_clks_blocks(str(path), str(blocks)) as stream:
            combined.append(json.load(stream))
    raw = tmp_path / "clks.raw"
    raw.write_bytes(b"".join(clks))
    with combine_clks_blocks(str(raw), str(blocks), raw_size=8) as stream:
        combined.append(json.load(stream))
    assert combined[0] == combined[1] == combined[2]
    assert combined[0]["clknblocks"][1] == [b64(clks[1]), "x"]


def test_an_empty_binary_file_has_no_clks(tmp_path):
    path = tmp_path / "empty.bin"
    write_clk_file(str(path), [], META, "binary")
    assert list(iter_clks(str(path))) == []
    with pytest.raises(InputFileError, match=f"^{path}: contains no CLKs$"):
        check_clk_file(str(path))
    assert os.path.getsize(path) == 28 + len(META_JSON)
    assert Path(path).read_bytes()[16:24] == bytes(8)
