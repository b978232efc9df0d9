"""Every typed source hashes bit for bit as the CSV a careful user would have exported (hypothesis).

A random linkage schema (string, integer and date features in random date formats,
missing-value sentinels, an ignored feature) and random typed rows (text with commas,
quotes and line breaks, integers, dates, NULLs) are written to each source in its own
types; the CLKs must equal those of the CSV written from the same rows by the rules of
``anonlinkclient.io.typed`` (NULL -> the sentinel, integers as decimal text, dates in
the feature's format).
"""

import csv
import datetime
import io
import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from clkhash import schema as clkhash_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonlinkclient.encoding.hashing import hash_csv, hash_dataframe, hash_source
from anonlinkclient.encoding.pii import open_pii
from tests.postgres import Server

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%Y%m%d", "%m.%d.%Y"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=12)
DATES = st.dates(datetime.date(1000, 1, 1), datetime.date(2999, 12, 31))
INTEGERS = st.integers(-(10**12), 10**12)
HASHING = {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 6}}


@st.composite
def features(draw: Any) -> List[Dict[str, Any]]:
    """Two to four features (plus perhaps an ignored one), each with its kind."""
    kinds = draw(st.lists(st.sampled_from(["string", "integer", "date"]), min_size=2, max_size=4))
    chosen = []
    for number, kind in enumerate(kinds):
        feature: Dict[str, Any] = {"identifier": f"f{number}_{kind}", "hashing": dict(HASHING)}
        if kind == "date":
            feature["format"] = {"type": "date", "format": draw(st.sampled_from(DATE_FORMATS))}
        else:
            feature["format"] = {"type": kind}
        if draw(st.booleans()):
            feature["hashing"] = dict(HASHING, missingValue={"sentinel": "N/A", "replaceWith": ""})
        chosen.append(feature)
    if draw(st.booleans()):
        chosen.insert(draw(st.integers(0, len(chosen))), {"identifier": "rowid", "ignored": True})
    return chosen


def value_strategy(feature: Dict[str, Any]) -> Any:
    if feature.get("ignored"):
        return st.just(None)
    kind = feature["format"]["type"]
    base = {"string": TEXT, "integer": INTEGERS, "date": DATES}[kind]
    if "missingValue" in feature["hashing"] or kind == "string":
        return st.one_of(st.none(), base)
    return base


@st.composite
def data(draw: Any) -> Tuple[List[Dict[str, Any]], List[List[Any]]]:
    chosen = draw(features())
    rows = draw(st.lists(st.tuples(*(value_strategy(f) for f in chosen)).map(list), max_size=25))
    return chosen, rows


def schema_of(chosen: List[Dict[str, Any]]) -> clkhash_schema.Schema:
    document = {"version": 3, "clkConfig": {"l": 128, "kdf": {"type": "HKDF"}}, "features": chosen}
    return clkhash_schema.from_json_dict(json.loads(json.dumps(document)))


def careful_text(value: Any, feature: Dict[str, Any]) -> str:
    """What a careful user's CSV export holds for a typed value."""
    if value is None:
        return "N/A" if "missingValue" in feature.get("hashing", {}) else ""
    if isinstance(value, datetime.date):
        return value.strftime(feature["format"]["format"].replace("%Y", f"{value.year:04d}"))
    return str(value)


def csv_clks(chosen: List[Dict[str, Any]], rows: List[List[Any]]) -> List[bytes]:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([f["identifier"] for f in chosen])
    for row in rows:
        writer.writerow([careful_text(value, f) for value, f in zip(row, chosen)])
    out.seek(0)
    return list(hash_csv(out, "pii.csv", "secret", schema_of(chosen), workers=1))


def source_clks(argument: Any, chosen: List[Dict[str, Any]], **options: Any) -> List[bytes]:
    schema = schema_of(chosen)
    with open_pii(argument, schema, **options) as source:
        return list(hash_source(source, "secret", schema, workers=1))


