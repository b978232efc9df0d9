"""The secrets guard itself: a leak anywhere fails the test, and allowed files are exempt."""

import pytest

from tests.helpers import ROOT

INNER_CONFTEST = 'pytest_plugins = ["tests.secrets_guard"]\n'


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(INNER_CONFTEST)
    return pytester


def test_printed_secret_fails_the_test(inner):
    inner.makepyfile(
        """
        from tests.secrets_guard import register_secret
        def test_leaks():
            register_secret("hunter2-secret")
            print("debug: hunter2-secret")
        """
    )
    result = inner.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["secret leaked:", "  Captured stdout call: contains a secret (hun...)"])


def test_secret_in_an_output_file_fails_unless_allowed(inner):
    inner.makepyfile(
        """
        from tests.secrets_guard import allow_secret_file, register_secret
        def test_file_leak(tmp_path):
            register_secret("hunter2-secret")
            (tmp_path / "out.json").write_text("hunter2-secret")
        def test_allowed_file(tmp_path):
            register_secret("hunter2-secret")
            (tmp_path / "credentials.json").write_text("hunter2-secret")
            allow_secret_file(tmp_path / "credentials.json")
        def test_recorded_command_output():
            from tests.secrets_guard import record_output
            register_secret("hunter2-secret")
            record_output("anonlink status stderr", "token hunter2-secret")
        """
    )
    result = inner.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*out.json: contains a secret*"])
    result.stdout.fnmatch_lines(["*anonlink status stderr: contains a secret*"])
