"""/pfs on the local executor, in both modes: bubblewrap mounts (where bwrap works; required
under CI=true) and the rewrite fallback (forced with pfs_mode="rewrite"). The port's behaviour
is kaon.testing.contracts.executor.PfsContract, run here on a rewrite-mode executor (the
contract runner in tests/contract runs it on the default, bubblewrap where it can)."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from kaon.core.errors import InvalidInput, NotFound
from kaon.exec.local import LocalExecutor
from kaon.exec.pfs import PfsLayout, build_view, configured_mode, normalise_links
from kaon.exec.process import ProcessRunner
from kaon.exec.uv import UvEnvBuilder
from kaon.ports.content import TreeRef
from kaon.ports.executor import Input, Place, Task
from kaon.runtime.install import install_runtime
from kaon.services.content import StoreContent
from kaon.testing.contracts.pfs import (
    BATCHER,
    BatchContract,
    Feed,
    Links,
    PfsContract,
    batch_task,
    pfs_task,
    run_links,
)
from kaon.wiring import Platform

ON_CI = os.environ.get("CI") == "true"
needs_bwrap = pytest.mark.skipif(
    not ON_CI and not ProcessRunner().can_mount,
    reason="bubblewrap cannot mount here (on CI, CI=true, this is a failure)",
)


def local(platform: Platform, root: Path, mode: str | None = None) -> LocalExecutor:
    content = StoreContent(platform.repos, platform.files)
    return LocalExecutor(content, root, UvEnvBuilder(root / "envs"), hidden=(), pfs_mode=mode)


class TestRewriteMode(PfsContract, BatchContract):
    @pytest.fixture
    def executor(self, platform: Platform, tmp_path: Path) -> LocalExecutor:
        ex = local(platform, tmp_path / "jobs", "rewrite")
        assert ex.pfs_mode == "rewrite"
        return ex


@needs_bwrap
def test_bubblewrap_mode_is_used_where_it_can_mount(platform: Platform, tmp_path: Path) -> None:
    assert local(platform, tmp_path / "jobs").pfs_mode == "bubblewrap"


@needs_bwrap
def test_under_bubblewrap_inputs_are_read_only_and_the_home_is_hidden(
    platform: Platform, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    home = tmp_path / "home"  # the platform's home, with the jobs folder inside (as deployed)
    (home / "secret").mkdir(parents=True)
    content = StoreContent(platform.repos, platform.files)
    ex = LocalExecutor(content, home / "jobs", UvEnvBuilder(tmp_path / "envs"), hidden=(home,))
    with ex.keep([trees[1]]):
        task = pfs_task(
            "b/datums/0",
            {"data": Input(trees[1]), "code": Input(trees[0], select=("/proj/train",))},
            "echo no > /pfs/data/rows.csv || echo input-read-only",
            "echo no > /pfs/code/proj/train || echo view-read-only",
            "touch /pfs/new || echo pfs-read-only",
            f"ls {home}",
            "cat /pfs/data/rows.csv > /pfs/out/done",
        )
        lines, delivered, result = run_links(ex, task)
    assert result.exit_code == 0, lines
    assert [ln for ln in lines if "Read-only" not in ln] == [
        "input-read-only",
        "view-read-only",
        "pfs-read-only",
        "jobs",  # the home shows only what the task needs: no secret
    ]
    assert delivered == {"done": "1,2"}


def test_batch_code_imports_the_helper_from_the_installed_runtime(
    platform: Platform, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    """As deployed: the task's own Python (here the system's, without kaon) finds
    kaon.runtime.datums on the PYTHONPATH the executor gives (install_runtime's folder)."""
    if not Path("/usr/bin/python3").is_file():
        pytest.skip("no /usr/bin/python3 here")
    content = StoreContent(platform.repos, platform.files)
    runtime = install_runtime(tmp_path / "runtime")
    ex = LocalExecutor(
        content, tmp_path / "jobs", UvEnvBuilder(tmp_path / "envs"), runtime=runtime, hidden=()
    )
    code = trees[0]
    feed = Feed(code, {"a": ("/proj/train",), "b": ()})
    task = replace(batch_task("rt/0", code), argv=("/usr/bin/python3", "-c", BATCHER))
    result = ex.run_batch(task, feed, print, threading.Event())
    assert result.exit_code == 0, feed.logs
    assert feed.finished_ == [("a", 0, False), ("b", 0, False)]
    assert feed.logs["a"] == ["datum a a /proj/train"]


def test_a_view_links_the_kept_copy_and_copies_nothing(
    platform: Platform, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    ex = local(platform, tmp_path / "jobs", "rewrite")
    code = trees[0]
    inodes: list[str] = []
    with ex.keep([code]):
        for i in range(2):
            task = pfs_task(
                f"h/datums/{i}",
                {"code": Input(code, select=("/proj/train",))},
                "stat -c %i /pfs/code/proj/train",
            )
            lines, _, result = run_links(ex, task)
            assert result.exit_code == 0, lines
            inodes += lines
        kept = next((tmp_path / "jobs" / ".inputs").glob("*/*")) / "proj" / "train"
        assert inodes == [str(kept.stat().st_ino)] * 2  # the same file: a link, not a copy


def test_a_selected_path_that_is_missing_is_not_found(
    platform: Platform, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    ex = local(platform, tmp_path / "jobs", "rewrite")
    task = pfs_task("m/datums/0", {"code": Input(trees[0], select=("/nope",))}, "true")
    with pytest.raises(NotFound, match="/nope"):
        run_links(ex, task)
    assert not (tmp_path / "jobs" / "m" / "datums" / "0").exists()


def test_a_private_input_has_no_view_and_pfs_is_a_reserved_name(
    platform: Platform, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    ex = local(platform, tmp_path / "jobs", "rewrite")
    private = {"code": Input(trees[0], private=True, select=("/proj",))}
    with pytest.raises(InvalidInput, match="private"):
        run_links(ex, pfs_task("r/0", private, "true"))
    with pytest.raises(InvalidInput, match="'pfs' cannot name an input"):
        run_links(ex, pfs_task("r/1", {"pfs": Input(trees[1])}, "true"))


def test_a_private_input_is_writable_at_its_pfs_path(
    platform: Platform, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    for mode in ("rewrite", None):
        if mode is None and not ProcessRunner().can_mount:
            continue
        ex = local(platform, tmp_path / f"jobs-{mode}", mode)
        task = Task(
            key="w/0",
            argv=("/bin/sh", "-c", "./train /pfs/out && echo changed > /pfs/code/proj/x"),
            workdir=Place.input("code", "proj"),
            inputs={"code": Input(trees[0], private=True, executable=("proj/train",))},
            env={"PATH": "/usr/bin:/bin", "KAON_DATA_DIR": "/pfs/code", "HYPER": "/dev/null"},
            pfs=True,
        )
        lines: list[str] = []
        outputs = Links()
        result = ex.run(task, lines.append, outputs, threading.Event())
        assert result.exit_code == 0, (mode, lines)
        assert outputs.delivered[0]["model/m.txt"] == "trained\n"


def test_bad_pfs_mode_is_refused() -> None:
    assert configured_mode("rewrite") == "rewrite"
    with pytest.raises(InvalidInput, match="KAON_PFS_MODE='mounts' is not a /pfs mode"):
        configured_mode("mounts")


def test_forcing_bubblewrap_where_it_cannot_mount_is_an_error(
    platform: Platform, tmp_path: Path
) -> None:
    content = StoreContent(platform.repos, platform.files)
    runner = ProcessRunner(bwrap="/nonexistent/bwrap", cgroups=False)
    ex = LocalExecutor(content, tmp_path, UvEnvBuilder(tmp_path / "envs"), runner=runner)
    assert ex.pfs_mode == "rewrite"  # auto: the fallback, honestly named
    with pytest.raises(InvalidInput, match="bubblewrap cannot mount /pfs here"):
        LocalExecutor(
            content, tmp_path, UvEnvBuilder(tmp_path / "envs"), runner=runner, pfs_mode="bubblewrap"
        )


def test_rewrite_touches_only_pfs_as_a_path_of_its_own(tmp_path: Path) -> None:
    layout = PfsLayout(tmp_path / "pfs", mounted=False)
    root = str(tmp_path / "pfs")
    cases = {
        "/pfs/in/a": f"{root}/in/a",
        "--input=/pfs/in": f"--input={root}/in",
        "ls /pfs": f"ls {root}",
        "'/pfs/x' \"/pfs/y\"": f"'{root}/x' \"{root}/y\"",
        "/pfsx /a/pfs/b $HOME/pfs ./pfs/c": "/pfsx /a/pfs/b $HOME/pfs ./pfs/c",
    }
    assert {text: layout.rewrite(text) for text in cases} == cases
    assert PfsLayout(tmp_path, mounted=True).rewrite("/pfs/a") == "/pfs/a"


def test_views_and_links_without_a_process(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "a" / "b").mkdir(parents=True)
    (source / "a" / "b" / "f.txt").write_text("f")
    (source / "top.txt").write_text("t")
    (source / "a" / "link").symlink_to("b/f.txt")
    view = build_view(source, tmp_path / "v", ["/a", "/a/b/f.txt"])
    assert sorted(str(p.relative_to(view)) for p in view.rglob("*")) == [
        "a",
        "a/b",
        "a/b/f.txt",
        "a/link",
    ]
    assert (view / "a/b/f.txt").stat().st_ino == (source / "a/b/f.txt").stat().st_ino
    with pytest.raises(InvalidInput, match="cannot leave its tree"):
        build_view(source, tmp_path / "bad", ["/a/../../etc"])
    empty = build_view(source, tmp_path / "e", [], empty_files=True)
    assert (empty / "top.txt").stat().st_size == 0 and (empty / "a/b/f.txt").is_file()
    layout = PfsLayout(tmp_path / "pfs", mounted=False, inputs={"in": view})
    layout.sources["in"] = source
    layout.out.mkdir(parents=True)
    (layout.out / "k").symlink_to(source / "top.txt")  # the fetched copy itself
    (layout.out / "d").symlink_to(tmp_path / "pfs" / "in" / "gone")  # dangling
    (layout.out / "s").symlink_to(sys.prefix)
    assert normalise_links(layout) == 2
    assert {p.name: str(p.readlink()) for p in layout.out.iterdir()} == {
        "k": "/pfs/in/top.txt",
        "d": "/pfs/in/gone",
        "s": sys.prefix,
    }
