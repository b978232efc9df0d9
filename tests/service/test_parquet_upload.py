"""``anonlink upload`` of a Parquet CLK dataset written by Spark, against the test Entity Service.

What goes over the wire is byte for byte what the upload of the binary (or JSON) CLK file
of the same CLKs sends: directly (``/binaryclks``, ``/clks``, ``clknblocks``) and through
the object store. The dataset's metadata is checked as a CLK file's is (CLK length,
schema fingerprint), and a bad dataset is refused in one line before anything is sent.
"""

import json
import random
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from anonlinkclient.encoding.schema import fingerprint_if_valid, schema_fingerprint
from anonlinkclient.io.clk_file import check_clk_file, iter_clks, read_clk_info
from anonlinkclient.io.clk_file import write_clk_file as write_clk_file_of
from anonlinkclient.service.rest_client import RestClient
from anonlinkclient.service.upload import check_against_project
from tests.helpers import run_anonlink, run_cli, schema_document, write_block_file
from tests.io.test_clk_parquet import part, write_part
from tests.secrets_guard import register_secret
from tests.service.helpers import new_project

SECRET = "upload-spark-secret"
NAMES = ["Ann", "Bob", "Chris", "Dana", "Eve", "Fox", "Gil", "Hal", "Ida", "Jo"]


