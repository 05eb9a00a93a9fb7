"""Client.put, get, read, stream, train, serve, wait and logs against a real server, with real
files: what they return, what they report, and that a bad input fails before anything is sent."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kaon.client import (
    BundleInfo,
    Client,
    EndpointInfo,
    EndpointState,
    InvalidBundle,
    InvalidInput,
    JobInfo,
    JobState,
    NotFound,
)

from .examples import make_examples


class Recorder:
    """A Reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.bars: list[tuple[str, int | None, list[int]]] = []
        self.notes: list[str] = []
        self.dones: list[str] = []

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Any]:
        ticks: list[int] = []
        self.bars.append((description, total, ticks))
        yield ticks.append

    def note(self, message: str) -> None:
        self.notes.append(message)

    def done(self, message: str) -> None:
        self.dones.append(message)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Examples in a fresh folder (the working directory), KAON_HOME beside them."""
    make_examples(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAON_HOME", str(tmp_path / "home"))
    return tmp_path


def test_put_and_get_a_file_and_a_folder(client: Client, repo: str, home: Path) -> None:
    seen = Recorder()
    done = client.put(f"{repo}@master:/", "cat.csv", message="one", reporter=seen)
    assert (done.commit.repo, done.commit.branch, done.commit.message) == (repo, "master", "one")
    assert (done.stats.files, done.stats.bytes) == (1, 9)
    assert [(d, t, sum(ticks)) for d, t, ticks in seen.bars] == [("put 1 file(s)", 9, 9)]
    folder = client.put(f"{repo}@dev:/in", "data", recursive=True, stat_cache=False)
    assert folder.commit.branch == "dev"
    assert [f.path for f in client.list_files(repo, "dev", "/in/features")] == [
        "/in/features/x.csv"
    ]
    assert client.read(f"{repo}@master:/cat.csv") == b"name\ntom\n"
    out = io.BytesIO()
    assert client.stream(f"{repo}@dev:/in/features/x.csv", out) == 6
    assert out.getvalue() == b"x\n1\n2\n"
    got = client.get(f"{repo}@master:/cat.csv")  # no dest: its name, here
    assert (got.path, got.files, got.bytes) == (Path("cat.csv"), 1, 9)
    seen = Recorder()
    tree = client.get(f"{repo}@dev:/in", home / "copy", recursive=True, reporter=seen)
    assert (tree.files, tree.bytes) == (1, 6)
    assert (home / "copy" / "features" / "x.csv").read_text() == "x\n1\n2\n"
    assert [(t, sum(ticks)) for _, t, ticks in seen.bars] == [(6, 6)]


def test_read_range_and_file_history(client: Client, repo: str, home: Path) -> None:
    """What the web UI's previews and a file's history use: only the bytes asked for (and
    the file's size), and the commits that changed a file, page by page."""
    first = client.put(f"{repo}@master:/cat.csv", "cat.csv", message="one").commit
    assert client.read_range(repo, "master", "/cat.csv", 0, 4) == (b"name", 9)
    assert client.read_range(repo, "master", "/cat.csv", 5, 100) == (b"tom\n", 9)
    assert client.read_range(repo, "master", "/cat.csv", 9, 10) == (b"", 9)  # past its end
    assert b"".join(client.file_bytes(repo, "master", "/cat.csv")) == b"name\ntom\n"
    with pytest.raises(InvalidInput, match="positive length"):
        client.read_range(repo, "master", "/cat.csv", 0, 0)
    second = client.put(f"{repo}@master:/cat.csv", "data/features/x.csv", message="two").commit
    page = client.file_history(repo, "/cat.csv", limit=1)
    assert [(r.commit, r.kind, r.size, r.message) for r in page.revisions] == [
        (second.id, "modified", 6, "two")
    ]
    assert page.next == first.id
    rest = client.file_history(repo, "/cat.csv", ref=page.next)
    assert [(r.commit, r.kind) for r in rest.revisions] == [(first.id, "added")]
    assert rest.next is None
    with pytest.raises(NotFound):
        client.read_range(repo, "master", "/nothing", 0, 4)


def test_put_and_get_refuse_what_they_cannot_do(client: Client, repo: str, home: Path) -> None:
    with pytest.raises(InvalidInput, match="is a directory: add -r"):
        client.put(f"{repo}@master:/d", "data")
    with pytest.raises(InvalidInput, match="no such file or directory"):
        client.put(f"{repo}@master:/x", "nothing-here")
    client.put(f"{repo}@master:/d", "data", recursive=True)
    with pytest.raises(InvalidInput, match="not to an ancestor"):
        client.put(f"{repo}@master^:/x", "cat.csv")
    with pytest.raises(InvalidInput, match="is a directory: add -r"):
        client.get(f"{repo}@master:/d", "x")
    assert len(client.list_commits(repo)) == 1  # only the folder's put made a commit


@pytest.fixture(scope="module")
def trained(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A workspace of its own with one finished job (trained from the example folders)."""
    root = tmp_path_factory.mktemp("sdk-examples")
    make_examples(root)
    ws = "sdk_" + uuid.uuid4().hex[:8]
    seen = Recorder()
    with Client(live_server.url, live_server.token) as c:
        c.create_workspace(ws)
        job = c.train(
            ws, source=root / "code", data=root / "data", env={"WHO": "sdk"}, reporter=seen
        )
        done = c.wait(job, timeout=300)
    return {"ws": ws, "job": done, "root": root, "seen": seen}


def test_train_uploads_local_folders_and_reports(client: Client, trained: dict[str, Any]) -> None:
    job: JobInfo = trained["job"]
    seen: Recorder = trained["seen"]
    assert job.state == JobState.SUCCESS, job.reason
    assert job.variables == {"WHO": "sdk"}
    assert seen.notes[0] == f"Submitting source bundle: {trained['root'] / 'code'}"
    assert seen.dones == [
        f"Setting source bundle: {job.source.path}",
        f"Setting data bundle: {job.data.path}",
    ]
    assert [d for d, _, _ in seen.bars] == ["Uploading source bundle", "Uploading data bundle"]
    assert client.wait(job.id).id == job.id  # a job id: the job
    build = "".join(client.logs(job, build=True))
    assert build  # the environment's lock and install
    assert "".join(client.logs(job, follow=True)) == "".join(client.logs(job))


def test_train_checks_every_local_input_first(
    client: Client, trained: dict[str, Any], home: Path
) -> None:
    ws = trained["ws"]
    before = client.list_jobs(ws)
    (home / "empty").mkdir()
    with pytest.raises(InvalidBundle, match="is empty"):
        client.train(ws, source="code", data="empty")
    with pytest.raises(InvalidInput, match="not both"):
        client.train(ws, data="data", manifest="data.mf")
    with pytest.raises(InvalidInput, match="no such file"):
        client.train(ws, source="code", hyperparams=Path("missing.json"))
    with pytest.raises(InvalidInput, match="invalid"):
        client.train(ws, source="code", memory="lots")
    with pytest.raises(NotFound):
        client.train("no_such_ws_" + uuid.uuid4().hex[:6], source="code")
    assert client.list_jobs(ws) == before


def test_serve_an_existing_bundle_and_wait_by_name(client: Client, trained: dict[str, Any]) -> None:
    job: JobInfo = trained["job"]
    first = client.serve(
        trained["ws"], source=trained["root"] / "serve", model_id=job.trials[0].model_id
    )
    bundle: BundleInfo = first.source
    again = client.serve(trained["ws"], source=bundle, model_id=job.trials[0].model_id)
    assert again.source.path == bundle.path  # nothing uploaded: the same bundle
    ready = client.wait(again.name, timeout=300)
    assert isinstance(ready, EndpointInfo)
    assert ready.state == EndpointState.RUNNING, ready.reason
    status, _, body = client.predict(ready.name, b"[3]", "application/json")
    assert (status, body.replace(b" ", b"")) == (200, b'{"result":[3]}')
    for e in (first, again):
        client.kill_endpoint(e.name)
    assert client.wait(first, timeout=60).state == EndpointState.KILLED


def test_a_bad_local_input_fails_before_the_local_platform_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaon.client import local
    from kaon.client.connect import local_server

    home = tmp_path / "home"
    monkeypatch.setenv("KAON_HOME", str(home))
    for name in ("KAON_ENDPOINT", "KAON_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    try:
        with Client.from_env() as c:
            with pytest.raises(InvalidInput, match="no such file"):
                c.put("r@master:/x", tmp_path / "missing")
            with pytest.raises(InvalidBundle, match="no such folder"):
                c.train("ws", source=tmp_path / "missing")
            assert local_server(home) is None  # nothing was asked of a platform: none started
    finally:
        local.stop()


def test_train_on_a_manifest_with_an_existing_source(
    client: Client, trained: dict[str, Any], home: Path
) -> None:
    job: JobInfo = trained["job"]
    listed = home / "data.mf"
    listed.write_text(json.dumps({"url": (home / "cat.csv").as_uri(), "path": "t/cat.csv"}) + "\n")
    with pytest.raises(InvalidBundle, match="file:// URL"):
        client.train(trained["ws"], source=job.source, manifest=listed)
    with pytest.raises(InvalidInput, match="applies to a data manifest"):
        client.train(trained["ws"], source=job.source, allow_local_urls=True)
    seen = Recorder()
    made = client.train(
        trained["ws"], source=job.source, manifest=listed, allow_local_urls=True, reporter=seen
    )
    assert made.source.path == job.source.path  # the existing bundle: not uploaded again
    assert (made.data.name, made.data.files) == ("manifest", 1)
    assert [(d, t) for d, t, _ in seen.bars] == [
        ("Fetching 1 files", 1),
        ("Uploading data manifest bundle", 9),
    ]
    assert client.wait(made, timeout=300).state == JobState.SUCCESS
