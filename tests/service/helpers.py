"""Helpers of the Entity Service client tests: a quick project on the service, and its tokens."""

from pathlib import Path
from typing import Any, Dict, List

from anonlinkclient.service.rest_client import RestClient
from tests.helpers import noisy, random_clks, schema_document, write_clk_file


def new_project(client: RestClient, parties: int = 2, blocked: bool = False, result_type: str = "groups") -> Dict:
    """Create a project on the service; return the credentials answer."""
    return client.project_create(schema_document(), result_type, "test", parties=parties, uses_blocking=blocked)


def new_linked_project(client: RestClient, directory: Path, count: int = 20) -> Dict:
    """A 2-party project whose parties uploaded ``count`` similar random CLKs directly; return its credentials.

    Party A's CLKs are ``random_clks(count)``, party B's a noisy copy (written to ``a.json``, ``b.json``).
    """
    credentials = new_project(client)
    clks = random_clks(count)
    for token, party_clks, name in zip(credentials["update_tokens"], (clks, noisy(clks)), "ab"):
        with open(write_clk_file(directory / f"{name}.json", party_clks), "rb") as handle:
            client.project_upload_clks(credentials["project_id"], token, handle)
    return credentials


def secrets_of(credentials: Dict[str, Any]) -> List[str]:
    """Every token in a create-project answer."""
    return [credentials["result_token"], *credentials["update_tokens"]]
