"""Provenance drawings and subvenance through the CLI, on PostgreSQL (tests/e2e/test_provenance.py)."""

from ..test_provenance import pytestmark, test_provenance_formats_and_subvenance  # noqa: F401