def present(chosen: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The features a typed source holds a column for (an ignored feature's column is left out)."""
    return [f for f in chosen if not f.get("ignored")]


def columns_of(chosen: List[Dict[str, Any]], rows: List[List[Any]]) -> Dict[str, List[Any]]:
    return {f["identifier"]: [row[i] for row in rows] for i, f in enumerate(chosen) if not f.get("ignored")}


EXAMPLES = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def arrow_table(chosen: List[Dict[str, Any]], rows: List[List[Any]]) -> Any:
    import pyarrow as pa

    kinds = {"string": pa.string(), "integer": pa.int64(), "date": pa.date32()}
    arrays = {
        f["identifier"]: pa.array(values, type=kinds[f["format"]["type"]])
        for f, values in zip(present(chosen), columns_of(chosen, rows).values())
    }
    return pa.table(arrays) if arrays else pa.table({})


@EXAMPLES
@given(data())
def test_parquet_hashes_as_the_csv(tmp_path: Path, example: Tuple[List[Dict[str, Any]], List[List[Any]]]) -> None:
    import pyarrow.parquet as pq

    chosen, rows = example
    path = tmp_path / "people.parquet"
    pq.write_table(arrow_table(chosen, rows), path, row_group_size=7)
    assert source_clks(str(path), chosen) == csv_clks(chosen, rows)


@EXAMPLES
@given(data())
def test_excel_hashes_as_the_csv(tmp_path: Path, example: Tuple[List[Dict[str, Any]], List[List[Any]]]) -> None:
    import openpyxl

    chosen, rows = example
    # A cell cannot hold an empty string (it is an empty cell, a NULL) or control characters.
    rows = [[_excel_value(v) for v in row] for row in rows]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([f["identifier"] for f in present(chosen)])
    for row in rows:
        sheet.append([v for v, f in zip(row, chosen) if not f.get("ignored")])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that starts with "=" (openpyxl would write a formula)
    path = tmp_path / "people.xlsx"
    workbook.save(path)
    expected_rows = [row for row in rows if any(v is not None for v, f in zip(row, chosen) if not f.get("ignored"))]
    assert source_clks(str(path), chosen) == csv_clks(chosen, expected_rows)


def _excel_value(value: Any) -> Any:
    if isinstance(value, str):
        value = "".join(c for c in value if c.isprintable() or c == " ").strip()
        return value or None
    if isinstance(value, int) and abs(value) > 2**53:
        return value % 2**40
    return value


@EXAMPLES
@given(data())
def test_sqlite_hashes_as_the_csv(tmp_path: Path, example: Tuple[List[Dict[str, Any]], List[List[Any]]]) -> None:
    chosen, rows = example
    path = tmp_path / "people.db"
    path.unlink(missing_ok=True)  # one file for every example
    kept = present(chosen)
    with sqlite3.connect(path) as connection:
        names = ", ".join(f'"{f["identifier"]}"' for f in kept) or "nothing"
        connection.execute(f"CREATE TABLE people ({names})")
        # SQLite has no date type: dates are kept as text in the schema's format, as SQLite users keep them
        stored = [[careful_text(v, f) if isinstance(v, datetime.date) else v for v, f in zip(r, chosen)] for r in rows]
        values = [[v for v, f in zip(row, chosen) if not f.get("ignored")] for row in stored]
        if kept:
            connection.executemany(f"INSERT INTO people VALUES ({', '.join('?' * len(kept))})", values)
    assert source_clks(f"sqlite:///{path}", chosen, table="people") == csv_clks(chosen, rows)
    query = "SELECT * FROM people ORDER BY rowid"
    assert source_clks(f"sqlite:///{path}", chosen, query=query) == csv_clks(chosen, rows)


@EXAMPLES
@given(data())
def test_postgresql_hashes_as_the_csv(
    postgres: Server, monkeypatch: pytest.MonkeyPatch, example: Tuple[List[Dict[str, Any]], List[List[Any]]]
) -> None:
    from tests.postgres import PASSWORD

    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    chosen, rows = example
    kinds = {"string": "text", "integer": "bigint", "date": "date"}
    kept = present(chosen)
    with postgres.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS typed")
        columns = ", ".join(f'"{f["identifier"]}" {kinds[f["format"]["type"]]}' for f in kept)
        connection.execute(f"CREATE TABLE typed (position serial{', ' + columns if columns else ''})")
        if kept:
            names = ", ".join(f'"{f["identifier"]}"' for f in kept)
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO typed ({names}) VALUES ({', '.join(['%s'] * len(kept))})",
                    [[v for v, f in zip(row, chosen) if not f.get("ignored")] for row in rows],
                )
    text_rows = [[v.replace("\x00", "") if isinstance(v, str) else v for v in row] for row in rows]
    query = "SELECT * FROM typed ORDER BY position"
    assert source_clks(postgres.url, chosen, query=query) == csv_clks(chosen, text_rows)


@EXAMPLES
@given(data())
def test_pandas_hashes_as_the_csv(example: Tuple[List[Dict[str, Any]], List[List[Any]]]) -> None:
    import pandas as pd

    chosen, rows = example
    frame = pd.DataFrame(columns_of(chosen, rows))
    for f in present(chosen):  # pandas' own types: an integer column with NULLs is float64, dates are datetime64
        column = frame[f["identifier"]]
        if f["format"]["type"] == "integer":
            frame[f["identifier"]] = column.astype("float64") if column.isna().any() and _small(column) else column
        elif f["format"]["type"] == "date":
            frame[f["identifier"]] = pd.to_datetime(column) if _in_pandas_range(column) else column
    assert hash_dataframe(frame, "secret", schema_of(chosen), workers=1) == csv_clks(chosen, rows)


def _small(column: Any) -> bool:
    return bool(all(v is None or v != v or abs(v) < 2**53 for v in column))


def _in_pandas_range(column: Any) -> bool:
    return all(v is None or datetime.date(1678, 1, 1) < v < datetime.date(2262, 1, 1) for v in column)


@EXAMPLES
@given(data())
def test_polars_hashes_as_the_csv(example: Tuple[List[Dict[str, Any]], List[List[Any]]]) -> None:
    import polars as pl

    chosen, rows = example
    kinds = {"string": pl.Utf8, "integer": pl.Int64, "date": pl.Date}
    frame = pl.DataFrame(
        {name: pl.Series(name, values, dtype=kinds[f["format"]["type"]])
         for (name, values), f in zip(columns_of(chosen, rows).items(), present(chosen))}
    )  # fmt: skip
    assert hash_dataframe(frame, "secret", schema_of(chosen), workers=1) == csv_clks(chosen, rows)


def test_worker_processes_read_the_typed_pieces(tmp_path: Path) -> None:
    """With workers the pieces travel to worker processes (Arrow batches and Python values): same CLKs."""
    import pyarrow.parquet as pq

    chosen = [
        {"identifier": "name", "format": {"type": "string"}, "hashing": HASHING},
        {"identifier": "dob", "format": {"type": "date", "format": "%d/%m/%Y"}, "hashing": HASHING},
    ]
    start = datetime.date(1950, 1, 1)
    rows: List[List[Any]] = [[f"Person {i}", start + datetime.timedelta(days=i)] for i in range(2500)]
    path = tmp_path / "people.parquet"
    pq.write_table(arrow_table(chosen, rows), path, row_group_size=1000)
    schema = schema_of(chosen)
    with open_pii(str(path), schema) as source:
        assert list(hash_source(source, "secret", schema, workers=2)) == csv_clks(chosen, rows)
    database = tmp_path / "people.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE people (name, dob)")
        connection.executemany("INSERT INTO people VALUES (?, ?)", [[n, d.strftime("%d/%m/%Y")] for n, d in rows])
    with open_pii(f"sqlite:///{database}", schema, table="people") as source:
        assert list(hash_source(source, "secret", schema, workers=2)) == csv_clks(chosen, rows)
