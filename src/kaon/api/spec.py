"""The OpenAPI document, made true to what the server answers (checked by schemathesis in
tests/api/test_openapi.py). FastAPI's own document is completed in one place, not per route:

* every error status a route can answer, from one rule (below), each described by `MEANING`
  and the wire codes of kaon.core.errors, with the one error body schema `Error` {code,
  message, details}; FastAPI's 422 goes (the server answers 400 for invalid requests);
* the constraints of names, refs and paths (kaon.wire.base, as kaon.core checks them, with
  its own one-line messages) on the path and query parameters that carry them, by name;
* `$defs` that a hand-written request body brings along go into `components/schemas`.

The rule: every route may fail (500) or find a backend unavailable (503); one that is not open
needs the token (401) and a user allowed to do it (403); one with parameters or a body may find them invalid (400); one with path
parameters (or a required one) may find what they name missing (404); one that writes (POST,
PUT, DELETE) may conflict (409) or find storage full (507). A route that answers more declares
it with `responses=errors_doc(...)`."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from kaon.api.auth import OPEN_PATHS
from kaon.core.errors import KaonError
from kaon.wire import ErrorOut
from kaon.wire import base as wire

ERROR_REF = {"$ref": "#/components/schemas/Error"}
WRITES = frozenset({"post", "put", "delete", "patch"})

# Parameters (path and query, by name) and what the server accepts in them.
PARAMETERS: dict[str, dict[str, Any]] = {
    "repo": {"pattern": wire.REPO},
    "branch": {"pattern": wire.BRANCH},
    "name": {"pattern": wire.WORKSPACE},
    "model": {"pattern": wire.MODEL},
    "ref": {"pattern": wire.REF},
    "new": {"pattern": wire.REF},
    "old": {"pattern": wire.REF},
    "path": {"pattern": wire.PATH},
    "commit": {"minLength": 4},
}


# What each status of the API means, in the spec's words (the codes come from core.errors).
MEANING = {
    400: "invalid input: a parameter or body the route refuses (`message` says which and why)",
    401: "missing or wrong token (`Authorization: Bearer <token>`)",
    403: "the token's user (or job) may not do this: a role too weak, or not an admin",
    404: "what the request names does not exist",
    409: "conflicts with the current state (exists already, moved, chunks missing)",
    416: "the byte range starts past the end of the file (`details.size`: its size)",
    500: "the platform failed (stored bytes corrupt, or a bug: see the server log)",
    503: "a backend (object store, database, environment builder) is unavailable",
    507: "the platform's storage is full",
}
# Codes only the S3 gateway (a separate app) answers with: not part of this API's spec.
S3_ONLY = frozenset(
    {"signature_mismatch", "unknown_access_key", "request_time_skewed", "read_only"}
    | {"bad_digest", "invalid_part", "upload_not_found"}
)


def codes_for(status: int) -> list[str]:
    """The wire codes of every kaon error answered with `status`."""
    codes = {cls.code for cls in _subclasses(KaonError) if cls.http_status == status}
    if status == 500:
        codes.add("internal")
    return sorted(codes - S3_ONLY - {"error"})


def documented(status: int) -> str:
    return f"{MEANING[status]}; `code`: {', '.join(codes_for(status))}"


def _subclasses(cls: type[KaonError]) -> list[type[KaonError]]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


def errors_doc(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that answers more error statuses than the rule gives it."""
    return {s: {"model": ErrorOut, "description": documented(s)} for s in statuses}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = TypeAdapter(ErrorOut).json_schema()
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            _complete(op, method, path not in OPEN_PATHS)
    _hoist_defs(doc, schemas)
    return doc


def _complete(op: dict[str, Any], method: str, secured: bool) -> None:
    params = op.get("parameters", [])
    for param in params:
        if param.get("in") in ("path", "query") and param["name"] in PARAMETERS:
            param["schema"] = {**param.get("schema", {}), **PARAMETERS[param["name"]]}
    statuses = {500, 503}
    if secured:
        statuses |= {401, 403}
    if params or "requestBody" in op:
        statuses.add(400)
    if any(p.get("in") == "path" or p.get("required") for p in params):
        statuses.add(404)
    if method in WRITES:
        statuses |= {409, 507}
    responses = op.setdefault("responses", {})
    responses.pop("422", None)
    for status in sorted(statuses):
        responses.setdefault(
            str(status),
            {
                "description": documented(status),
                "content": {"application/json": {"schema": ERROR_REF}},
            },
        )


def _hoist_defs(node: Any, schemas: dict[str, Any]) -> None:
    """Move every nested `$defs` into components/schemas and point its `$ref`s there."""
    if isinstance(node, dict):
        for name, schema in node.pop("$defs", {}).items():
            schemas.setdefault(name, schema)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
        for value in node.values():
            _hoist_defs(value, schemas)
    elif isinstance(node, list):
        for value in node:
            _hoist_defs(value, schemas)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the spec documents for `path` (the `Allow` of a 405)."""
    methods: set[str] = set()
    for template, item in app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {m.upper() for m in item}
    return sorted(methods)
