"""The manual's CLI tutorials end to end, through the real ``anonlink`` executable, against the test Entity Service.

"Tutorial for CLI tool": status, create-project, hash and upload each party's
data, runs at several thresholds, ``results --watch``, precision and recall
from the result file, delete, delete-project. "Client side encoding with
blocking": the same with lambda-fold blocks on the CLKs and with p-sig blocks on
the personal data, uploaded directly to the service. And a 3-party ``groups``
project with blocks.

The data are the NCVR extracts in docs/tutorial/data; their ``recid`` column
identifies the person, so the true matches are known.
"""

import csv
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from tests.helpers import NCVR_20, data, tutorial

BIN = Path(sys.executable).parent
ANONLINK = [str(BIN / "anonlink")] if (BIN / "anonlink").exists() else [sys.executable, "-m", "anonlinkclient"]


def anonlink(*args, cwd, server, expect=0):
    """Run the ``anonlink`` executable; check its exit code; return (stdout, stderr)."""
    env = dict(os.environ, ANONLINK_SERVER=server)
    done = subprocess.run(
        [*ANONLINK, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == expect, f"anonlink {' '.join(map(str, args))}:\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout, done.stderr


def record_ids(path) -> List[str]:
    with open(path, newline="") as handle:
        return [row["recid"] for row in csv.DictReader(handle)]


def true_pairs(parties: List[int]) -> Set[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """Every pair of records (party, row) of different parties that are the same person."""
    where: Dict[str, List[Tuple[int, int]]] = {}
    for index, party in enumerate(parties):
        for row, recid in enumerate(record_ids(NCVR_20[party])):
            where.setdefault(recid, []).append((index, row))
    return {tuple(sorted(p)) for records in where.values() for p in itertools.combinations(records, 2)}


def found_pairs(result_file) -> Set[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """Every pair of records the service put in one group."""
    groups = json.loads(Path(result_file).read_text())["groups"]
    return {tuple(sorted(map(tuple, p))) for group in groups for p in itertools.combinations(group, 2)}


def precision_recall(found, truth) -> Tuple[float, float]:
    true_positives = len(found & truth)
    return true_positives / max(len(found), 1), true_positives / len(truth)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The three parties' CLKs, hashed with the tutorial's schema (``anonlink hash``)."""
    directory = tmp_path_factory.mktemp("tutorial")
    for name, csv_path in zip("abc", NCVR_20):
        done = subprocess.run(
            [*ANONLINK, "hash", csv_path, "secret", tutorial("novt_schema.json"), f"clks_{name}.json"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == f"CLK data written to clks_{name}.json\n"
    return directory


def create_project(run, *options) -> Dict:
    _out, err = run(
        "create-project", "--schema", tutorial("novt_schema.json"), "--output", "credentials.json", *options
    )
    assert err == "Project created\n"
    return json.loads((run.cwd / "credentials.json").read_text())


def link(run, credentials, threshold, name, parties=(0, 1)) -> Tuple[float, float]:
    """Create a run, watch it, fetch the result; return its precision and recall."""
    project = ["--project", credentials["project_id"], "--apikey", credentials["result_token"]]
    _out, err = run(
        "create", "--verbose", "--output", "run_info.json", "--threshold", threshold, *project, "--name", name
    )
    assert err == f"Connecting to Entity Matching Server: {run.server}\n"
    run_info = json.loads((run.cwd / "run_info.json").read_text())
    assert (run_info["name"], run_info["threshold"]) == (name, threshold)
    _out, err = run("results", "--watch", *project, "--run", run_info["run_id"], "--output", "results.txt")
    lines = err.splitlines()
    assert lines[0].startswith("State: ") and lines[1].startswith("Stage (")
    assert lines[-4:] == ["State: completed", "Stage (3/3): compute output", "Downloading result", "Received result"]
    run.last_run = run_info["run_id"]
    return precision_recall(found_pairs(run.cwd / "results.txt"), true_pairs(list(parties)))


class Runner:
    """``anonlink`` in the tutorial's directory against one service."""

    def __init__(self, cwd: Path, server: str) -> None:
        self.cwd = cwd
        self.server = server
        self.last_run = ""

    def __call__(self, *args, expect=0):
        return anonlink(*args, cwd=self.cwd, server=self.server, expect=expect)


def upload(run, credentials, party, clk_file, *options):
    _out, err = run(
        "upload",
        "--project",
        credentials["project_id"],
        "--apikey",
        credentials["update_tokens"][party],
        "--output",
        f"upload_{party}.json",
        *options,
        clk_file,
    )
    return err


def cleanup(run, credentials):
    project = ["--project", credentials["project_id"], "--apikey", credentials["result_token"]]
    assert run("delete", *project, "--run", run.last_run)[1] == "Run deleted\n"
    assert run("delete-project", *project)[1] == "Project deleted\n"
    err = run("delete-project", *project, expect=6)[1]
    assert err == "Error: Project deletion failed (HTTP 403): Invalid access token or project doesn't exist\n"


def test_cli_tutorial(entity_service, workdir):
    run = Runner(workdir, entity_service.url)
    status = json.loads(run("status")[0])
    assert status["status"] == "ok"

    credentials = create_project(run, "--type", "groups", "--name", "tutorial")
    assert set(credentials) == {"project_id", "result_token", "update_tokens"}
    for party, clk_file in enumerate(["clks_a.json", "clks_b.json"]):
        err = upload(run, credentials, party, clk_file)
        assert err == "Anonlink client: Uploading to the external object store - MINIO\n"  # no bar in a pipe
    assert [u.source for u in entity_service.uploads(credentials["project_id"])] == ["object-store"] * 2

    quality = {threshold: link(run, credentials, threshold, f"run {threshold}") for threshold in (0.9, 0.8, 0.7)}
    (p90, r90), (p80, r80), (p70, r70) = quality[0.9], quality[0.8], quality[0.7]
    # as the manual explains: lowering the threshold finds more true matches, then more false ones
    assert p90 >= 0.99 and r90 >= 0.7
    assert p80 >= 0.85 and r80 >= 0.95
    assert r70 >= r80 >= r90 and p70 < p80
    cleanup(run, credentials)


def test_blocking_tutorial(entity_service, workdir):
    run = Runner(workdir, entity_service.url)

    # lambda-fold blocks on the CLKs, uploaded through the object store
    for name in "ab":
        _out, err = run("block", f"clks_{name}.json", tutorial("blocking_schema.json"), f"blocks_{name}.json")
        assert "Statistics for the generated blocks:" in err
    credentials = create_project(run, "--type", "groups", "--name", "Blocking Test", "--blocked")
    for party, name in enumerate("ab"):
        err = upload(run, credentials, party, f"clks_{name}.json", "--blocks", f"blocks_{name}.json")
        assert "|#" not in err and "MB/" not in err  # no progress bar in a pipe
    received = entity_service.uploads(credentials["project_id"])
    assert [u.source for u in received] == ["object-store"] * 2
    assert all(any(blocks) for u in received for blocks in u.blocks[:1])
    precision, recall = link(run, credentials, 0.8, "Blocked run")
    assert precision >= 0.85 and recall >= 0.9
    cleanup(run, credentials)

    # p-sig blocks on the personal data, uploaded directly to the service
    for name, csv_path in zip("ab", NCVR_20):
        run("block", csv_path, data("p-sig-schema.json"), f"psig_blocks_{name}.json")
    credentials = create_project(run, "--type", "groups", "--name", "Blocking Test", "--blocked")
    for party, name in enumerate("ab"):
        err = upload(
            run, credentials, party, f"clks_{name}.json", "--blocks", f"psig_blocks_{name}.json", "--to_entityservice"
        )
        assert err == "Anonlink client: Uploading to entity service\n"
    assert [u.source for u in entity_service.uploads(credentials["project_id"])] == ["clknblocks"] * 2
    precision, recall = link(run, credentials, 0.8, "Psig Blocked run")
    assert precision >= 0.85 and recall >= 0.9
    cleanup(run, credentials)


def test_three_party_groups_project_with_blocks(entity_service, workdir):
    run = Runner(workdir, entity_service.url)
    for name, csv_path in zip("abc", NCVR_20):
        run("block", csv_path, data("p-sig-schema.json"), f"psig3_blocks_{name}.json")
    credentials = create_project(run, "--type", "groups", "--parties", "3", "--blocked", "--name", "3 parties")
    assert len(credentials["update_tokens"]) == 3
    for party, name in enumerate("abc"):
        upload(run, credentials, party, f"clks_{name}.json", "--blocks", f"psig3_blocks_{name}.json")
    assert entity_service.clk_counts(credentials["project_id"]) == {0: 5000, 1: 5000, 2: 5000}
    precision, recall = link(run, credentials, 0.8, "three parties", parties=(0, 1, 2))
    groups = json.loads((workdir / "results.txt").read_text())["groups"]
    assert any(len(group) == 3 for group in groups)
    assert precision >= 0.85 and recall >= 0.9
    cleanup(run, credentials)
