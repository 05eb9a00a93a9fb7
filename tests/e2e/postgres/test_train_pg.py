"""A running training job killed through the CLI, on PostgreSQL + S3 (tests/e2e/test_train.py)."""

from ..test_train import pytestmark, test_kill_a_running_job  # noqa: F401
