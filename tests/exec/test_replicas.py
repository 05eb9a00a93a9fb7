"""LocalReplicas against real replica processes (the test venv's python as the environment),
their code and model fetched from a real store (StoreContent of a platform in tmp_path)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import kaon.runtime
from kaon.core.endpoints import socket_path
from kaon.core.errors import NotFound
from kaon.core.ids import CommitId, RepoName
from kaon.exec.readiness import ping
from kaon.exec.replicas import MAX_SOCKET_PATH, LocalReplicas
from kaon.exec.sandbox import bwrap_works
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import Environment
from kaon.ports.replicas import ReplicaSpec, ReplicaStatus
from kaon.runtime.protocol import read_frame, write_frame
from kaon.services.content import StoreContent
from kaon.services.localfs import commit_folder, list_folder
from kaon.wiring import Platform

NOT_JSON = "the result of predict is not JSON-serialisable"
ENV = Environment("test", Path(sys.prefix), Path(sys.executable).parent, Path(sys.executable))

ECHO = """
    import os
    def load_ctx(model_dir):
        with open(os.path.join(model_dir, "weights.txt")) as f:
            return {"weights": f.read().strip(), "cwd": os.getcwd(), "home": os.environ["HOME"]}
    def predict(payload, ctx):
        if payload == "fail":
            raise ValueError("cannot predict 'fail'")
        if isinstance(payload, bytes):
            return {"size": len(payload), "weights": ctx["weights"]}
        return {"echo": payload, "ctx": ctx}
"""


class Log(list[str]):
    """A log sink that tests can search (list.append is atomic: many threads may log)."""

    def __call__(self, line: str) -> None:
        self.append(line)

    @property
    def text(self) -> str:
        return "\n".join(list(self))


class Store:
    """Folders put in a real platform's store, fetched back by the backend through Content."""

    def __init__(self, platform: Platform, tmp_path: Path) -> None:
        self.platform = platform
        self.content = StoreContent(platform.repos, platform.files)
        self.sources = tmp_path / "sources"
        self.count = 0
        platform.repos.create_repo("ws-code")

    def put(self, folder: Path) -> TreeRef:
        p = self.platform
        commit = commit_folder(
            p.chunks, p.commits, "ws-code", "main", list_folder(folder), replace=True
        )
        return TreeRef(RepoName("ws-code"), CommitId(commit.id))

    def bundle(self, source: str, name: str = "model", folder: str = "") -> TreeRef:
        """A serve bundle: module `name` and weights.txt in `folder`, stored."""
        self.count += 1
        root = self.sources / str(self.count)
        code = root / folder
        code.mkdir(parents=True)
        (code / f"{name}.py").write_text(textwrap.dedent(source))
        (code / "weights.txt").write_text("w-42\n")
        return self.put(root)


@pytest.fixture
def store(platform: Platform, tmp_path: Path) -> Store:
    return Store(platform, tmp_path)


@pytest.fixture
def backend(tmp_path: Path, store: Store) -> Iterator[LocalReplicas]:
    replicas = LocalReplicas(tmp_path / "root", store.content, backoff=(0.1, 0.4), grace=1.0)
    yield replicas
    replicas.stop_all()


def spec(code: TreeRef, **options: Any) -> ReplicaSpec:
    fields: dict[str, Any] = {"module": "model"} | options
    return ReplicaSpec(name="serve-test", code=code, env=ENV, **fields)


def checked_out(root: Path, folder: str = "") -> Path:
    """Where the backend rooted at `root` runs the module of serve-test from."""
    return root / "serve-test" / "code" / folder


def path_of(address: str) -> str:
    path = socket_path(address)
    assert path is not None, f"{address} is not a unix:// address"
    return path


def wait_for(
    backend: LocalReplicas, check: Callable[[ReplicaStatus], bool], timeout: float = 5.0
) -> ReplicaStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = backend.status("serve-test")
        assert status is not None
        if check(status):
            return status
        assert time.monotonic() < deadline, f"timed out; last status {status}"
        time.sleep(0.02)


def call(address: str, header: dict[str, Any], body: bytes = b"") -> tuple[dict[str, Any], bytes]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path_of(address))
        write_frame(sock, header, body)
        return read_frame(sock)


