"""``anonlinkclient.spark`` hashes a Spark DataFrame (local[2]) bit for bit as ``anonlink hash`` hashes the same rows.

The same rows are hashed three ways: by Spark on the executors; by ``anonlink hash`` from
the CSV a careful user would have exported; by ``anonlink hash`` from the Parquet file
Spark writes of them. The CLK files must be the same bytes. Every CLK keeps its row's id
through shuffles, the writers put the CLKs in the order of the ids, and a row that cannot
be hashed stops the job with one line naming its id and column.
"""

import csv
import datetime
import decimal
import json
import random
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonlinkclient.encoding.hashing import hash_csv
from anonlinkclient.errors import ExecutorInputError, InputFileError, UsageError
from anonlinkclient.io.clk_file import iter_clks, read_clk_info
from anonlinkclient.spark import hash_dataframe, write_clk_dataset, write_clk_file
from tests.helpers import run_cli
from tests.io.test_typed_sources import csv_clks, data, present
from tests.secrets_guard import register_secret

SECRET = "spark-secret-4c1e"
HASHING = {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 8}}
PEOPLE_SCHEMA = {
    "version": 3,
    "clkConfig": {"l": 512, "kdf": {"type": "HKDF"}},
    "features": [
        {"identifier": "person_id", "ignored": True},
        {"identifier": "name", "format": {"type": "string"}, "hashing": HASHING},
        {"identifier": "dob", "format": {"type": "date", "format": "%d/%m/%Y"}, "hashing": HASHING},
        {
            "identifier": "age",
            "format": {"type": "integer"},
            "hashing": dict(HASHING, missingValue={"sentinel": "N/A", "replaceWith": ""}),
        },
        {"identifier": "postcode", "format": {"type": "string"}, "hashing": HASHING},
    ],
}
PEOPLE_TYPE = "person_id long, name string, dob date, age int, zip string"
#: PEOPLE_SCHEMA hardened: names salted with the date of birth, the bits permuted, then balanced (twice the bits).
HARDENED_SCHEMA = dict(
    PEOPLE_SCHEMA,
    clkConfig=dict(
        PEOPLE_SCHEMA["clkConfig"],
        hardening=[
            {"type": "salt", "saltFeature": "dob", "features": ["name"]},
            {"type": "permute"},
            {"type": "balance"},
        ],
    ),
)
NAMES = ["Zoë", "O'Brien, Seán", 'Ann "Nan" Lee', "李小龙", "line\nbreak", "", None, "Émile"]


def people(count: int, seed: int = 0) -> List[Tuple[Any, ...]]:
    """Rows of ``PEOPLE_TYPE``, ids shuffled."""
    rng = random.Random(seed)
    rows = []
    for person in range(count):
        name = rng.choice(NAMES)
        dob = datetime.date(1900, 1, 1) + datetime.timedelta(days=rng.randrange(45000))
        age = None if rng.random() < 0.2 else rng.randrange(110)
        rows.append((person * 7 + 3, name, dob, age, rng.choice(["2600", "3000", None, "0800"])))
    rng.shuffle(rows)
    return rows


def write_schema(directory: Path, document: Dict[str, Any], name: str = "schema.json") -> str:
    path = directory / name
    path.write_text(json.dumps(document))
    return str(path)


