"""``hash`` and ``block`` read PII where it lives: what a user sees for good and bad input of every source.

Bad input gets one line naming the source (a URL without its password), table or
file, row and column; a non-zero exit; no output file; no password or PII value; no
traceback. Passwords never appear in any output (the secrets guard scans it all).
"""

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List

import pytest

from tests.helpers import run_anonlink, run_cli
from tests.postgres import PASSWORD, Server, start_server
from tests.secrets_guard import allow_secret_file, register_secret

HEADER = ["INDEX", "NAME freetext", "DOB YYYY/MM/DD", "GENDER M or F"]
PII_VALUE = "Zebedee Quux"  # a name that must never appear in a message


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with pii.csv (3000 generated records), the default schema and its CLKs from the CSV."""
    folder = tmp_path_factory.mktemp("people")
    assert run_cli("generate", 3000, folder / "pii.csv", "-s", folder / "schema.json", "--seed", 7).exit_code == 0
    assert run_cli("hash", folder / "pii.csv", "secret", folder / "schema.json", folder / "csv.json").exit_code == 0
    assert run_cli("generate-default-schema", folder / "s.json", "--blocking-psig", folder / "psig.json").exit_code == 0
    return folder


def rows(folder: Path) -> List[List[str]]:
    import csv

    with open(folder / "pii.csv", newline="") as handle:
        return list(csv.reader(handle))[1:]


def typed_table(folder: Path) -> Any:
    import datetime

    import pyarrow as pa

    records = rows(folder)
    return pa.table(
        {
            HEADER[0]: pa.array([int(r[0]) for r in records], pa.int64()),
            HEADER[1]: [r[1] for r in records],
            HEADER[2]: pa.array([datetime.datetime.strptime(r[2], "%Y/%m/%d").date() for r in records], pa.date32()),
            HEADER[3]: [r[3] for r in records],
        }
    )


def clks(path: Path) -> List[str]:
    return list(json.loads(path.read_text())["clks"])


def failed(result: Any, message: str, output: Path, code: int = 3) -> None:
    """One line, the exit code, no output file."""
    assert (result.exit_code, result.stderr) == (code, f"Error: {message}\n")
    assert not output.exists()


# ---------------------------------------------------------------------------------------------- good input


def test_parquet_excel_and_sqlite_hash_as_the_csv(people: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(typed_table(people), tmp_path / "pii.parquet", row_group_size=500)
    frame = typed_table(people).to_pandas()
    frame.to_excel(tmp_path / "pii.xlsx", index=False, sheet_name="People")
    with sqlite3.connect(tmp_path / "pii.db") as connection:
        frame.astype({HEADER[2]: str}).assign(**{HEADER[2]: [r[2] for r in rows(people)]}).to_sql(
            "people", connection, index=False
        )
    expected = clks(people / "csv.json")
    for source, extra in [
        (tmp_path / "pii.parquet", []),
        (tmp_path / "pii.xlsx", ["--sheet", "People"]),
        (f"sqlite:///{tmp_path / 'pii.db'}", ["--table", "people"]),
        (f"sqlite:///{tmp_path / 'pii.db'}", ["--query", 'SELECT * FROM people WHERE "INDEX" >= 0']),
    ]:
        out = tmp_path / "out.json"
        result = run_cli("hash", source, "secret", people / "schema.json", out, *extra)
        assert (result.exit_code, result.stderr) == (0, f"CLK data written to {out}\n")
        assert clks(out) == expected
        out.unlink()
    # --input-format overrides the extension
    (tmp_path / "pii.data").write_bytes((tmp_path / "pii.parquet").read_bytes())
    result = run_cli("hash", tmp_path / "pii.data", "secret", people / "schema.json", tmp_path / "o.json",
                     "--input-format", "parquet")  # fmt: skip
    assert result.exit_code == 0 and clks(tmp_path / "o.json") == expected


def test_columns_maps_features_to_other_names(people: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    table = typed_table(people).rename_columns(["id", "full_name", "birth", "sex"]).drop_columns(["id"])
    pq.write_table(table, tmp_path / "renamed.parquet")
    mapping = "NAME freetext=full_name,DOB YYYY/MM/DD=birth,GENDER M or F=sex"
    out = tmp_path / "out.json"
    result = run_cli("hash", tmp_path / "renamed.parquet", "secret", people / "schema.json", out, "--columns", mapping)
    assert result.exit_code == 0, result.stderr
    assert clks(out) == clks(people / "csv.json")
    # a CSV is read by name too when given --columns (here its columns in another order)
    csv_text = "sex,birth,full_name\n" + "".join(f"{r[3]},{r[2]},{r[1]}\n" for r in rows(people))
    (tmp_path / "reordered.csv").write_text(csv_text)
    out.unlink()
    result = run_cli("hash", tmp_path / "reordered.csv", "secret", people / "schema.json", out, "--columns", mapping)
    assert result.exit_code == 0, result.stderr
    assert clks(out) == clks(people / "csv.json")
    out.unlink()
    result = run_cli("hash", tmp_path / "renamed.parquet", "secret", people / "schema.json", out, "--columns", "dob=x")
    failed(
        result,
        "the column mapping names dob, which the linkage schema does not have "
        "(its features: INDEX, NAME freetext, DOB YYYY/MM/DD, GENDER M or F)",
        out,
        code=2,
    )


def test_block_reads_parquet_as_the_csv(people: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(typed_table(people).drop_columns([HEADER[2]]), tmp_path / "pii.parquet")
    csv_text = "INDEX,NAME freetext,GENDER M or F\n" + "".join(f"{r[0]},{r[1]},{r[3]}\n" for r in rows(people))
    (tmp_path / "pii.csv").write_text(csv_text)
    schema = json.loads((people / "psig.json").read_text())
    schema["config"]["blocking-features"] = [1]
    schema["config"]["signatureSpecs"] = [[{"type": "characters-at", "feature": 1, "config": {"pos": [0]}}]]
    (tmp_path / "psig.json").write_text(json.dumps(schema))
    assert run_cli("block", tmp_path / "pii.csv", tmp_path / "psig.json", tmp_path / "a.json").exit_code == 0
    assert run_cli("block", tmp_path / "pii.parquet", tmp_path / "psig.json", tmp_path / "b.json").exit_code == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


# ---------------------------------------------------------------------------------------------- bad files


def test_bad_files_get_one_line(people: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, out = people / "schema.json", tmp_path / "out.json"
    table = typed_table(people)
    pq.write_table(table.drop_columns([HEADER[2]]), tmp_path / "missing.parquet")
    failed(
        run_cli("hash", tmp_path / "missing.parquet", "secret", schema, out),
        f"{tmp_path / 'missing.parquet'}: has no column DOB YYYY/MM/DD "
        "(its columns: INDEX, NAME freetext, GENDER M or F)",
        out,
    )
    names = table.column(HEADER[1]).to_pylist()
    names[4] = PII_VALUE.encode()
    as_bytes = table.set_column(1, HEADER[1], pa.array([n.encode() if isinstance(n, str) else n for n in names]))
    pq.write_table(as_bytes, tmp_path / "bytes.parquet")
    failed(
        run_cli("hash", tmp_path / "bytes.parquet", "secret", schema, out),
        f"{tmp_path / 'bytes.parquet'}, row 1, column NAME freetext: holds bytes, not text",
        out,
    )
    document = json.loads(schema.read_text())
    document["features"][0] = {"identifier": "INDEX", "format": {"type": "integer"}, "hashing": {
        "comparison": {"type": "ngram", "n": 1}, "strategy": {"bitsPerToken": 5}}}  # fmt: skip
    (tmp_path / "integer.json").write_text(json.dumps(document))
    fractions = table.set_column(0, HEADER[0], pa.array([float(i) + (0.5 if i == 2041 else 0) for i in range(3000)]))
    pq.write_table(fractions, tmp_path / "fraction.parquet")
    failed(
        run_cli("hash", tmp_path / "fraction.parquet", "secret", tmp_path / "integer.json", out),
        f"{tmp_path / 'fraction.parquet'}, row 2042, column INDEX: holds a number with a fractional part, "
        "which the schema's text cannot hold exactly",
        out,
    )
    whole = tmp_path / "whole.parquet"
    pq.write_table(table.set_column(0, HEADER[0], pa.array([float(i) for i in range(3000)])), whole)
    assert run_cli("hash", whole, "secret", tmp_path / "integer.json", out).exit_code == 0
    out.unlink()
    data = (tmp_path / "missing.parquet").read_bytes()
    (tmp_path / "truncated.parquet").write_bytes(data[: len(data) // 2])
    failed(
        run_cli("hash", tmp_path / "truncated.parquet", "secret", schema, out),
        f"{tmp_path / 'truncated.parquet'}: not a Parquet file, or a truncated or corrupt one "
        "(Parquet magic bytes not found in footer. Either the file is corrupted or this is not a parquet file.)",
        out,
    )
    (tmp_path / "people.xlsx").write_bytes((people / "pii.csv").read_bytes())
    failed(
        run_cli("hash", tmp_path / "people.xlsx", "secret", schema, out),
        f"{tmp_path / 'people.xlsx'}: not an Excel .xlsx workbook (it is not a ZIP archive, as .xlsx files are)",
        out,
    )
    failed(
        run_cli("hash", tmp_path / "nothing.db", "secret", schema, out, "--input-format", "sql", "--table", "t"),
        "the database URL cannot be read (expected dialect://user@host/database)",
        out,
        code=2,
    )
    failed(
        run_cli("hash", f"sqlite:///{tmp_path / 'nothing.db'}", "secret", schema, out, "--table", "people"),
        f"sqlite:///{tmp_path / 'nothing.db'}: no such SQLite database file",
        out,
    )
    assert not (tmp_path / "nothing.db").exists()  # SQLite would have made one


def test_a_real_subprocess_prints_no_traceback(people: Path, tmp_path: Path) -> None:
    (tmp_path / "people.parquet").write_bytes(b"PAR1 this is not parquet")
    out = tmp_path / "out.json"
    done = run_anonlink("hash", tmp_path / "people.parquet", "secret", people / "schema.json", out)
    assert done.returncode == 3 and not out.exists()
    assert done.stderr.startswith(f"Error: {tmp_path / 'people.parquet'}: not a Parquet file")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------------- databases


@pytest.fixture
def database(postgres: Server, people: Path, monkeypatch: pytest.MonkeyPatch) -> Server:
    """The test server with a ``people`` table of the 3000 records (typed), the password in PGPASSWORD."""
    register_secret(PASSWORD)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with postgres.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS people")
        connection.execute(
            'CREATE TABLE people ("INDEX" bigint, "NAME freetext" text, "DOB YYYY/MM/DD" date, "GENDER M or F" text)'
        )
        with connection.cursor() as cursor:
            with cursor.copy("COPY people FROM STDIN") as copy:
                for r in rows(people):
                    copy.write_row([int(r[0]), r[1], r[2].replace("/", "-"), r[3]])
    return postgres


def test_postgresql_table_and_query(database: Server, people: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = run_cli("hash", database.url, "secret", people / "schema.json", out, "--table", "public.people", "-v")
    assert (result.exit_code, result.stderr) == (0, f"CLK data written to {out}\n")
    assert clks(out) == clks(people / "csv.json")
    out.unlink()
    query = 'SELECT * FROM people ORDER BY "INDEX"'
    assert run_cli("hash", database.url, "secret", people / "schema.json", out, "--query", query).exit_code == 0
    assert clks(out) == clks(people / "csv.json")


def test_the_password_comes_from_a_file_or_the_environment_and_is_never_shown(
    database: Server, people: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema, out = people / "schema.json", tmp_path / "out.json"
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{database.port}:*:alice:{PASSWORD}\n")
    pgpass.chmod(0o600)
    allow_secret_file(pgpass)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    assert run_cli("hash", database.url, "secret", schema, out, "--table", "people").exit_code == 0
    out.unlink()
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.setenv("ANONLINK_DB_PASSWORD", PASSWORD)
    assert run_cli("hash", database.url, "secret", schema, out, "--table", "people").exit_code == 0
    out.unlink()
    # a password in the URL works, but no message shows it
    with_password = database.admin_url()
    failed(
        run_cli("hash", with_password, "secret", schema, out, "--table", "nobody", "-v"),
        f"{database.url}: has no table nobody",
        out,
    )
    done = run_anonlink("hash", with_password, "secret", schema, out, "--query", "SELECT nonsense FROM people", "-v")
    assert (done.returncode, done.stderr) == (
        3,
        f'Error: {database.url}, query: the query cannot run: column "nonsense" does not exist\n',
    )


def test_bad_databases_get_one_line(
    database: Server, people: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema, out = people / "schema.json", tmp_path / "out.json"
    monkeypatch.setenv("PGPASSWORD", "wrong-" + PASSWORD)
    register_secret("wrong-" + PASSWORD)
    failed(
        run_cli("hash", database.url, "secret", schema, out, "--table", "people"),
        f"{database.url}: the database refused the login",
        out,
    )
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    other = database.url.replace("/registry", "/elsewhere")
    failed(
        run_cli("hash", other, "secret", schema, out, "--table", "people"),
        f"{other}: the database refused the connection: no such database",
        out,
    )
    failed(run_cli("hash", database.url, "secret", schema, out, "--table", "nobody"),
           f"{database.url}: has no table nobody", out)  # fmt: skip
    closed = f"postgresql://alice@127.0.0.1:{_closed_port()}/registry"
    failed(
        run_cli("hash", closed, "secret", schema, out, "--table", "people"),
        f"{closed}: cannot connect to the database server (connection refused)",
        out,
    )
    # a query that fails half-way: division by zero at the 2001st row, after 2000 were fetched
    query = 'SELECT "INDEX", "NAME freetext", "DOB YYYY/MM/DD", "GENDER M or F", 1 / (2000 - "INDEX") AS x ' \
            "FROM people"  # fmt: skip
    failed(
        run_cli("hash", database.url, "secret", schema, out, "--query", query, "--workers", "1"),
        f"{database.url}, query, row 2001: the database failed (SQLSTATE 22012; its message is not shown, "
        "as it may quote values)",
        out,
    )
    # a query whose error text would quote a value: not shown
    query = 'SELECT "INDEX", CAST("NAME freetext" AS integer) AS "NAME freetext", "DOB YYYY/MM/DD", "GENDER M or F" ' \
            "FROM people"  # fmt: skip
    result = run_cli("hash", database.url, "secret", schema, out, "--query", query)
    assert result.exit_code == 3 and "SQLSTATE 22P02" in result.stderr
    assert rows(people)[0][1] not in result.stderr
    failed(
        run_cli("hash", database.url, "secret", schema, out, "--query", "DELETE FROM people RETURNING *"),
        f'{database.url}, query: the query cannot run: syntax error at or near "DELETE"',  # a cursor only reads
        out,
    )


def _closed_port() -> int:
    from tests.postgres import free_port

    return free_port()


def test_a_server_killed_mid_stream(people: Path, tmp_path: Path) -> None:
    """The server dies while rows stream in: one line naming the row, exit 3, no output file."""
    server = start_server()
    try:
        with server.connect() as connection:
            connection.execute('CREATE TABLE big ("INDEX" bigint, "NAME freetext" text, "DOB YYYY/MM/DD" text, '
                               '"GENDER M or F" text)')  # fmt: skip
            connection.execute(
                "INSERT INTO big SELECT i, 'Ann Lee ' || i, '1990/01/02', 'F' FROM generate_series(0, 399999) i"
            )
        out = tmp_path / "out.json"
        command = [sys.executable, "-m", "anonlinkclient", "hash", server.url, "secret", str(people / "schema.json"),
                   str(out), "--table", "big", "--workers", "1"]  # fmt: skip
        env = {**__import__("os").environ, "PGPASSWORD": PASSWORD}
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with server.connect() as connection:
                busy = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'anonlink' AND query LIKE 'FETCH%'"
                ).fetchone()
            if busy and busy[0]:
                break
            time.sleep(0.05)
        server.kill()
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 3
        assert not out.exists()
        assert "Traceback" not in stderr and len(stderr.splitlines()) == 1
        assert stderr.startswith(f"Error: {server.url}, table big, row ")
        assert stderr.endswith(": the connection to the database server was lost\n")
        assert PASSWORD not in stderr
    finally:
        server.stop()


def test_a_reader_that_is_not_installed_is_named(people: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The single-file executable leaves pyarrow, openpyxl and SQLAlchemy out: one line says what is missing."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    out = tmp_path / "out.json"
    failed(
        run_cli("hash", tmp_path / "pii.parquet", "secret", people / "schema.json", out),
        "reading parquet input needs the pyarrow package, which is not installed here "
        "(pip install anonlink-client installs it)",
        out,
        code=2,
    )
