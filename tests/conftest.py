"""Shared pytest fixtures.

Service fixtures (the test Entity Service and the local S3 server) live in
``tests/entity_service`` and are loaded as a plugin here.
"""

pytest_plugins = ["tests.entity_service.fixtures"]
