"""A replica: one process serving predictions of a user's serve module over a Unix socket.

    python -m kaon.runtime.replica --socket PATH --code DIR --module NAME --model-dir DIR

Runs inside the endpoint's own environment, so it uses the standard library only. It imports
the module from DIR, calls `load_ctx(model_dir)` once, then answers kaon.runtime.protocol
requests on PATH: JSON payloads, or Open Inference Protocol requests it parses and answers
itself (kaon.runtime.oip: the gateway passes their bytes through). The socket appears only once the model is loaded (bound under a temporary
name, then renamed), so whoever can connect finds a ready replica.

Predictions run one at a time on the event loop's thread, in arrival order (no hand-off to
another thread: it costs more than a small model's predict). A new connection's first request
is read by a thread of its own: a ping there is answered at once, even while a prediction
runs (readiness checks connect anew); any other request hands the connection to the event
loop, which answers it and the ones after it. Errors of user code become
responses (status 500, with the traceback on stderr); a module that cannot be imported or
loaded exits with code 3 after printing where it failed. SIGTERM stops the replica (exit 0)
after in-flight requests are answered (at most DRAIN_SECONDS); so does the death of its parent
(--parent-pid, else the process that started it), checked every PARENT_CHECK_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from kaon.runtime import oip
from kaon.runtime.protocol import (
    JSON_TYPE,
    MAX_FRAME,
    ProtocolError,
    read_frame,
    read_message,
    write_frame,
    write_message,
)

EXIT_LOAD_FAILED = 3
DRAIN_SECONDS = 2.0  # on SIGTERM: how long in-flight requests may take to finish
PARENT_CHECK_SECONDS = 1.0  # how often the replica checks that its supervisor still lives
MAX_RESULT = MAX_FRAME - (1 << 20)  # bytes of JSON in one response, headroom for the header
FIRST_REQUEST_SECONDS = 30.0  # a new connection sends its first request within this

Outcome = tuple[int, bytes, str]  # status, JSON body, error ("" when status is 200)
Finish = Callable[[Any], Outcome]  # a request's answer from what predict returned


class LoadError(Exception):
    """The serve module misses part of the contract."""


class BadRequest(ValueError):
    """A request whose payload cannot be read (a 400 saying why)."""


def _default(value: Any) -> Any:
    """JSON for numpy arrays and scalars (anything with `tolist()`), without importing numpy."""
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encode_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_default).encode


def _encode(result: Any) -> Outcome:
    try:
        out = _encode_json(result).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        return 500, b"", f"the result of predict is not JSON-serialisable: {exc}"
    if len(out) > MAX_RESULT:
        return 500, b"", f"the result of predict is {len(out)} bytes, over {MAX_RESULT} bytes"
    return 200, out, ""


def _payload(content_type: str, body: bytes) -> Any:
    """The parsed JSON of a JSON request, else the raw bytes. Raises ValueError."""
    if content_type == JSON_TYPE or content_type.partition(";")[0].strip().lower() == JSON_TYPE:
        return json.loads(body)
    return body


def _parsed(content_type: str, body: bytes) -> tuple[Any, Finish]:
    """The payload of a request and how its answer is made: JSON, or an Open Inference
    Protocol request the gateway passed through (kaon.runtime.oip). Raises BadRequest."""
    if oip.is_oip(content_type):
        try:
            inference = oip.parse(body, oip.header_length(content_type))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return inference.payload, functools.partial(_oip_answer, inference)
    try:
        return _payload(content_type, body), _encode
    except ValueError as exc:
        raise BadRequest(f"the payload is not valid JSON: {exc}") from None


def _oip_answer(inference: oip.Inference, result: Any) -> Outcome:
    """The OIP answer of `result`, which is first made JSON as any result is (numpy arrays as
    lists, NaN refused), so both protocols answer the same values. The common answer (of
    plain lists of numbers only, kaon.runtime.oipfast) is made at once."""
    common = oip.common_answer(inference, result)
    if common is not None and len(common) <= MAX_RESULT:
        return 200, common, ""
    if not _plain(result):  # e.g. numpy: as JSON gives it back
        status, out, error = _encode(result)
        if status != 200:
            return status, out, error
        result = json.loads(out)
    try:
        answer = oip.answer(inference, result)
    except ValueError as exc:
        return 400, b"", str(exc)
    if len(answer) > MAX_RESULT:
        return 500, b"", f"the result of predict is {len(answer)} bytes, over {MAX_RESULT} bytes"
    return 200, answer, ""


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether `value` is what JSON would give back unchanged: lists and str-keyed dicts of
    str, int, bool, None and finite floats (a shallow tree; anything else takes the JSON
    round trip)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind in (int, str, bool) or value is None:
        return True
    if depth > 8:
        return False
    if kind is list:
        return all(_plain(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    return False


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def print_user_traceback(exc: BaseException) -> None:
    """Print the traceback of `exc` to stderr, starting at the first frame of user code (the
    replica's and importlib's own frames are left out; a SyntaxError keeps its caret)."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and _is_ours(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb)
    sys.stderr.write("".join(lines))
    sys.stderr.flush()


