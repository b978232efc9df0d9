"""Every command block of the README runs as written, in order, as a newcomer would paste it.

Each fenced block is preceded by a marker saying how it is run:

* ``setup-main``: the main job, in a fresh copy of the repository (its own venv and ``pip install .``);
* ``setup-tests``: the test command, which must be exactly what ``.ci/run`` runs (it is running now);
* ``run``: in one bash session, in order, in a fresh folder whose ``.venv`` is this test's virtual environment;
* ``background``: started as a second terminal would run it, and stopped at the end.
"""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import List, Set, Tuple

import pytest

from tests.helpers import ROOT

README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- readme-test: (?P<kind>[a-z-]+) -->\n```sh\n(?P<code>.*?)```", re.S)


def blocks() -> List[Tuple[str, str]]:
    """``(kind, code)`` of every marked command block, in README order."""
    return [(m["kind"], m["code"]) for m in BLOCK.finditer(README.read_text(encoding="utf-8"))]


def test_every_command_block_is_marked_for_this_test() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count("```sh\n") == len(blocks()) == text.count("<!-- readme-test:")
    assert re.findall(r"^```(?!sh$)\w*$", text, re.M) == ["```"] * text.count("```sh\n")  # only sh blocks
    assert {kind for kind, _ in blocks()} == {"setup-main", "setup-tests", "run", "background"}


def test_the_test_command_is_what_ci_runs() -> None:
    (code,) = [code for kind, code in blocks() if kind == "setup-tests"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert code.strip() == ci


def true_pairs(path: Path) -> Set[Tuple[int, int]]:
    with open(path, newline="") as handle:
        return {(int(row["row_a"]), int(row["row_b"])) for row in csv.DictReader(handle)}


def linked_pairs(path: Path) -> Set[Tuple[int, int]]:
    groups = json.loads(path.read_text())["groups"]
    return {tuple(row for _party, row in sorted(group)) for group in groups if len(group) == 2}  # type: ignore[misc]


@pytest.mark.slow
def test_first_steps_run_as_written(tmp_path: Path) -> None:
    """The README's first steps, pasted in order into one shell: demo data to a linked result, locally and
    through the test Entity Service."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    script: List[str] = ["set -euo pipefail"]
    service = None
    for kind, code in blocks():
        if kind == "background":
            assert service is None
            script.append("true  # (the service started here)")
            service = code.strip()
        elif kind == "run":
            script.append(code)
    assert service is not None
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANONLINK_", "VIRTUAL_ENV"))}
    background = subprocess.Popen(
        ["bash", "-c", service], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert background.stdout is not None
        assert background.stdout.readline().strip() == "ENTITY_SERVICE_URL=http://127.0.0.1:8851"
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600
        )
    finally:
        background.send_signal(signal.SIGINT)
        background.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    truth = true_pairs(tmp_path / "truth.csv")
    assert len(truth) == 500
    local = linked_pairs(tmp_path / "groups.json")  # find-similarity at 0.8 ran last
    service_result = linked_pairs(tmp_path / "result.json")
    for found in (local, service_result):
        correct = len(found & truth)
        assert 420 <= correct <= 480, correct  # "about 450 of the 500 shared people are found"
        assert correct / len(found) >= 0.97  # "nearly all of them correctly"
    assert done.stdout.startswith("anonlink, version ")
    assert "schema is valid" in done.stdout
    assert "best threshold" in done.stdout.lower() or "best threshold" in done.stderr.lower()
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert (tmp_path / "blocks.html").exists()
    credentials = tmp_path / "credentials.json"
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    for token in json.loads(credentials.read_text())["update_tokens"]:
        assert token not in done.stdout + done.stderr


@pytest.mark.slow
def test_the_main_job_runs_as_written_in_a_fresh_clone(tmp_path: Path) -> None:
    """Set-up 1 in a copy of the repository's tracked files: its own venv, ``pip install .``, hash, describe."""
    (code,) = [code for kind, code in blocks() if kind == "setup-main"]
    clone = tmp_path / "clone"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(sys.prefix))
    done = subprocess.run(["bash", "-c", code], cwd=clone, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CLK data written to clks.json" in done.stderr
    assert "observations: 5000" in done.stdout
    assert "mean : 328.055" in done.stdout
    assert (clone / "clks.json").exists()
    ignored = subprocess.run(["git", "check-ignore", "clks.json"], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.strip() == "clks.json"  # the main job leaves nothing for git to show
