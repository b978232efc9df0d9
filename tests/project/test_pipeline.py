"""azurePipeline.yml parses, has the stages the Devops docs describe, and runs the
same test command as .ci/run and the README."""

import re
from typing import Any, Dict, List

import yaml

from tests.helpers import ROOT

PIPELINE = ROOT / "azurePipeline.yml"


def pipeline() -> Dict[str, Any]:
    document: Dict[str, Any] = yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))
    return document


def stage(display_name: str) -> Dict[str, Any]:
    stages = {s["displayName"]: s for s in pipeline()["stages"]}
    found: Dict[str, Any] = stages[display_name]
    return found


def scripts(job: Dict[str, Any]) -> List[str]:
    return [step.get("script") or step.get("bash") for step in job["steps"] if "script" in step or "bash" in step]


def ci_test_command() -> str:
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line]
    assert len(lines) == 1, ".ci/run has one line that runs the tests"
    return lines[0].strip()


def test_ci_run_and_readme_name_the_same_test_command() -> None:
    readme_blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert ci_test_command() in [block.strip() for block in readme_blocks]


def test_pipeline_has_the_three_stages() -> None:
    assert [s["displayName"] for s in pipeline()["stages"]] == ["Static Checks", "Unit tests", "Packaging"]


def test_static_checks_run_mypy_and_ruff_and_tag_automated_builds() -> None:
    (job,) = stage("Static Checks")["jobs"]
    steps = scripts(job)
    assert "python -m mypy anonlinkclient" in steps
    assert "python -m ruff check && python -m ruff format --check" in steps
    tag_step = next(step for step in job["steps"] if "Automated" in step.get("script", ""))
    assert "refs/tags/" in tag_step["condition"]


def test_unit_tests_run_the_ci_command_on_linux_macos_and_windows() -> None:
    jobs = {job["job"]: job for job in stage("Unit tests")["jobs"]}
    command = ci_test_command()
    assert command in scripts(jobs["posix"])
    windows_command = command.replace("python3 -m", "python -m").replace(".venv/bin/", ".venv\\Scripts\\")
    assert windows_command.replace("'.[test]'", ".[test]") in scripts(jobs["windows"])

    posix = jobs["posix"]["strategy"]["matrix"].values()
    windows = jobs["windows"]["strategy"]["matrix"].values()
    images = {entry["imageName"] for entry in posix} | {jobs["windows"]["pool"]["vmImage"]}
    assert images == {"ubuntu-latest", "macos-latest", "windows-latest"}
    versions = {"3.10", "3.11"}
    for image in ("ubuntu-latest", "macos-latest"):
        assert {e["python.version"] for e in posix if e["imageName"] == image} == versions
    assert {e["python.version"] for e in windows if e["python.arch"] == "x64"} == versions
    assert {e["python.arch"] for e in windows} == {"x64", "x86"}


def test_python_versions_tested_are_within_those_setup_py_allows() -> None:
    setup_text = (ROOT / "setup.py").read_text()
    low, high = re.search(r'python_requires=">=3\.(\d+),<3\.(\d+)"', setup_text).groups()  # type: ignore[union-attr]
    for entry in stage("Unit tests")["jobs"][0]["strategy"]["matrix"].values():
        assert int(low) <= int(entry["python.version"].split(".")[1]) < int(high)


def test_packaging_builds_dists_and_frozen_executables() -> None:
    jobs = {job["job"]: job for job in stage("Packaging")["jobs"]}
    assert any("python -m build" in script for script in scripts(jobs["dists"]))
    assert any("pyinstaller cli.spec" in script for script in scripts(jobs["executables"]))
    targets = jobs["executables"]["strategy"]["matrix"].values()
    assert {(t["imageName"], t["python.arch"], t["exeName"]) for t in targets} >= {
        ("windows-latest", "x64", "anonlink.exe"),
        ("windows-latest", "x86", "anonlink.exe"),
        ("ubuntu-latest", "x64", "anonlink"),
    }
    release_steps = jobs["release"]["steps"]
    assert {"publish": "$(Build.ArtifactStagingDirectory)/release", "artifact": "Release"} in release_steps
    assert set(stage("Packaging")["dependsOn"]) == {"static_checks", "unit_tests"}
