"""Type checks (mypy, with the manual's flags and stricter ones from pyproject.toml) and
lint (ruff) of the whole project, as part of the test command."""

import subprocess
import sys

from tests.helpers import ROOT

# The flags the manual's Development section gives; pyproject.toml adds stricter ones.
MANUAL_MYPY_FLAGS = [
    "--ignore-missing-imports",
    "--strict-optional",
    "--no-implicit-optional",
    "--disallow-untyped-calls",
]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_mypy_passes_with_the_manuals_flags_and_the_project_config() -> None:
    result = run(sys.executable, "-m", "mypy", *MANUAL_MYPY_FLAGS, "anonlinkclient")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found")


def test_pyproject_mypy_config_is_at_least_as_strict_as_the_manual() -> None:
    config = (ROOT / "pyproject.toml").read_text()
    for flag in MANUAL_MYPY_FLAGS + ["--disallow-untyped-defs"]:
        assert f"{flag[2:].replace('-', '_')} = true" in config


def test_ruff_check_is_clean() -> None:
    result = run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = run(sys.executable, "-m", "ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr
