"""Training jobs: logs followed to the end, a running job killed; on PostgreSQL
(tests/e2e/test_train.py)."""

from ..test_train import (  # noqa: F401
    pytestmark,
    test_kill_a_running_job,
    test_logs_follow_until_the_job_ends,
)
