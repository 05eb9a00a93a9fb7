"""Endpoints through the real services: real replica processes in a real (empty) uv venv."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kaon.core.endpoints import Endpoint, EndpointFailure, EndpointState
from kaon.core.errors import InvalidBundle, ModelNotFound
from kaon.core.jobs import Bundle, ModelId
from kaon.services.localfs import commit_folder, list_folder
from kaon.wiring import Platform, build

MODEL_PY = """
def load_ctx(model_dir):
    return {"answer": 42}

def predict(payload, ctx):
    return {"result": [ctx["answer"]], "echo": payload if not isinstance(payload, bytes) else len(payload)}
"""


def serve_bundle(root: Path, module: str = MODEL_PY) -> Path:
    folder = root / "svc" / "model"
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(module)
    (folder / "requirements.txt").write_text("")
    return root


def put(p: Platform, root: Path, ws: str = "ws") -> Bundle:
    if ws not in [w.name for w in p.workspaces.all()]:
        p.workspaces.create(ws, "tester")
    commit_folder(p.chunks, p.commits, f"{ws}-source", "svc", list_folder(root), replace=True)
    return p.workspaces.bundle(ws, "serve", "svc", "svc", "tester")


def wait_for(p: Platform, name: str, *states: EndpointState, timeout: float = 60) -> Endpoint:
    deadline = time.monotonic() + timeout
    while True:
        e = p.serving.get(name)
        if e.state in states:
            return e
        assert time.monotonic() < deadline, e
        time.sleep(0.05)


def test_deploy_run_and_kill(platform: Platform, tmp_path: Path) -> None:
    e = platform.serving.deploy("ws", "me", put(platform, serve_bundle(tmp_path)), None)
    assert e.state is EndpointState.STARTING and e.name.startswith("serve-ws-")
    e = wait_for(platform, e.name, EndpointState.RUNNING)
    route = platform.serving.route(e.name)
    assert route is not None and len(route.addresses) == 1
    assert e.served_commit and e.env["lock_id"]
    served = platform.files.list_files("ws-endpoints", _ref(e.served_commit), "/svc/model")
    assert {f.path.rsplit("/", 1)[-1] for f in served} == {"model.py", "requirements.txt"}
    assert "ready in" in platform.serving.log_path(e, "serve").read_text()
    killed = platform.serving.kill(e.name)
    assert killed.state is EndpointState.KILLED and platform.serving.route(e.name) is None
    assert platform.serving.status(e.name) is None


def _ref(text: str) -> object:
    from kaon.core.address import parse_ref

    return parse_ref(text)


def test_unknown_model_and_bad_bundles(platform: Platform, tmp_path: Path) -> None:
    good = put(platform, serve_bundle(tmp_path / "a"))
    with pytest.raises(ModelNotFound):
        platform.serving.deploy("ws", "me", good, ModelId("abcde_abcde:abcdef"))
    no_predict = put(platform, serve_bundle(tmp_path / "b", "def load_ctx(d):\n    return 1\n"))
    with pytest.raises(InvalidBundle, match="does not define predict"):
        platform.serving.deploy("ws", "me", no_predict, None)
    broken = put(platform, serve_bundle(tmp_path / "c", "def load_ctx(:\n"))
    with pytest.raises(InvalidBundle, match="line 1"):
        platform.serving.deploy("ws", "me", broken, None)
    folder = tmp_path / "d" / "x"
    folder.mkdir(parents=True)
    (folder / "other.py").write_text("x = 1\n")
    with pytest.raises(InvalidBundle, match=r"no model\.py"):
        platform.serving.deploy("ws", "me", put(platform, tmp_path / "d"), None)


def test_a_predictor_that_cannot_load_ends_in_failure(platform: Platform, tmp_path: Path) -> None:
    module = "def load_ctx(d):\n    return open(d + '/model.docx').read()\n\ndef predict(p, c):\n    return 1\n"
    e = platform.serving.deploy("ws", "me", put(platform, serve_bundle(tmp_path, module)), None)
    e = wait_for(platform, e.name, EndpointState.FAILURE, timeout=90)
    assert "exited" in e.reason or "code" in e.reason
    assert e.failure is EndpointFailure.CRASH and not e.build_failed  # its replicas still restart
    text = platform.serving.log_path(e, "serve").read_text()
    assert "model.docx" in text and "FileNotFoundError" in text
    platform.serving.kill(e.name)


def test_endpoints_come_back_after_a_restart(tmp_path: Path, migrated_db: Path) -> None:
    import shutil

    from kaon.config import ServerSettings

    def settings_for(home: Path) -> ServerSettings:
        return ServerSettings(
            home, f"sqlite:///{home}/kaon.db", f"file://{home}/objects", "127.0.0.1", 0
        )

    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(migrated_db, home / "kaon.db")
    first = build(settings_for(home))
    first.start()
    try:
        e = first.serving.deploy("ws", "me", put(first, serve_bundle(tmp_path)), None)
        wait_for(first, e.name, EndpointState.RUNNING)
    finally:
        first.close()  # stops the replicas, as a platform stop does
    second = build(settings_for(home))
    second.start()  # brings the endpoint back
    try:
        back = wait_for(second, e.name, EndpointState.RUNNING)
        assert back.served_commit == second.serving.get(e.name).served_commit
    finally:
        second.serving.kill(e.name)
        second.close()


def test_a_build_failure_is_typed_and_stays_down_after_a_restart(
    tmp_path: Path, migrated_db: Path
) -> None:
    import shutil

    from kaon.config import ServerSettings

    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(migrated_db, home / "kaon.db")
    settings = ServerSettings(
        home, f"sqlite:///{home}/kaon.db", f"file://{home}/objects", "127.0.0.1", 0
    )
    root = serve_bundle(tmp_path / "b")
    (root / "svc" / "model" / "requirements.txt").write_text("pandas=0.24\n")  # uv cannot parse
    first = build(settings)
    try:
        e = first.serving.deploy("ws", "me", put(first, root), None)
        e = wait_for(first, e.name, EndpointState.FAILURE)
        assert (e.failure, e.build_failed) == (EndpointFailure.BUILD, True)
        assert e.reason.startswith("build failed: ")  # what the CLI and its users read
        assert first.serving.lookup(e.name) == e
    finally:
        first.close()
    second = build(settings)
    try:
        assert e.name not in second.serving.recover()  # only what could run comes back
        assert second.serving.get(e.name) == e
        assert second.serving.kill(e.name).state is EndpointState.KILLED
    finally:
        second.close()
