"""Settings read once from the environment (KAON_*), shared by server, SDK and CLI."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from kaon.core.backends import redact_url
from kaon.core.cluster import CLAIM_SECONDS, HEARTBEAT_SECONDS
from kaon.core.errors import InvalidInput
from kaon.core.units import parse_memory

DEFAULT_PORT = 5266
DEFAULT_S3_PORT = 5267
DEFAULT_JOB_MEMORY = "75%"  # of this machine's RAM, for jobs without --memory (architecture.md)
TOKEN_FILE = "token"
SERVER_FILE = "server.json"
CLIENT_FILE = "config.json"
CONFIG_FILE = "config.toml"  # $KAON_HOME/config.toml: the server's [platform] settings

SETTINGS: dict[str, str] = {
    # the engines (also in config.toml [platform] and `kaon up|server` flags)
    "KAON_DATABASE_URL": "metadata database: sqlite:////abs/kaon.db, postgresql://user:pw@host/db",
    "KAON_METADATA_URL": "the old name of KAON_DATABASE_URL (still read)",
    "KAON_STORE_URL": "object store: file:///abs/dir, s3://bucket/prefix?endpoint=http://h:p",
    "KAON_EXECUTOR": "where jobs run: local, ray (ray.init('auto')), ray://head:10001",
    "KAON_REPLICAS": "where endpoint replicas run: local (default: as the executor)",
    # this server
    "KAON_HOME": "the server's folder: token, secret.key, config.toml, logs, local state",
    "KAON_HOST": "the interface the API and the S3 gateway listen on (127.0.0.1)",
    "KAON_PORT": "the API's port (5266)",
    "KAON_S3_PORT": "the S3 gateway's port (5267)",
    "KAON_ADVERTISE_URL": "the API's URL other servers reach this one at (http://host:port)",
    "KAON_CLAIM_SECONDS": "how long a server's claim on live work lasts without renewal (30)",
    "KAON_HEARTBEAT_SECONDS": "how often a server renews its claims (5)",
    # limits and behaviour
    "KAON_S3_ANONYMOUS": "1: unsigned S3 requests are allowed (open local mode)",
    "KAON_S3_UPLOAD_EXPIRY_DAYS": "unfinished S3 multipart uploads expire after (7)",
    "KAON_UPLOAD_LEASE_SECONDS": "an upload's lease after its last use (600)",
    "KAON_MAX_REQUEST_BYTES": "largest prediction body (5242880)",
    "KAON_FEEDBACK_MAX_BYTES": "largest feedback record (65536)",
    "KAON_FEEDBACK_RATE": "feedbacks per endpoint (600/min)",
    "KAON_MAX_PARALLEL": "trials and pipeline jobs at once (0: one per CPU)",
    "KAON_JOB_MEMORY": "a trial's memory when its job gives none (75%, 16Gi or none)",
    "KAON_ENV_BUILDER": "how environments are built (uv)",
    "KAON_ENV_DIR": "built environments and locks, shareable by servers ($KAON_HOME/envs)",
    "KAON_PFS_MODE": "pipeline datums' /pfs: auto, bubblewrap or rewrite",
    "KAON_RAY_WORKDIR": "on Ray nodes: tasks' folders and cached trees (/tmp/kaon-ray)",
    "KAON_RAY_ENVS": "on Ray nodes: the uv environments (/tmp/kaon-ray/envs)",
    # the CLI and SDK
    "KAON_ENDPOINT": "the server the CLI and SDK talk to (wins over `kaon init`)",
    "KAON_TOKEN": "the API token the CLI and SDK act with (wins over `kaon init`)",
    "KAON_WORKSPACE": "the workspace the CLI acts in (wins over `kaon workspace set`)",
    "KAON_PACK_DROP": "0: the CLI sends packs over HTTP even to a server on its machine",
    "KAON_DEBUG": "1: the CLI prints tracebacks (--debug)",
}
"""Every KAON_* variable an operator or a user may set, with what it means (README's table,
the deployment manifests' test). Variables kaon sets for user code (KAON_SEED, ...) are not
settings."""

PLATFORM_KEYS = {
    "database": "KAON_DATABASE_URL",
    "store": "KAON_STORE_URL",
    "executor": "KAON_EXECUTOR",
}
"""config.toml's [platform] keys and the variable each one stands for."""
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# gc.set_threshold for the server and the CLI: collections ~100x rarer than the defaults
# (700, 10, 10). An upload or commit of 20,000 files allocates ~10^6 objects that live until
# it ends; the default collector walked them again and again (a third of such a request).
GC_THRESHOLDS = (100_000, 50, 100)


PRIVATE_UMASK = 0o077  # the server's: what it writes is 0600 / 0700 (data at rest is private)


def kaon_home() -> Path:
    return Path(os.environ.get("KAON_HOME") or Path.home() / ".kaon").expanduser().absolute()


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) mode 0700; an existing one that other users could
    enter is closed (chmod 0700): a home made by an older kaon becomes private at start-up."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def private_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, mode 0600 (a file of $KAON_HOME)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