def careful_csv(path: Path, rows: List[Tuple[Any, ...]]) -> Path:
    """The CSV a careful user exports of the rows, in the order of their ids (NULL age -> the sentinel)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["person_id", "name", "dob", "age", "postcode"])
        for person, name, dob, age, postcode in sorted(rows):
            writer.writerow(
                [person, name or "", dob.strftime("%d/%m/%Y"), "N/A" if age is None else age, postcode or ""]
            )
    return path


def test_clk_files_are_the_bytes_anonlink_hash_writes_of_the_same_rows(spark: Any, tmp_path: Path) -> None:
    register_secret(SECRET)
    schema = write_schema(tmp_path, PEOPLE_SCHEMA)
    rows = people(300)
    frame = spark.createDataFrame(rows, PEOPLE_TYPE).repartition(3)
    clks = hash_dataframe(frame, SECRET, schema, "person_id", columns={"postcode": "zip"})
    assert write_clk_file(clks, str(tmp_path / "spark.json"), clk_format="json") == 300

    pii = careful_csv(tmp_path / "people.csv", rows)
    for name, extra in (("cli.json", []), ("cli.bin", ["--format", "binary"])):
        done = run_cli("hash", pii, SECRET, schema, tmp_path / name, *extra)
        assert done.exit_code == 0, done.stderr
    assert (tmp_path / "spark.json").read_bytes() == (tmp_path / "cli.json").read_bytes()

    # the same rows as Spark writes them to Parquet, hashed by anonlink hash
    frame.orderBy("person_id").coalesce(1).write.parquet(str(tmp_path / "people"))
    (exported,) = (tmp_path / "people").glob("part-*.parquet")
    done = run_cli("hash", exported, SECRET, schema, tmp_path / "parquet.json", "--columns", "postcode=zip")
    assert done.exit_code == 0, done.stderr
    assert (tmp_path / "parquet.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


def test_a_hardened_schema_hashes_as_anonlink_hash_hashes_it(spark: Any, tmp_path: Path) -> None:
    """Salt, permute and balance: the executors use the hardening steps' keys that anonlink hash derives."""
    register_secret(SECRET)
    schema = write_schema(tmp_path, HARDENED_SCHEMA)
    rows = people(200, seed=11)
    clks = hash_dataframe(spark.createDataFrame(rows, PEOPLE_TYPE), SECRET, schema, "person_id", {"postcode": "zip"})
    assert write_clk_file(clks, str(tmp_path / "spark.bin")) == 200

    pii = careful_csv(tmp_path / "people.csv", rows)
    done = run_cli("hash", pii, SECRET, schema, tmp_path / "cli.bin", "--format", "binary")
    assert done.exit_code == 0, done.stderr
    assert (tmp_path / "spark.bin").read_bytes() == (tmp_path / "cli.bin").read_bytes()
    meta = read_clk_info(str(tmp_path / "spark.bin")).meta
    assert meta is not None and meta.clk_bits == 1024 and meta.hardening is not None and len(meta.hardening) == 3


TYPED_SCHEMA = {
    "version": 3,
    "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
    "features": [
        {"identifier": "seen", "format": {"type": "date", "format": "%Y%m%d"}, "hashing": HASHING},
        {"identifier": "amount", "format": {"type": "integer"}, "hashing": HASHING},
        {"identifier": "weight", "format": {"type": "integer"}, "hashing": HASHING},
        {"identifier": "code", "format": {"type": "integer"}, "hashing": HASHING},
        {"identifier": "day", "format": {"type": "string"}, "hashing": HASHING},
    ],
}
TYPED_TYPE = "key string, seen timestamp, amount decimal(14,0), weight double, code short, day date"


def test_timestamps_decimals_doubles_and_small_integers(spark: Any, tmp_path: Path) -> None:
    """Timestamps (UTC, the session's time zone) in the feature's date format, whole decimals and doubles as
    integers, dates in a string feature as ISO 8601, string ids."""
    schema = write_schema(tmp_path, TYPED_SCHEMA)
    rng = random.Random(3)
    rows = []
    for number in range(150):
        seen = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
            seconds=rng.randrange(2 * 10**9)
        )
        day = datetime.date(2000, 1, 1) + datetime.timedelta(days=rng.randrange(9000))
        rows.append(
            (
                f"k{number:04d}",
                seen,
                decimal.Decimal(rng.randrange(-(10**12), 10**12)),
                float(rng.randrange(300)),
                rng.randrange(-999, 999),
                day,
            )
        )
    frame = spark.createDataFrame(rows, TYPED_TYPE)
    clks = hash_dataframe(frame, SECRET, schema, "key")
    path = tmp_path / "clks.bin"
    write_clk_file(clks, str(path))

    text = [
        [seen.strftime("%Y%m%d"), str(amount), str(int(weight)), str(code), day.isoformat()]
        for _key, seen, amount, weight, code, day in sorted(rows)
    ]
    pii = tmp_path / "typed.csv"
    with open(pii, "w", newline="") as handle:
        csv.writer(handle).writerows([[f["identifier"] for f in TYPED_SCHEMA["features"]]] + text)
    done = run_cli("hash", pii, SECRET, schema, tmp_path / "cli.bin", "--format", "binary")
    assert done.exit_code == 0, done.stderr
    assert path.read_bytes() == (tmp_path / "cli.bin").read_bytes()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(data(), min_size=1, max_size=5))
