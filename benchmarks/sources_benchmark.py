"""Hashing from where the data lives: Parquet and PostgreSQL against the CSV, speed and memory.

Usage: python benchmarks/sources_benchmark.py [ROWS [BIG_ROWS]]   (default: 1000000 10000000)

The records are ``anonlink generate`` output (ROWS of them; BIG_ROWS repeats them), kept
as a CSV, as Parquet (typed: INDEX int64, DOB date32, the rest text; row groups of 100,000)
and in a PostgreSQL table (INDEX bigint, DOB date) of a server started here (as the
tests start theirs). Each is hashed by ``anonlink hash`` with the default workers and
the default schema. Printed, all measured in this one run on this machine:

* rows/s of the CSV, Parquet and PostgreSQL at ROWS (the median of three interleaved runs)
  and the ratios to the CSV, with the CPU time of the whole process tree;
* peak memory (summed RSS of the whole process tree, see measure.py) of Parquet and
  PostgreSQL at ROWS and at BIG_ROWS: memory must not grow with the rows;
* whether the CLKs of the three are identical.
"""

import csv
import datetime
import filecmp
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import List

from measure import measure_all

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.postgres import PASSWORD, start_server  # noqa: E402

ANONLINK = [sys.executable, "-m", "anonlinkclient"]
REPEATS = 3
QUIET = {"stderr": open(os.devnull, "w")}


def load_rows(path: str) -> List[List[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))[1:]


def write_parquet(rows: List[List[str]], header: List[str], path: str, repeat: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dates = [datetime.datetime.strptime(r[2], "%Y/%m/%d").date() for r in rows]
    table = pa.table(
        {
            header[0]: pa.array([int(r[0]) for r in rows], pa.int64()),
            header[1]: pa.array([r[1] for r in rows], pa.string()),
            header[2]: pa.array(dates, pa.date32()),
            header[3]: pa.array([r[3] for r in rows], pa.string()),
        }
    )
    with pq.ParquetWriter(path, table.schema) as writer:
        for _ in range(repeat):
            writer.write_table(table, row_group_size=100_000)


def load_table(server, name: str, rows: List[List[str]], header: List[str], repeat: int) -> None:  # type: ignore[no-untyped-def]
    columns = ", ".join(f'"{h}" {kind}' for h, kind in zip(header, ["bigint", "text", "date", "text"]))
    with server.connect() as connection:
        connection.execute(f"CREATE TABLE {name} ({columns})")
        text = io.StringIO()
        for row in rows:
            text.write(f"{row[0]}\t{row[1]}\t{row[2].replace('/', '-')}\t{row[3]}\n")
        data = text.getvalue()
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY {name} FROM STDIN") as copy:
                for _ in range(repeat):
                    copy.write(data)
        connection.execute(f"ANALYZE {name}")


def main(rows: int, big_rows: int) -> None:
    print(f"cores: {os.cpu_count()} (a shared machine: other work ran at the same time)")
    os.environ["PGPASSWORD"] = PASSWORD
    server = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            schema = os.path.join(tmp, "schema.json")
            measure_all(ANONLINK + ["generate-default-schema", schema], **QUIET)
            pii = os.path.join(tmp, "pii.csv")
            measure_all(ANONLINK + ["generate", str(rows), pii], **QUIET)
            with open(pii, newline="") as handle:
                header = next(csv.reader(handle))
            records = load_rows(pii)
            repeat = max(1, big_rows // rows)
            write_parquet(records, header, os.path.join(tmp, "pii.parquet"), 1)
            write_parquet(records, header, os.path.join(tmp, "big.parquet"), repeat)
            load_table(server, "people", records, header, 1)
            load_table(server, "big", records, header, repeat)
            url = server.url

            def run(source: List[str], out: str) -> "object":
                return measure_all(ANONLINK + ["hash", *source[:1], "secret", schema, out, *source[1:]], **QUIET)

            outputs = {k: os.path.join(tmp, f"{k}.json") for k in ("csv", "parquet", "postgresql")}
            arguments = {
                "csv": [pii],
                "parquet": [os.path.join(tmp, "pii.parquet")],
                "postgresql": [url, "--table", "people"],
            }
            # Interleaved, three times each: on a shared machine the median says more than one run.
            runs: dict = {kind: [] for kind in arguments}
            for _ in range(REPEATS):
                for kind, source in arguments.items():
                    runs[kind].append(run(source, outputs[kind]))
            found = {kind: sorted(times, key=lambda m: m.seconds)[len(times) // 2] for kind, times in runs.items()}
            print(f"\n{rows} rows, default workers (median of {REPEATS} interleaved runs):")
            base = rows / found["csv"].seconds  # type: ignore[attr-defined]
            base_cpu = found["csv"].cpu_seconds  # type: ignore[attr-defined]
            for kind, measured in found.items():
                rate = rows / measured.seconds  # type: ignore[attr-defined]
                cpu = measured.cpu_seconds  # type: ignore[attr-defined]
                print(
                    f"  {kind:<11} {rate:>9.0f} rows/s  {rate / base:.2f}x the CSV  "
                    f"CPU {cpu:.1f} s ({base_cpu / cpu:.2f}x the CSV's efficiency; the database server's not counted)  "
                    f"peak {measured.peak_mib:>4.0f} MiB (summed RSS)"  # type: ignore[attr-defined]
                )
            same = filecmp.cmp(outputs["csv"], outputs["parquet"], shallow=False) and filecmp.cmp(
                outputs["csv"], outputs["postgresql"], shallow=False
            )
            print(f"  identical CLK files: {same}")
            total = rows * repeat
            print(f"\n{total} rows (the {rows} repeated {repeat} times), default workers:")
            for kind, source in (
                ("parquet", [os.path.join(tmp, "big.parquet")]),
                ("postgresql", [url, "--table", "big"]),
            ):
                big = run(source, os.path.join(tmp, "big.json"))
                small = found[kind]
                print(
                    f"  {kind:<11} {total / big.seconds:>9.0f} rows/s  peak {big.peak_mib:>4.0f} MiB "  # type: ignore[attr-defined]
                    f"(summed RSS; {small.peak_mib:.0f} MiB at {rows} rows)"  # type: ignore[attr-defined]
                )
                os.remove(os.path.join(tmp, "big.json"))
    finally:
        server.stop()


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:]]
    main(*(arguments + [1_000_000, 10_000_000][len(arguments) :]))
