"""Small helpers shared by the tests: paths to bundled data and running the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Optional

from click.testing import CliRunner, Result

from anonlinkclient.cli import cli

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
TUTORIAL_DATA = ROOT / "docs" / "tutorial" / "data"
NCVR_20 = [TUTORIAL_DATA / f"ncvr_numrec_5000_modrec_2_ocp_20_myp_{party}_nump_10.csv" for party in range(3)]


def data(name: str) -> str:
    """Path (as a string) of a file in tests/data."""
    return str(TEST_DATA / name)


def tutorial(name: str) -> str:
    """Path (as a string) of a file in docs/tutorial/data."""
    return str(TUTORIAL_DATA / name)


def run_cli(*args: Any, env: Optional[dict] = None, input: Optional[str] = None) -> Result:
    """Invoke ``anonlink ARGS`` in-process with click's CliRunner (stderr kept apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, input=input, catch_exceptions=False)


def run_anonlink(
    *args: Any, env: Optional[dict] = None, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess:
    """Run ``python -m anonlinkclient ARGS`` as a real subprocess and capture its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "anonlinkclient", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        **kwargs,
    )


def load_clks(path: Any) -> List[str]:
    """The ``clks`` list of a CLK JSON file."""
    with open(path) as handle:
        clks: List[str] = json.load(handle)["clks"]
    return clks
