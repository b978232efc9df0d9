"""Parquet CLK datasets read as CLK files: in the dataset's order, streamed, every hostile input refused in one line.

The datasets here are written with pyarrow in the layout Spark writes (part files named
``part-NNNNN-...``, the ``_SUCCESS`` marker, the metadata in Spark's schema metadata);
tests/spark writes them with Spark itself.
"""

import json
import os
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.clk_file import ClkMeta, check_clk_file, iter_clks, read_clk_info, write_clk_file
from anonlinkclient.io.clk_parquet import META_KEY, SPARK_SCHEMA_KEY, is_clk_dataset
from anonlinkclient.io.clk_stream import EncodedClks
from anonlinkclient.io.clknblocks import combine_clks_blocks
from tests.helpers import write_block_file

FINGERPRINT = "sha256:" + "0123456789abcdef" * 4
META = {"tool": "anonlink-client", "tool_version": "0.4.0", "clk_bits": 64, "schema_fingerprint": FINGERPRINT}
META["secret_check"] = "1a2b"


def clks_of(count: int, size: int = 8, seed: int = 0) -> List[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(count)]


def spark_schema(id_type: str, clk_type: str, meta: Optional[Dict[str, Any]], id_column: str = "person_id") -> bytes:
    """Spark's schema text, as Spark writes it into a Parquet file's metadata."""
    clk_metadata = {} if meta is None else {META_KEY: json.dumps(meta)}
    fields = [
        {"name": id_column, "type": id_type, "nullable": True, "metadata": {}},
        {"name": "clk", "type": clk_type, "nullable": False, "metadata": clk_metadata},
    ]
    return json.dumps({"type": "struct", "fields": fields}).encode()


def write_part(
    path: Path,
    ids: Sequence[Any],
    clks: Sequence[Any],
    meta: Optional[Dict[str, Any]] = None,
    id_column: str = "person_id",
    clk_type: Any = None,
    row_group_size: int = 5,
) -> Path:
    """One Parquet file as Spark writes a part of a CLK dataset (``meta``: with ``sorted_by`` added)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if meta is not None and "sorted_by" not in meta:
        meta = dict(meta, sorted_by=id_column)
    clk_array = pa.array(list(clks), clk_type or pa.binary())
    ids = list(ids)
    id_array = pa.array(ids, pa.int64() if all(isinstance(i, int) or i is None for i in ids) else pa.string())
    spark_type = "long" if pa.types.is_integer(id_array.type) else "string"
    clk_spark_type = "binary" if pa.types.is_binary(clk_array.type) else "string"
    table = pa.table({id_column: id_array, "clk": clk_array})
    table = table.replace_schema_metadata({SPARK_SCHEMA_KEY: spark_schema(spark_type, clk_spark_type, meta, id_column)})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_dataset(
    directory: Path, parts: Sequence[Sequence[bytes]], meta: Optional[Dict[str, Any]] = None, success: bool = True
) -> Path:
    """A directory of part files with ids 0, 1, 2, ... in order, Spark's ``.crc`` files and ``_SUCCESS``."""
    directory.mkdir()
    start = 0
    for number, clks in enumerate(parts):
        name = f"part-{number:05d}-0b5e1c2a-c000.snappy.parquet"
        write_part(directory / name, range(start, start + len(clks)), clks, META if meta is None else meta)
        (directory / f".{name}.crc").write_bytes(b"crc")
        start += len(clks)
    if success:
        (directory / "_SUCCESS").write_bytes(b"")
    return directory


def test_a_dataset_of_part_files_reads_in_part_number_order(tmp_path: Path) -> None:
    clks = clks_of(25)
    dataset = write_dataset(tmp_path / "clks", [clks[:7], [], clks[7:20], clks[20:]])
    info = read_clk_info(str(dataset))
    assert (info.format, info.clk_size, info.count) == ("parquet", 8, 25)
    assert info.meta == ClkMeta.from_json(META, "x")
    assert list(iter_clks(str(dataset))) == clks
    summary = check_clk_file(str(dataset))
    assert (summary.count, summary.size) == (25, 8)


