"""Seed 004's data walk-through (put, list, history, get of an 11 MB file) on PostgreSQL + S3
(tests/e2e/test_walkthrough.py; its folder round trip and every list's --json stay on SQLite:
moving data through the S3 test server is the slow part, ~2 min each under load)."""

from ..test_walkthrough import pytestmark, test_seed_004_mnist_walkthrough  # noqa: F401
