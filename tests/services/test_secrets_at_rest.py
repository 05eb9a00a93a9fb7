"""S3 secrets are encrypted at rest: kaon.db holds no secret in plain text, the key file
($KAON_HOME/secret.key, 0600) opens them, and rows written in plain text by an older server
are sealed when the platform starts (issue 13, item 2)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

from kaon.core.credentials import new_credential

PlatformFactory = Any  # tests/conftest.py: build(...) more platforms on a home


def _rows(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "kaon.db") as db:
        return dict(db.execute("SELECT access_key, secret FROM s3_credentials").fetchall())


def test_secrets_are_sealed_in_the_database(
    platform_factory: PlatformFactory, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    p = platform_factory(home=home)
    credential = p.credentials.issue("alice")
    stored = _rows(home)[credential.access_key]
    assert credential.secret not in stored
    key = home / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert p.credentials.secret_of(credential.access_key) == credential.secret
    again = platform_factory(home=home)  # another server on the same home
    assert again.credentials.secret_of(credential.access_key) == credential.secret


def test_plain_rows_are_sealed_at_start(platform_factory: PlatformFactory, tmp_path: Path) -> None:
    home = tmp_path / "home"
    p = platform_factory(home=home)
    old = new_credential("bob", 1.0)
    platform_factory.backends(p).credentials.add_credential(
        old
    )  # as an older server stored it: plain
    with sqlite3.connect(home / "kaon.db") as db:
        plain = "UPDATE s3_credentials SET secret=? WHERE access_key=?"
        db.execute(plain, (old.secret, old.access_key))
    assert _rows(home)[old.access_key] == old.secret
    later = platform_factory(home=home)  # a newer server starts on that database
    assert _rows(home)[old.access_key] != old.secret
    assert later.credentials.secret_of(old.access_key) == old.secret