def test_random_schemas_and_typed_rows_hash_as_the_careful_csv(
    spark: Any, tmp_path: Path, examples: List[Tuple[List[Dict[str, Any]], List[List[Any]]]]
) -> None:
    """Random schemas and typed rows (tests/io/test_typed_sources.py), several per Spark job."""
    from pyspark.sql import functions
    from pyspark.sql.types import DateType, LongType, StringType, StructField, StructType

    kinds = {"string": StringType(), "integer": LongType(), "date": DateType()}
    hashed, expected = None, []
    for number, (chosen, rows) in enumerate(examples):
        columns = [StructField("position", LongType(), False)]
        columns += [StructField(f["identifier"], kinds[f["format"]["type"]]) for f in present(chosen)]
        records = [
            (position, *[value for value, f in zip(row, chosen) if not f.get("ignored")])
            for position, row in enumerate(rows)
        ]
        frame = spark.createDataFrame(records, StructType(columns)).repartition(2)
        document = {"version": 3, "clkConfig": {"l": 128, "kdf": {"type": "HKDF"}}, "features": chosen}
        schema = write_schema(tmp_path, document, f"schema-{number}.json")
        clks = hash_dataframe(frame, "secret", schema, "position").withColumn("example", functions.lit(number))
        hashed = clks if hashed is None else hashed.unionByName(clks)
        expected += [(number, position, clk) for position, clk in enumerate(csv_clks(chosen, rows))]
    assert hashed is not None
    got = [(row["example"], row["position"], bytes(row["clk"])) for row in hashed.collect()]
    assert sorted(got) == sorted(expected)


def expected_clks(rows: List[Tuple[Any, ...]], schema: str, directory: Path) -> Dict[int, bytes]:
    """id -> CLK, as anonlink hash makes them from the careful CSV."""
    from clkhash.schema import from_json_file

    with open(careful_csv(directory / "expected.csv", rows), newline="", encoding="utf-8") as handle:
        clks = list(hash_csv(handle, "expected.csv", SECRET, from_json_file(open(schema)), workers=1))
    return dict(zip(sorted(row[0] for row in rows), clks))


def test_every_clk_keeps_its_id_through_shuffles(spark: Any, tmp_path: Path) -> None:
    schema = write_schema(tmp_path, PEOPLE_SCHEMA)
    rows = people(400, seed=5)
    expected = expected_clks(rows, schema, tmp_path)
    frame = spark.createDataFrame(rows, PEOPLE_TYPE).repartition(4, "name")
    clks = hash_dataframe(frame, SECRET, schema, "person_id", columns={"postcode": "zip"}).repartition(5)
    shuffled = clks.join(frame.select("person_id", "zip"), "person_id").repartition(3, "zip").drop("zip")
    assert {row["person_id"]: bytes(row["clk"]) for row in shuffled.collect()} == expected
    assert shuffled.rdd.getNumPartitions() == 3


def test_a_parquet_dataset_in_the_order_of_the_ids_with_the_metadata_of_anonlink_hash(
    spark: Any, tmp_path: Path
) -> None:
    schema = write_schema(tmp_path, PEOPLE_SCHEMA)
    rows = people(500, seed=9)
    frame = spark.createDataFrame(rows, PEOPLE_TYPE).repartition(3)
    clks = hash_dataframe(frame, SECRET, schema, "person_id", columns={"postcode": "zip"})
    dataset = tmp_path / "clks"
    write_clk_dataset(clks, str(dataset))

    parts = sorted(path.name for path in dataset.glob("part-*.parquet"))
    assert len(parts) == 3 and (dataset / "_SUCCESS").exists()  # spark.sql.shuffle.partitions: 3
    expected = expected_clks(rows, schema, tmp_path)
    assert list(iter_clks(str(dataset))) == [expected[person] for person in sorted(expected)]
    pii = careful_csv(tmp_path / "people.csv", rows)
    assert run_cli("hash", pii, SECRET, schema, tmp_path / "cli.json").exit_code == 0
    assert read_clk_info(str(dataset)).meta == read_clk_info(str(tmp_path / "cli.json")).meta
    described = run_cli("describe", dataset)
    assert described.exit_code == 0, described.stderr
    assert "CLK length: 512 bits" in described.stdout


def one_line(caught: Any) -> str:
    message = str(caught.value)
    assert "\n" not in message
    return message


def with_value(frame: Any, person: int, column: str, value: Any, kind: str) -> Any:
    """``frame`` with ``column`` cast to ``kind`` and the row of id ``person`` holding ``value`` there."""
    from pyspark.sql import functions

    chosen = functions.col("person_id") == person
    changed = functions.when(chosen, functions.lit(value).cast(kind)).otherwise(functions.col(column).cast(kind))
    return frame.withColumn(column, changed)