def test_part_numbers_beyond_five_digits_are_ordered_as_numbers(tmp_path: Path) -> None:
    directory = tmp_path / "clks"
    directory.mkdir()
    clks = clks_of(3)
    for number, (start, clk) in zip([99999, 100000, 100001], enumerate(clks)):
        write_part(directory / f"part-{number}-x.parquet", [start], [clk], META)
    (directory / "_SUCCESS").write_bytes(b"")
    assert list(iter_clks(str(directory))) == clks


def test_a_single_parquet_file_is_a_dataset(tmp_path: Path) -> None:
    clks = clks_of(12)
    path = write_part(tmp_path / "clks.parquet", list("abcdefghijkl"), clks, META)
    assert is_clk_dataset(str(path))
    assert list(iter_clks(str(path))) == clks


def test_upload_bodies_are_those_of_the_binary_file_of_the_same_clks(tmp_path: Path) -> None:
    clks = clks_of(30)
    dataset = write_dataset(tmp_path / "clks", [clks[:10], clks[10:]])
    binary = tmp_path / "clks.bin"
    write_clk_file(str(binary), clks, ClkMeta.from_json(META, "x"), "binary")
    for wire_format in ("binary", "json"):
        bodies = []
        for source in (dataset, binary):
            stream = EncodedClks(str(source), wire_format, 30, 8)
            bodies.append((stream.len, stream.read()))
            stream.close()
        assert bodies[0] == bodies[1]
    blocks = write_block_file(tmp_path / "blocks.json", [["b"]] * 30)
    with combine_clks_blocks(str(dataset), str(blocks)) as combined, combine_clks_blocks(str(binary), str(blocks)) as b:
        assert combined.read() == b.read()


def test_directories_that_are_not_datasets_are_left_to_the_other_readers(tmp_path: Path) -> None:
    (tmp_path / "clks.json").write_text("{}")
    assert not is_clk_dataset(str(tmp_path))
    assert not is_clk_dataset(str(tmp_path / "clks.json"))
    assert not is_clk_dataset(str(tmp_path / "missing"))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert not is_clk_dataset(str(fifo))  # a pipe is not opened (it would block, and lose what it read)


def refused(path: Path) -> str:
    with pytest.raises(InputFileError) as caught:
        check_clk_file(str(path))
    message = str(caught.value)
    assert "\n" not in message
    return message


def part(dataset: Path, number: int = 0) -> Path:
    return next(dataset.glob(f"part-{number:05d}-*"))


def test_a_directory_without_success_may_miss_parts(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "clks", [clks_of(3)], success=False)
    assert refused(dataset) == (
        f"{dataset}: has no _SUCCESS marker: the Spark job that wrote it did not finish (or it was copied "
        "without it), so part files may be missing"
    )


def test_a_truncated_part_file(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "clks", [clks_of(3), clks_of(40, seed=1)])
    broken = part(dataset, 1)
    broken.write_bytes(broken.read_bytes()[:-100])
    message = refused(dataset)
    assert message.startswith(f"{broken}: not a Parquet file, or a truncated or corrupt one (")


def test_a_corrupt_page(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "clks", [clks_of(200, size=64)], meta=dict(META, clk_bits=512))
    broken = part(dataset)
    data = bytearray(broken.read_bytes())
    for offset in range(200, 3000):
        data[offset] ^= 0x5A
    broken.write_bytes(bytes(data))
    assert refused(dataset).startswith(f"{broken}, row 1: not a Parquet file, or a truncated or corrupt one (")


def test_a_part_file_that_is_not_parquet(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "clks", [clks_of(3)])
    (dataset / "part-00001-notes.txt").write_text("not parquet")
    assert refused(dataset).startswith(f"{dataset / 'part-00001-notes.txt'}: not a Parquet file, or a truncated")


