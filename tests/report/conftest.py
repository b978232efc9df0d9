"""Fixtures of the report tests: Debian's chromium for the browser tests, and made-up linkages.

The browser tests need a real browser. When ``/usr/bin/chromium`` is missing,
the ``chromium`` fixture installs Debian's package (CI runs as root on Debian);
if that is impossible the tests fail, they are never skipped.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.report.made_up import Linkage, make_linkage

CHROMIUM = "/usr/bin/chromium"


def _install_chromium() -> str:
    """Install Debian's chromium with apt-get; return what went wrong, or "" if it worked."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available (the browser tests need Debian's chromium package)"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "installing chromium needs root: run 'apt-get install -y chromium' as root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()[-2000:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's chromium, installed if missing; the test fails if it cannot be."""
    if not os.path.exists(CHROMIUM):
        problem = _install_chromium()
        if problem or not os.path.exists(CHROMIUM):
            pytest.fail(f"the browser tests need {CHROMIUM}, and it could not be installed: {problem}")
    return CHROMIUM


@pytest.fixture
def linkage(tmp_path: Path) -> Linkage:
    """A made-up two-party linkage: scores.json and truth.csv in tmp_path."""
    return make_linkage(tmp_path)
