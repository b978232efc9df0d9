"""Every JSON reader has limits: nesting depth, number length, string length, document size.

Hostile files (a hundred thousand ``[``, integers of thousands of digits, NaN,
enormous documents) get one clear error naming the file and the place, never a
crash, a traceback or runaway memory. The scanner that enforces the limits on
streamed files is checked against a plain byte-by-byte reference on random
JSON-like text cut into random chunks, and against real JSON documents.
"""

import io
import json
import random
import string
from pathlib import Path
from typing import List, Optional, Tuple

import ijson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonlinkclient.blocking.schema import load_blocking_schema
from anonlinkclient.encoding.schema import load_schema_document
from anonlinkclient.errors import InputFileError, JsonLimitError, SchemaFileError
from anonlinkclient.io.block_file import BLOCK_FILE_HINT as BLOCK_HINT
from anonlinkclient.io.block_file import iter_block_entries
from anonlinkclient.io.clk_file import CLK_FILE_HINT as CLK_HINT
from anonlinkclient.io.clk_file import iter_clks
from anonlinkclient.io.files import (
    MAX_DOCUMENT_BYTES,
    MAX_JSON_DEPTH,
    MAX_NUMBER_CHARS,
    JsonCheck,
    JsonScanner,
    guarded,
    loads_json,
    read_json_document,
)
from tests.helpers import data, run_anonlink, run_cli

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
DEEP = 100_000
HUGE = "9" * 5000


def reference(data: bytes, max_depth: int, max_number: int, max_string: int) -> Optional[Tuple[str, int, int]]:
    """The first limit ``data`` breaks, as (what, line, column), by the plainest walk there is."""
    in_string = escaped = False
    depth = number = string_length = 0
    line, column = 1, 0
    for byte in data:
        column += 1
        if byte == 0x0A:
            line, column = line + 1, 0
        char = chr(byte)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                continue
            string_length += 1
            if string_length > max_string:
                return "string", line, column
        elif char in "-+.0123456789eE":
            number += 1
            if number > max_number:
                return "number", line, column
        else:
            number = 0
            if char == '"':
                in_string, string_length = True, 0
            elif char in "[{":
                depth += 1
                if depth > max_depth:
                    return "nesting", line, column
            elif char in "]}":
                depth -= 1
    return None


def scan(chunks: List[bytes], max_depth: int, max_number: int, max_string: int) -> Optional[Tuple[str, int, int]]:
    scanner = JsonScanner(max_depth, max_number, max_string)
    try:
        for chunk in chunks:
            scanner.feed(chunk)
    except JsonLimitError as exc:
        what = {"nesting": "nesting", "a number": "number", "a string": "string"}
        kind = next(value for key, value in what.items() if exc.reason.startswith(key))
        return kind, exc.line, exc.column
    return None