def test_a_subdirectory(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "clks", [clks_of(3)])
    (dataset / "year=2024").mkdir()
    assert refused(dataset) == f"{dataset / 'year=2024'}: is not a file; a CLK dataset is one directory of part files"


def test_no_part_files(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "clks", [])
    assert refused(dataset) == f"{dataset}: contains no CLKs (no part files)"


def test_a_clk_column_of_text(tmp_path: Path) -> None:
    import pyarrow as pa

    path = write_part(tmp_path / "clks.parquet", [1, 2], ["abcdefgh", "abcdefgh"], META, clk_type=pa.string())
    assert refused(path) == f"{path}: its CLK column clk is not binary (string)"


def test_clks_of_different_lengths(tmp_path: Path) -> None:
    clks = clks_of(9)
    clks[6] = clks[6] + b"\x00"
    path = write_part(tmp_path / "clks.parquet", range(9), clks, META)
    assert refused(path) == (
        f"{path}, row 7, column clk: holds a CLK of 9 bytes, but the metadata says 64-bit CLKs (8 bytes); "
        "all CLKs must have that length"
    )


def test_clks_of_another_length_than_the_metadata_says(tmp_path: Path) -> None:
    path = write_part(tmp_path / "clks.parquet", range(3), clks_of(3, size=16), META)
    assert refused(path).startswith(f"{path}, row 1, column clk: holds a CLK of 16 bytes, but the metadata says")


def test_a_null_clk(tmp_path: Path) -> None:
    clks: List[Optional[bytes]] = list(clks_of(4))
    clks[2] = None
    path = write_part(tmp_path / "clks.parquet", range(4), clks, META)
    assert refused(path) == f"{path}, row 3, column clk: has no CLK (NULL)"


def test_missing_metadata(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"person_id": [1], "clk": [b"12345678"]}), plain)
    unmarked = write_part(tmp_path / "unmarked.parquet", [1], [b"12345678"], None)
    for path in (plain, unmarked):
        assert refused(path) == (
            f"{path}: has no CLK metadata ('anonlink.clk' in a column's Spark metadata); write CLK datasets "
            "with anonlinkclient.spark, which records the CLKs' length, schema fingerprint and secret check"
        )


@pytest.mark.parametrize(
    "meta,message",
    [
        (dict(META, clk_bits=None), "its CLK metadata does not say the CLKs' length (clk_bits)"),
        (dict(META, clk_bits="64"), 'its metadata field clk_bits is "64", not a positive integer'),
        (dict(META, sorted_by=None), "its CLK metadata does not name the id column the rows are sorted by (sorted_by)"),
        (dict(META, sorted_by="row"), "has no column row, which its CLK metadata says it is sorted by"),
    ],
)
def test_unusable_metadata(tmp_path: Path, meta: Dict[str, Any], message: str) -> None:
    meta = {key: value for key, value in meta.items() if value is not None}
    meta.setdefault("sorted_by", None)
    if meta["sorted_by"] is None and "sorted_by" in message:
        meta["sorted_by"] = 7  # not a column name
    elif meta["sorted_by"] is None:
        meta["sorted_by"] = "person_id"
    path = write_part(tmp_path / "clks.parquet", [1], [b"12345678"], meta)
    assert refused(path) == f"{path}: {message}"