@pytest.mark.parametrize(
    "value,kind,message",
    [
        (41.5, "double", "holds a number with a fractional part, which the schema's text cannot hold exactly"),
        ("forty", "string", "Invalid entry: "),
    ],
)
def test_a_row_that_cannot_be_hashed_is_named_by_its_id(
    spark: Any, tmp_path: Path, value: Any, kind: str, message: str
) -> None:
    schema = write_schema(tmp_path, PEOPLE_SCHEMA)
    rows = people(200, seed=2)
    person = sorted(rows)[57][0]
    frame = with_value(spark.createDataFrame(rows, PEOPLE_TYPE), person, "age", value, kind)
    clks = hash_dataframe(frame, SECRET, schema, "person_id", columns={"postcode": "zip"})
    for write in (
        lambda: write_clk_file(clks, str(tmp_path / "clks.bin")),
        lambda: write_clk_dataset(clks, str(tmp_path / "clks")),
    ):
        with pytest.raises(ExecutorInputError) as caught:
            write()
        assert one_line(caught).startswith(f"Spark DataFrame, row with person_id {person}, column age: {message}")
        assert caught.value.exit_code == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == ["schema.json"]


def test_a_row_without_an_id(spark: Any, tmp_path: Path) -> None:
    schema = write_schema(tmp_path, PEOPLE_SCHEMA)
    rows = people(50) + [(None, "Ann", datetime.date(1990, 1, 2), 3, "2600")]
    clks = hash_dataframe(spark.createDataFrame(rows, PEOPLE_TYPE), SECRET, schema, "person_id", {"postcode": "zip"})
    with pytest.raises(ExecutorInputError) as caught:
        write_clk_file(clks, str(tmp_path / "clks.bin"))
    assert one_line(caught) == "Spark DataFrame, column person_id: a row has no id (NULL); every row needs one"


def test_ids_that_appear_twice_are_refused_and_nothing_is_written(spark: Any, tmp_path: Path) -> None:
    schema = write_schema(tmp_path, PEOPLE_SCHEMA)
    rows = people(60)
    frame = spark.createDataFrame(rows + rows[10:11], PEOPLE_TYPE)
    clks = hash_dataframe(frame, SECRET, schema, "person_id", columns={"postcode": "zip"})
    expected = "the ids of column person_id are not unique (or some are NULL), so a CLK could not be found again"
    with pytest.raises(UsageError) as caught:
        write_clk_file(clks, str(tmp_path / "clks.bin"))
    assert one_line(caught) == expected
    with pytest.raises(UsageError) as caught:
        write_clk_dataset(clks, str(tmp_path / "clks"))
    assert one_line(caught) == expected
    assert sorted(path.name for path in tmp_path.iterdir()) == ["schema.json"]


def test_what_is_checked_before_anything_is_written(spark: Any, tmp_path: Path) -> None:
    schema = write_schema(tmp_path, PEOPLE_SCHEMA)
    frame = spark.createDataFrame(people(5), PEOPLE_TYPE)
    with pytest.raises(InputFileError) as caught:
        hash_dataframe(frame.drop("dob"), SECRET, schema, "person_id", columns={"postcode": "zip"})
    assert one_line(caught) == "Spark DataFrame: has no column dob (its columns: person_id, name, age, zip)"
    with pytest.raises(InputFileError) as caught:
        hash_dataframe(frame, SECRET, schema, "id", columns={"postcode": "zip"})
    assert one_line(caught) == "Spark DataFrame: has no column id (its columns: person_id, name, dob, age, zip)"
    empty = hash_dataframe(frame.where("person_id < 0"), SECRET, schema, "person_id", columns={"postcode": "zip"})
    with pytest.raises(InputFileError) as caught:
        write_clk_file(empty, str(tmp_path / "clks.bin"))
    assert one_line(caught) == "Spark DataFrame: contains no records to hash"
    with pytest.raises(InputFileError) as caught:
        write_clk_dataset(empty, str(tmp_path / "clks"))
    assert one_line(caught) == "Spark DataFrame: contains no records to hash"
    with pytest.raises(UsageError, match="^expected a Spark DataFrame, not list$"):
        hash_dataframe([], SECRET, schema, "person_id")
    with pytest.raises(UsageError, match="^expected the DataFrame hash_dataframe returns"):
        write_clk_file(frame, str(tmp_path / "clks.bin"))
    with pytest.raises(UsageError, match="^expected the DataFrame hash_dataframe returns"):
        write_clk_dataset(frame.select("person_id", "name"), str(tmp_path / "clks"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["schema.json"]
