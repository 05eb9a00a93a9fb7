"""Seed 004's data walk-through, a folder put/get round trip and every list's --json, on
PostgreSQL (tests/e2e/test_walkthrough.py)."""

from ..test_walkthrough import (  # noqa: F401
    pytestmark,
    test_every_list_has_json,
    test_folder_put_is_one_commit_and_get_r_round_trips,
    test_seed_004_mnist_walkthrough,
)
