"""The server's settings: flags > KAON_* variables > $KAON_HOME/config.toml > defaults, the
old KAON_METADATA_URL still read, and bad input refused naming the flag, variable or file key
(never showing a password)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kaon.config import CONFIG_FILE, SETTINGS, ServerSettings
from kaon.core.errors import InvalidInput

SRC = Path(__file__).resolve().parents[1] / "src" / "kaon"
ENGINE_VARIABLES = ("KAON_DATABASE_URL", "KAON_METADATA_URL", "KAON_STORE_URL", "KAON_EXECUTOR")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KAON_HOME", str(tmp_path))
    for name in ENGINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def write_config(home: Path, text: str) -> Path:
    path = home / CONFIG_FILE
    path.write_text(text)
    return path


def test_defaults_without_config(home: Path) -> None:
    s = ServerSettings.from_env()
    assert s.metadata_url == f"sqlite:///{home / 'kaon.db'}"
    assert s.store_url == f"file://{home / 'objects'}"
    assert (s.executor, s.executor_kind, s.replicas_kind) == ("local", "local", "local")
    assert s.origins == {"database": "default", "store": "default", "executor": "default"}


def test_flags_win_over_variables_over_config_over_defaults(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        home,
        '[platform]\ndatabase = "sqlite:////srv/file.db"\nstore = "file:///srv/file-objects"\n'
        'executor = "ray://file-head:10001"\n',
    )
    s = ServerSettings.from_env()
    assert (s.metadata_url, s.store_url, s.executor) == (
        "sqlite:////srv/file.db",
        "file:///srv/file-objects",
        "ray://file-head:10001",
    )
    assert s.executor_kind == "ray" and s.replicas_kind == "ray"
    assert s.origin("store") == f"{path} [platform] store"

    monkeypatch.setenv("KAON_DATABASE_URL", "sqlite:////srv/env.db")
    monkeypatch.setenv("KAON_STORE_URL", "file:///srv/env-objects")
    monkeypatch.setenv("KAON_EXECUTOR", "local")
    s = ServerSettings.from_env()
    assert (s.metadata_url, s.store_url, s.executor) == (
        "sqlite:////srv/env.db",
        "file:///srv/env-objects",
        "local",
    )
    assert s.origin("database") == "KAON_DATABASE_URL"

    s = ServerSettings.from_env(
        database="sqlite:////srv/flag.db", store="memory://", executor="ray"
    )
    assert (s.metadata_url, s.store_url, s.executor) == (
        "sqlite:////srv/flag.db",
        "memory://",
        "ray",
    )
    assert s.origins == {"database": "--database", "store": "--store", "executor": "--executor"}


def test_the_old_variable_name_is_still_read(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAON_METADATA_URL", "sqlite:////srv/old.db")
    s = ServerSettings.from_env()
    assert (s.metadata_url, s.origin("database")) == ("sqlite:////srv/old.db", "KAON_METADATA_URL")
    monkeypatch.setenv("KAON_DATABASE_URL", "sqlite:////srv/old.db")  # the same: fine
    assert ServerSettings.from_env().origin("database") == "KAON_DATABASE_URL"
    monkeypatch.setenv("KAON_DATABASE_URL", "postgresql://kaon:hunter2@db/kaon")
    with pytest.raises(InvalidInput, match="unset KAON_METADATA_URL") as info:
        ServerSettings.from_env()
    assert "hunter2" not in info.value.message and "kaon:***@db" in info.value.message


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[platform]\ndatabse = "sqlite:////x.db"\n', ["unknown key 'databse'", "[platform]"]),
        ("[server]\nport = 1\n", ["unknown setting 'server'", "only the [platform] table"]),
        ('database = "sqlite:////x.db"\n', ["unknown setting 'database'"]),
        ("[platform]\nstore = 3\n", ["[platform] store must be a non-empty string"]),
        ('[platform]\nexecutor = ""\n', ["[platform] executor must be a non-empty string"]),
        ("[platform\n", ["is not valid TOML"]),
    ],
)
def test_a_bad_config_file_names_the_file_and_key(home: Path, text: str, names: list[str]) -> None:
    path = write_config(home, text)
    with pytest.raises(InvalidInput) as info:
        ServerSettings.from_env()
    assert str(path) in info.value.message
    for name in names:
        assert name in info.value.message


@pytest.mark.parametrize(
    ("where", "key", "value", "origin"),
    [
        ("flag", "database", "localhost:5432/kaon", "--database"),
        ("env", "KAON_STORE_URL", "/srv/objects", "KAON_STORE_URL"),
        ("file", "store", "bucket/prefix", "[platform] store"),
        ("env", "KAON_EXECUTOR", "ray://head", "KAON_EXECUTOR"),
        ("file", "executor", "http://ray-head:10001", "[platform] executor"),
        ("flag", "executor", "ray:/head", "--executor"),
    ],
)
def test_a_bad_url_names_where_it_came_from(
    home: Path, monkeypatch: pytest.MonkeyPatch, where: str, key: str, value: str, origin: str
) -> None:
    if where == "flag":
        call = {key: value}
    elif where == "env":
        monkeypatch.setenv(key, value)
        call = {}
    else:
        write_config(home, f'[platform]\n{key} = "{value}"\n')
        call = {}
    with pytest.raises(InvalidInput) as info:
        ServerSettings.from_env(**call)
    message = info.value.message
    assert message.startswith(f"{home / CONFIG_FILE} {origin}" if where == "file" else origin)
    assert "e.g." in message  # what a good one looks like


def test_a_password_in_a_bad_url_is_not_shown(home: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        ServerSettings.from_env(database="kaon:hunter2@db.example/kaon?password=hunter2")
    assert "hunter2" not in info.value.message


def test_the_executor_forms(home: Path) -> None:
    for value, kind in (("local", "local"), ("ray", "ray"), ("ray://10.0.0.5:10001", "ray")):
        assert ServerSettings.from_env(executor=value).executor_kind == kind


def test_replicas_follow_the_executor_unless_set(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ServerSettings.from_env(executor="ray").replicas_kind == "ray"
    monkeypatch.setenv("KAON_REPLICAS", "local")
    assert ServerSettings.from_env(executor="ray").replicas_kind == "local"


def _kaon_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("KAON_")
        and node.value[5:].replace("_", "").isalnum()
        and node.value.isupper()
    }


def test_every_variable_the_server_cli_and_sdk_read_is_a_listed_setting() -> None:
    """SETTINGS (README's table, the deployment manifests' test) misses none of them."""
    files = [SRC / "config.py", SRC / "exec" / "pfs.py", SRC / "api" / "server.py"]
    files += sorted((SRC / "wiring").glob("*.py"))
    files += sorted((SRC / "cli").glob("*.py")) + sorted((SRC / "client").glob("*.py"))
    read = set().union(*(_kaon_names(f) for f in files))
    read -= {"KAON_HOME"} if "KAON_HOME" in SETTINGS else set()
    assert read and read <= set(SETTINGS), sorted(read - set(SETTINGS))


def test_the_readme_lists_every_setting() -> None:
    readme = (SRC.parents[1] / "README.md").read_text()
    missing = [name for name in SETTINGS if f"`{name}`" not in readme]
    assert not missing, missing


def test_the_ray_nodes_folders_are_server_settings(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KAON_RAY_WORKDIR / KAON_RAY_ENVS are read once with the other settings (the wiring of
    the Ray executor takes them from ServerSettings, not from the environment)."""
    monkeypatch.delenv("KAON_RAY_WORKDIR", raising=False)
    monkeypatch.delenv("KAON_RAY_ENVS", raising=False)
    s = ServerSettings.from_env()
    assert (s.ray_workdir, s.ray_envs) == ("/tmp/kaon-ray", "/tmp/kaon-ray/envs")
    monkeypatch.setenv("KAON_RAY_WORKDIR", "/srv/ray/tasks")
    monkeypatch.setenv("KAON_RAY_ENVS", "/srv/ray/envs")
    s = ServerSettings.from_env()
    assert (s.ray_workdir, s.ray_envs) == ("/srv/ray/tasks", "/srv/ray/envs")


def test_the_environments_folder_is_a_setting(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """KAON_ENV_DIR moves the environment builder's folder out of the home (servers of one
    machine share it); unset it is $KAON_HOME/envs; a relative folder is refused, named."""
    monkeypatch.delenv("KAON_ENV_DIR", raising=False)
    assert ServerSettings.from_env().envs == home / "envs"
    monkeypatch.setenv("KAON_ENV_DIR", "/srv/kaon/envs")
    assert ServerSettings.from_env().envs == Path("/srv/kaon/envs")
    monkeypatch.setenv("KAON_ENV_DIR", "~/envs")
    assert ServerSettings.from_env().envs == Path.home() / "envs"
    for bad in ("envs", "/"):
        monkeypatch.setenv("KAON_ENV_DIR", bad)
        with pytest.raises(SystemExit, match=f"KAON_ENV_DIR='{bad}': expected an absolute folder"):
            ServerSettings.from_env()
    monkeypatch.setenv("KAON_ENV_DIR", str(home.parent))  # would expose the home to builds
    with pytest.raises(SystemExit, match="holds KAON_HOME"):
        ServerSettings.from_env()
