"""Output paths that would destroy data, or cannot be written, are refused by every command before it works.

Each case: exit 3, one ``Error:`` line naming the output, no traceback, and no
file created, changed or removed; service commands send nothing to the
service. When writing fails after the service acted, the error says what was
done (with its id), never a token.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anonlinkclient.service.rest_client import RestClient
from tests.helpers import data, random_clks, run_anonlink, run_cli, schema_document, write_block_file, write_clk_file
from tests.service.helpers import new_project


def snapshot(directory: Path) -> dict:
    return {
        str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else "other")
        for p in sorted(directory.rglob("*"))
    }


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and stderr.strip().splitlines()[-1] == lines[0], stderr
    return lines[0]


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A directory with a PII CSV, its schema, a secret file and two CLK files."""
    monkeypatch.chdir(tmp_path)
    assert run_cli("generate", "20", "in.csv", "-s", "schema.json").exit_code == 0
    (tmp_path / "secret.txt").write_text("horse\n")
    write_clk_file(tmp_path / "a.json", random_clks(5))
    write_clk_file(tmp_path / "b.json", random_clks(5, seed=1))
    os.symlink("a.json", tmp_path / "a-link.json")
    write_block_file(tmp_path / "blocks.json", [[1], [1, 2], [2]])
    (tmp_path / "scores.json").write_text('{"similarity_scores": [[[0, 0], [1, 0], 0.9]]}')
    return tmp_path


@pytest.mark.parametrize(
    "args, output",
    [
        (["hash", "in.csv", "secret", "schema.json", "in.csv"], "in.csv"),
        (["hash", "in.csv", "secret", "schema.json", "./schema.json"], "./schema.json"),
        (["hash", "in.csv", "file:secret.txt", "schema.json", "secret.txt"], "secret.txt"),
        (["find-similarity", "0.8", "a.json", "--clk", "a.json", "--clk", "b.json"], "a.json"),
        (["find-similarity", "0.8", "a-link.json", "--clk", "a.json", "--clk", "b.json"], "a-link.json"),
        (["find-similarity", "0.8", "g.json", "--clk", "a.json", "--clk", "b.json", "--scores", "b.json"], "b.json"),
        (["block", "in.csv", data("p-sig-schema.json"), "in.csv"], "in.csv"),
        (["convert-schema", "schema.json", "schema.json"], "schema.json"),
        (["block-report", "blocks.json", "blocks.json"], "blocks.json"),
        (["threshold-report", "scores.json", "r.html", "--svg", "scores.json"], "scores.json"),
    ],
)
def test_an_output_onto_an_input_is_refused_and_the_input_kept(work, args, output):
    before = snapshot(work)
    result = run_cli(*args)
    assert result.exit_code == 3, result.stderr
    assert error_line(result.stderr).startswith(f"Error: {output}: is also an input (")
    assert snapshot(work) == before


