"""A pytest plugin that fails any test in which a secret leaked.

After every passing test it gathers what the test could have shown a user:

* the stdout and stderr of every command run through :func:`tests.helpers.run_cli`
  and :func:`tests.helpers.run_anonlink` (both call :func:`record_output`);
* everything printed or logged in-process (pytest's captured sections);
* every file the test left under its ``tmp_path``, except files the user asked
  to hold credentials (the ``-o`` files of ``create-project``, ``create`` and
  ``upload``, registered with :func:`allow_secret_file`);

and looks in all of it for every secret known for the test:

* the API tokens and temporary object-store credentials the test Entity Service
  issued (result tokens, upload tokens, receipt tokens, SecretAccessKey,
  SessionToken), when the test used the ``entity_service`` fixture;
* hashing secrets the test registered with :func:`register_secret`.

A leak turns the test's result into a failure naming where the secret appeared.
"""

from pathlib import Path
from typing import Any, Iterator, List, Set, Tuple

import pytest

_outputs: List[Tuple[str, str]] = []
_secrets: Set[str] = set()
_allowed_files: Set[Path] = set()

MAX_FILE_BYTES = 64 * 2**20
MIN_SECRET_LENGTH = 6


def record_output(label: str, text: str) -> None:
    """Remember output a command showed the user, to be scanned after the test."""
    _outputs.append((label, text))


def register_secret(value: str) -> None:
    """Declare a value that must never appear in any output of the current test."""
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError("use a distinctive secret of 6 or more characters so the scan means something")
    _secrets.add(value)


def allow_secret_file(path: Any) -> None:
    """A file the user asked to hold credentials (e.g. ``create-project -o``): not scanned."""
    _allowed_files.add(Path(path).resolve())


def _service_secrets(service: Any) -> Iterator[str]:
    for project in service.projects.values():
        yield project.result_token
        for party in project.parties:
            yield party.update_token
            if party.upload is not None:
                yield party.upload.receipt_token
            yield from party.issued_access_keys.values()
            access = party.object_store_access or {}
            token = access.get("credentials", {}).get("SessionToken")
            if token:
                yield token


def _texts(item: pytest.Item, report: pytest.TestReport) -> Iterator[Tuple[str, str]]:
    yield from _outputs
    yield from report.sections
    tmp_path = item.funcargs.get("tmp_path") if hasattr(item, "funcargs") else None
    if isinstance(tmp_path, Path) and tmp_path.exists():
        for path in sorted(tmp_path.rglob("*")):
            if path.is_file() and path.resolve() not in _allowed_files and path.stat().st_size <= MAX_FILE_BYTES:
                yield str(path), path.read_bytes().decode("utf-8", errors="replace")


def find_leaks(item: pytest.Item, report: pytest.TestReport) -> List[str]:
    """Where each known secret of the test appeared (empty if nowhere)."""
    secrets = set(_secrets)
    service = getattr(item, "funcargs", {}).get("entity_service")
    if service is not None:
        secrets.update(s for s in _service_secrets(service) if s)
    if not secrets:
        return []
    return [
        f"{label}: contains a secret ({secret[:3]}...)"
        for label, text in _texts(item, report)
        for secret in secrets
        if secret in text
    ]


def pytest_runtest_setup(item: pytest.Item) -> None:
    _outputs.clear()
    _secrets.clear()
    _allowed_files.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "call" and report.passed:
        leaks = find_leaks(item, report)
        if leaks:
            report.outcome = "failed"
            report.longrepr = "secret leaked:\n  " + "\n  ".join(leaks)
