"""``pyinstaller cli.spec`` builds a single-file ``anonlink`` that behaves like the installed package.

The executable is built once (into a temporary directory) and then run on the
example data next to ``python -m anonlinkclient``: both must write the same
files, print the same output and exit with the same codes.
"""

import base64
import csv
import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, List

import pytest

import anonlinkclient
from anonlinkclient.encoding.schema import schema_file_fingerprint
from tests.helpers import ROOT, TEST_DATA, TUTORIAL_DATA

pytestmark = pytest.mark.slow

EXE_NAME = "anonlink.exe" if sys.platform == "win32" else "anonlink"
Runner = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The executable PyInstaller builds from cli.spec."""
    work = tmp_path_factory.mktemp("pyinstaller")
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
        + ["--distpath", str(work / "dist"), "--workpath", str(work / "build"), str(ROOT / "cli.spec")],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    assert sorted(p.name for p in (work / "dist").iterdir()) == [EXE_NAME], "one single-file executable"
    return work / "dist" / EXE_NAME


def runner(command: List[str], cwd: Path) -> Runner:
    def run(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run(command + [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)

    return run


@pytest.fixture
def both(frozen: Path, tmp_path: Path) -> List[Runner]:
    """Run a command with the frozen executable (in ./frozen) and the installed package (in ./package)."""
    for name in ("frozen", "package"):
        (tmp_path / name).mkdir()
    return [
        runner([str(frozen)], tmp_path / "frozen"),
        runner([sys.executable, "-m", "anonlinkclient"], tmp_path / "package"),
    ]


def untimed(text: str) -> str:
    """Output without the lines that report how long something took (they vary from run to run)."""
    return "".join(line for line in text.splitlines(keepends=True) if not re.search(r" took [0-9.]+ seconds", line))


def same(results: List[subprocess.CompletedProcess]) -> subprocess.CompletedProcess:
    frozen, package = results
    assert (frozen.returncode, frozen.stdout, untimed(frozen.stderr)) == (
        package.returncode,
        package.stdout,
        untimed(package.stderr),
    )
    return frozen


def test_version(both: List[Runner]) -> None:
    result = same([run("--version") for run in both])
    assert result.stdout == f"anonlink, version {anonlinkclient.__version__}\n"


def test_generate_and_the_default_schema(both: List[Runner], tmp_path: Path) -> None:
    same([run("generate", 200, "pii.csv", "--schema", "schema.json") for run in both])
    frozen_dir, package_dir = tmp_path / "frozen", tmp_path / "package"
    # Random people, so not the same rows; the same shape, and the same schema.
    with open(frozen_dir / "pii.csv", newline="") as f, open(package_dir / "pii.csv", newline="") as g:
        frozen_rows, package_rows = list(csv.reader(f)), list(csv.reader(g))
    assert frozen_rows[0] == package_rows[0] == ["INDEX", "NAME freetext", "DOB YYYY/MM/DD", "GENDER M or F"]
    assert len(frozen_rows) == len(package_rows) == 201
    assert (frozen_dir / "schema.json").read_bytes() == (package_dir / "schema.json").read_bytes()
    # The frozen tool's data hashes with its own default schema.
    frozen_run = both[0]
    hashed = frozen_run("hash", "pii.csv", "secret", "schema.json", "clks.json")
    assert (hashed.returncode, hashed.stderr) == (0, "CLK data written to clks.json\n")


def test_linked_demo_data_and_the_default_blocking_schemas(both: List[Runner], tmp_path: Path) -> None:
    files = ["a.csv", "b.csv", "truth.csv", "schema.json", "psig.json", "lambda.json"]
    same([run("generate", 300, "a.csv", "--linked", "b.csv", "--truth", "truth.csv", "--seed", 5) for run in both])
    options = ["--blocking-psig", "psig.json", "--blocking-lambda-fold", "lambda.json"]
    same([run("generate-default-schema", "schema.json", *options) for run in both])
    for name in files:
        assert (tmp_path / "frozen" / name).read_bytes() == (tmp_path / "package" / name).read_bytes(), name
    same([run("hash", "b.csv", "secret", "schema.json", "b.json") for run in both])
    same([run("block", "b.csv", "psig.json", "b-psig.json") for run in both])
    same([run("block", "b.json", "lambda.json", "b-lambda.json") for run in both])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_hash_and_describe(both: List[Runner], tmp_path: Path, workers: str) -> None:
    csv_file, schema = TEST_DATA / "dirty_1000_50_1.csv", TEST_DATA / "dirty-data-schema.json"
    same([run("hash", "--workers", workers, csv_file, "secret", schema, "clks.json") for run in both])
    frozen_clks = (tmp_path / "frozen" / "clks.json").read_bytes()
    assert frozen_clks == (tmp_path / "package" / "clks.json").read_bytes()
    result = same([run("describe", "clks.json") for run in both])
    assert "observations: 1000" in result.stdout


def test_hash_reports_bad_input_the_same_way(both: List[Runner], tmp_path: Path) -> None:
    schema = TUTORIAL_DATA / "novt_schema.json"
    result = same([run("hash", TEST_DATA / "small.csv", "secret", schema, "clks.json") for run in both])
    assert result.returncode == 3 and result.stderr.startswith("Error: ")
    assert not (tmp_path / "frozen" / "clks.json").exists()


def test_block_clks_with_lambda_fold_and_pii_with_p_sig(both: List[Runner], tmp_path: Path) -> None:
    csv_file = TUTORIAL_DATA / "ncvr_numrec_5000_modrec_2_ocp_20_myp_0_nump_10.csv"
    same([run("hash", csv_file, "secret", TUTORIAL_DATA / "novt_schema.json", "clks.json") for run in both])
    result = same([run("block", "clks.json", TUTORIAL_DATA / "blocking_schema.json", "blocks.json") for run in both])
    assert "Number of Blocks:    96" in result.stderr
    blocks = [(tmp_path / name / "blocks.json").read_bytes() for name in ("frozen", "package")]
    assert blocks[0] == blocks[1]

    dirty = TEST_DATA / "dirty_1000_50_1.csv"
    same([run("block", "-v", dirty, TEST_DATA / "dirty-data-blocking-schema.json", "psig.json") for run in both])
    psig = [(tmp_path / name / "psig.json").read_bytes() for name in ("frozen", "package")]
    assert psig[0] == psig[1]


def test_block_validates_the_blocking_schema_it_bundles(both: List[Runner], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "lambda-fold", "version": 1, "config": {"Lambda": "three"}}')
    result = same([run("block", TEST_DATA / "small.csv", bad, "blocks.json") for run in both])
    assert result.returncode == 4 and result.stderr.startswith("Error: ")


def test_validate_schema(both: List[Runner]) -> None:
    good = same([run("validate-schema", TEST_DATA / "good-schema-v1.json") for run in both])
    fingerprint = schema_file_fingerprint(str(TEST_DATA / "good-schema-v1.json"))
    assert good.stdout == f"schema is valid\nschema fingerprint: {fingerprint}\n"
    bad = same([run("validate-schema", TEST_DATA / "bad-schema-v3.json") for run in both])
    assert bad.returncode == 4 and bad.stderr.startswith("Error: ")


def test_find_similarity_on_worker_processes(both: List[Runner], tmp_path: Path) -> None:
    """The frozen program starts its linkage workers as the installed package does (spawned), with the same result."""
    rng = random.Random(3)
    base = [rng.randbytes(128) for _ in range(7200)]  # 2 x 7,200 CLKs: enough comparisons to start workers
    for party, flips in (("a", 0), ("b", 3)):
        clks = []
        for clk in base:
            changed = bytearray(clk)
            for _ in range(flips):
                changed[rng.randrange(128)] ^= 1 << rng.randrange(8)
            clks.append(base64.b64encode(bytes(changed)).decode())
        for name in ("frozen", "package"):
            (tmp_path / name / f"{party}.json").write_text(json.dumps({"clks": clks}))
    args = ["find-similarity", "0.9", "groups.json", "--clk", "a.json", "--clk", "b.json", "--workers", "2"]
    result = same([run(*args, "--scores", "scores.bin", "--scores-format", "binary") for run in both])
    assert result.returncode == 0, result.stderr
    for output in ("groups.json", "scores.bin"):
        assert (tmp_path / "frozen" / output).read_bytes() == (tmp_path / "package" / output).read_bytes()
    verbose = both[0](*args, "-v", "--workers", "2")
    assert "with 2 worker processes" in verbose.stderr, verbose.stderr
