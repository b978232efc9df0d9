"""Numbers that are not numbers: NaN and infinity are usage errors wherever a number is taken.

Click's float ranges let ``nan`` through (it compares false with both bounds),
so ``find-similarity nan`` used to link nothing and exit 0, and ``create -t nan``
sent invalid JSON to the service.
"""

import math

import pytest

from anonlinkclient.errors import UsageError
from anonlinkclient.linkage.similarity import find_similarity
from anonlinkclient.service.rest_client import RestClient
from tests.helpers import data, run_anonlink, run_cli

NOT_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"]


def usage_error(stderr: str) -> str:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("Error:")][-1]


@pytest.mark.parametrize("value", NOT_FINITE)
def test_find_similarity_refuses_a_threshold_that_is_not_a_number(tmp_path, value):
    out = tmp_path / "groups.json"
    clks = data("small_clk.json")
    result = run_cli("find-similarity", "--clk", clks, "--clk", clks, "--", value, out)
    assert result.exit_code == 2
    assert usage_error(result.stderr) == f"Error: Invalid value for 'THRESHOLD': {value!r} is not a finite number."
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", NOT_FINITE)
def test_create_refuses_a_threshold_that_is_not_a_number(entity_service, value):
    result = run_cli(
        "create", "--server", entity_service.url, "--project", "p", "-t", value, env={"ANONLINK_APIKEY": "token"}
    )
    assert result.exit_code == 2
    assert (
        usage_error(result.stderr)
        == f"Error: Invalid value for '-t' / '--threshold': {value!r} is not a finite number."
    )
    assert entity_service.requests == []


@pytest.mark.parametrize("value", NOT_FINITE)
def test_timeout_refuses_what_is_not_a_number_from_the_option_and_the_environment(value):
    expected = f"Error: Invalid value for '--timeout' (env var: 'ANONLINK_TIMEOUT'): {value!r} is not a finite number."
    given = run_cli("status", "--server", "http://127.0.0.1:9", "--timeout", value)
    assert given.exit_code == 2
    assert usage_error(given.stderr) == expected
    from_env = run_anonlink("status", "--server", "http://127.0.0.1:9", env={"ANONLINK_TIMEOUT": value})
    assert from_env.returncode == 2
    assert usage_error(from_env.stderr) == expected


def test_finite_numbers_out_of_range_keep_click_s_message(tmp_path):
    result = run_cli("find-similarity", "--clk", "a", "--clk", "b", "1.5", tmp_path / "g.json")
    assert result.exit_code == 2
    assert "1.5 is not in the range 0.0<=x<=1.0" in usage_error(result.stderr)


@pytest.mark.parametrize("threshold", [math.nan, math.inf, -0.1, 1.5])
def test_the_library_refuses_such_thresholds_too(tmp_path, threshold):
    clks = data("small_clk.json")
    with pytest.raises(UsageError, match="the threshold must be a number from 0 to 1"):
        find_similarity(threshold, [(clks, None), (clks, None)], str(tmp_path / "g.json"))
    with pytest.raises(UsageError, match="the threshold must be above 0 and at most 1"):
        RestClient("http://127.0.0.1:9").run_create("p", "token", threshold, "run")
    assert list(tmp_path.iterdir()) == []
