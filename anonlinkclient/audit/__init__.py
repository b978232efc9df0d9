"""The privacy audit: the custodian attacks their own CLKs before sharing them, and measures the leak.

:mod:`.attacks` holds the published attacks; they see only what an attacker has (the
CLKs, a list of values with frequencies, the public schema) and import nothing that
could give them more. :mod:`.run` hashes the records, runs the attacks in the worst-case
and reference scenarios and scores them with :mod:`.scoring`, the one part that sees
the keys and the true bit positions; :mod:`.census` adds what the CLKs give away
before any attack, and :mod:`.page` draws the report.

Nothing is imported here, so that importing :mod:`.attacks` brings in nothing of the
encoder (tests/audit/test_isolation.py checks it).
"""
