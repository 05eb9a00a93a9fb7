"""An endpoint of two replicas: predictions, feedback as data, metrics and provenance, a
replica killed and failed over; on PostgreSQL (tests/e2e/test_serve.py)."""

from ..test_serve import (  # noqa: F401
    pytestmark,
    served,
    test_a_killed_replica_is_failed_over_and_restarted,
    test_feedback_is_stored_as_versioned_data,
    test_invocations_kaos_style,
    test_metrics_and_provenance,
)