@dataclass(frozen=True)
class ServerSettings:
    home: Path
    metadata_url: str
    store_url: str
    host: str
    port: int
    executor: str = "local"
    env_builder: str = "uv"
    max_parallel: int = 0  # trials running at once across jobs; 0: one per CPU
    s3_port: int = DEFAULT_S3_PORT  # the S3 gateway's port (0: any free one)
    s3_anonymous: bool = False  # open local mode: unsigned S3 requests are allowed
    max_request_bytes: int = 5 * 1024 * 1024  # prediction bodies larger than this get a 413
    s3_upload_expiry_days: float = 7.0  # unfinished multipart uploads older than this expire
    feedback_max_bytes: int = 64 * 1024  # a feedback record larger than this gets a 413
    feedback_rate: tuple[int, float] = (600, 60.0)  # feedbacks per endpoint: count / seconds
    upload_lease_seconds: float = 600.0  # an upload's lease lives this long after its last use
    advertise_url: str = ""  # the API's URL other servers reach it at (KAON_ADVERTISE_URL;
    # "": http://host:port); see kaon.core.cluster
    claim_seconds: float = CLAIM_SECONDS  # a claim on live work not renewed this long is free
    heartbeat_seconds: float = HEARTBEAT_SECONDS  # servers renew their claims this often
    job_memory: int | None = None  # a trial's memory limit when its job gives no --memory
    # (from_env: 75% of this machine's memory); applied only where a cgroup bounds the trial

    replicas: str = ""  # where endpoint replicas run (KAON_REPLICAS; "": as the executor)
    ray_workdir: str = "/tmp/kaon-ray"  # on Ray nodes: tasks' folders, cached trees
    ray_envs: str = "/tmp/kaon-ray/envs"  # on Ray nodes: the uv environments
    env_dir: str = ""  # KAON_ENV_DIR: this server's environments and locks ("": home / envs);
    # servers (test platforms) on one machine may share one: builds are flock-safe across them
    origins: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # where database / store / executor came from (a flag, a variable, config.toml's key)

    @property
    def executor_kind(self) -> str:
        """The executor's name: `ray` for `ray` and `ray://head:10001`, else the setting."""
        return self.executor.split("://", 1)[0]

    @property
    def envs(self) -> Path:
        """The environment builder's folder: KAON_ENV_DIR, else $KAON_HOME/envs."""
        return Path(self.env_dir) if self.env_dir else self.home / "envs"

    @property
    def replicas_kind(self) -> str:
        return self.replicas or self.executor_kind

    def origin(self, key: str) -> str:
        """Where the `key` setting (database, store, executor) came from, for messages."""
        return self.origins.get(key, "")

    @staticmethod
    def from_env(
        host: str | None = None,
        port: int | None = None,
        s3_port: int | None = None,
        *,
        database: str | None = None,
        store: str | None = None,
        executor: str | None = None,
    ) -> ServerSettings:
        """The settings of a server: flags (the arguments) win over KAON_* variables, which
        win over $KAON_HOME/config.toml's [platform] keys, which win over the defaults.
        InvalidInput names the flag, variable or file key of a bad value."""
        home = kaon_home()
        claim = _days("KAON_CLAIM_SECONDS", CLAIM_SECONDS, unit="seconds")
        beat = _days("KAON_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS, unit="seconds")
        if beat >= claim:
            raise SystemExit(
                f"KAON_HEARTBEAT_SECONDS={beat:g} must be less than KAON_CLAIM_SECONDS={claim:g} "
                "(claims are renewed every heartbeat: a third of the claim time is usual)"
            )
        api_port = port if port is not None else int(os.environ.get("KAON_PORT") or DEFAULT_PORT)
        engines = Engines(home, read_config(home))
        database_url, origin_db = engines.pick(
            "database", database, f"sqlite:///{home / 'kaon.db'}"
        )
        store_url, origin_store = engines.pick("store", store, f"file://{home / 'objects'}")
        executor_name, origin_exec = engines.pick("executor", executor, "local")
        return ServerSettings(
            home=home,
            metadata_url=database_url,
            store_url=store_url,
            host=host or os.environ.get("KAON_HOST") or "127.0.0.1",
            port=api_port,
            executor=executor_name,
            env_builder=os.environ.get("KAON_ENV_BUILDER") or "uv",
            max_parallel=int(os.environ.get("KAON_MAX_PARALLEL") or 0),
            max_request_bytes=int(os.environ.get("KAON_MAX_REQUEST_BYTES") or 5 * 1024 * 1024),
            s3_port=_s3_port(s3_port, api_port),
            s3_anonymous=os.environ.get("KAON_S3_ANONYMOUS", "") in ("1", "true", "yes"),
            s3_upload_expiry_days=_days("KAON_S3_UPLOAD_EXPIRY_DAYS", 7.0),
            feedback_max_bytes=_positive_int("KAON_FEEDBACK_MAX_BYTES", 64 * 1024),
            feedback_rate=_rate("KAON_FEEDBACK_RATE", "600/min"),
            upload_lease_seconds=_days("KAON_UPLOAD_LEASE_SECONDS", 600.0, unit="seconds"),
            job_memory=_job_memory("KAON_JOB_MEMORY", DEFAULT_JOB_MEMORY),
            advertise_url=os.environ.get("KAON_ADVERTISE_URL") or "",
            claim_seconds=claim,
            heartbeat_seconds=beat,
            replicas=os.environ.get("KAON_REPLICAS") or "",
            ray_workdir=os.environ.get("KAON_RAY_WORKDIR") or "/tmp/kaon-ray",
            ray_envs=os.environ.get("KAON_RAY_ENVS") or "/tmp/kaon-ray/envs",
            env_dir=_env_dir(home),
            origins={"database": origin_db, "store": origin_store, "executor": origin_exec},
        )


def read_config(home: Path) -> dict[str, str]:
    """$KAON_HOME/config.toml's [platform] keys ({} without the file); anything else in it
    (another table, an unknown key, a value that is not a string) is refused, naming it."""
    path = home / CONFIG_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid TOML ({exc}): fix it or remove it") from None
    keys = ", ".join(PLATFORM_KEYS)
    for name, table in doc.items():
        if name != "platform" or not isinstance(table, dict):
            raise InvalidInput(
                f"{path}: unknown setting {name!r}: kaon reads only the [platform] table "
                f"(keys {keys})"
            )
    found: dict[str, str] = {}
    for key, value in doc.get("platform", {}).items():
        if key not in PLATFORM_KEYS:
            raise InvalidInput(f"{path}: unknown key {key!r} in [platform]: use one of {keys}")
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(
                f"{path}: [platform] {key} must be a non-empty string "
                f'(e.g. {key} = "{_EXAMPLES[key].split()[0]}")'
            )
        found[key] = value.strip()
    return found


_EXAMPLES = {
    "database": "postgresql://kaon:secret@db.example:5432/kaon or sqlite:////srv/kaon/kaon.db",
    "store": "s3://kaon-data/prod?endpoint=http://minio.example:9000 or file:///srv/kaon/objects",
    "executor": "ray://ray-head.example:10001",
}


@dataclass(frozen=True)
class Engines:
    """Picks database / store / executor: flag > variable > config.toml > default."""

    home: Path
    file: dict[str, str]

    def pick(self, key: str, flag: str | None, default: str) -> tuple[str, str]:
        """(value, where it came from), checked."""
        if flag:
            value, origin = flag.strip(), f"--{key}"
        elif (env := self._variable(key)) is not None:
            value, origin = env
        elif key in self.file:
            value, origin = self.file[key], f"{self.home / CONFIG_FILE} [platform] {key}"
        else:
            return default, "default"
        _check(key, value, origin)
        return value, origin

    def _variable(self, key: str) -> tuple[str, str] | None:
        name = PLATFORM_KEYS[key]
        value = (os.environ.get(name) or "").strip()
        if key == "database":
            old = (os.environ.get("KAON_METADATA_URL") or "").strip()
            if value and old and old != value:
                raise InvalidInput(
                    "KAON_DATABASE_URL and KAON_METADATA_URL (its old name) name different "
                    f"databases ({redact_url(value)} and {redact_url(old)}): unset "
                    "KAON_METADATA_URL"
                )
            if old and not value:
                return old, "KAON_METADATA_URL"
        return (value, name) if value else None


def _check(key: str, value: str, origin: str) -> None:
    """A URL must have a scheme (which ones the platform supports is wiring's answer); an
    executor is `local`, `ray` or `ray://host:port`."""
    if key == "executor":
        name = re.fullmatch(r"[a-z][a-z0-9_-]*", value)  # local, ray (which exist: wiring)
        if not name and not re.fullmatch(r"ray://[^/:?#\s]+:[0-9]{1,5}/?", value):
            raise InvalidInput(
                f"{origin}: executor {value!r} is not local, ray or ray://host:port "
                f"(e.g. {_EXAMPLES['executor']})"
            )
        return
    if not _URL.match(value):
        shown = re.sub(r"^[^/]*@", "***@", redact_url(value))  # user:password@ unparsed
        raise InvalidInput(
            f"{origin}: {shown!r} is not a {key} URL (no scheme://): e.g. {_EXAMPLES[key]}"
        )


def exposure_warning(host: str) -> str | None:
    """What to tell the operator of a server listening on `host`, when that is not this machine
    only (127.0.0.0/8, ::1, localhost): prediction routes of endpoints deployed without --auth
    answer there without a token."""
    if host in ("localhost", "::1") or host.startswith("127."):
        return None
    return (
        f"kaon listens on {host}, not only on this machine: endpoints (/<endpoint>/invocations, "
        "/feedback, /v2/..., /metrics) answer anyone who can reach it, without a token, unless "
        "deployed with `kaon serve deploy --auth` (then a user's token is needed; /metrics "
        "stays open); keep it behind a firewall or an authenticating proxy, or set "
        "KAON_HOST=127.0.0.1"
    )


def physical_memory() -> int:
    """Bytes of RAM of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _job_memory(name: str, default: str) -> int | None:
    """A size (16Gi), a share of this machine's memory (75%: rounded down to a MiB) or none."""
    text = (os.environ.get(name) or default).strip()
    if text.lower() == "none":
        return None
    try:
        if text.endswith("%"):
            share = Fraction(text[:-1])
            if not 0 < share <= 100:
                raise ValueError(text)
            return max(1, int(physical_memory() * share / 100) >> 20) << 20
        return parse_memory(text)
    except (ValueError, ZeroDivisionError, InvalidInput):
        raise SystemExit(
            f"{name}={text!r}: expected a size (16Gi), a share of this machine's memory (75%) "
            "or none"
        ) from None


def _folder(name: str) -> str:
    """An absolute folder (~ expanded), or "" when `name` is unset."""
    text = (os.environ.get(name) or "").strip()
    if not text:
        return ""
    path = Path(text).expanduser()
    if not path.is_absolute() or path == Path("/"):
        raise SystemExit(f"{name}={text!r}: expected an absolute folder (e.g. /srv/kaon/envs)")
    return str(path)


def _env_dir(home: Path) -> str:
    """KAON_ENV_DIR: a folder that is not the home nor holds it (the home stays hidden from
    builds, which write all of this folder)."""
    text = _folder("KAON_ENV_DIR")
    if text and (Path(text) == home or Path(text) in home.parents):
        raise SystemExit(
            f"KAON_ENV_DIR={text!r} holds KAON_HOME ({home}): use a folder of its own "
            f"(e.g. {home / 'envs'}, the default, or /srv/kaon/envs)"
        )
    return text


def _positive_int(name: str, default: int) -> int:
    text = os.environ.get(name) or ""
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise SystemExit(f"{name}={text!r}: expected a positive number of bytes (e.g. 65536)")
    return int(text)


def _rate(name: str, default: str) -> tuple[int, float]:
    text = os.environ.get(name) or default
    match = re.fullmatch(r"\s*([0-9]+)\s*/\s*(s|min|h)\s*", text)
    if not match or int(match.group(1)) < 1:
        raise SystemExit(f"{name}={text!r}: expected COUNT/PERIOD, PERIOD s, min or h (600/min)")
    return int(match.group(1)), {"s": 1.0, "min": 60.0, "h": 3600.0}[match.group(2)]


def _days(name: str, default: float, unit: str = "days") -> float:
    text = os.environ.get(name) or ""
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SystemExit(f"{name}={text!r}: expected a positive number of {unit} (e.g. 7 or 0.5)")
    return value


def _s3_port(given: int | None, api_port: int) -> int:
    """--s3-port, else KAON_S3_PORT, else 5267; when the API takes any free port (0), so does
    the S3 gateway (parallel servers of tests and benchmarks never collide)."""
    if given is not None:
        return given
    env = os.environ.get("KAON_S3_PORT")
    if env:
        return int(env)
    return 0 if api_port == 0 else DEFAULT_S3_PORT
