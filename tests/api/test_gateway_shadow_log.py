"""A shadow version's log (kaon.api.shadow.ShadowLog): JSON lines, bounded to the newest
`keep` (compacted when twice that), one file per version, nothing for an unknown version."""

from __future__ import annotations

import json
from pathlib import Path

from kaon.api.shadow import ShadowLog


def test_the_log_keeps_the_newest_lines_per_version(tmp_path: Path) -> None:
    where = {"petset-v2": tmp_path / "petset-v2" / "shadow.log"}
    journal = ShadowLog(where.get, keep=5)
    for i in range(23):
        journal.write("petset-v2", {"n": i})
    journal.write("nosuch", {"n": 0})  # no row: nothing written anywhere
    lines = [json.loads(x)["n"] for x in where["petset-v2"].read_text().splitlines()]
    assert 5 <= len(lines) < 10 and lines == list(range(23 - len(lines), 23))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["petset-v2", "shadow.log"]


def test_a_log_left_by_an_earlier_server_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "shadow.log"
    path.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(9)))
    ShadowLog(lambda _: path, keep=5).write("v", {"n": 9})
    lines = [json.loads(x)["n"] for x in path.read_text().splitlines()]
    assert lines == [5, 6, 7, 8, 9]
