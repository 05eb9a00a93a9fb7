"""Several test hosts on one machine: Linux network namespaces joined by veth pairs to a bridge.

`Hosts(["h1", "h2", "h3"])` makes one network namespace per host, each with an `eth0` on a
private subnet (10.200.0.0/24, host i at 10.200.0.i), plus a switch namespace that holds the
bridge, so nothing is added to the machine's own network namespace and parallel runs never
collide: every namespace is named `kaon-<random>-<host>`, the subnet exists only inside them.

A process started on a host (`Host.popen`) runs in its network namespace and its own UTS
namespace (its hostname is the namespace's name: a trial or a replica can tell where it runs),
and, given `private` folders, in a mount namespace of its own where each of those folders is
an empty tmpfs: it cannot read them (the server's KAON_HOME, the test's files). The test
process reaches a host's addresses with `Host.call(fn)`: `fn` runs in a thread that joined
the host's network namespace (setns(2) is per thread).

`Hosts.close()` (also on failure: it is a context manager) kills every process left in the
namespaces by pid — whatever started them, `ip netns pids` lists them, and only them — then
deletes the namespaces.

Needs root and iproute2's `ip` and util-linux's `unshare`; `unavailable()` says why not.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
SUBNET = "10.200.0"
CLONE_NEWNET = 0x40000000
STOP_GRACE = 5.0
ETC_NETNS = Path("/etc/netns")


def unavailable() -> str | None:
    """Why network namespaces cannot be made here, None when they can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    for tool in ("ip", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (iproute2, util-linux)"
    probe = f"kaon-probe-{secrets.token_hex(4)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` is not permitted here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@dataclass
class Host:
    name: str  # h1, h2, ...
    netns: str  # kaon-<run>-h1
    ip: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def argv(self, argv: Sequence[str], private: Sequence[Path] = ()) -> list[str]:
        """`argv` run on this host: in its network and UTS namespaces, and with `private`
        folders, in a mount namespace of its own where each is an empty tmpfs."""
        steps = [f"hostname {shlex.quote(self.netns)}"]
        for folder in private:
            steps.append(
                f"mount -t tmpfs -o size=1m,mode=0755 kaon-hidden {shlex.quote(str(folder))}"
            )
        steps.append('exec "$@"')
        unshare = ["unshare", "--uts"] + (
            ["--mount", "--propagation", "private"] if private else []
        )
        script = "; ".join(steps)
        return ["ip", "netns", "exec", self.netns, *unshare, "sh", "-ec", script, "sh", *argv]

    def popen(
        self,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        private: Sequence[Path] = (),
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` on this host in the background, its output appended to `log`."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                self.argv(argv, private),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def run(
        self, argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` on this host to its end (output captured)."""
        return subprocess.run(
            self.argv(argv),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()` run in a thread inside this host's network namespace (its sockets stay
        there): how the test process reaches the hosts' addresses."""
        box: dict[str, object] = {}

        def inside() -> None:
            try:
                fd = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
                try:
                    libc = ctypes.CDLL(None, use_errno=True)
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), f"setns into {self.netns} failed")
                finally:
                    os.close(fd)
                box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=inside, name=f"in-{self.netns}", daemon=True)
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]

    def listening(self, port: int) -> bool:
        def probe() -> bool:
            with socket.socket() as sock:
                sock.settimeout(1.0)
                return sock.connect_ex((self.ip, port)) == 0

        return self.call(probe)

    def wait_port(
        self, port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0
    ) -> None:
        """Wait until something listens on `port` here; fail with the log's tail when `proc`
        ended first or the time is up."""
        deadline = time.monotonic() + timeout
        while not self.listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = "exited" if proc.poll() is not None else f"not listening after {timeout} s"
                raise AssertionError(f"{self.name}:{port} {why}:\n{tail(log)}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split() if p.isdigit()]


class Hosts:
    """Hosts on one private subnet; a context manager that removes everything it made."""

    def __init__(self, names: Sequence[str]) -> None:
        self.run_id = secrets.token_hex(3)
        self.switch = f"kaon-{self.run_id}-sw"
        self.hosts = {
            name: Host(name, f"kaon-{self.run_id}-{name}", f"{SUBNET}.{i}")
            for i, name in enumerate(names, start=1)
        }
        self._made: list[str] = []

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def __enter__(self) -> Hosts:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        _ip("netns", "add", self.switch)
        self._made.append(self.switch)
        # `ip netns exec` shows /etc/netns/<name>/* over /etc/*: every host resolves the
        # others' names at once, and asks no DNS server (none is reachable from here)
        hosts = "127.0.0.1 localhost\n" + "".join(
            f"{h.ip} {h.netns} {h.name}\n" for h in self.hosts.values()
        )
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for i, host in enumerate(self.hosts.values(), start=1):
            _ip("netns", "add", host.netns)
            self._made.append(host.netns)
            etc = ETC_NETNS / host.netns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text(hosts)
            (etc / "resolv.conf").write_text("")
            port = f"p{i}"
            _ip("link", "add", "eth0", "netns", host.netns, "type", "veth", "peer", "name", port,
                "netns", self.switch)  # fmt: skip
            _ip("-n", self.switch, "link", "set", port, "master", "br0")
            _ip("-n", self.switch, "link", "set", port, "up")
            _ip("-n", host.netns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
            _ip("-n", host.netns, "link", "set", "eth0", "up")
            _ip("-n", host.netns, "link", "set", "lo", "up")

    def close(self) -> None:
        """Stop every process on the hosts (SIGTERM, then SIGKILL), delete the namespaces."""
        hosts = [h for h in self.hosts.values() if h.netns in self._made]
        for host in hosts:
            for proc in host.procs:
                _signal_group(proc.pid, signal.SIGTERM)
            for pid in host.pids():
                _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and any(h.pids() for h in hosts):
            time.sleep(0.1)
        for _ in range(50):
            left = [pid for h in hosts for pid in h.pids()]
            if not left:
                break
            for pid in left:
                _kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for host in hosts:
            for proc in host.procs:
                _signal_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        for name in reversed(self._made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            shutil.rmtree(ETC_NETNS / name, ignore_errors=True)
        self._made.clear()


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {log})"


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