def cut(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({min(point, len(data)) for point in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


# Text made of what matters to the scanner: quotes, escapes, brackets, number characters, the rest.
json_like = st.lists(
    st.sampled_from(['"', "\\", "[", "]", "{", "}", "1", "23", "-", "e", ".", "a", " ", ", ", ":", "\n", '\\"', '""']),
    max_size=120,
).map(lambda pieces: "".join(pieces).encode())


@SETTINGS
@given(
    text=json_like,
    cuts=st.lists(st.integers(min_value=0, max_value=130), max_size=8),
    max_depth=st.integers(min_value=1, max_value=6),
    max_number=st.integers(min_value=1, max_value=6),
)
def test_the_scanner_finds_what_a_byte_by_byte_walk_finds_however_the_text_is_cut(text, cuts, max_depth, max_number):
    # Reads of at most 16 bytes: the string limit (20) is checked where a string crosses from one read to the next.
    chunks = cut(text, cuts + list(range(16, len(text), 16)))
    assert scan(chunks, max_depth, max_number, 20) == reference(text, max_depth, max_number, 20)


@SETTINGS
@given(
    padding=st.integers(min_value=0, max_value=300),
    strings=st.lists(st.text(alphabet='ab"\\[]{}', max_size=30), min_size=150, max_size=300),
    depth=st.integers(min_value=1, max_value=80),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_the_scanner_follows_dense_strings_and_deep_lists_across_chunks(padding, strings, depth, seed):
    # Many short strings switch the scanner to its structure-only path; brackets inside them must not count.
    document = " " * padding + "[" * depth + json.dumps(strings) + "]" * depth
    raw = document.encode()
    rng = random.Random(seed)
    chunks = cut(raw, [rng.randrange(len(raw)) for _ in range(6)])
    assert scan(chunks, 64, 100, 1 << 20) == reference(raw, 64, 100, 1 << 20)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=json_value, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans(), size=st.integers(1, 64))
def test_real_json_within_the_limits_reads_as_without_them(value, indent, ascii_only, size):
    raw = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode()
    plain = list(ijson.parse(io.BytesIO(raw), buf_size=size))
    assert list(ijson.parse(guarded(io.BytesIO(raw)), buf_size=size)) == plain
    assert loads_json(raw) == json.loads(raw)
    check = JsonCheck()
    for start in range(0, len(raw), size):
        check.feed(raw[start : start + size])
    check.finish()


def test_escapes_and_quotes_split_across_reads_are_followed() -> None:
    document = b'{"clks": ["a\\\\", "\\"[[[[", "' + b"\\" + b'""]}'
    for size in range(1, len(document) + 1):
        scanner = JsonScanner(max_depth=2)
        for start in range(0, len(document), size):
            scanner.feed(document[start : start + size])
        assert (scanner.depth, scanner.in_string) == (0, False)


# ---- the files a user gives ----


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "body, reason",
    [
        ('{"clks": ' + "[" * DEEP, "line 1, column 73: nesting deeper than 64 levels"),
        ('{"clks": [' + HUGE + "]}", "line 1, column 111: a number longer than 100 characters"),
        ('{"clks": [-' + HUGE + "]}", "line 1, column 111: a number longer than 100 characters"),
        ('{"clks": [1.' + HUGE + "]}", "line 1, column 111: a number longer than 100 characters"),
        ('{"clks": [1e' + HUGE + "]}", "line 1, column 111: a number longer than 100 characters"),
        ('{"clks":\n  [\n' + '"AAAA",\n' * 3 + "[" * DEEP, "line 6, column 63: nesting deeper than 64 levels"),
        ('{"clks": ["' + "A" * (2 << 20) + '"]}', "line 1, column 1048588: a string longer than 1 MiB"),
    ],
)
def test_a_hostile_clk_file_gets_one_line_naming_file_and_place(tmp_path, body, reason):
    path = write(tmp_path / "clks.json", body)
    with pytest.raises(InputFileError) as caught:
        list(iter_clks(path))
    assert str(caught.value) == f"{path}: not usable JSON ({reason}); {CLK_HINT}"


@pytest.mark.parametrize(
    "body, reason",
    [
        ('{"blocks": {"0": ' + "[" * DEEP, "line 1, column 80: nesting deeper than 64 levels"),
        ('{"blocks": {"0": [' + HUGE + "]}}", "line 1, column 119: a number longer than 100 characters"),
        (
            '{"blocks": {"0": [1]}, "meta": {"source": {"clk_count": [' + HUGE + "]}}}",
            "line 1, column 158: a number longer than 100 characters",
        ),
    ],
)
def test_a_hostile_block_file_gets_one_line_naming_file_and_place(tmp_path, body, reason):
    path = write(tmp_path / "blocks.json", body)
    with pytest.raises(InputFileError) as caught:
        list(iter_block_entries(path))
    assert str(caught.value) == f"{path}: not usable JSON ({reason}); {BLOCK_HINT}"


@pytest.mark.parametrize("loader", [load_schema_document, load_blocking_schema])
@pytest.mark.parametrize(
    "body, reason",
    [
        ("[" * DEEP, "not usable JSON (line 1, column 65: nesting deeper than 64 levels)"),
        ('{"version": ' + HUGE + "}", "not usable JSON (line 1, column 113: a number longer than 100 characters)"),
        ('{"version": NaN}', "not usable JSON (NaN is not a JSON number)"),
        ('{"version": -Infinity}', "not usable JSON (-Infinity is not a JSON number)"),
        (" " * (MAX_DOCUMENT_BYTES + 1), None),
    ],
)
def test_a_hostile_schema_gets_one_line_naming_the_file(tmp_path, loader, body, reason):
    path = write(tmp_path / "schema.json", body)
    with pytest.raises(SchemaFileError) as caught:
        loader(path)
    expected = "a JSON schema" if loader is load_schema_document else "a JSON blocking schema"
    assert str(caught.value) == f"{path}: {reason or f'larger than 16 MiB; expected {expected}'}"


def test_an_endless_schema_is_not_read_whole():
    with pytest.raises(SchemaFileError) as caught:
        read_json_document("/dev/zero", SchemaFileError, "a JSON schema")
    assert str(caught.value) == "/dev/zero: larger than 16 MiB; expected a JSON schema"


def test_the_limits_are_far_below_what_breaks_the_parsers():
    import sys

    assert MAX_NUMBER_CHARS < 640  # the least digit limit Python can be set to
    assert MAX_JSON_DEPTH * 10 < sys.getrecursionlimit()
    deepest = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_json(deepest) == json.loads(deepest)
    longest = "-" + "9" * (MAX_NUMBER_CHARS - 1)
    assert loads_json(longest) == int(longest)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    depth=st.integers(min_value=1, max_value=3 * MAX_JSON_DEPTH),
    digits=st.integers(min_value=1, max_value=3 * MAX_NUMBER_CHARS),
    inside=st.sampled_from(["clks", "blocks"]),
)
def test_random_depths_and_number_lengths_fail_cleanly_exactly_beyond_the_limits(
    tmp_path_factory, depth, digits, inside
):
    directory = tmp_path_factory.mktemp("limits")
    number = "7" * digits
    if inside == "clks":
        body, read, levels = '{"clks": ' + "[" * depth + number + "]" * depth + "}", iter_clks, 1 + depth
    else:
        body = '{"blocks": {"0": ' + "[" * depth + number + "]" * depth + "}}"
        read, levels = iter_block_entries, 2 + depth
    path = write(directory / "file.json", body)
    try:
        list(read(path))
    except InputFileError as exc:
        message = str(exc)
        assert message.startswith(f"{path}") and "\n" not in message
        if levels > MAX_JSON_DEPTH:
            assert "nesting deeper than 64 levels" in message
        elif digits > MAX_NUMBER_CHARS:
            assert "a number longer than 100 characters" in message
        else:
            assert "not usable JSON" not in message  # only the file's kind (or an int64 overflow) is wrong
    else:
        assert inside == "blocks" and depth == 1 and digits <= 18  # a block file with block id 77...7


# ---- the commands, as a user runs them ----


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


@pytest.mark.parametrize("body", ['{"clks": [' + HUGE + "]}", '{"clks": ' + "[" * DEEP])
def test_describe_and_find_similarity_on_a_hostile_clk_file_exit_3_without_a_crash(tmp_path, body):
    hostile = write(tmp_path / "hostile.json", body)
    described = run_anonlink("describe", hostile)
    assert described.returncode == 3  # not -11 (SIGSEGV)
    assert one_error_line(described.stderr).startswith(f"Error: {hostile}: not usable JSON (line 1, column ")
    out = tmp_path / "groups.json"
    linked = run_cli("find-similarity", "0.8", out, "--clk", hostile, "--clk", data("small_clk.json"))
    assert linked.exit_code == 3
    assert one_error_line(linked.stderr).startswith(f"Error: {hostile}: not usable JSON")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.json"]


def test_validate_schema_on_deep_nesting_exits_4(tmp_path):
    schema = write(tmp_path / "schema.json", "[" * DEEP)
    result = run_anonlink("validate-schema", schema)
    assert result.returncode == 4
    assert one_error_line(result.stderr) == (
        f"Error: {schema}: not usable JSON (line 1, column 65: nesting deeper than 64 levels)"
    )


def test_block_with_a_deep_blocking_schema_exits_4(tmp_path):
    schema = write(tmp_path / "blocking.json", '{"type": "p-sig", "config": ' + "{" * DEEP)
    out = tmp_path / "blocks.json"
    result = run_cli("block", data("small.csv"), schema, out)
    assert result.exit_code == 4
    assert one_error_line(result.stderr) == (
        f"Error: {schema}: not usable JSON (line 1, column 92: nesting deeper than 64 levels)"
    )
    assert not out.exists()


def test_random_bytes_never_crash_the_clk_reader(tmp_path):
    rng = random.Random(5)
    alphabet = (string.digits * 20 + '[]{}",:\\ -.eE').encode()
    for attempt in range(40):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 3000)))
        path = tmp_path / f"{attempt}.json"
        path.write_bytes(body)
        try:
            list(iter_clks(str(path)))
        except InputFileError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
