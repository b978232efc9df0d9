"""The ``anonlink`` command group itself: its help, version, ``python -m``, and what it refuses."""

import re
import subprocess
import sys

from anonlinkclient import __version__
from tests.helpers import run_anonlink, run_cli

LOCAL_COMMANDS = [
    "benchmark",
    "compare",
    "compare-schema",
    "convert-schema",
    "describe",
    "encode",
    "generate",
    "generate-default-schema",
    "hash",
    "validate-schema",
]


def test_help_lists_every_command_and_global_options():
    result = run_cli("--help")
    assert result.exit_code == 0
    for name in LOCAL_COMMANDS:
        assert re.search(rf"^  {re.escape(name)}\s", result.stdout, re.M), name
    assert "--version" in result.stdout and "-v, --verbose" in result.stdout


def test_version_and_python_dash_m():
    assert run_cli("--version").stdout == f"anonlink, version {__version__}\n"
    done = run_anonlink("--version")
    assert done.returncode == 0 and done.stdout == f"anonlink, version {__version__}\n"


def test_help_does_not_import_heavy_libraries():
    heavy = ("clkhash", "blocklib", "anonlink", "numpy", "requests", "minio")
    probe = subprocess.run(
        [sys.executable, "-c", f"import sys, anonlinkclient.cli; print([m for m in {heavy!r} if m in sys.modules])"],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "[]"


def test_unknown_command_and_missing_argument_are_usage_errors():
    result = run_cli("hashh")
    assert result.exit_code == 2 and "No such command 'hashh'" in result.stderr
    result = run_cli("hash", "a.csv", "secret", "schema.json")
    assert result.exit_code == 2 and "Missing argument 'CLK_JSON'" in result.stderr