def _is_ours(filename: str) -> bool:
    return filename in (__file__, importlib.__file__) or filename.startswith("<frozen importlib")


class Model:
    """The user's serve module with its context: predicts one request or a batch."""

    def __init__(self, module: ModuleType, model_dir: str) -> None:
        predict = getattr(module, "predict", None)
        if not callable(predict):
            raise LoadError(f"{module.__name__} defines no function predict(payload, ctx)")
        self._predict: Callable[[Any, Any], Any] = predict
        self._batch: Callable[[list[Any], Any], Any] | None = None
        self._batch_name = "predict_batch"
        self._lists_only = False  # BATCH = True: predict takes lists only
        batch = getattr(module, "predict_batch", None)
        if callable(batch):
            self._batch = batch
        elif getattr(module, "BATCH", False) is True:
            self._batch, self._batch_name, self._lists_only = predict, "predict", True
        load_ctx = getattr(module, "load_ctx", None)
        self.ctx: Any = load_ctx(model_dir) if callable(load_ctx) else None

    @property
    def batches(self) -> bool:
        """Whether the module takes many payloads in one call."""
        return self._batch is not None

    def predict(self, content_type: str, body: bytes) -> Outcome:
        """One request (a batch of one when predict takes lists only)."""
        if self._lists_only:
            return self.predict_many([(content_type, body)])[0]
        try:
            payload, finish = _parsed(content_type, body)
        except BadRequest as exc:
            return 400, b"", str(exc)
        try:
            result = self._predict(payload, self.ctx)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: the replica survives it
            print_user_traceback(exc)
            return 500, b"", _describe(exc)
        return finish(result)

    def predict_many(self, parts: Sequence[tuple[str, bytes]]) -> list[Outcome]:
        """Each part's outcome: one call of the batch function, else one predict per part."""
        if self._batch is None:
            return [self.predict(content_type, body) for content_type, body in parts]
        outcomes: list[Outcome] = [(500, b"", "")] * len(parts)
        payloads: list[Any] = []
        finishes: list[Finish] = []
        where: list[int] = []
        for i, (content_type, body) in enumerate(parts):
            try:
                payload, finish = _parsed(content_type, body)
            except BadRequest as exc:
                outcomes[i] = (400, b"", str(exc))
                continue
            payloads.append(payload)
            finishes.append(finish)
            where.append(i)
        if not payloads:
            return outcomes
        results, error = self._call_batch(payloads)
        for n, i in enumerate(where):
            outcomes[i] = (500, b"", error) if error else finishes[n](results[n])
        return outcomes

    def _call_batch(self, payloads: list[Any]) -> tuple[list[Any], str]:
        assert self._batch is not None
        try:
            results = self._batch(payloads, self.ctx)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: the replica survives it
            print_user_traceback(exc)
            return [], _describe(exc)
        name = self._batch_name
        if isinstance(results, (str, bytes, dict)) or not hasattr(results, "__len__"):
            return [], f"{name} returned a {type(results).__name__}, not a list of results"
        if len(results) != len(payloads):
            return [], f"{name} returned {len(results)} results for {len(payloads)} payloads"
        return list(results), ""


