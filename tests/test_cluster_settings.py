"""KAON_CLAIM_SECONDS / KAON_HEARTBEAT_SECONDS (kaon.core.cluster), and the server id kept per
KAON_HOME (kaon.wiring.server_id)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaon.config import ServerSettings
from kaon.core.cluster import CLAIM_SECONDS, HEARTBEAT_SECONDS
from kaon.wiring import server_id


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KAON_HOME", str(tmp_path))
    for name in ("KAON_CLAIM_SECONDS", "KAON_HEARTBEAT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_claim_and_heartbeat_default_and_read(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = ServerSettings.from_env()
    assert (s.claim_seconds, s.heartbeat_seconds) == (CLAIM_SECONDS, HEARTBEAT_SECONDS)
    monkeypatch.setenv("KAON_CLAIM_SECONDS", "3")
    monkeypatch.setenv("KAON_HEARTBEAT_SECONDS", "0.5")
    s = ServerSettings.from_env()
    assert (s.claim_seconds, s.heartbeat_seconds) == (3.0, 0.5)


@pytest.mark.parametrize(
    ("claim", "beat", "said"),
    [
        ("5", "5", "KAON_HEARTBEAT_SECONDS=5 must be less than KAON_CLAIM_SECONDS=5"),
        ("-1", "1", "KAON_CLAIM_SECONDS='-1': expected a positive number of seconds"),
        ("30", "soon", "KAON_HEARTBEAT_SECONDS='soon': expected a positive number of seconds"),
    ],
)
def test_bad_claim_settings_are_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch, claim: str, beat: str, said: str
) -> None:
    monkeypatch.setenv("KAON_CLAIM_SECONDS", claim)
    monkeypatch.setenv("KAON_HEARTBEAT_SECONDS", beat)
    with pytest.raises(SystemExit, match=said):
        ServerSettings.from_env()


def test_a_home_keeps_its_server_id(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = server_id(tmp_path / "a")
    assert server_id(tmp_path / "a") == first  # a restart is the same member
    assert server_id(tmp_path / "b") != first
    assert (tmp_path / "a" / "server-id").stat().st_mode & 0o077 == 0
