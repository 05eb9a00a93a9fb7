"""UvEnvBuilder against the real uv and the package index (small pure-Python packages only)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from kaon.core.errors import BuildFailed, InvalidInput
from kaon.exec.sandbox import bwrap_works
from kaon.exec.uv import READY, UvEnvBuilder, lock_id
from kaon.ports.envbuilder import Environment, EnvLock
from kaon.testing.contracts.envbuilder import EnvBuilderContract

SIX = "six==1.16.0\n"


class Log(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


@pytest.fixture
def builder(tmp_path: Path) -> UvEnvBuilder:
    return UvEnvBuilder(tmp_path / "envroot")


@pytest.fixture
def six_lock(builder: UvEnvBuilder) -> EnvLock:
    return builder.lock(SIX, Log(), threading.Event())


def python_in(env: Environment, code: str) -> str:
    done = subprocess.run([env.python, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_empty_requirements_lock_without_uv(tmp_path: Path) -> None:
    builder = UvEnvBuilder(tmp_path, uv_bin="/nonexistent/uv")  # would fail if it ran
    empty = builder.lock("", Log(), threading.Event())
    assert empty.text == ""
    assert empty.python == builder.python_version()
    assert empty.id == lock_id(empty.python, "")
    assert builder.lock("# nothing here\n\n   # at all\n", Log(), threading.Event()) == empty


def test_empty_lock_builds_a_bare_environment(builder: UvEnvBuilder) -> None:
    lock = builder.lock("", Log(), threading.Event())
    env = builder.ensure(lock, Log(), threading.Event())
    assert (env.root / READY).exists()
    assert python_in(env, "import sys; print(sys.prefix)") == str(env.root)
    assert python_in(env, "import importlib.util as u; print(u.find_spec('six'))") == "None"


def test_lock_cache_answers_without_uv(builder: UvEnvBuilder, six_lock: EnvLock) -> None:
    assert "six==1.16.0" in six_lock.text and "--hash=sha256:" in six_lock.text
    assert six_lock.python == builder.python_version()
    offline = UvEnvBuilder(builder.root, uv_bin="/nonexistent/uv")
    log = Log()
    again = offline.lock(SIX, log, threading.Event())
    assert again == six_lock
    assert log == []


@pytest.mark.parametrize(
    ("requirement", "uv_says"),
    [
        ("pandas=0.24", "no such comparison operator"),
        ("nonexistent-pkg-xyz==1.0", "nonexistent-pkg-xyz was not found in the package registry"),
    ],
)
def test_bad_requirement_fails_with_uvs_message(
    builder: UvEnvBuilder, requirement: str, uv_says: str
) -> None:
    log = Log()
    with pytest.raises(BuildFailed) as failed:
        builder.lock(requirement + "\n", log, threading.Event())
    assert uv_says in failed.value.message
    assert "run again" in failed.value.message
    assert any(uv_says in line for line in log)
    # uv read our copy, requirements.in; the user wrote requirements.txt
    assert not any("requirements.in" in line for line in [failed.value.message, *log])
    assert list((builder.root / "locks").glob("*.txt")) == []  # failures are not cached
    assert list((builder.root / ".tmp").iterdir()) == []


def test_install_reuse_and_relocation(builder: UvEnvBuilder, six_lock: EnvLock) -> None:
    log = Log()
    env = builder.ensure(six_lock, log, threading.Event())
    assert env.root == builder.root / "envs" / six_lock.id
    assert env.python == env.bin_dir / "python"
    assert any("six==1.16.0" in line for line in log)
    # Built in .tmp/ and renamed: it must work from its final place.
    assert python_in(env, "import six; print(six.__file__)").startswith(str(env.root))
    assert list((builder.root / ".tmp").iterdir()) == []
    ready = (env.root / READY).stat().st_mtime_ns

    log2 = Log()
    assert builder.ensure(six_lock, log2, threading.Event()) == env
    assert log2 == []
    assert (env.root / READY).stat().st_mtime_ns == ready


def test_concurrent_ensures_build_once(builder: UvEnvBuilder, six_lock: EnvLock) -> None:
    # Separate builders open the flock separately, as separate processes would.
    logs = [Log() for _ in range(3)]
    envs: list[Environment] = []

    def ensure(log: Log) -> None:
        envs.append(UvEnvBuilder(builder.root).ensure(six_lock, log, threading.Event()))

    threads = [threading.Thread(target=ensure, args=(log,)) for log in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(envs) == 3 and len(set(envs)) == 1
    builds = [line for log in logs for line in log if line.startswith("building environment")]
    assert len(builds) == 1
    assert python_in(envs[0], "import six; print(six.__version__)") == "1.16.0"


def test_forget_then_rebuild(builder: UvEnvBuilder, six_lock: EnvLock) -> None:
    env = builder.ensure(six_lock, Log(), threading.Event())
    assert builder.forget(six_lock.id) is True
    assert not env.root.exists()
    assert builder.forget(six_lock.id) is False
    log = Log()
    assert builder.ensure(six_lock, log, threading.Event()) == env
    assert any(line.startswith("building environment") for line in log)
    assert python_in(env, "import six; print(six.__version__)") == "1.16.0"


def test_cancel_leaves_nothing(builder: UvEnvBuilder, six_lock: EnvLock) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(BuildFailed, match="build cancelled"):
        builder.ensure(six_lock, Log(), cancel)
    assert not (builder.root / "envs" / six_lock.id).exists()
    assert list((builder.root / ".tmp").iterdir()) == []


def test_killed_build_garbage_is_cleaned(builder: UvEnvBuilder, six_lock: EnvLock) -> None:
    tmp = builder.root / ".tmp"
    ours = tmp / f"env-{six_lock.id}-dead0001"  # a build killed half-way
    other = tmp / f"env-{'0' * 32}-dead0002"  # another environment's: its lock is free
    unknown = tmp / "stray"  # recent and unknown: kept for now
    for d in (ours, other, unknown):
        (d / "bin").mkdir(parents=True)
    env = builder.ensure(six_lock, Log(), threading.Event())
    assert (env.root / READY).exists()
    assert sorted(p.name for p in tmp.iterdir()) == ["stray"]


def test_rejects_altered_or_foreign_locks(builder: UvEnvBuilder, six_lock: EnvLock) -> None:
    with pytest.raises(InvalidInput, match="altered"):
        builder.ensure(
            dataclasses.replace(six_lock, text="six==1.15.0\n"), Log(), threading.Event()
        )
    other = EnvLock(lock_id("2.7.18", six_lock.text), six_lock.text, "2.7.18")
    with pytest.raises(InvalidInput, match=r"Python 2\.7\.18"):
        builder.ensure(other, Log(), threading.Event())
    with pytest.raises(InvalidInput, match="not a lock id"):
        builder.forget("../../etc")


def test_a_sandboxed_build_locks_and_installs(tmp_path: Path) -> None:
    # the root inside a hidden folder (as $KAON_HOME/envs is): uv still writes there, and in
    # its cache, and reaches the index
    builder = UvEnvBuilder(tmp_path / "home" / "envs", hidden=(tmp_path / "home",))
    (tmp_path / "home" / "token").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "home" / "token").write_text("secret")
    log = Log()
    lock = builder.lock(SIX, log, threading.Event())
    env = builder.ensure(lock, log, threading.Event())
    assert python_in(env, "import six; print(six.__version__)") == "1.16.0"
    bwrap = shutil.which("bwrap")
    isolated = bwrap is not None and bwrap_works(bwrap)
    assert any("not isolated" in line for line in log) is not isolated, log


def test_a_sandboxed_build_in_a_hidden_shared_folder(tmp_path: Path) -> None:
    # KAON_ENV_DIR outside the home is hidden from user code too (wiring.platform_paths): the
    # build still writes it (hidden and bound back whole, it must not end up read-only)
    shared = tmp_path / "shared-envs"
    builder = UvEnvBuilder(shared, hidden=(tmp_path / "home", shared))
    (tmp_path / "home").mkdir()
    log = Log()
    env = builder.ensure(builder.lock(SIX, log, threading.Event()), log, threading.Event())
    assert python_in(env, "import six; print(six.__version__)") == "1.16.0"
    assert env.root.parent == shared / "envs"


class TestUvEnvBuilderContract(EnvBuilderContract):
    """The port's contract suite (kaon.testing.contracts.envbuilder) on uv."""

    @pytest.fixture
    def env_builder(self, tmp_path: Path) -> UvEnvBuilder:
        return UvEnvBuilder(tmp_path / "contract")