def predict(address: str, payload: Any) -> tuple[dict[str, Any], bytes]:
    raw = isinstance(payload, bytes)
    kind = "application/octet-stream" if raw else "application/json"
    body = payload if raw else json.dumps(payload).encode()
    return call(address, {"op": "predict", "id": "q", "content_type": kind}, body)


def test_predicts_json_and_bytes_and_reports_errors(
    backend: LocalReplicas, store: Store, tmp_path: Path
) -> None:
    code = checked_out(tmp_path / "root")
    log = Log()
    backend.start(spec(store.bundle(ECHO)), log)
    (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
    header, body = predict(address, {"x": [1, 2]})
    assert header == {"id": "q", "status": 200, "content_type": "application/json"}
    home = tmp_path / "root" / "serve-test" / "run" / "home"
    ctx = {"weights": "w-42", "cwd": str(code), "home": str(home)}
    assert body == json.dumps({"echo": {"x": [1, 2]}, "ctx": ctx}, separators=(",", ":")).encode()
    assert json.loads(predict(address, b"\x00\x01\x02")[1]) == {"size": 3, "weights": "w-42"}
    bad = call(address, {"op": "predict", "id": "b", "content_type": "application/json"}, b"{")
    assert bad[0]["status"] == 400
    assert bad[0]["error"].startswith("the payload is not valid JSON")
    assert f"[replica 0] loading model from {code}" in log
    assert any(line.startswith("[replica 0] ready in ") for line in log)
    assert backend.status("serve-test") == ReplicaStatus(1, 1, 0, "", (address,))
    # predict raising: a 500 naming the error, the traceback in the log, the replica lives on
    header, body = predict(address, "fail")
    assert (header["status"], header["error"], body) == (
        500,
        "ValueError: cannot predict 'fail'",
        b"",
    )
    deadline = time.monotonic() + 2
    while "[replica 0] ValueError: cannot predict 'fail'" not in log:
        assert time.monotonic() < deadline, log.text
        time.sleep(0.02)
    assert '[replica 0]   File "' + str(code / "model.py") in log.text
    assert "in predict" in log.text
    assert "replica.py" not in log.text  # the traceback starts in user code
    assert predict(address, [1])[0]["status"] == 200


LOAD_FAILS = """
    def load_ctx(model_dir):
        return open(model_dir + "/model.docx", "rb")
    def predict(payload, ctx):
        return 1
"""


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (LOAD_FAILS, ["No such file or directory: ", "model.docx'", ", line 3, in load_ctx"]),
        ("def predict(payload, ctx:\n", ["\n[replica 0]     def predict(payload, ctx:\n"]),
    ],
)
def test_a_module_that_cannot_load_is_restarted_and_explained(
    backend: LocalReplicas, store: Store, source: str, shown: list[str]
) -> None:
    log = Log()
    backend.start(spec(store.bundle(source)), log)
    status = wait_for(backend, lambda s: s.restarts >= 2)
    assert (status.ready, status.addresses) == (0, ())
    assert status.last_error == "replica 0 exited with code 3 before it was ready"
    assert "[replica 0] exited with code 3 before it was ready; restarting in 0.1 s" in log
    for text in shown:
        assert text in log.text
    if source.startswith("def"):  # the caret under the unclosed parenthesis
        assert "[replica 0]                ^" in log
        assert "[replica 0] SyntaxError: '(' was never closed" in log


def test_a_killed_replica_comes_back_while_the_other_serves(
    backend: LocalReplicas, store: Store
) -> None:
    log = Log()
    backend.start(spec(store.bundle(ECHO), replicas=2), log)
    first, second = wait_for(backend, lambda s: s.ready == 2).addresses
    pids = [pid_of(first), pid_of(second)]
    os.kill(pids[1], signal.SIGKILL)

    def back(status: ReplicaStatus) -> bool:
        assert first in status.addresses  # the other replica never stops being ready
        return status.ready == 2

    wait_for(backend, lambda s: s.restarts == 1)
    status = wait_for(backend, back)
    assert status.restarts == 1
    assert status.last_error == "replica 1 was killed by signal 9"
    assert pid_of(first) == pids[0]
    assert pid_of(second) not in pids
    assert predict(second, 7)[0]["status"] == 200


