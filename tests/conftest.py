"""Shared pytest fixtures.

Service fixtures (the test Entity Service and the local S3 server) live in
``tests/entity_service``; ``tests/secrets_guard`` fails any test that leaks a
secret. Both are loaded as plugins here.
"""

pytest_plugins = ["tests.entity_service.fixtures", "tests.secrets_guard", "pytester"]
