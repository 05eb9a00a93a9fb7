"""UvEnvBuilder: locks with `uv pip compile`, virtualenvs with `uv venv` + `uv pip sync`.

Layout under `root`:

    locks/<key>.txt     the lock of one requirements text for one Python version (a cache:
                        the same text is never resolved twice)
    envs/<lock id>/     a finished virtualenv; `.ready` inside marks it complete
    envs/<lock id>.lock flock(2) target: one builder per environment, across processes
    .tmp/               work in progress: lock-<key>-<random>/, env-<lock id>-<random>/

An environment is built in `.tmp/` and renamed into `envs/` only once `.ready` is written, so a
killed build never looks finished; the next build of any environment removes the garbage.
Venvs are created `--relocatable`, so they keep working after that rename. uv's own cache
(UV_CACHE_DIR or its default) makes rebuilds cheap: no download, no wheel built twice. Files
are always copied from it (UV_LINK_MODE=copy, whatever the server inherited): in the sandbox
`root` and the cache are two bind mounts, across which link(2) fails (uv would warn, then copy),
and a hard-linked file written by an unsandboxed job would change uv's cache for every later
environment. `root` may be shared by servers of one machine (KAON_ENV_DIR): every step is
safe across processes.

uv runs under the run supervisor (it dies with the server) and, given `hidden` folders, in the
jobs' sandbox (kaon.exec.sandbox, network kept): building a package from source runs code of
the requirements' choosing, which must not read the platform's files either. It writes only
`root` and uv's cache, and gets the server's environment without its KAON_* settings.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uv
from blake3 import blake3

from kaon.core.errors import BackendUnavailable, BuildFailed, InvalidInput
from kaon.exec.process import ProcessRunner, RunSpec
from kaon.ports.envbuilder import Environment, EnvLock, LogSink

READY = ".ready"
LOCK_FILE = "kaon.lock.txt"  # the lock an environment was built from, kept inside it
LINK_MODE = "copy"  # how uv puts cached packages into an environment (the module doc says why)
STALE_SECONDS = 3600.0  # unknown .tmp entries older than this are garbage
_ID = re.compile(r"[0-9a-f]{16,64}")
_MAX_ERROR_LINES = 30
USER_REQUIREMENTS = "requirements.txt"  # what bundles hold; uv reads our copy, requirements.in
FIX_REQUIREMENTS = (
    "Fix the requirement uv names in requirements.txt (exact pins look like `name==1.2.3`) "
    "and run again."
)
FIX_INSTALL = (
    "The lock resolved but did not install: check the network and that every pinned package "
    "has a wheel or builds on this machine, then run again."
)
FIX_PYTHON = "Check that the configured Python interpreter runs on this machine."


def lock_id(python: str, text: str) -> str:
    """The id of the environment of lock `text` on Python `python` ("3.11.7")."""
    return blake3(f"{python}\n{text}".encode()).hexdigest()[:32]


def has_requirements(text: str) -> bool:
    """Whether `text` (requirements.txt syntax) names anything besides comments and blanks."""
    return any(line.split("#", 1)[0].strip() for line in text.splitlines())


class UvEnvBuilder:
    """EnvBuilder over uv. Safe to share between threads, and between processes on one root."""

    def __init__(
        self,
        root: Path,
        python: str = sys.executable,
        uv_bin: str | None = None,
        hidden: tuple[Path, ...] = (),
    ) -> None:
        self.root = root
        self._hidden = hidden
        self._cache: Path | None = None
        self.python = python
        if uv_bin is None:
            try:
                uv_bin = uv.find_uv_bin()
            except FileNotFoundError as exc:
                raise BackendUnavailable(f"cannot build environments: {exc}") from exc
        self.uv_bin = uv_bin
        self._runner = ProcessRunner()
        self._version: str | None = None

    # -- EnvBuilder ------------------------------------------------------------------------

    def lock(self, requirements: str, log: LogSink, cancel: threading.Event) -> EnvLock:
        version = self.python_version()
        if not has_requirements(requirements):
            return EnvLock(lock_id(version, ""), "", version)
        key = blake3(f"{version}\n{requirements}".encode()).hexdigest()[:32]
        cached = self.root / "locks" / f"{key}.txt"
        if not cached.exists():
            self._make_dirs()
            with _exclusive(self.root / "locks" / f"{key}.lock", log, cancel):
                if not cached.exists():
                    text = self._compile(key, requirements, log, cancel)
                    _write_atomic(cached, text)
        text = cached.read_text()
        return EnvLock(lock_id(version, text), text, version)

    def ensure(self, lock: EnvLock, log: LogSink, cancel: threading.Event) -> Environment:
        env = self.environment(lock.id)
        if (env.root / READY).exists():
            return env
        if lock_id(lock.python, lock.text) != lock.id:
            raise InvalidInput(f"lock {lock.id} does not match its text: it was altered")
        if lock.python != self.python_version():
            raise InvalidInput(
                f"lock {lock.id} is for Python {lock.python} but this server builds with "
                f"Python {self.python_version()}: lock the requirements again here"
            )
        self._make_dirs()
        with _exclusive(self.root / "envs" / f"{lock.id}.lock", log, cancel):
            if (env.root / READY).exists():  # built by whoever held the lock before us
                return env
            self._clean_tmp(f"env-{lock.id}")
            if env.root.exists():  # a forget() that was interrupted
                shutil.rmtree(env.root)
            self._build(lock, env.root, log, cancel)
        return env

    def forget(self, lock_id: str) -> bool:
        env = self.environment(lock_id)
        if not env.root.exists():
            return False
        self._make_dirs()
        with _exclusive(self.root / "envs" / f"{lock_id}.lock", _quiet, threading.Event()):
            if not env.root.exists():
                return False
            trash = self.root / ".tmp" / f"env-{lock_id}-{secrets.token_hex(4)}"
            env.root.rename(trash)  # gone from envs/ at once; half-deleted never looks ready
            shutil.rmtree(trash, ignore_errors=True)
        return True

    # -- helpers ---------------------------------------------------------------------------

    def environment(self, lock_id: str) -> Environment:
        """Where the environment of `lock_id` lives (built or not)."""
        if not _ID.fullmatch(lock_id):
            raise InvalidInput(f"not a lock id: {lock_id!r}")
        root = self.root / "envs" / lock_id
        return Environment(lock_id, root, root / "bin", root / "bin" / "python")

    def python_version(self) -> str:
        """The version of `self.python` ("3.11.7"), found by running it once."""
        if self._version is None:
            if self.python == sys.executable:
                self._version = platform.python_version()
            else:
                self._version = self._ask_version()
        return self._version

    def _ask_version(self) -> str:
        argv = [self.python, "-c", "import platform; print(platform.python_version())"]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            raise BackendUnavailable(
                f"cannot run the Python interpreter {self.python}: {exc}. "
                "Configure an interpreter that exists on this machine."
            ) from exc
        return done.stdout.strip()

    def _compile(self, key: str, requirements: str, log: LogSink, cancel: threading.Event) -> str:
        work = self.root / ".tmp" / f"lock-{key}-{secrets.token_hex(4)}"
        work.mkdir()
        try:
            # A fixed relative name keeps the lock's "# via -r requirements.in" stable.
            (work / "requirements.in").write_text(requirements)
            compile_ = ["pip", "compile", "requirements.in", "-o", "requirements.txt"]
            compile_ += ["--python", self.python, "--generate-hashes", "--no-header", "--quiet"]
            self._uv(
                compile_,
                work,
                log,
                cancel,
                "resolve the requirements",
                FIX_REQUIREMENTS,
                shown={"requirements.in": USER_REQUIREMENTS},
            )
            text = (work / "requirements.txt").read_text()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        pins = [ln.split(" ", 1)[0] for ln in text.splitlines() if ln and ln[0] not in " #-"]
        log(f"locked {len(pins)} package{'' if len(pins) == 1 else 's'}: {' '.join(pins)}")
        return text

    def _build(self, lock: EnvLock, final: Path, log: LogSink, cancel: threading.Event) -> None:
        tmp = self.root / ".tmp" / f"env-{lock.id}-{secrets.token_hex(4)}"
        log(f"building environment {lock.id}")
        started = time.monotonic()
        try:
            venv = ["venv", "--python", self.python, "--relocatable", "--quiet", str(tmp)]
            self._uv(venv, self.root, log, cancel, "create the virtualenv", FIX_PYTHON)
            (tmp / LOCK_FILE).write_text(lock.text)
            if has_requirements(lock.text):
                sync = [
                    "pip",
                    "sync",
                    "--compile-bytecode",  # jobs then skip compiling every import (~1 s each)
                    "--python",
                    str(tmp / "bin" / "python"),
                    str(tmp / LOCK_FILE),
                ]
                self._uv(sync, self.root, log, cancel, "install the locked packages", FIX_INSTALL)
            (tmp / READY).write_text(lock.id + "\n")
            tmp.rename(final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        log(f"environment {lock.id} ready in {time.monotonic() - started:.1f} s")

    def _uv(
        self,
        args: list[str],
        cwd: Path,
        log: LogSink,
        cancel: threading.Event,
        what: str,
        fix: str,
        shown: dict[str, str] | None = None,
    ) -> None:
        """Run uv with `args`; BuildFailed with uv's own message if it fails. `shown` renames
        our working files in what the user reads (uv names the copy it was given)."""
        lines: list[str] = []

        def sink(line: str) -> None:
            for ours, theirs in (shown or {}).items():
                line = line.replace(ours, theirs)
            lines.append(line)
            log(line)

        env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
        env |= {"UV_NO_PROGRESS": "1", "NO_COLOR": "1", "UV_LINK_MODE": LINK_MODE}
        argv = (self.uv_bin, *args, "--no-progress")
        spec = RunSpec(argv, cwd, env)
        if self._hidden:
            cache = self._cache_dir()
            env |= {"UV_CACHE_DIR": str(cache), "TMPDIR": str(self.root / ".tmp")}
            spec = RunSpec(
                argv,
                cwd,
                env,
                hidden=self._hidden,
                writable=(self.root, cache),
                read_only=self._tools(),
            )
        result = self._runner.run(spec, sink, cancel)
        if result.cancelled:
            raise BuildFailed("build cancelled")
        if result.exit_code != 0:
            message = _error_text(lines) or f"uv exited with code {result.exit_code}"
            raise BuildFailed(f"could not {what}:\n{message}\n{fix}", output="\n".join(lines))

    def _cache_dir(self) -> Path:
        """uv's cache (asked once): builds write it, so it is bound into their sandbox."""
        if self._cache is None:
            text = os.environ.get("UV_CACHE_DIR", "")
            if not text:
                try:
                    done = subprocess.run(
                        [self.uv_bin, "cache", "dir"],
                        capture_output=True,
                        text=True,
                        timeout=60,
                        check=True,
                    )
                except (OSError, subprocess.SubprocessError) as exc:
                    raise BackendUnavailable(f"cannot find uv's cache folder: {exc}") from exc
                text = done.stdout.strip()
            self._cache = Path(text).absolute()
            self._cache.mkdir(parents=True, exist_ok=True)
        return self._cache

    def _tools(self) -> tuple[Path, ...]:
        """What uv needs to see wherever it is: its binary and the interpreter (its venv and
        the installation it links to)."""
        here = Path(self.uv_bin).resolve().parent
        python = Path(os.path.realpath(self.python)).parents[1]
        return (here, python, Path(self.python).absolute().parents[1])

    def _make_dirs(self) -> None:
        for sub in ("locks", "envs", ".tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _clean_tmp(self, ours: str) -> None:
        """Remove the `.tmp` entries nobody works on: those of `ours` (whose lock the caller
        holds), those whose lock is free, and unknown ones older than STALE_SECONDS."""
        now = time.time()
        for entry in (self.root / ".tmp").iterdir():
            kind, _, rest = entry.name.partition("-")
            owner = rest.rsplit("-", 1)[0]
            garbage = False
            if entry.name.startswith(ours + "-"):
                garbage = True
            elif kind in ("env", "lock") and _ID.fullmatch(owner):
                garbage = _is_free(self.root / f"{kind}s" / f"{owner}.lock")
            else:
                with contextlib.suppress(FileNotFoundError):
                    garbage = now - entry.lstat().st_mtime > STALE_SECONDS
            if garbage:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive(path: Path, log: LogSink, cancel: threading.Event) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if needed); waits while `cancel` is unset."""
    with path.open("a") as f:
        waiting = False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    log("waiting: another process is building the same lock or environment")
                    waiting = True
                if cancel.wait(0.05):
                    raise BuildFailed("build cancelled") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _is_free(path: Path) -> bool:
    """Whether nobody holds the flock on `path` (True if it does not exist)."""
    try:
        with path.open("r") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(f, fcntl.LOCK_UN)
            return True
    except FileNotFoundError:
        return True


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _error_text(lines: list[str]) -> str:
    """uv's error: from its first `error:` line on (or the last lines if there is none)."""
    for i, line in enumerate(lines):
        if line.startswith("error:"):
            return "\n".join(lines[i : i + _MAX_ERROR_LINES])
    return "\n".join(lines[-_MAX_ERROR_LINES:])


def _quiet(line: str) -> None:
    """A log sink that drops everything."""
