"""Spouts: a real process writing tar streams to /pfs/out (a named pipe) on the local
executor; each stream becomes one commit of the output repo; `overwrite` replaces."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.core.address import parse_ref
from kaon.core.errors import BranchNotFound
from kaon.core.pipelines.records import JobState
from kaon.services.pipelines.longrun import Backoff
from kaon.services.pipelines.spouts import SpoutRunner
from kaon.services.pipelines.tarstreams import TarStreams
from kaon.wiring import Platform

from .svchelp import Logs, add_pipeline, eventually, executor

# two tar streams, one right after the other (the second writer may open the pipe before the
# reader saw the first one end), then it stays up, as e2e's `stream` spout does
TWO_STREAMS = (
    "set -e; d=$TMPDIR/s; mkdir -p $d/one $d/two/sub; echo first > $d/one/a.txt; "
    "echo second > $d/two/b.txt; echo deep > $d/two/sub/c.txt; "
    "tar -C $d/one -cf - . > /pfs/out; tar -C $d/two -cf - . > /pfs/out; exec sleep 600"
)


def _tar(files: dict[str, bytes], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _names(archive: tarfile.TarFile) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for member in archive:
        body = archive.extractfile(member)
        assert body is not None
        found[member.name] = body.read()
    return found


def test_tar_streams_back_to_back_are_split_at_their_end_markers() -> None:
    big = bytes(range(256)) * 100  # data blocks that are not a header
    raw = _tar({"a": b"1"}) + _tar({"b": big, "c": b""}) + _tar({"d": b"4"}, gz=True)
    got = [_names(a) for a in TarStreams(io.BytesIO(raw))]
    assert got == [{"a": b"1"}, {"b": big, "c": b""}, {"d": b"4"}]
    assert list(TarStreams(io.BytesIO(b""))) == []


@pytest.fixture(params=["auto", "rewrite"])
def runner(platform: Platform, platform_factory, tmp_path: Path, request) -> Iterator[SpoutRunner]:  # type: ignore[no-untyped-def]
    store = platform_factory.backends(platform).pipelines
    made = SpoutRunner(
        store,
        executor(platform, tmp_path, request.param),
        platform.chunks,
        platform.commits,
        tmp_path / "spouts",
        Logs(),
        backoff=Backoff(0.05, 0.2),
    )
    yield made
    made.close()


def _spout(store: Any, overwrite: bool, script: str = TWO_STREAMS) -> Any:
    return add_pipeline(
        store,
        {
            "pipeline": {"name": "stream"},
            "transform": {"cmd": ["bash", "-c", script]},
            "spout": {"overwrite": overwrite},
        },
    )


def _log(platform: Platform) -> list[Any]:
    try:
        return platform.repos.history("stream", parse_ref("master"), None)
    except BranchNotFound:  # no commit yet
        return []


def _files(platform: Platform, commit_id: str) -> dict[str, bytes]:
    commit = platform.repos.resolve("stream", parse_ref(commit_id))
    assert commit is not None
    return {
        "/" + rel: b"".join(platform.files.content(node))
        for rel, node in platform.files.walk(commit, "/")
    }


@pytest.mark.parametrize("overwrite", [False, True])
def test_each_tar_stream_is_one_commit(
    platform: Platform,
    platform_factory,
    runner: SpoutRunner,
    overwrite: bool,  # type: ignore[no-untyped-def]
) -> None:
    store = platform_factory.backends(platform).pipelines
    platform.repos.create_repo("stream")
    job = runner.start(_spout(store, overwrite))
    assert job.state is JobState.RUNNING and job.service and job.inputs == ()
    commits = eventually(lambda: len(_log(platform)) >= 2 and _log(platform))
    assert len(commits) == 2
    newest, oldest = commits[0], commits[1]
    assert _files(platform, str(oldest.id)) == {"/a.txt": b"first\n"}
    two = {"/b.txt": b"second\n", "/sub/c.txt": b"deep\n"}
    assert _files(platform, str(newest.id)) == (two if overwrite else {"/a.txt": b"first\n", **two})
    assert newest.author == "spout stream"
    stopped = runner.stop("stream", "pipeline stopped")
    assert stopped is not None and stopped.state is JobState.KILLED
    assert stopped.reason == "pipeline stopped"


def test_a_crashing_spout_is_restarted_and_not_a_tar_is_said(
    platform: Platform,
    platform_factory,
    runner: SpoutRunner,  # type: ignore[no-untyped-def]
) -> None:
    store = platform_factory.backends(platform).pipelines
    platform.repos.create_repo("stream")
    job = runner.start(_spout(store, False, "echo not a tar > /pfs/out; exit 3"))
    eventually(lambda: store.get_job("stream", job.id).restarts >= 2)
    logs = runner._job_log  # the Logs given to the runner
    assert isinstance(logs, Logs)
    text = logs.text(job.id)
    assert "exited with code 3: restarting" in text
    assert "is not a tar stream" in text
    assert _log(platform) == []