BATCHING = {
    "predict_batch": """
        calls = []
        def show(payload):
            return payload.hex() if isinstance(payload, bytes) else payload
        def predict(payload, ctx):
            calls.append(1)
            return {"calls": list(calls), "single": show(payload)}
        def predict_batch(payloads, ctx):
            calls.append(len(payloads))
            return [{"calls": list(calls), "single": show(p)} for p in payloads]
    """,
    "BATCH": """
        calls, BATCH = [], True
        def predict(payloads, ctx):
            calls.append(len(payloads))
            return [{"calls": list(calls), "single": p} for p in payloads]
    """,
}


@pytest.mark.parametrize("style", ["predict_batch", "BATCH"])
def test_batches_go_to_the_module_in_one_call(
    backend: LocalReplicas, store: Store, style: str
) -> None:
    backend.start(spec(store.bundle(BATCHING[style])), Log())
    (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
    answer = ping(path_of(address))
    assert answer is not None
    assert answer["batch"] is True
    bodies = [b"[1]", b"\xff raw", b'"x"']
    parts = [
        {"content_type": "application/json", "size": 3},
        {"content_type": "application/octet-stream", "size": 5},
        {"content_type": "application/json; charset=utf-8", "size": 3},
    ]
    header, body = call(address, {"op": "batch", "id": "b1", "parts": parts}, b"".join(bodies))
    assert header["id"] == "b1"
    assert header["status"] == 200
    results, at = [], 0
    for part in header["parts"]:
        results.append(json.loads(body[at : at + part["size"]]) if part["status"] == 200 else part)
        at += part["size"]
    assert at == len(body)
    single = json.loads(predict(address, {"a": 1})[1])
    if style == "predict_batch":
        assert results == [{"calls": [3], "single": s} for s in ([1], "ff20726177", "x")]
        assert single == {"calls": [3, 1], "single": {"a": 1}}  # predict for single requests
    else:  # the raw bytes come back in the result: not JSON, only that part fails
        assert results[1]["status"] == 500
        assert results[1]["error"].startswith(f"{NOT_JSON}: Object of type bytes")
        assert [results[0], results[2]] == [{"calls": [3], "single": s} for s in ([1], "x")]
        assert single == {"calls": [3, 1], "single": {"a": 1}}  # a list of one


ODD = """
    import time
    class Vector:
        def tolist(self):
            return [1.5, 2.5]
    def predict(payload, ctx):
        if payload == "slow":
            time.sleep(1.0)
        return {"set": {1}, "nan": float("nan"), "vector": Vector()}[payload]
    def predict_batch(payloads, ctx):
        return payloads[:-1]
"""


def test_bad_results_and_bad_requests_get_clear_errors(
    backend: LocalReplicas, store: Store
) -> None:
    backend.start(spec(store.bundle(ODD)), Log())
    (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
    header, _ = predict(address, "set")
    assert header["status"] == 500
    assert header["error"] == f"{NOT_JSON}: Object of type set is not JSON serializable"
    assert "Out of range float values" in predict(address, "nan")[0]["error"]
    assert predict(address, "vector")[1] == b"[1.5,2.5]"  # numpy-like: tolist()
    assert predict(address, "missing")[0]["error"] == "KeyError: 'missing'"
    unknown = call(address, {"op": "fly", "id": "f"})
    assert unknown == ({"id": "f", "status": 400, "error": "unknown op 'fly'"}, b"")
    parts = [{"content_type": "application/json", "size": 3}]
    header, _ = call(address, {"op": "batch", "id": "b", "parts": parts}, b"[1]xx")
    assert header["error"] == "the parts add up to 3 bytes but the body has 5"
    parts = [{"content_type": "application/json", "size": 1}] * 2
    header, body = call(address, {"op": "batch", "id": "b", "parts": parts}, b"12")
    assert header["status"] == 200
    assert body == b""
    expected = "predict_batch returned 1 results for 2 payloads"
    assert header["parts"] == [{"status": 500, "size": 0, "error": expected}] * 2
    slow = threading.Thread(target=predict, args=(address, "slow"))
    slow.start()
    time.sleep(0.2)
    assert ping(path_of(address)) is not None  # pings answer while a prediction runs:
    assert slow.is_alive()  # the 1 s prediction has not finished yet
    slow.join()


def test_stop_leaves_no_process_and_no_socket(
    backend: LocalReplicas, store: Store, tmp_path: Path
) -> None:
    source = ECHO.replace(
        "def load_ctx(model_dir):",
        "def load_ctx(model_dir):\n"
        "        import subprocess\n"
        "        child = subprocess.Popen(['sleep', '60'])\n"
        "        open('child.pid', 'w').write(str(child.pid))",
    )
    code = checked_out(tmp_path / "root")
    backend.start(spec(store.bundle(source), replicas=2), Log())
    addresses = wait_for(backend, lambda s: s.ready == 2).addresses
    pids = [pid_of(address) for address in addresses] + [int((code / "child.pid").read_text())]
    backend.stop("serve-test")
    assert backend.status("serve-test") is None
    for pid in pids:
        assert_gone(pid)
    run = tmp_path / "root" / "serve-test" / "run"
    assert not [p for p in run.iterdir() if p.name != "home"]
    assert not code.exists()  # the fetched files too
    backend.stop("serve-test")  # idempotent


def test_daemons_of_a_replica_die_with_it(
    backend: LocalReplicas, store: Store, tmp_path: Path
) -> None:
    # setsid: the daemon leaves the replica's session; the replica's crash or stop ends it
    source = ECHO.replace(
        "def load_ctx(model_dir):",
        "def load_ctx(model_dir):\n"
        "        import subprocess\n"
        "        child = subprocess.Popen(['setsid', 'sleep', '60'])\n"
        "        open(f'daemon-{os.getpid()}.pid', 'w').write(str(child.pid))",
    )
    code = checked_out(tmp_path / "root")
    backend.start(spec(store.bundle(source)), Log())
    (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
    first = pid_of(address)
    daemon = int((code / f"daemon-{first}.pid").read_text())
    os.kill(first, signal.SIGKILL)  # a crash: its daemon goes with it, a new replica starts
    assert_gone(daemon)
    (address,) = wait_for(backend, lambda s: s.ready == 1 and s.restarts == 1).addresses
    daemon = int((code / f"daemon-{pid_of(address)}.pid").read_text())
    backend.stop("serve-test")
    assert_gone(daemon)


def test_a_long_run_dir_falls_back_to_a_short_one(store: Store, tmp_path: Path) -> None:
    root = tmp_path / ("long-" * 20)
    run_dir = root / "serve-test" / "run"
    backend = LocalReplicas(root, store.content, backoff=(0.1, 0.4), grace=1.0)
    try:
        backend.start(spec(store.bundle(ECHO)), Log())
        (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
        assert address.startswith("unix:///tmp/kaon-")
        assert len(path_of(address)) < 100
        assert json.loads(predict(address, 5)[1])["ctx"]["home"] == str(run_dir / "home")
        backend.stop("serve-test")
        assert not Path(path_of(address)).parent.exists()
    finally:
        backend.stop_all()


def test_start_again_replaces_the_replicas(backend: LocalReplicas, store: Store) -> None:
    backend.start(spec(store.bundle(ECHO)), Log())
    (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
    old = pid_of(address)
    code = store.bundle("def predict(payload, ctx):\n    return 'v2'\n", name="v2")
    backend.start(spec(code, module="v2", replicas=1), Log())
    (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
    assert predict(address, 1)[1] == b'"v2"'
    assert_gone(old)


def replica_argv(tmp_path: Path, *extra: str) -> tuple[list[str], dict[str, str], Path]:
    """A replica of ECHO on tmp_path/r.sock, run straight from the source tree."""
    code, path = tmp_path / "code", tmp_path / "r.sock"
    code.mkdir()
    (code / "model.py").write_text(textwrap.dedent(ECHO))
    (code / "weights.txt").write_text("w-42\n")
    argv = [sys.executable, "-m", "kaon.runtime.replica", "--socket", str(path), "--code"]
    argv += [str(code), "--module", "model", "--model-dir", str(code), *extra]
    env = {"PYTHONPATH": str(Path(__file__).parents[2] / "src"), "HOME": str(tmp_path)}
    return argv, env, path


def test_sigterm_stops_a_replica_with_code_0(tmp_path: Path) -> None:
    argv, env, path = replica_argv(tmp_path)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 5
    while ping(str(path)) is None:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not Path(f"{path}.tmp").exists()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=5)
    assert proc.returncode == 0, out
    assert not path.exists()


def test_a_replica_stops_when_its_supervisor_dies(tmp_path: Path) -> None:
    argv, env, path = replica_argv(tmp_path)
    parent = f"""if True:
        import os, subprocess, time
        argv = {argv!r} + ["--parent-pid", str(os.getpid())]
        quiet = subprocess.DEVNULL
        child = subprocess.Popen(argv, start_new_session=True, stdout=quiet, stderr=quiet)
        while not os.path.exists({str(path)!r}):
            time.sleep(0.01)
        print(child.pid, flush=True)
    """
    done = subprocess.run(
        [sys.executable, "-c", parent], env=env, capture_output=True, check=True, timeout=10
    )
    assert_gone(int(done.stdout), timeout=5.0)  # the orphan exits by itself


def test_the_runtime_copy_is_the_installed_package(tmp_path: Path, store: Store) -> None:
    LocalReplicas(tmp_path, store.content)
    copy = tmp_path / "runtime" / "kaon"
    source = Path(kaon.runtime.__file__ or "").parent
    # the package's own __init__ (the SDK is copied too since issue 16: kaon.client in jobs)
    assert (copy / "__init__.py").read_bytes() == (source.parent / "__init__.py").read_bytes()
    assert (copy / "client" / "__init__.py").is_file()
    for name in ("__init__.py", "protocol.py", "replica.py"):
        assert (copy / "runtime" / name).read_bytes() == (source / name).read_bytes()
    determinism = source.parent / "determinism.py"
    assert (copy / "determinism.py").exists() == determinism.exists()


def pid_of(address: str) -> int:
    answer = ping(path_of(address))
    assert answer is not None and isinstance(answer["pid"], int)
    return answer["pid"]


def assert_gone(pid: int, timeout: float = 2.0) -> None:
    """`pid` has exited (a zombie waiting for init to reap it counts as exited)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.02)


def test_a_replica_that_never_gets_ready_is_restarted(tmp_path: Path, store: Store) -> None:
    backend = LocalReplicas(tmp_path / "root", store.content, backoff=(0.1, 1.0), ready_timeout=1.0)
    code = store.bundle(
        "import time\n\ndef load_ctx(d):\n    time.sleep(100)\n\ndef predict(p, c):\n    return 1\n",
    )
    log = Log()
    try:
        backend.start(spec(code), log)
        status = wait_for(backend, lambda s: s.restarts >= 1, timeout=10)
        assert status.ready == 0 and "before it was ready" in status.last_error
        assert "[replica 0] not ready after 1 s: killing it" in log
    finally:
        backend.stop("serve-test")


BWRAP = shutil.which("bwrap")


@pytest.mark.skipif(BWRAP is None or not bwrap_works(BWRAP), reason="needs bubblewrap")
def test_hidden_folders_are_hidden_from_a_sandboxed_replica(tmp_path: Path, store: Store) -> None:
    secret = tmp_path / "platform"
    (secret / "inner").mkdir(parents=True)
    (secret / "token").write_text("platform token")
    source = ECHO.replace(
        "def predict(payload, ctx):",
        "def predict(payload, ctx):\n"
        "        if payload == 'look':\n"
        f"            path = {str(secret / 'token')!r}\n"
        "            try:\n"
        "                return open(path).read()\n"
        "            except OSError as exc:\n"
        "                return type(exc).__name__\n"
        "        if payload == 'tmp':\n"
        "            import tempfile\n"
        "            with tempfile.NamedTemporaryFile() as f:\n"
        "                return f.name",
    )
    # the run folder (and so the code) inside the hidden folder; its sockets, too long for
    # it, in /tmp (private in the sandbox): each is bound back
    root = secret / "inner" / ("long-" * 20)
    run_dir = root / "serve-test" / "run"
    backend = LocalReplicas(root, store.content, backoff=(0.1, 0.4), grace=1.0)
    try:
        backend.start(spec(store.bundle(source), hidden=(secret,)), Log())
        (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
        assert address.startswith("unix:///tmp/kaon-")
        assert json.loads(predict(address, "look")[1]) == "FileNotFoundError"
        assert json.loads(predict(address, "tmp")[1]).startswith(str(run_dir / "tmp"))
        assert json.loads(predict(address, 5)[1])["ctx"]["weights"] == "w-42"
        replica = pid_of(address)  # the kernel's pid, as seen here: it can be killed
        os.kill(replica, signal.SIGKILL)
        wait_for(backend, lambda s: s.ready == 1 and s.restarts == 1)
    finally:
        backend.stop_all()


# -- the port says what runs, the backend fetches it (issue 14) -------------------------------


def test_the_backend_fetches_the_tree_it_is_told_to_run(
    backend: LocalReplicas, store: Store, tmp_path: Path
) -> None:
    sources = tmp_path / "bundle"
    folder = sources / "svc" / "model"
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(
        textwrap.dedent(ECHO).replace(
            'return {"weights"',
            "shared = open(os.path.join(model_dir, '..', 'shared.txt')).read()\n"
            '        return {"shared": shared, "weights"',
        )
    )
    (folder / "weights.txt").write_text("w-7\n")
    (sources / "svc" / "shared.txt").write_text("beside the module's folder")
    code = store.put(sources)
    backend.start(spec(code, folder="svc/model"), Log())
    (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
    run = tmp_path / "root" / "serve-test" / "run"
    if len(f"{run}/r0.sock".encode()) <= MAX_SOCKET_PATH:
        assert address == f"unix://{run}/r0.sock"
    else:  # pytest's folder is too deep for a socket: the backend's short fallback
        assert re.fullmatch(r"unix://.*/kaon-[^/]+/r0\.sock", address), address
    ctx = json.loads(predict(address, 1)[1])["ctx"]
    assert ctx["cwd"] == str(checked_out(tmp_path / "root", "svc/model"))
    assert (ctx["weights"], ctx["shared"]) == ("w-7", "beside the module's folder")
    assert backend.recycle("serve-test", "unix:///elsewhere/r0.sock") is False
    assert backend.recycle("serve-test", address) is True  # restarted like a crashed one
    wait_for(backend, lambda s: s.ready == 1 and s.restarts == 1)


def test_a_tree_that_is_not_in_the_store_starts_nothing(
    backend: LocalReplicas, store: Store, tmp_path: Path
) -> None:
    gone = TreeRef(RepoName("ws-code"), CommitId("0" * 64))
    with pytest.raises(NotFound):
        backend.start(spec(gone), Log())
    assert backend.status("serve-test") is None
    assert list((tmp_path / "root" / "serve-test").iterdir()) == []  # no half checkout


def test_one_connection_takes_pings_then_predictions_in_order(
    backend: LocalReplicas, store: Store
) -> None:
    """A new connection's pings are answered before it reaches the event loop; its first
    other request moves it there, with the requests after it (pings included)."""
    backend.start(spec(store.bundle(ECHO)), Log())
    (address,) = wait_for(backend, lambda s: s.ready == 1).addresses
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path_of(address))
        answers = []
        for i, header in enumerate(
            [
                {"op": "ping", "id": "p1"},
                {"op": "ping"},
                {"op": "predict", "id": "q1", "content_type": "application/json"},
                {"op": "ping", "id": "p2"},
                {"op": "predict", "id": "q2", "content_type": "application/json"},
            ]
        ):
            write_frame(
                sock, header, json.dumps([i]).encode() if header["op"] == "predict" else b""
            )
            answers.append(read_frame(sock))
    assert [h.get("id") for h, _ in answers] == ["p1", None, "q1", "p2", "q2"]
    assert all(h["status"] == 200 for h, _ in answers)
    assert json.loads(answers[2][1])["echo"] == [2]
    assert json.loads(answers[4][1])["echo"] == [4]
    assert answers[0][0]["ready"] is True and answers[3][0]["ready"] is True