class Server:
    """Answers the requests of every connection, predictions on the event loop's thread."""

    def __init__(self, model: Model, loop: asyncio.AbstractEventLoop) -> None:
        self._model = model
        self._loop = loop
        self._tasks: set[asyncio.Task[None]] = set()
        self.busy = 0  # requests being answered

    def accept(self, listener: socket.socket) -> None:
        """(a thread of its own) Take new connections, each to a thread of its own."""
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # the listener was shut down: the replica stops
                return
            threading.Thread(target=self._first, args=(conn,), daemon=True).start()

    def _first(self, conn: socket.socket) -> None:
        """(a new connection's thread) Answer its pings here; at its first other request,
        hand it to the event loop with that request."""
        try:
            conn.settimeout(FIRST_REQUEST_SECONDS)
            while True:
                header, body = read_frame(conn)
                if header.get("op") != "ping":
                    break
                write_frame(conn, *self._ping(header))
            conn.settimeout(None)
        except (OSError, EOFError, ProtocolError):
            conn.close()
            return
        try:
            self._loop.call_soon_threadsafe(self._adopt, conn, header, body)
        except RuntimeError:  # the loop is closed: the replica is stopping
            conn.close()

    def _adopt(self, conn: socket.socket, header: dict[str, Any], body: bytes) -> None:
        task = self._loop.create_task(self._connection(conn, header, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, conn: socket.socket, header: dict[str, Any], body: bytes) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(sock=conn)
        except OSError:
            conn.close()
            return
        await self.handle(reader, writer, (header, body))

    async def handle(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        first: tuple[dict[str, Any], bytes] | None = None,
    ) -> None:
        try:
            while True:
                if first is not None:
                    (header, body), first = first, None
                else:
                    try:
                        header, body = await read_message(reader)
                    except EOFError:
                        return
                self.busy += 1
                try:
                    reply, out = self._answer(header, body)
                    await write_message(writer, reply, out)
                finally:
                    self.busy -= 1
        except ProtocolError as exc:
            print(f"closing a connection: {exc}", file=sys.stderr, flush=True)
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _ping(self, header: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        rid = header.get("id", "")
        ping = {"status": 200, "ready": True, "batch": self._model.batches, "pid": os.getpid()}
        return ({"id": rid} if rid else {}) | ping, b""

    def _answer(self, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        op = header.get("op")
        rid = header.get("id", "")
        if op == "predict":
            content_type = header.get("content_type") or ""
            status, out, error = self._model.predict(content_type, body)
            reply = {"id": rid, "status": status, "content_type": JSON_TYPE}
            if status != 200:
                reply["error"] = error
            return reply, out
        if op == "batch":
            parts, problem = _split(header.get("parts"), body)
            if problem:
                return {"id": rid, "status": 400, "error": problem}, b""
            outcomes = self._model.predict_many(parts)
            joined = b"".join(part for _, part, _ in outcomes)
            if len(joined) > MAX_RESULT:
                problem = f"the results of the batch are {len(joined)} bytes, over {MAX_RESULT}"
                return {"id": rid, "status": 500, "error": problem}, b""
            described = [_part(*outcome) for outcome in outcomes]
            return {"id": rid, "status": 200, "parts": described}, joined
        if op == "ping":
            return self._ping(header)
        return {"id": rid, "status": 400, "error": f"unknown op {op!r}"}, b""


def _part(status: int, out: bytes, error: str) -> dict[str, Any]:
    if status == 200:
        return {"status": 200, "size": len(out)}
    return {"status": status, "size": len(out), "error": error}


def _split(parts: Any, body: bytes) -> tuple[list[tuple[str, bytes]], str]:
    """The (content type, bytes) of each part of a batch body, or a problem."""
    if not isinstance(parts, list) or not parts:
        return [], "a batch needs a non-empty list of parts"
    out: list[tuple[str, bytes]] = []
    at = 0
    for part in parts:
        size = part.get("size") if isinstance(part, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return [], f"a batch part needs a size: {part!r}"
        out.append((str(part.get("content_type") or ""), body[at : at + size]))
        at += size
    if at != len(body):
        return [], f"the parts add up to {at} bytes but the body has {len(body)}"
    return out, ""


async def serve(model: Model, path: str, started: float, parent: int) -> None:
    """Listen on `path` until SIGTERM, SIGINT or the death of process `parent`."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = Server(model, loop)
    temporary = f"{path}.tmp"
    _unlink(temporary)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(temporary)
    listener.listen(1024)
    threading.Thread(target=server.accept, args=(listener,), name="accept", daemon=True).start()
    Path(temporary).rename(path)  # connectable only now, fully loaded
    print(f"ready in {time.monotonic() - started:.2f} s", flush=True)
    watch = asyncio.create_task(_watch_parent(parent, stop))
    await stop.wait()
    watch.cancel()
    _unlink(path)
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread: it ends
    listener.close()
    deadline = loop.time() + DRAIN_SECONDS
    while server.busy and loop.time() < deadline:
        await asyncio.sleep(0.01)


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_CHECK_SECONDS)
    stop.set()  # first: the log pipe died with the supervisor, printing may raise
    with contextlib.suppress(OSError):
        print("the supervisor is gone: stopping", flush=True)


def _unlink(path: str) -> None:
    Path(path).unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kaon.runtime.replica", description=__doc__)
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--code", required=True, help="folder of the serve module")
    parser.add_argument("--module", required=True, help="module name, e.g. model")
    parser.add_argument("--model-dir", required=True, help="passed to load_ctx(model_dir)")
    parser.add_argument("--parent-pid", type=int, help="stop when this parent is gone")
    args = parser.parse_args(argv)
    parent = args.parent_pid or os.getppid()
    started = time.monotonic()
    path = str(Path(args.socket).absolute())
    _unlink(path)  # a stale socket of an earlier replica must not look ready
    code = str(Path(args.code).absolute())
    os.chdir(code)
    sys.path.insert(0, code)
    print(f"loading {args.module} from {code}", flush=True)
    try:
        model = Model(importlib.import_module(args.module), args.model_dir)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_LOAD_FAILED
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: show where it failed
        print_user_traceback(exc)
        return EXIT_LOAD_FAILED
    asyncio.run(serve(model, path, started, parent))
    return 0


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: threads user code started (and a prediction still running) must not keep a
    # stopping replica alive.
    os._exit(exit_code)
