"""The one retry policy (``settings.Retry``) and what it drives: busy-service retries, object-store
parts, expired credentials and polling; and that settings needs nothing from the client."""

import subprocess
import sys
import time

import pytest

from anonlinkclient.errors import CredentialsExpired, ObjectStoreError, UsageError
from anonlinkclient.service.objectstore import PartRetry
from anonlinkclient.service.rest_client import ClientWaitingConfiguration, RestClient
from anonlinkclient.service.settings import Retry
from anonlinkclient.service.upload import REFRESH_MESSAGE, UploadOptions, upload_encodings
from tests.helpers import ROOT, random_clks, write_clk_file


def test_the_waits_double_up_to_the_longest():
    policy = Retry(multiplier_ms=100, exponential_max_ms=1000)
    assert [policy.wait_ms(n) for n in range(1, 6)] == [200, 400, 800, 1000, 1000]
    assert Retry() == Retry(100, 10000, 20000, 3, 1)  # the defaults the CLI shows
    assert Retry(max_time_ms=1500).max_time_seconds == 1.5


@pytest.mark.parametrize("name", ["multiplier_ms", "exponential_max_ms", "max_time_ms", "part_resends"])
def test_a_negative_number_is_refused(name):
    with pytest.raises(UsageError, match=f"^{name} must be a whole number, not negative, not -1$"):
        Retry(**{name: -1})


def test_call_retries_what_it_is_told_to_until_the_time_is_up():
    policy = Retry(multiplier_ms=5, exponential_max_ms=20, max_time_ms=200)
    failures = []

    def busy():
        raise KeyError("busy")

    started = time.monotonic()
    with pytest.raises(KeyError):
        policy.call(busy, lambda exc: isinstance(exc, KeyError), failures.append)
    assert 0.2 <= time.monotonic() - started < 2
    assert failures[:4] == [1, 2, 3, 4] and len(failures) >= 8  # waits of 10, 20, 20, ... ms

    tries = []

    def broken():
        tries.append(1)
        raise ValueError("not asked again")

    with pytest.raises(ValueError):
        policy.call(broken, lambda exc: isinstance(exc, KeyError))
    assert tries == [1]
    answers = iter([KeyError("busy"), "done"])

    def then_done():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert policy.call(then_done, lambda exc: isinstance(exc, KeyError)) == "done"


def test_object_store_parts_wait_as_the_policy_says():
    retries = PartRetry.of(Retry(multiplier_ms=50, exponential_max_ms=150, part_resends=4))
    waits = []
    for _ in range(4):
        retries = retries.increment(method="PUT", url="/bucket/part", error=ConnectionResetError())
        waits.append(retries.get_backoff_time())
    assert waits == [0.1, 0.15, 0.15, 0.15]
    with pytest.raises(Exception, match="Max retries exceeded"):
        retries.increment(method="PUT", url="/bucket/part", error=ConnectionResetError())


def test_the_manuals_waiting_configuration_is_a_view_of_the_policy():
    waiting = ClientWaitingConfiguration(10, 200, 3000)
    assert waiting.retry == Retry(10, 200, 3000)
    assert (waiting.wait_exponential_multiplier_ms, waiting.wait_exponential_max_ms, waiting.stop_max_delay_ms) == (
        10,
        200,
        3000,
    )
    policy = Retry(part_resends=9)
    assert ClientWaitingConfiguration.of(policy).retry is policy
    assert RestClient("http://127.0.0.1:9", ClientWaitingConfiguration.of(policy)).retry is policy


def test_settings_import_nothing_of_the_client():
    code = (
        "import sys\n"
        "from anonlinkclient.service.settings import Retry, ServiceSettings\n"
        "ServiceSettings(retry=Retry(part_resends=1))\n"
        "print(sorted(m for m in sys.modules if m.startswith('anonlinkclient')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert (
        done.stdout
        == "['anonlinkclient', 'anonlinkclient.errors', 'anonlinkclient.service', 'anonlinkclient.service.settings']\n"
    )


# ---- what the policy drives, through a faulty object store ----


@pytest.fixture
def through_proxy(monkeypatch, s3_proxy):
    monkeypatch.setenv("UPLOAD_OBJECT_STORE_SERVER", s3_proxy.url)
    return s3_proxy


def upload_with(entity_service, project, tmp_path, policy):
    clk_file = str(write_clk_file(tmp_path / "clks.json", random_clks(5)))
    client = RestClient(entity_service.url, policy)
    options = UploadOptions(progress=False)
    return upload_encodings(client, project["project_id"], project["update_tokens"][0], clk_file, options=options)


def test_part_resends_follow_the_policy(entity_service, project, tmp_path, through_proxy):
    through_proxy.deny(None, status=500, code="InternalError", message="Try again.", method="PUT")
    with pytest.raises(ObjectStoreError, match="failed: InternalError: Try again.$"):
        upload_with(entity_service, project, tmp_path, Retry(multiplier_ms=1, part_resends=1))
    assert [r.status for r in through_proxy.requests_to("PUT")] == [500, 500]


def test_credential_renewals_follow_the_policy(entity_service, project, tmp_path, through_proxy, caplog):
    through_proxy.deny(None, status=400, code="ExpiredToken", message="The provided token has expired.")
    with pytest.raises(CredentialsExpired):
        upload_with(entity_service, project, tmp_path, Retry(credential_renewals=2))
    assert len(entity_service.requests_to("authorize-external-upload")) == 3
    assert [record.getMessage() for record in caplog.records].count(REFRESH_MESSAGE) == 2
    with pytest.raises(CredentialsExpired):
        upload_with(entity_service, project, tmp_path, Retry(credential_renewals=0))
    assert len(entity_service.requests_to("authorize-external-upload")) == 4
