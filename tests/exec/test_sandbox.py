"""The bubblewrap command line: what is hidden, bound back and kept."""

from __future__ import annotations

from pathlib import Path

from kaon.exec.sandbox import bwrap_argv


def tmpfs(line: list[str]) -> list[str]:
    return [line[i + 1] for i, arg in enumerate(line) if arg == "--tmpfs"]


def test_hidden_folders_outermost_and_existing_only(tmp_path: Path) -> None:
    home, store = tmp_path / "home", tmp_path / "home" / "objects"
    store.mkdir(parents=True)
    line = bwrap_argv("bwrap", ["true"], home, hidden=[home, store, tmp_path / "missing"])
    # the store is inside the home (one tmpfs hides both); a missing folder hides nothing and
    # would need a mount point bubblewrap cannot make on the read-only root
    assert tmpfs(line) == ["/tmp", str(home)]
    assert line[-2:] == ["--", "true"]
    assert "--unshare-net" not in line and "--unshare-pid" in line


def test_no_network_and_binds_in_order(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "work" / "data"
    line = bwrap_argv("bwrap", ["x"], work, read_only=[out], writable=[work], network=False)
    assert "--unshare-net" in line
    assert line.index("--bind") < line.index(str(out))  # the input stays read-only inside


def test_a_hidden_folder_bound_back_writable_whole_is_not_remounted_read_only(
    tmp_path: Path,
) -> None:
    home, envs = tmp_path / "home", tmp_path / "envs"
    home.mkdir()
    envs.mkdir()
    line = bwrap_argv("bwrap", ["x"], tmp_path, hidden=[home, envs], writable=[envs])
    # a tmpfs on `envs`, remounted read-only after the bind, made the bind read-only too
    assert tmpfs(line) == ["/tmp", str(home)]
    remounted = [line[i + 1] for i, arg in enumerate(line) if arg == "--remount-ro"]
    assert str(envs) not in remounted and str(home) in remounted
    assert line[line.index(str(envs)) - 1] == "--bind"
