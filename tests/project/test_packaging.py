"""``python -m build`` makes a wheel and an sdist that install into a clean venv and run.

The source tree is copied first, so the build leaves nothing behind in the
repository. Each clean venv gets only the package (``--no-deps``); its
dependencies come from this test environment's site-packages, added as a plain
path entry (not a site directory, so the editable install of the working tree
stays invisible), which avoids downloading them again.
"""

import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

import anonlinkclient
from tests.helpers import ROOT, TEST_DATA, TUTORIAL_DATA

pytestmark = pytest.mark.slow

IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "_build", ".hypothesis"
)


def run(*command: object, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The wheel and sdist ``python -m build`` makes from a copy of the source tree."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    run(sys.executable, "-m", "build", "--outdir", base / "dist", source, cwd=base)
    (wheel,) = (base / "dist").glob("*.whl")
    (sdist,) = (base / "dist").glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def clean_venv(where: Path) -> Path:
    """A new venv whose only extra path entry is this environment's site-packages; returns its python."""
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site_packages = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=where)
    Path(site_packages.stdout.strip(), "test-environment-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def installed_and_working(python: Path, dist: Path, work: Path) -> None:
    """Install ``dist`` without dependencies, then run the installed ``anonlink``."""
    run(python, "-m", "pip", "install", "--no-deps", "--no-input", "--disable-pip-version-check", dist, cwd=work)
    where = run(python, "-c", "import anonlinkclient; print(anonlinkclient.__file__)", cwd=work).stdout
    assert Path(where.strip()).is_relative_to(python.parent.parent), "the installed copy is imported"
    anonlink = python.parent / ("anonlink.exe" if sys.platform == "win32" else "anonlink")

    version = run(anonlink, "--version", cwd=work)
    assert version.stdout == f"anonlink, version {anonlinkclient.__version__}\n"

    csv = TUTORIAL_DATA / "ncvr_numrec_5000_modrec_2_ocp_20_myp_0_nump_10.csv"
    hashed = run(anonlink, "hash", csv, "secret", TUTORIAL_DATA / "novt_schema.json", work / "clks.json", cwd=work)
    assert hashed.stderr == f"CLK data written to {work / 'clks.json'}\n"
    described = run(anonlink, "describe", work / "clks.json", cwd=work)
    assert "observations: 5000" in described.stdout
    # The blocking schema ships inside the package: a schema error is found by it.
    bad = work / "bad-blocking.json"
    bad.write_text('{"type": "lambda-fold", "version": 1, "config": {}}')
    failed = subprocess.run(
        [str(anonlink), "block", str(work / "clks.json"), str(bad), str(work / "blocks.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 4 and failed.stderr.startswith("Error: "), failed.stderr
    assert not (work / "blocks.json").exists()
    blocked = run(anonlink, "block", work / "clks.json", TUTORIAL_DATA / "blocking_schema.json", "-", cwd=work)
    assert '"blocks"' in blocked.stdout
    # The default linkage and blocking schemas of the demo data ship inside the package too.
    run(
        anonlink,
        "generate-default-schema",
        "s.json",
        "--blocking-psig",
        "p.json",
        "--blocking-lambda-fold",
        "l.json",
        cwd=work,
    )
    run(anonlink, "generate", 50, "a.csv", "--linked", "b.csv", "--truth", "t.csv", cwd=work)
    run(anonlink, "hash", "b.csv", "secret", "s.json", "b.json", cwd=work)
    assert '"blocks"' in run(anonlink, "block", "b.csv", "p.json", "-", cwd=work).stdout
    assert '"blocks"' in run(anonlink, "block", "b.json", "l.json", "-", cwd=work).stdout


def names(dist: Path) -> List[str]:
    if dist.suffix == ".whl":
        return zipfile.ZipFile(dist).namelist()
    with tarfile.open(dist) as archive:
        return archive.getnames()


def test_build_makes_a_wheel_and_an_sdist_with_the_package_data(dists: Dict[str, Path]) -> None:
    # The distribution is "anonlink-client" (pip install anonlink-client), the package "anonlinkclient".
    assert dists["wheel"].name == f"anonlink_client-{anonlinkclient.__version__}-py3-none-any.whl"
    wheel = names(dists["wheel"])
    for path in (
        "anonlinkclient/cli/__init__.py",
        "anonlinkclient/py.typed",
        "anonlinkclient/schemas/blocking-schema.json",
        "anonlinkclient/synthetic/data/default-linkage-schema.json",
        "anonlinkclient/synthetic/data/default-psig-blocking-schema.json",
        "anonlinkclient/synthetic/data/default-lambda-fold-blocking-schema.json",
    ):
        assert path in wheel
    assert not [name for name in wheel if name.startswith("tests/")]
    sdist = names(dists["sdist"])
    for path in ("setup.py", "README.md", "anonlinkclient/cli/__init__.py", "schemas/blocking-schema.json"):
        assert any(name.endswith("/" + path) for name in sdist), path


def test_wheel_installs_and_runs_in_a_clean_venv(dists: Dict[str, Path], tmp_path: Path) -> None:
    installed_and_working(clean_venv(tmp_path / "venv"), dists["wheel"], tmp_path)


def test_sdist_installs_and_runs_in_a_clean_venv(dists: Dict[str, Path], tmp_path: Path) -> None:
    installed_and_working(clean_venv(tmp_path / "venv"), dists["sdist"], tmp_path)


def test_build_leaves_the_repository_untouched() -> None:
    assert not (ROOT / "dist").exists() or not list((ROOT / "dist").glob("anonlink_client-*"))
    assert (TEST_DATA / "small.csv").exists()
