"""Control groups for runs: one group per run, to bound its memory and to kill all it started.

`find_cgroups()` looks for a place where this process may create groups, in this order:

1. cgroup v2 (the unified hierarchy) when the memory controller is enabled for our children;
2. the cgroup v1 memory hierarchy, where our own memory group is writable;
3. cgroup v2 without the memory controller: groups still track (and kill) every process;
4. none (CI runners, unprivileged users without delegation): the caller falls back to a
   per-process limit (RLIMIT_AS) and a process-tree sweep.

Groups are named `kaon-<server pid>-<n>` inside our own group, so a server restarted after
a kill -9 finds those of its dead predecessor (`sweep_stale`), kills what is left in them
and removes them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "kaon-"
KILL_ROUNDS = 200  # SIGKILL sweeps of a group before giving up (a fork bomb outruns none)


@dataclass(frozen=True)
class CgroupRoot:
    """Where this process creates its groups."""

    path: Path
    version: int  # 1 or 2
    limits_memory: bool

    def create(self, memory: int | None) -> Cgroup:
        for n in itertools.count():
            path = self.path / f"{PREFIX}{os.getpid()}-{n}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            group = Cgroup(path, self.version, self.limits_memory and memory is not None)
            if memory is not None and self.limits_memory:
                try:
                    group.limit_memory(memory)
                except OSError:
                    group.remove()
                    raise
            return group
        raise AssertionError("unreachable")

    def sweep_stale(self) -> list[Path]:
        """Kill and remove the groups of servers no longer running; the ones removed."""
        removed = []
        for path in self.path.glob(f"{PREFIX}*-*"):
            owner = path.name[len(PREFIX) :].split("-", 1)[0]
            if not owner.isdigit() or _alive(int(owner)):
                continue
            group = Cgroup(path, self.version, False)
            group.kill()
            if group.remove():
                removed.append(path)
        return removed


@dataclass(frozen=True)
class Cgroup:
    path: Path
    version: int
    limits_memory: bool  # a memory limit was set on it

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def limit_memory(self, memory: int) -> None:
        if self.version == 2:
            (self.path / "memory.max").write_text(str(memory))
            with contextlib.suppress(OSError):  # no swap for the run: the limit is the limit
                (self.path / "memory.swap.max").write_text("0")
        else:
            (self.path / "memory.limit_in_bytes").write_text(str(memory))
            with contextlib.suppress(OSError):  # memory + swap (absent without swap accounting)
                (self.path / "memory.memsw.limit_in_bytes").write_text(str(memory))

    def pids(self) -> list[int]:
        try:
            text = self.procs_file.read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the group for going over its memory."""
        if self.version == 2:
            counts = _keyed(self.path / "memory.events")
            return counts.get("oom_kill", 0) > 0
        return _keyed(self.path / "memory.oom_control").get("oom_kill", 0) > 0

    def kill(self) -> bool:
        """SIGKILL every process in the group until none is left; False if some remain."""
        if self.version == 2 and (self.path / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                (self.path / "cgroup.kill").write_text("1")
        for _ in range(KILL_ROUNDS):
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        return not self.pids()

    def remove(self) -> bool:
        """Remove the (empty) group; processes just killed may take a moment to leave it."""
        for _ in range(100):
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:  # EBUSY: a dying process is still accounted in it
                time.sleep(0.01)
        return False


def find_cgroups() -> CgroupRoot | None:
    """The best place to create groups here, None when there is none (see the module doc)."""
    own = _own_groups()
    mounts = _mounts()
    v2 = v1 = None
    for point, fstype, options in mounts:
        if fstype == "cgroup2" and v2 is None and "" in own:
            v2 = point / own[""].lstrip("/")
        elif fstype == "cgroup" and "memory" in options.split(",") and "memory" in own:
            v1 = point / own["memory"].lstrip("/")
    if v2 is not None and not _writable(v2):
        v2 = None
    if v2 is not None and _v2_memory(v2):
        return CgroupRoot(v2, 2, True)
    if v1 is not None and _writable(v1):
        return CgroupRoot(v1, 1, True)
    if v2 is not None:
        return CgroupRoot(v2, 2, False)
    return None


def _own_groups() -> dict[str, str]:
    """Controller -> our group's path ("" is cgroup v2's)."""
    groups: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return groups
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            groups[controller] = parts[2]
    return groups


def _mounts() -> list[tuple[Path, str, str]]:
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            found.append((Path(fields[1]), fields[2], fields[3]))
    return found


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK) and os.access(path / "cgroup.procs", os.W_OK)


def _v2_memory(path: Path) -> bool:
    """Whether groups made under `path` can have memory.max (enabling it where allowed: the
    kernel refuses it for a group that holds processes, except the root)."""
    try:
        if "memory" in (path / "cgroup.subtree_control").read_text().split():
            return True
        if "memory" not in (path / "cgroup.controllers").read_text().split():
            return False
        (path / "cgroup.subtree_control").write_text("+memory")
    except OSError:
        return False
    return True


def _keyed(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                values[key] = int(value)
    return values


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
