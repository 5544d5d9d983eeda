"""The names of the moto account's table and bucket every test's runtime is configured with (tests/conftest.py)."""

TABLE_NAME = "live-sessions-test"
BUCKET_NAME = "live-sessions-artifacts-test"