def test_metadata_that_is_not_json(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "clks.parquet"
    table = pa.table({"person_id": [1], "clk": [b"12345678"]})
    schema = json.loads(spark_schema("long", "binary", META))
    schema["fields"][1]["metadata"][META_KEY] = "{not json"
    pq.write_table(table.replace_schema_metadata({SPARK_SCHEMA_KEY: json.dumps(schema)}), path)
    assert refused(path) == f"{path}: its CLK metadata is not the text of a JSON object"


def test_parts_with_other_metadata(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "clks", [clks_of(2), clks_of(2, seed=1)])
    write_part(part(dataset, 1), [2, 3], clks_of(2, seed=1), dict(META, secret_check="ffff"))
    assert refused(dataset) == f"{part(dataset, 1)}: holds other CLK metadata than {part(dataset, 0)}"


def test_ids_out_of_order_within_and_across_parts(tmp_path: Path) -> None:
    within = write_part(tmp_path / "within.parquet", [1, 2, 5, 4, 6], clks_of(5), META)
    assert refused(within) == (
        f"{within}, row 4, column person_id: its rows are not sorted by person_id (this id is not greater than "
        "the one before it), so the CLKs' order is not the dataset's; write it again with anonlinkclient.spark"
    )
    dataset = write_dataset(tmp_path / "clks", [clks_of(12), clks_of(3, seed=1)])
    write_part(part(dataset, 1), [11, 12, 13], clks_of(3, seed=1), META)  # 11 was in part 0 already
    assert refused(dataset).startswith(f"{part(dataset, 1)}, row 1, column person_id: its rows are not sorted by")


def test_repeated_and_missing_ids(tmp_path: Path) -> None:
    twice = write_part(tmp_path / "twice.parquet", ["a", "b", "b"], clks_of(3), META)
    assert refused(twice).startswith(f"{twice}, row 3, column person_id: its rows are not sorted by person_id")
    missing = write_part(tmp_path / "missing.parquet", [1, None, 3], clks_of(3), META)
    assert refused(missing) == f"{missing}, row 2, column person_id: has a row without an id (NULL)"


def test_ids_of_other_types_in_different_parts(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "clks", [clks_of(2), clks_of(2, seed=1)])
    write_part(part(dataset, 1), ["x", "y"], clks_of(2, seed=1), META)
    assert refused(dataset) == f"{part(dataset, 1)}: its column person_id is string, not int64"


def test_describe_and_find_similarity_read_datasets_as_clk_files(tmp_path: Path) -> None:
    """Every command that reads CLKs reads a dataset as it reads the binary file of the same CLKs."""
    from tests.helpers import run_cli

    party_a = clks_of(20, seed=3)
    party_b = [bytes(byte ^ (1 if i % 3 == 0 else 0) for i, byte in enumerate(clk)) for clk in party_a[:10]]
    party_b += clks_of(10, seed=4)
    inputs = {}
    for name, clks in (("a", party_a), ("b", party_b)):
        inputs[f"{name}-dataset"] = write_dataset(tmp_path / name, [clks[:6], clks[6:]])
        inputs[f"{name}-binary"] = tmp_path / f"{name}.bin"
        write_clk_file(str(inputs[f"{name}-binary"]), clks, ClkMeta.from_json(META, "x"), "binary")
    outputs = []
    for kind in ("dataset", "binary"):
        out = tmp_path / f"groups-{kind}.json"
        done = run_cli("find-similarity", 0.8, out, "--clk", inputs[f"a-{kind}"], "--clk", inputs[f"b-{kind}"])
        assert done.exit_code == 0, done.stderr
        outputs.append(out.read_bytes())
        described = run_cli("describe", inputs[f"a-{kind}"])
        assert described.exit_code == 0, described.stderr
        outputs.append(described.stdout.encode())
    assert outputs[0] == outputs[2] and outputs[1] == outputs[3]
    assert len(json.loads(outputs[0])["groups"]) == 10


def test_without_pyarrow_one_line_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The single-file executable leaves pyarrow out."""
    import importlib.util

    from tests.helpers import run_cli

    dataset = write_dataset(tmp_path / "clks", [clks_of(3)])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    done = run_cli("describe", dataset)
    assert done.exit_code == 3
    assert done.stderr == (
        f"Error: {dataset}: is a Parquet CLK dataset; reading it needs the pyarrow package, which is not installed "
        "here (pip install anonlink-client installs it)\n"
    )
