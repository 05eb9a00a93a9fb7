"""The gateway's replica pool connects to a replica by the scheme of its address (issue 14):
`unix://` the local backend's sockets, `tcp://host:port` a backend that runs replicas
elsewhere; any other scheme is refused with the address in the error."""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest

from kaon.api.batching import ReplicaError, ReplicaPool
from kaon.core.endpoints import unix_address
from kaon.runtime.protocol import read_message, write_message

HANDLERS: list[asyncio.Task[Any]] = []


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A replica speaking kaon.runtime.protocol: predict answers what it got, and where."""
    task = asyncio.current_task()
    assert task is not None
    HANDLERS.append(task)
    try:
        while True:
            header, body = await read_message(reader)
            where = writer.get_extra_info("sockname")
            out = {"got": json.loads(body), "over": "tcp" if isinstance(where, tuple) else "unix"}
            reply: dict[str, Any] = {"id": header["id"], "status": 200}
            await write_message(
                writer, reply | {"content_type": "application/json"}, json.dumps(out).encode()
            )
    except (asyncio.IncompleteReadError, EOFError, ConnectionError):
        writer.close()
        await writer.wait_closed()


def test_the_pool_connects_by_address_scheme() -> None:
    async def scenario() -> None:
        tcp = await asyncio.start_server(_answer, "127.0.0.1", 0)
        port = tcp.sockets[0].getsockname()[1]
        with tempfile.TemporaryDirectory(prefix="kaon-", dir="/tmp") as folder:
            path = str(Path(folder) / "r0.sock")
            unix = await asyncio.start_unix_server(_answer, path)
            pool = ReplicaPool()
            try:
                for address, over in [
                    (f"tcp://127.0.0.1:{port}", "tcp"),
                    (unix_address(path), "unix"),
                ]:
                    for n in range(2):  # the second on the pooled connection
                        status, out = await pool.predict(
                            (address,), 0, "application/json", b"[%d]" % n
                        )
                        assert (status, json.loads(out)) == (200, {"got": [n], "over": over})
                with pytest.raises(
                    ReplicaError, match=r"'http://127\.0\.0\.1:1'.*unix:// or tcp://"
                ):
                    await pool.predict(("http://127.0.0.1:1",), 0, "application/json", b"1")
                # an address the pool cannot use is skipped for the next replica
                status, _ = await pool.predict(
                    ("http://127.0.0.1:1", unix_address(path)), 0, "application/json", b"1"
                )
                assert status == 200
            finally:
                await pool.close()
                await asyncio.gather(*HANDLERS)  # each sees its connection end
                unix.close()
                tcp.close()
                await unix.wait_closed()
                await tcp.wait_closed()

    asyncio.run(scenario())


def test_a_tcp_replica_that_is_not_there_is_a_replica_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        pool = ReplicaPool()
        with pytest.raises(ReplicaError, match="no replica answered"):
            await pool.predict((f"tcp://127.0.0.1:{port}",), 0, "application/json", b"1")

    asyncio.run(scenario())


def test_a_replica_restarted_at_its_address_answers_despite_pooled_connections() -> None:
    """A version drained then started again (`kaon serve rollback`) listens at the same
    socket path: the pool's idle connections to the old process are stale, not a failure of
    the replica — the request goes over a fresh connection."""
    writers: list[asyncio.StreamWriter] = []

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The old process: answers, then its connection stays open until it dies."""
        writers.append(writer)
        header, body = await read_message(reader)
        await write_message(writer, {"id": header["id"], "status": 200}, body)

    async def scenario() -> None:
        HANDLERS.clear()  # tasks of other tests' loops
        with tempfile.TemporaryDirectory(prefix="kaon-", dir="/tmp") as folder:
            path = str(Path(folder) / "r0.sock")
            address = unix_address(path)
            old = await asyncio.start_unix_server(once, path)
            pool = ReplicaPool()
            status, _ = await pool.predict((address,), 0, "application/json", b"[1]")
            assert status == 200  # its connection is now idle in the pool
            old.close()
            for writer in writers:  # the old process dies: its connections close
                writer.close()
            await old.wait_closed()
            Path(path).unlink(missing_ok=True)
            new = await asyncio.start_unix_server(_answer, path)
            try:
                status, out = await pool.predict((address,), 0, "application/json", b"[2]")
                assert (status, json.loads(out)["got"]) == (200, [2])
            finally:
                await pool.close()
                await asyncio.gather(*HANDLERS)
                HANDLERS.clear()
                new.close()
                await new.wait_closed()

    asyncio.run(scenario())
