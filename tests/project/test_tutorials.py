"""Run every tutorial notebook in docs/tutorial with nbmake, as a reader would.

Each notebook runs on a copy of docs/tutorial (so the files it writes stay out of
the repository) in a fresh kernel, with ``anonlink`` on the PATH. The notebooks
that use an Entity Service get the test Entity Service, started in a subprocess,
through ``ANONLINK_SERVER``, the variable the service commands read. The executed
copy must show the same precision and recall as the outputs saved in the
repository's notebook, which the documentation renders.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from tests.helpers import ROOT

TUTORIALS = ROOT / "docs" / "tutorial"
NOTEBOOKS = sorted(path.name for path in TUTORIALS.glob("*.ipynb"))
USES_SERVICE = {"tutorial_cli.ipynb", "tutorial_blocking.ipynb"}
QUALITY = re.compile(r"[Pp]recision: ?[0-9.]+,? [Rr]ecall: ?[0-9.]+")


def quality_lines(notebook: Path) -> List[str]:
    """Every 'precision: ..., recall: ...' figure in the notebook's outputs, in order."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found: List[str] = []
    for cell in cells:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
            found += QUALITY.findall(text)
    return found


def test_the_manuals_four_tutorials_and_the_threshold_tutorial_are_there() -> None:
    assert NOTEBOOKS == [
        "multiparty_linkage.ipynb",
        "tutorial_api.ipynb",
        "tutorial_blocking.ipynb",
        "tutorial_cli.ipynb",
        "tutorial_threshold.ipynb",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_tutorial_runs_and_reproduces_its_precision_and_recall(
    notebook: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    work = tmp_path / "tutorial"
    shutil.copytree(TUTORIALS / "data", work / "data")
    shutil.copy(TUTORIALS / notebook, work / notebook)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("ANONLINK_SERVER", None)
    if notebook in USES_SERVICE:
        env["ANONLINK_SERVER"] = request.getfixturevalue("entity_service_process").url

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "--overwrite", "-p", "no:cacheprovider", "-q", notebook],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout

    figures = quality_lines(work / notebook)
    assert figures, "the tutorial shows no precision and recall"
    assert figures == quality_lines(TUTORIALS / notebook)
