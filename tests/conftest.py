"""Shared pytest fixtures.

Service fixtures (the test Entity Service and the local S3 server) live in
``tests/entity_service``; ``tests/secrets_guard`` fails any test that leaks a
secret; ``tests/postgres`` starts a real PostgreSQL server (once, for the tests that ask
for it). They are loaded as plugins here; ``terminal`` makes in-process commands draw
progress bars.
"""

import pytest

pytest_plugins = ["tests.entity_service.fixtures", "tests.secrets_guard", "tests.postgres", "pytester"]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in-process see stderr as a terminal, so they draw their progress bars.

    (tests/cli/test_progress.py checks the real detection with a pseudo-terminal.)
    """
    from anonlinkclient.io import progress

    monkeypatch.setattr(progress, "is_terminal", lambda _stream: True)
