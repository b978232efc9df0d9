"""The threshold report of an Entity Service ``similarity_scores`` result, fetched with ``anonlink results``."""

import json
import re
from pathlib import Path

from anonlinkclient.service.rest_client import RestClient
from tests.helpers import noisy, random_clks, run_cli, write_clk_file
from tests.service.helpers import new_project


def test_a_similarity_scores_run_of_the_entity_service(entity_service, tmp_path: Path):
    client = RestClient(entity_service.url)
    credentials = new_project(client, result_type="similarity_scores")
    base = random_clks(60, size=128, seed=21)
    parties = (base[:50] + random_clks(10, size=128, seed=22), noisy(base[10:], flips=140, seed=23))
    for token, clks, name in zip(credentials["update_tokens"], parties, "ab"):
        with open(write_clk_file(tmp_path / f"{name}.json", clks), "rb") as handle:
            client.project_upload_clks(credentials["project_id"], token, handle)
    env = {"ANONLINK_APIKEY": credentials["result_token"], "ANONLINK_SERVER": entity_service.url}
    run_file = tmp_path / "run.json"
    created = run_cli(
        "create", "--project", credentials["project_id"], "--threshold", "0.5", "--name", "r", "-o", run_file, env=env
    )
    assert created.exit_code == 0, created.stderr
    scores = tmp_path / "scores.json"
    fetched = run_cli(
        "results",
        "--watch",
        "--project",
        credentials["project_id"],
        "--run",
        json.loads(run_file.read_text())["run_id"],
        "-o",
        scores,
        env=env,
    )
    assert fetched.exit_code == 0, fetched.stderr
    assert "similarity_scores" in json.loads(scores.read_text())

    truth = tmp_path / "truth.csv"
    truth.write_text("row_a,row_b\n" + "".join(f"{row},{row - 10}\n" for row in range(10, 50)))
    report = tmp_path / "report.html"
    result = run_cli(
        "threshold-report", scores, report, "--truth", truth, "--clk", tmp_path / "a.json", "--clk", tmp_path / "b.json"
    )
    assert result.exit_code == 0, result.stderr
    found = re.search(
        r"Best threshold [0-9.]+: F-measure 1.000, precision 1.000, recall 1.000 \(40 links, 40 of them true\)",
        result.stderr,
    )
    assert found, result.stderr
    assert 'data-role="best-threshold"' in report.read_text()
