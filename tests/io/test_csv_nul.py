"""A NUL byte in a CSV is refused the same way on every Python version.

Python 3.10's csv module raises "line contains NUL"; 3.11 and later read the
byte into the field. Both give the same one line, naming the file and row.
"""

from pathlib import Path

import pytest

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.csv_records import CsvRecords, open_text_input
from tests.helpers import run_anonlink, run_cli

MESSAGE = "malformed CSV: contains a NUL byte; is this a binary file rather than a CSV?"


@pytest.mark.parametrize(
    "text, row",
    [
        ("a,b\nx,y\x00z\n", 2),
        ("a,b\nx,\x00\n", 2),
        ('a,b\nx,"quoted\x00"\n', 2),
        ("a\x00,b\nx,y\n", 1),
        ("a,b\nx,y\n1,2\n\x00,3\n", 4),
    ],
)
def test_a_nul_byte_is_refused_naming_the_row(tmp_path, text, row):
    path = tmp_path / "pii.csv"
    path.write_text(text)
    with open_text_input(str(path)) as handle, pytest.raises(InputFileError) as caught:
        list(CsvRecords(handle, str(path), header=True))
    assert str(caught.value) == f"{path}, row {row}: {MESSAGE}"


def test_hash_and_block_refuse_a_nul_byte_in_one_line(tmp_path):
    assert run_cli("generate", "5", tmp_path / "pii.csv", "-s", tmp_path / "schema.json").exit_code == 0
    lines = (tmp_path / "pii.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",", ",\x00", 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    hashed = run_anonlink("hash", bad, "secret", tmp_path / "schema.json", tmp_path / "clks.json")
    assert hashed.returncode == 3
    assert hashed.stderr == f"Error: {bad}, row 4: {MESSAGE}\n"
    assert not (tmp_path / "clks.json").exists()
    blocked = run_cli("block", bad, str(Path(__file__).parents[1] / "data" / "p-sig-schema.json"), tmp_path / "b.json")
    assert blocked.exit_code == 3
    assert blocked.stderr == f"Error: {bad}, row 4: {MESSAGE}\n"
