"""The last lines of a job's log (issue 18): `GET /v1/jobs/{id}/logs?tail=N`, the SDK's
`tail`, `kaon train logs --tail N` (as kubectl/docker logs --tail), against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .helpers import Kaon
from .test_train import bundle, data

pytestmark = pytest.mark.e2e

WORKSPACE = "tails"
LINES = """#!/bin/sh
i=1
while [ $i -le 600 ]; do echo "line $i of many"; i=$((i+1)); done
mkdir -p "$1/model"
echo x > "$1/model/m"
"""


@pytest.fixture(scope="module")
def job(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A finished job whose run log has 600 lines of its own."""
    kaon.ok("workspace", "create", "-n", WORKSPACE)
    root = tmp_path_factory.mktemp("tails")
    with kaon.client() as c:
        made = c.train(WORKSPACE, source=bundle(root / "code", LINES), data=data(root / "d"))
        yield c.wait(made, timeout=300)


def test_cli_tail_prints_the_last_lines(kaon: Kaon, job: Any) -> None:
    whole = kaon.ok("train", "logs", "-j", job.id).splitlines()
    assert len(whole) > 600 and sum("of many" in line for line in whole) == 600
    last = kaon.ok("train", "logs", "-j", job.id, "--tail", "3").splitlines()
    assert last == whole[-3:]
    short = kaon.ok("train", "logs", "-j", job.id, "-n", "1", "-f").splitlines()
    assert short == whole[-1:]  # then follows: the job has ended, nothing more
    assert kaon.ok("train", "logs", "-j", job.id, "--tail", "0") == ""
    bad = kaon.run("train", "logs", "-j", job.id, "--tail", "-1")
    assert bad.returncode == 2 and "--tail" in bad.stderr


def test_sdk_and_api_tail(kaon: Kaon, job: Any) -> None:
    with kaon.client() as c:
        whole = c.job_log(job.id)
        assert whole.start == 0 and "line 1 of many" in whole.text
        tail = c.job_log(job.id, tail=2)
        assert tail.text.splitlines() == whole.text.splitlines()[-2:]
        assert tail.offset == whole.offset and tail.start == whole.offset - len(tail.text)
        assert "".join(c.logs(job, tail=2)) == tail.text
        assert c.job_logs(job.id, tail=600)[0].splitlines() == whole.text.splitlines()[-600:]
    url = f"{kaon.server()['url']}/v1/jobs/{job.id}/logs"  # type: ignore[index]
    headers = {"Authorization": f"Bearer {(kaon.home / 'token').read_text().strip()}"}
    both = httpx.get(url, params={"tail": 2, "offset": 10}, headers=headers)
    assert both.status_code == 400 and "not both" in both.text
    negative = httpx.get(url, params={"tail": -1}, headers=headers)
    assert negative.status_code == 400 and "tail" in negative.text
