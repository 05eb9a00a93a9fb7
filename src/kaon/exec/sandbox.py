"""The bubblewrap command line shared by training runs and serving replicas.

The filesystem is read-only except `writable`; each `hidden` folder (the platform's home, its
store and database wherever they live) is an empty tmpfs with only the run's own `read_only`
and `writable` paths bound back; /tmp is private, empty and read-only; the process has its own
pid namespace (so no /proc/<pid> of the server leads back to its files), no capabilities, and
dies with its parent. `network=False` also takes the network away (loopback too).

With `mounts` (a pipeline datum's /pfs), the root is a read-only tmpfs holding each top-level
entry of the host's root bound read-only (the host root itself cannot take new mount points
such as /pfs), and each mount is bound at its own path inside.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Mount:
    """`source` (a host path) seen at `target` inside the sandbox."""

    target: str
    source: Path
    writable: bool = False


@functools.cache
def bwrap_works(bwrap: str) -> bool:
    """Whether `bwrap` can build a sandbox here (user namespaces may be disabled). Probed once
    per path."""
    probe = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net"]
    try:
        done = subprocess.run(
            [*probe, "true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@functools.cache
def bwrap_mounts_work(bwrap: str) -> bool:
    """Whether `bwrap` can also bind folders at new paths (/pfs) here. Probed once per path."""
    if not bwrap_works(bwrap):
        return False
    with tempfile.TemporaryDirectory(prefix="kaon-probe-") as folder:
        line = bwrap_argv(bwrap, ["true"], Path(folder), mounts=[Mount("/pfs/p", Path(folder))])
        try:
            done = subprocess.run(
                line,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return False
    return done.returncode == 0


def bwrap_argv(
    bwrap: str,
    argv: Sequence[str],
    cwd: Path,
    hidden: Sequence[Path] = (),
    read_only: Sequence[Path] = (),
    writable: Sequence[Path] = (),
    network: bool = True,
    mounts: Sequence[Mount] = (),
) -> list[str]:
    """`argv` run by `bwrap` in `cwd` with the view described in the module doc."""
    line = [bwrap, *(_split_root() if mounts else ["--ro-bind", "/", "/"])]
    line += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # a hidden folder bound back writable whole is not hidden: its tmpfs, remounted read-only
    # below, would sit at the bind's mount point and make the bind read-only too
    tops = _outermost([p for p in hidden if p not in set(writable)])
    for path in tops:
        line += ["--tmpfs", str(path)]
    line += ["--ro-bind", str(cwd), str(cwd)]  # its mount point, at least
    for path in writable:
        line += ["--bind", str(path), str(path)]
    for path in read_only:  # after writable: an input inside an output stays read-only
        line += ["--ro-bind", str(path), str(path)]
    for mount in mounts:
        line += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
    for top in ("/tmp", *map(str, tops), *(["/"] if mounts else [])):  # no writes beside the binds
        line += ["--remount-ro", top]
    if not network:
        line += ["--unshare-net"]
    line += ["--unshare-pid", "--die-with-parent"]
    return [*line, "--cap-drop", "ALL", "--chdir", str(cwd), "--", *argv]


LAUNCH = (  # a shell starts a bwrap run: into its cgroup, under its rlimit, then exec
    'cg=$1 kb=$2; shift 2; if [ -n "$cg" ]; then echo $$ > "$cg/cgroup.procs" || exit 126; fi; '
    'if [ "$kb" != 0 ]; then ulimit -v "$kb" || exit 126; fi; exec "$@"'
)


def launcher(line: Sequence[str], cgroup: str = "", rlimit_as: int = 0) -> list[str]:
    """How to start a bubblewrap `line` without the Python supervisor (~20 ms): its pid
    namespace is the run's tree (everything in it dies with the command), `--die-with-parent`
    ties it to the server; a control group (`cgroup`) or an address-space limit in bytes
    (`rlimit_as`) is entered by /bin/sh (~1 ms) before it execs bubblewrap."""
    if not cgroup and not rlimit_as:
        return list(line)
    return ["/bin/sh", "-c", LAUNCH, "sh", cgroup, str(rlimit_as // 1024), *line]


def _split_root() -> list[str]:
    """Bind each top-level entry of / read-only (a symlink as a symlink) on bubblewrap's own
    root, where new mount points can be made."""
    return list(_root_entries())


@functools.lru_cache(maxsize=1)
def _root_entries() -> tuple[str, ...]:  # read once: / rarely changes under a server
    line: list[str] = []
    with os.scandir("/") as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            path = f"/{entry.name}"
            if entry.name in ("proc", "dev", "tmp"):
                continue
            if entry.is_symlink():
                line += ["--symlink", str(Path(path).readlink()), path]
            else:  # -try: one gone since it was read is skipped
                line += ["--ro-bind-try", path, path]
    return tuple(line)


def _outermost(paths: Sequence[Path]) -> list[Path]:
    """`paths` that exist (nothing to hide, and bubblewrap could not make the mount point on
    the read-only root) without those inside another of them (a tmpfs over a folder hides what
    is in it)."""
    unique = sorted({p for p in paths if p.exists()}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(top) for top in kept):
            kept.append(path)
    return kept
