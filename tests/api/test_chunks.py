"""Chunk transfer over HTTP: missing chunks, pack upload (verified before anything is kept)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from kaon.core.chunking import hash_chunk
from kaon.core.pack import HEADER, MAGIC, RAW
from kaon.services.objectkeys import PACKS, pack_key
from kaon.wiring import Backends, Platform

TEXT = b"compressible text, compressible text. " * 100


def test_missing_then_upload(
    api: TestClient, make_pack, platform: Platform, backends: Backends
) -> None:  # type: ignore[no-untyped-def]
    body, refs = make_pack([b"one", TEXT])
    digests = [r.digest for r in refs]
    r = api.post("/v1/chunks/missing", json={"digests": [*digests, digests[0]]})
    assert r.status_code == 200
    assert r.json() == {"missing": digests}
    r = api.post("/v1/packs", content=body)
    assert r.status_code == 201
    receipt = r.json()
    assert (receipt["chunks"], receipt["bytes"]) == (2, len(body))
    assert len(receipt["pack"]) == 32
    assert api.post("/v1/chunks/missing", json={"digests": digests}).json() == {"missing": []}
    assert [p.id for p in backends.meta.list_packs()] == [receipt["pack"]]


def test_missing_with_bad_digests(api: TestClient) -> None:
    r = api.post("/v1/chunks/missing", json={"digests": ["nope"]})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_input"
    r = api.post("/v1/chunks/missing", json={})
    assert r.status_code == 400


def nothing_stored(backends: Backends) -> bool:
    return backends.meta.list_packs() == [] and list(backends.objects.list(PACKS)) == []


def test_corrupt_pack_is_refused_and_nothing_indexed(  # type: ignore[no-untyped-def]
    api: TestClient, make_pack, platform: Platform, backends: Backends
) -> None:
    good, refs = make_pack([b"first chunk", TEXT])
    for flip in (len(MAGIC) + HEADER.size + 1, len(good) - 3):  # the raw chunk, the zstd chunk
        bad = bytearray(good)
        bad[flip] ^= 0xFF
        r = api.post("/v1/packs", content=bytes(bad))
        assert r.status_code == 500, r.text
        body = r.json()
        assert body["code"] == "corrupt_object"
        assert set(body) == {"code", "message", "details"}
    assert nothing_stored(backends)
    digests = [r.digest for r in refs]
    assert api.post("/v1/chunks/missing", json={"digests": digests}).json()["missing"] == digests


def test_malformed_packs_are_400(api: TestClient, platform: Platform, backends: Backends) -> None:
    lying = MAGIC + HEADER.pack(bytes.fromhex(hash_chunk(b"x")), RAW, 1, 50) + b"x"
    for body in (b"", b"not a pack", MAGIC, lying, MAGIC + b"\x01\x02"):
        r = api.post("/v1/packs", content=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["code"] == "invalid_input"
    assert nothing_stored(backends)


def test_a_frame_whose_digest_lies_is_refused(
    api: TestClient, platform: Platform, backends: Backends
) -> None:
    lie = MAGIC + HEADER.pack(bytes.fromhex(hash_chunk(b"other")), RAW, 4, 4) + b"data"
    r = api.post("/v1/packs", content=lie)
    assert r.json()["code"] == "corrupt_object"
    assert nothing_stored(backends)


# -- packs left in the drop folder by a client on the server's machine ----------------------


def _token(api: TestClient) -> str:
    return (Path(api.get("/v1/packs/drop").json()["dir"]) / ".token").read_text()


def _drop(api: TestClient, body: bytes) -> tuple[str, Path]:
    folder = api.get("/v1/packs/drop").json()["dir"]
    name = f"{uuid.uuid4().hex}.pack"
    path = Path(folder) / name
    path.write_bytes(body)
    return name, path


def test_the_drop_folder_is_named_and_its_token_is_not_sent(api: TestClient) -> None:
    doc = api.get("/v1/packs/drop").json()
    assert set(doc) == {"dir"}  # a client elsewhere cannot learn the token
    assert len((Path(doc["dir"]) / ".token").read_text()) == 32


def test_a_dropped_pack_is_verified_stored_and_taken(  # type: ignore[no-untyped-def]
    api: TestClient, make_pack, platform: Platform, backends: Backends
) -> None:
    body, refs = make_pack([b"one", TEXT])
    name, path = _drop(api, body)
    r = api.post("/v1/packs/drop", json={"name": name, "token": _token(api)})
    assert r.status_code == 201, r.text
    assert (r.json()["chunks"], r.json()["bytes"]) == (2, len(body))
    assert not path.exists()
    digests = [x.digest for x in refs]
    assert api.post("/v1/chunks/missing", json={"digests": digests}).json() == {"missing": []}
    (pack,) = backends.meta.list_packs()
    assert backends.objects.get(pack_key(pack.id)) == body


def test_a_corrupt_dropped_pack_is_refused_and_removed(  # type: ignore[no-untyped-def]
    api: TestClient, make_pack, platform: Platform, backends: Backends
) -> None:
    good, _ = make_pack([b"first chunk", TEXT])
    bad = bytearray(good)
    bad[len(MAGIC) + HEADER.size + 1] ^= 0xFF
    name, path = _drop(api, bytes(bad))
    r = api.post("/v1/packs/drop", json={"name": name, "token": _token(api)})
    assert r.json()["code"] == "corrupt_object"
    assert not path.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == [".token"]
    assert nothing_stored(backends)


def test_unknown_or_bad_dropped_names(api: TestClient) -> None:
    token = _token(api)
    r = api.post("/v1/packs/drop", json={"name": f"{uuid.uuid4().hex}.pack", "token": token})
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = api.post("/v1/packs/drop", json={"name": "../../kaon.db", "token": token})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")


def test_a_wrong_drop_token_is_refused_and_nothing_is_taken(  # type: ignore[no-untyped-def]
    api: TestClient, make_pack, platform: Platform, backends: Backends
) -> None:
    body, _ = make_pack([b"one"])
    name, path = _drop(api, body)
    r = api.post("/v1/packs/drop", json={"name": name, "token": "0" * 32})
    assert (r.status_code, r.json()["code"]) == (401, "permission_denied")
    assert path.exists() and nothing_stored(backends)
    r = api.post(
        "/v1/chunks/local",
        json={"path": str(path), "size": 1, "mtime_ns": 0, "inode": 0, "token": "x"},
    )
    assert (r.status_code, r.json()["code"]) == (401, "permission_denied")


def test_the_server_chunks_a_file_of_its_machine(  # type: ignore[no-untyped-def]
    api: TestClient, platform: Platform, tmp_path: Path
) -> None:
    data = os.urandom(3_000_000)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    st = path.stat()
    key = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}
    r = api.post("/v1/chunks/local", json={**key, "token": _token(api)})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["consumed"] == len(data) == doc["new_bytes"] == sum(n for _, n in doc["chunks"])
    digests = [d for d, _ in doc["chunks"]]
    assert api.post("/v1/chunks/missing", json={"digests": digests}).json() == {"missing": []}
    path.write_bytes(data[:-1] + b"!")  # same size, another mtime: not the file the client saw
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # whatever the fs clock
    r = api.post("/v1/chunks/local", json={**key, "token": _token(api)})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    assert "changed during the upload" in r.json()["message"]
    path.unlink()  # gone, or on a filesystem the server does not see: the client reads it
    r = api.post("/v1/chunks/local", json={**key, "token": _token(api)})
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
