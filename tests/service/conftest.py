"""The projects the service tests start from, written once (helpers in ``tests/service/helpers.py``).

``project`` (a 2-party ``groups`` project without blocking), ``blocked_project``
(the same, with blocking), ``linked_project`` (``project`` with both parties'
similar CLKs uploaded directly) and ``linked_run`` (``linked_project`` with a
run created at threshold 0.8, its ``run_id`` added): each is the create-project
answer on the test Entity Service of the test (``entity_service``).
"""

from typing import Any, Dict

import pytest

from anonlinkclient.service.rest_client import RestClient
from tests.service.helpers import new_linked_project, new_project


@pytest.fixture
def project(entity_service: Any) -> Dict[str, Any]:
    """A 2-party groups project without blocking: ``{"project_id", "result_token", "update_tokens"}``."""
    return new_project(RestClient(entity_service.url))


@pytest.fixture
def blocked_project(entity_service: Any) -> Dict[str, Any]:
    """A 2-party groups project with blocking."""
    return new_project(RestClient(entity_service.url), blocked=True)


@pytest.fixture
def linked_project(entity_service: Any, tmp_path: Any) -> Dict[str, Any]:
    """A 2-party project with both parties' CLKs (20, B a noisy copy of A) uploaded directly."""
    return new_linked_project(RestClient(entity_service.url), tmp_path)


@pytest.fixture
def linked_run(entity_service: Any, linked_project: Dict[str, Any]) -> Dict[str, Any]:
    """``linked_project`` with a run created at threshold 0.8; its ``run_id`` added."""
    client = RestClient(entity_service.url)
    run = client.run_create(linked_project["project_id"], linked_project["result_token"], 0.8, "faults")
    return dict(linked_project, run_id=run["run_id"])