@pytest.mark.parametrize(
    "args",
    [
        ["hash", "in.csv", "secret", "schema.json", "."],
        ["hash", "in.csv", "secret", "schema.json", "missing/clks.json"],
        ["find-similarity", "0.8", "missing/g.json", "--clk", "a.json", "--clk", "b.json"],
        ["generate", "10", "missing/pii.csv"],
        ["generate-default-schema", "missing/schema.json"],
        ["convert-schema", "schema.json", "missing/v3.json"],
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_the_work(work, args):
    before = snapshot(work)
    result = run_cli(*args)
    assert result.exit_code == 3, result.stderr
    line = error_line(result.stderr)
    reasons = ("is a directory", "cannot create output file (No such file or directory)", "is given for two outputs")
    assert any(reason in line for reason in reasons), line
    assert snapshot(work) == before


def test_hash_to_stdout_with_a_bad_row_prints_no_json(work):
    rows = Path("in.csv").read_text().splitlines()
    Path("bad.csv").write_text("\n".join(rows[:10] + ["99,too few"] + rows[10:]) + "\n")
    result = run_anonlink("hash", "bad.csv", "secret", "schema.json", "-", "--workers", "1")
    assert result.returncode == 3
    assert result.stdout == ""
    assert error_line(result.stderr).startswith("Error: bad.csv, row ")
    good = run_anonlink("hash", "in.csv", "secret", "schema.json", "-", "--workers", "1")
    assert good.returncode == 0, good.stderr
    assert len(json.loads(good.stdout)["clks"]) == len(rows) - 1


def test_hash_to_dev_stdout_and_dev_null_writes_through(work):
    command = [sys.executable, "-m", "anonlinkclient", "hash", "in.csv", "secret", "schema.json", "/dev/stdout"]
    with open("redirected.json", "w") as stdout:
        done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(Path("redirected.json").read_text())["clks"]) == 20
    assert run_anonlink("hash", "in.csv", "secret", "schema.json", "/dev/null").returncode == 0
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


# ---- service commands: check first, and say what was done if writing fails afterwards ----


def service_args(service):
    return ["--server", service.url, "--retry-max-time", "200", "--retry-multiplier", "1"]


def test_create_project_into_a_missing_directory_creates_no_project(entity_service, work):
    result = run_cli("create-project", *service_args(entity_service), "--schema", "schema.json", "-o", "nope/c.json")
    assert result.exit_code == 3
    assert error_line(result.stderr) == "Error: nope/c.json: cannot create output file (No such file or directory)"
    assert entity_service.requests == []
    assert entity_service.projects == {}


def test_create_into_a_missing_directory_creates_no_run(entity_service, work):
    project = new_project(RestClient(entity_service.url))
    sent = len(entity_service.requests)
    result = run_cli(
        "create",
        *service_args(entity_service),
        "--project",
        project["project_id"],
        "-t",
        "0.8",
        "-o",
        "nope/r.json",
        env={"ANONLINK_APIKEY": project["result_token"]},
    )
    assert result.exit_code == 3
    assert error_line(result.stderr) == "Error: nope/r.json: cannot create output file (No such file or directory)"
    assert len(entity_service.requests) == sent


def test_results_and_upload_into_a_directory_ask_nothing(entity_service, work):
    project = new_project(RestClient(entity_service.url))
    sent = len(entity_service.requests)
    upload = run_cli(
        "upload",
        *service_args(entity_service),
        "--project",
        project["project_id"],
        "a.json",
        "-o",
        ".",
        env={"ANONLINK_APIKEY": project["update_tokens"][0]},
    )
    results = run_cli(
        "results",
        *service_args(entity_service),
        "--project",
        project["project_id"],
        "--run",
        "r1",
        "-o",
        ".",
        env={"ANONLINK_APIKEY": project["result_token"]},
    )
    for result in (upload, results):
        assert result.exit_code == 3
        assert error_line(result.stderr) == "Error: .: is a directory; give the name of a file to write"
    assert len(entity_service.requests) == sent


def test_a_project_whose_credentials_cannot_be_written_is_named_without_its_tokens(entity_service, work):
    Path("schema.json").write_text(json.dumps(schema_document()))
    result = run_cli("create-project", *service_args(entity_service), "--schema", "schema.json", "-o", "/dev/full")
    assert result.exit_code == 3
    (project_id,) = entity_service.projects
    project = entity_service.project(project_id)
    assert error_line(result.stderr) == (
        "Error: /dev/full: cannot write output file (No space left on device), "
        f"but the project was created (project_id {project_id}); its tokens are not shown"
    )
    for token in [project.result_token, *project.update_tokens]:
        assert token not in result.stderr + result.stdout


def test_a_run_whose_description_cannot_be_written_is_named(entity_service, work):
    project = new_project(RestClient(entity_service.url))
    result = run_cli(
        "create",
        *service_args(entity_service),
        "--project",
        project["project_id"],
        "-t",
        "0.8",
        "-o",
        "/dev/full",
        env={"ANONLINK_APIKEY": project["result_token"]},
    )
    assert result.exit_code == 3
    (run_id,) = entity_service.project(project["project_id"]).runs
    assert error_line(result.stderr) == (
        "Error: /dev/full: cannot write output file (No space left on device), "
        f"but the run was created (run_id {run_id})"
    )
    assert project["result_token"] not in result.stderr
