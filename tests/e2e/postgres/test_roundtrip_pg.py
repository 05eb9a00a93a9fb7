"""Seed 000's tree: train, `train get`, deploy again, same bundles; on PostgreSQL
(tests/e2e/test_roundtrip.py)."""

from ..test_roundtrip import (  # noqa: F401
    pytestmark,
    test_train_get_then_deploy_gives_the_same_bundles,
)
