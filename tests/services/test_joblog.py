"""Job logs: every line of a multi-line message is stamped (and prefixed), as kaos' logs were:
a build failure's reason (uv's error over several lines) read as loose text before."""

from __future__ import annotations

import re
from pathlib import Path

from kaon.services.joblog import JobLog

STAMP = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] ")


def test_each_line_of_a_message_is_stamped(tmp_path: Path) -> None:
    log = JobLog(tmp_path / "build.log")
    log.write("build failed: could not resolve the requirements:\nerror: bad\n  pandas=0.24\n")
    log.child("[trial 1] ").write("a\nb")
    lines = (tmp_path / "build.log").read_text().splitlines()
    assert len(lines) == 5, lines
    assert all(STAMP.match(line) for line in lines), lines
    assert [STAMP.sub("", line) for line in lines] == [
        "build failed: could not resolve the requirements:",
        "error: bad",
        "  pandas=0.24",
        "[trial 1] a",
        "[trial 1] b",
    ]
