"""Spark in local mode (local[2]) against ``anonlink hash``, on the same machine and the same rows, in one run.

Usage: python benchmarks/spark_benchmark.py [ROWS]   (default: 1000000; needs the ``spark`` extra and Java)

The records are ``anonlink generate`` output, kept as a CSV and as Parquet (typed, as
benchmarks/sources_benchmark.py writes it). Measured, each in its own process tree
(wall time and peak summed RSS, see measure.py):

* ``anonlink hash`` of the CSV, default workers (one per core), binary output;
* ``anonlinkclient.spark`` in ``local[2]`` (two cores) reading the Parquet file, Spark
  already started and warmed up on 1,000 rows: ``hash_dataframe`` alone (to Spark's
  ``noop`` sink), then with ``write_clk_dataset``, then with ``write_clk_file`` (binary,
  sorted by ``INDEX``: the same bytes as ``anonlink hash`` of the CSV); each writer hashes
  once (it keeps the CLKs on disk while it sorts them);
* reading the Parquet CLK dataset as ``anonlink upload`` checks it, at ROWS and at
  ROWS / 10: memory must not grow with the CLKs.

Printed: rows per second of each and their ratio to ``anonlink hash``, whether the two
CLK files are the same bytes, and the peak memories. The machine is shared with other
work: the ratios of one run are what count.
"""

import csv
import filecmp
import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path

from measure import measure_all
from sources_benchmark import load_rows, write_parquet

ROOT = Path(__file__).resolve().parent.parent
ANONLINK = [sys.executable, "-m", "anonlinkclient"]
QUIET = {"stderr": open(os.devnull, "w")}

SPARK_JOB = textwrap.dedent(
    """
    import json, os, sys, time
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    started = time.perf_counter()
    from pyspark.sql import SparkSession
    from anonlinkclient.spark import hash_dataframe, write_clk_dataset, write_clk_file

    parquet, schema, binary, dataset, small, times = sys.argv[1:7]
    spark = (
        SparkSession.builder.master("local[2]").appName("spark benchmark")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g").config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    people = spark.read.parquet(parquet)
    warm = hash_dataframe(people.limit(1000), "secret", schema, "INDEX")
    warm.count()  # Python workers started, modules imported
    ready = time.perf_counter()
    clks = hash_dataframe(people, "secret", schema, "INDEX")
    clks.write.format("noop").mode("overwrite").save()  # the hashing alone
    hashed = time.perf_counter()
    write_clk_dataset(clks, dataset)
    written = time.perf_counter()
    count = write_clk_file(clks, binary)
    filed = time.perf_counter()
    write_clk_dataset(clks.where(clks.INDEX % 10 == 0), small)
    spark.stop()
    with open(times, "w") as out:
        json.dump(
            {"start": ready - started, "hash": hashed - ready, "dataset": written - hashed,
             "file": filed - written, "count": count}, out
        )
    """
)

READ_DATASET = (
    "import sys; from anonlinkclient.io.clk_file import check_clk_file; print(check_clk_file(sys.argv[1]).count)"
)


def main(rows: int) -> None:
    print(f"cores: {os.cpu_count()} (a shared machine: other work ran at the same time)")
    with tempfile.TemporaryDirectory() as tmp:
        schema = os.path.join(tmp, "schema.json")
        measure_all(ANONLINK + ["generate-default-schema", schema], **QUIET)
        pii = os.path.join(tmp, "pii.csv")
        measure_all(ANONLINK + ["generate", str(rows), pii], **QUIET)
        with open(pii, newline="") as handle:
            header = next(csv.reader(handle))
        parquet = os.path.join(tmp, "pii.parquet")
        write_parquet(load_rows(pii), header, parquet, 1)

        cli_out = os.path.join(tmp, "cli.bin")
        cli = measure_all(ANONLINK + ["hash", pii, "secret", schema, cli_out, "--format", "binary"], **QUIET)
        job = os.path.join(tmp, "job.py")
        Path(job).write_text(SPARK_JOB)
        spark_out, dataset, small = (os.path.join(tmp, name) for name in ("spark.bin", "clks", "small"))
        times_path = os.path.join(tmp, "times.json")
        spark = measure_all([sys.executable, job, parquet, schema, spark_out, dataset, small, times_path], **QUIET)
        times = json.loads(Path(times_path).read_text())
        read_full = measure_all([sys.executable, "-c", READ_DATASET, dataset], stdout=QUIET["stderr"], **QUIET)
        read_small = measure_all([sys.executable, "-c", READ_DATASET, small], stdout=QUIET["stderr"], **QUIET)

        base = rows / cli.seconds
        print(f"\n{rows} rows, the default schema (Spark: started and warm, {times['start']:.0f} s before):")
        label = f"anonlink hash (CSV, {os.cpu_count()} workers, binary)"
        print(f"  {label:<40} {base:>7.0f} rows/s  peak {cli.peak_mib:.0f} MiB")
        for label, key in (
            ("Spark local[2], hashing alone", "hash"),
            ("Spark, hash + write_clk_dataset", "dataset"),
            ("Spark, hash + write_clk_file", "file"),
        ):
            rate = rows / times[key]
            print(f"  {label:<40} {rate:>7.0f} rows/s  {rate / base:.2f}x anonlink hash")
        print(
            f"  the Spark process, start to end: {spark.seconds:.0f} s, peak {spark.peak_mib:.0f} MiB summed RSS "
            "(JVM and Python workers; it also hashed 10% again)"
        )
        print(f"  identical CLK files: {filecmp.cmp(cli_out, spark_out, shallow=False)} ({times['count']} CLKs)")
        print("\nReading the Parquet CLK dataset as upload checks it (peak summed RSS):")
        print(f"  {rows // 10:>9} CLKs  {read_small.peak_mib:>5.0f} MiB  {read_small.seconds:.1f} s")
        print(f"  {rows:>9} CLKs  {read_full.peak_mib:>5.0f} MiB  {read_full.seconds:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