@pytest.fixture(scope="module")
def written(local_spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The CLKs of 90 people hashed by Spark with the projects' schema: a Parquet dataset, binary and JSON files."""
    from anonlinkclient.spark import hash_dataframe, write_clk_dataset, write_clk_file

    directory = tmp_path_factory.mktemp("spark-upload")
    schema = directory / "schema.json"
    schema.write_text(json.dumps(schema_document(1024)))
    rng = random.Random(7)
    rows = [(person * 3, f"{rng.choice(NAMES)} {rng.choice(NAMES)}son") for person in range(90)]
    rng.shuffle(rows)
    frame = local_spark.session.createDataFrame(rows, "id long, name string").repartition(3)
    clks = hash_dataframe(frame, SECRET, str(schema), "id")
    paths = {"dataset": directory / "clks", "binary": directory / "clks.bin", "json": directory / "clks.json"}
    write_clk_dataset(clks, str(paths["dataset"]))
    write_clk_file(clks, str(paths["binary"]))
    meta = read_clk_info(str(paths["binary"])).meta
    write_clk_file_of(str(paths["json"]), iter_clks(str(paths["binary"])), meta, "json")  # the same CLKs
    other = dict(schema_document(1024), clkConfig=dict(schema_document(1024)["clkConfig"], l=512))
    (directory / "other.json").write_text(json.dumps(other))
    write_clk_dataset(hash_dataframe(frame, SECRET, str(directory / "other.json"), "id"), str(directory / "short"))
    return dict(paths, short=directory / "short", schema=schema)


def upload(service: Any, credentials: Dict[str, Any], party: int, *args: Any, token: Any = None) -> Any:
    register_secret(SECRET)
    base = ["upload", "--server", service.url, "--project", credentials["project_id"]]
    return run_cli(*base, "--apikey", token or credentials["update_tokens"][party], *[str(a) for a in args])


def sent(service: Any, path: str) -> List[Tuple[str, Dict[str, str], bytes]]:
    """The requests to ``path``: method, the headers that describe the body, the body."""
    names = ("Content-Type", "Content-Length", "Hash-Count", "Hash-Size")
    return [(r.method, {n: r.header(n) for n in names}, r.body) for r in service.requests_to(path)]


ROUTES = [
    ("/binaryclks", ["--to_entityservice"]),
    ("/clks", ["--to_entityservice", "--format", "json"]),
]


@pytest.mark.parametrize("path,route", ROUTES, ids=["binaryclks", "json clks"])
def test_a_spark_dataset_goes_over_the_wire_as_its_clk_files(
    entity_service: Any, written: Dict[str, Path], path: str, route: List[str]
) -> None:
    assert list(iter_clks(str(written["dataset"]))) == list(iter_clks(str(written["binary"])))
    bodies = []
    for source in ("dataset", "binary", "json"):
        credentials = new_project(RestClient(entity_service.url))
        done = upload(entity_service, credentials, 0, written[source], *route)
        assert done.exit_code == 0, done.stderr
        bodies.append(sent(entity_service, path))
        entity_service.requests.clear()
    assert bodies[0] == bodies[1] == bodies[2]
    assert len(bodies[0]) == 1 and bodies[0][0][2]


def test_through_the_object_store_and_with_blocks(
    entity_service: Any, written: Dict[str, Path], tmp_path: Path
) -> None:
    blocks = write_block_file(tmp_path / "blocks.json", [[f"b{i % 4}"] for i in range(90)])
    received = []
    for source in ("dataset", "binary"):
        credentials = new_project(RestClient(entity_service.url), blocked=True)
        done = upload(entity_service, credentials, 0, written[source], "--blocks", blocks)
        assert done.exit_code == 0, done.stderr
        upload_a = entity_service.uploads(credentials["project_id"])[0]
        done = upload(entity_service, credentials, 1, written[source], "--blocks", blocks, "--to_entityservice")
        assert done.exit_code == 0, done.stderr
        clknblocks = entity_service.requests_to("/clks")[-1].body
        upload_b = entity_service.uploads(credentials["project_id"])[1]
        received.append(
            (upload_a.clks, upload_a.blocks, upload_a.objects["encodings"]["size"], clknblocks, upload_b.clks)
        )
    assert received[0] == received[1]
    assert received[0][2] == 90 * 128


def test_the_metadata_is_checked_against_the_project(entity_service: Any, written: Dict[str, Path]) -> None:
    credentials = new_project(RestClient(entity_service.url))
    done = upload(entity_service, credentials, 0, written["short"], token=credentials["result_token"])
    assert done.exit_code == 3
    assert done.stderr == (
        f"Error: {written['short']}: its CLKs are 512 bits, but project {credentials['project_id']}'s linkage "
        "schema makes 1024-bit CLKs\n"
    )
    summary = check_clk_file(str(written["dataset"]))
    assert summary.info.meta is not None and summary.info.meta.schema_fingerprint == schema_fingerprint(
        schema_document(1024)
    )
    client = RestClient(entity_service.url)
    notes: List[str] = []
    project, token = credentials["project_id"], credentials["result_token"]
    check_against_project(client, project, token, str(written["dataset"]), summary, fingerprint_if_valid, notes.append)
    assert notes == []  # checked, and it fits
    done = upload(entity_service, credentials, 0, written["dataset"], "-v", "--to_entityservice")
    assert done.exit_code == 0, done.stderr
    assert f"{written['dataset']}: 90 CLKs of 128 bytes (parquet file, sent as binary)" in done.stderr
    assert "records no schema fingerprint" not in done.stderr


def test_a_bad_dataset_is_refused_before_anything_is_sent(
    entity_service: Any, written: Dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    import pyarrow as pa

    cut = Path(shutil.copytree(written["dataset"], tmp_path / "cut"))
    damaged = part(cut, 1)
    damaged.write_bytes(damaged.read_bytes()[:-64])
    unfinished = Path(shutil.copytree(written["dataset"], tmp_path / "unfinished"))
    (unfinished / "_SUCCESS").unlink()
    clks = list(iter_clks(str(written["binary"])))[:6]
    meta = dict(read_clk_info(str(written["binary"])).meta.to_json())  # type: ignore[union-attr]
    text = write_part(tmp_path / "text.parquet", range(6), [c.hex() for c in clks], meta, "id", pa.string())
    uneven = write_part(tmp_path / "uneven.parquet", range(6), clks[:5] + [clks[5][:64]], meta, "id")
    bare = write_part(tmp_path / "bare.parquet", range(6), clks, None, "id")
    unsorted = write_part(tmp_path / "unsorted.parquet", [0, 1, 2, 9, 4, 5], clks, meta, "id")
    expected = {
        cut: f"Error: {damaged}: not a Parquet file, or a truncated or corrupt one (",
        unfinished: f"Error: {unfinished}: has no _SUCCESS marker: the Spark job that wrote it did not finish",
        text: f"Error: {text}: its CLK column clk is not binary (string)",
        uneven: f"Error: {uneven}, row 6, column clk: holds a CLK of 64 bytes, but the metadata says 1024-bit CLKs",
        bare: f"Error: {bare}: has no CLK metadata ('anonlink.clk' in a column's Spark metadata)",
        unsorted: f"Error: {unsorted}, row 5, column id: its rows are not sorted by id",
    }
    credentials = new_project(RestClient(entity_service.url))
    entity_service.requests.clear()
    routes: List[List[str]] = [[], ["--to_entityservice"]]
    for dataset, message in expected.items():
        for route in routes:
            done = upload(entity_service, credentials, 0, dataset, *route)
            assert done.exit_code == 3
            assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    process = run_anonlink(
        "upload", "--server", entity_service.url, "--project", credentials["project_id"], unfinished,
        env={"ANONLINK_APIKEY": credentials["update_tokens"][0]},
    )  # fmt: skip
    assert (process.returncode, process.stdout) == (3, "")
    assert process.stderr.startswith(expected[unfinished]) and process.stderr.count("\n") == 1
    assert entity_service.requests == []
